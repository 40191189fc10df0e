-- Time-series aggregation (seed 001): hourly statistics per device and metric over the last 24
-- hours of the data.
WITH as_of AS (SELECT max(timestamp) AS ts FROM sensor_readings)
SELECT
    sr.device_id,
    date_trunc('hour', sr.timestamp) AS hour,
    sr.metric_name,
    AVG(sr.metric_value) AS avg_value,
    MIN(sr.metric_value) AS min_value,
    MAX(sr.metric_value) AS max_value,
    COUNT(*) AS reading_count
FROM sensor_readings sr CROSS JOIN as_of
WHERE sr.timestamp >= as_of.ts - INTERVAL 24 HOURS
GROUP BY sr.device_id, date_trunc('hour', sr.timestamp), sr.metric_name
ORDER BY sr.device_id, hour, sr.metric_name
