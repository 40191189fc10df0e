# Databricks notebook source
# MAGIC %md
# MAGIC # dbx-iot-gen: quick start
# MAGIC
# MAGIC Synthetic IoT data as dbldatagen specs: build a table in memory, add a column to its spec,
# MAGIC and compare the readings with their ground truth. Nothing is written.

# COMMAND ----------

# MAGIC %pip install /Volumes/main/iot_demo/landing/dbx_iot_gen-0.3.0-py3-none-any.whl

# COMMAND ----------

dbutils.widgets.dropdown("scale", "tiny", ["tiny", "small", "medium", "large"])
dbutils.widgets.text("seed", "42")
# a demo output folder (where 02_generate_demo wrote its manifest) for the figures at the end
dbutils.widgets.text("demo", "/Volumes/main/iot_demo/landing/iot_demo")
scale = dbutils.widgets.get("scale")
seed = int(dbutils.widgets.get("seed"))

# COMMAND ----------

from dbx_iot_gen import IoTConfig, anomaly_labels, readings_spec

config = IoTConfig.preset(scale, seed=seed)
readings = readings_spec(spark, config).build()
display(readings.limit(20))

# COMMAND ----------

# MAGIC %md Every table is a dbldatagen spec: add a column, then build.

# COMMAND ----------

fahrenheit = readings_spec(spark, config).withColumn(
    "value_fahrenheit", "double", expr="IF(unit = 'celsius', metric_value * 1.8D + 32D, NULL)",
    baseColumn=["metric_value", "unit"],
).build()
display(fahrenheit.where("unit = 'celsius'").select("device_id", "timestamp", "metric_value", "value_fahrenheit")
        .limit(10))

# COMMAND ----------

# MAGIC %md The ground truth: one label per anomaly episode, covering exactly the readings flagged `is_anomaly`.

# COMMAND ----------

labels = anomaly_labels(spark, config)
display(labels.groupBy("anomaly_type").count().orderBy("anomaly_type"))

# COMMAND ----------

# MAGIC %md
# MAGIC ## The dataset at a glance
# MAGIC
# MAGIC The figures of `dbx-iot-gen report` for the demo output written by `02_generate_demo` (the `demo`
# MAGIC widget): a week of readings with anomaly episodes shaded by type, daily and weekly profiles in local
# MAGIC time, the facilities on a map, vehicle tracks by speed, Ruuvi tags by location, plant sensors by tier,
# MAGIC events and alerts over time, and the data-quality problems against the manifest.
# MAGIC `report(spark, demo_dir)` writes the same figures to one HTML page.

# COMMAND ----------

from dbx_iot_gen import OutputError, report_figures

try:
    figures = report_figures(spark, dbutils.widgets.get("demo"))
except OutputError as e:
    figures = []
    print(f"no figures: {e.message}; run 02_generate_demo, then set the demo widget to its folder")
for f in figures:
    print(f.caption)
    display(f.figure)
