-- Gold (seed 003): 10-second tumbling windows of each numeric plant sensor: count, min, max and
-- mean, stamped with the window's end (event time from the data, not arrival time).
SELECT
    address,
    window.end AS time,
    COUNT(*) AS count,
    MIN(value) AS min,
    MAX(value) AS max,
    AVG(value) AS mean
FROM plant_sensors
WHERE value IS NOT NULL
GROUP BY address, window(timestamp, '10 seconds')
ORDER BY address, time
