-- Device health dashboard (seed 001): devices by type and status, with their average age.
-- As of the data's last reading, not today: the demo data lies in the past.
WITH as_of AS (SELECT to_date(max(timestamp)) AS day FROM sensor_readings)
SELECT
    d.device_type,
    d.status,
    COUNT(*) AS device_count,
    AVG(datediff(as_of.day, d.install_date)) AS avg_age_days
FROM devices d CROSS JOIN as_of
GROUP BY d.device_type, d.status
ORDER BY d.device_type, d.status
