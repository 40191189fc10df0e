-- Anomaly detection (seed 001): devices and metrics with anomalous readings over the last 7 days
-- of the data. The seed kept those with more than 10; a share of the readings scales with the data.
WITH as_of AS (SELECT max(timestamp) AS ts FROM sensor_readings)
SELECT
    sr.device_id,
    d.device_type,
    sr.metric_name,
    AVG(sr.metric_value) AS avg_value,
    STDDEV(sr.metric_value) AS stddev_value,
    SUM(CASE WHEN sr.is_anomaly THEN 1 ELSE 0 END) AS anomaly_count,
    AVG(CASE WHEN sr.is_anomaly THEN 1.0 ELSE 0.0 END) AS anomaly_share
FROM sensor_readings sr
JOIN devices d ON sr.device_id = d.device_id
CROSS JOIN as_of
WHERE sr.timestamp >= as_of.ts - INTERVAL 7 DAYS
GROUP BY sr.device_id, d.device_type, sr.metric_name
HAVING anomaly_share > 0.005
ORDER BY anomaly_count DESC, sr.device_id, sr.metric_name
