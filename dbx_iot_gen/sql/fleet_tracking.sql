-- Fleet tracking (seed 001): each vehicle's last position over the last day of the data.
-- The seed's LAST() depends on row order; max_by(..., timestamp) is the position at last_seen.
WITH as_of AS (SELECT max(timestamp) AS ts FROM telemetry)
SELECT
    t.device_id,
    MAX(t.timestamp) AS last_seen,
    max_by(t.latitude, t.timestamp) AS last_lat,
    max_by(t.longitude, t.timestamp) AS last_lon,
    AVG(t.speed) AS avg_speed,
    MIN(t.fuel_level) AS min_fuel
FROM telemetry t CROSS JOIN as_of
WHERE t.timestamp >= as_of.ts - INTERVAL 1 DAY
GROUP BY t.device_id
ORDER BY last_seen DESC, t.device_id
