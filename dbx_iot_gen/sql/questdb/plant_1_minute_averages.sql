-- Seed 000 on QuestDB: one-minute averages of every plant sensor's numeric readings
-- (SAMPLE BY 1m, aligned to the calendar), with the minute's count, minimum and maximum.
SELECT timestamp, address, count() AS readings, avg(value) AS avg_value, min(value) AS min_value,
       max(value) AS max_value
FROM plant_sensors
WHERE value IS NOT NULL
SAMPLE BY 1m ALIGN TO CALENDAR
ORDER BY timestamp, address;
