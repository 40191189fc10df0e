-- Gold (seed 002): minimum, maximum and average temperature per sensor and 15-minute window.
-- Only values a thermometer can read (-40 to 60 C): a sensor's error code (85, -127, 65535, -999)
-- or a malfunction's value would otherwise make a window's numbers meaningless.
SELECT
    device_id AS sensor_id,
    window.start AS window_start,
    window.end AS window_end,
    CAST(AVG(metric_value) AS DECIMAL(5, 2)) AS avg_temperature,
    CAST(MIN(metric_value) AS DECIMAL(5, 2)) AS min_temperature,
    CAST(MAX(metric_value) AS DECIMAL(5, 2)) AS max_temperature
FROM sensor_readings
WHERE metric_name = 'temperature' AND metric_value BETWEEN -40 AND 60
GROUP BY device_id, window(timestamp, '15 minutes')
ORDER BY sensor_id, window_start
