# Databricks notebook source
# MAGIC %md
# MAGIC # dbx-iot-gen: a live feed
# MAGIC
# MAGIC Streams one table into a Delta table in the volume, for a while; run it again and the feed goes
# MAGIC on where it stopped (the checkpoint is in the same folder).

# COMMAND ----------

# MAGIC %pip install /Volumes/main/iot_demo/landing/dbx_iot_gen-0.3.0-py3-none-any.whl

# COMMAND ----------

dbutils.widgets.text("catalog", "main")
dbutils.widgets.text("schema", "iot_demo")
dbutils.widgets.text("volume", "landing")
dbutils.widgets.dropdown("scale", "small", ["tiny", "small", "medium", "large"])
dbutils.widgets.dropdown("table", "sensor_readings", ["sensor_readings", "plant_sensors", "environment_readings"])
dbutils.widgets.dropdown("mode", "realtime", ["historical", "realtime"])
dbutils.widgets.text("rows_per_second", "1000")
dbutils.widgets.text("seconds", "60")
dbutils.widgets.text("landing_root", "")
catalog, schema, volume = (dbutils.widgets.get(k) for k in ("catalog", "schema", "volume"))
landing_root = dbutils.widgets.get("landing_root") or f"/Volumes/{catalog}/{schema}/{volume}"
table, mode = dbutils.widgets.get("table"), dbutils.widgets.get("mode")

# COMMAND ----------

from dbx_iot_gen import IoTConfig, start_stream

feed_dir = f"{landing_root}/stream_{table}_{mode}"
query = start_stream(spark, IoTConfig.preset(dbutils.widgets.get("scale")), table, feed_dir, mode=mode,
                     rows_per_second=int(dbutils.widgets.get("rows_per_second")))
query.awaitTermination(float(dbutils.widgets.get("seconds")))
query.stop()

# COMMAND ----------

feed = spark.read.format("delta").load(f"{feed_dir}/{table}")
display(feed.selectExpr("count(*) AS rows", "min(timestamp) AS first", "max(timestamp) AS last"))
