-- Geospatial analysis (seed 001): events and critical events per device position over the last
-- 30 days of the data.
WITH as_of AS (SELECT max(timestamp) AS ts FROM events)
SELECT
    d.device_id,
    d.latitude,
    d.longitude,
    COUNT(e.event_id) AS event_count,
    SUM(CASE WHEN e.severity = 'Critical' THEN 1 ELSE 0 END) AS critical_count
FROM devices d
CROSS JOIN as_of
LEFT JOIN events e ON d.device_id = e.device_id
    AND e.timestamp >= as_of.ts - INTERVAL 30 DAYS
GROUP BY d.device_id, d.latitude, d.longitude
ORDER BY event_count DESC, d.device_id
