-- Seed 000 on QuestDB: the latest reading of every plant sensor (run on the table that
-- `dbx-iot-gen stream|publish --table plant_sensors --sink questdb` loads; default name plant_sensors).
SELECT timestamp, system, address, value, text, status
FROM plant_sensors
LATEST ON timestamp PARTITION BY address
ORDER BY address;
