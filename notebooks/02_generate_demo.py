# Databricks notebook source
# MAGIC %md
# MAGIC # dbx-iot-gen: generate the demo dataset
# MAGIC
# MAGIC Writes every table as `catalog.schema.table` (Delta, with comments) and the landing JSON and
# MAGIC manifest into the volume `/Volumes/catalog/schema/volume/iot_demo`.

# COMMAND ----------

# MAGIC %pip install /Volumes/main/iot_demo/landing/dbx_iot_gen-0.3.0-py3-none-any.whl

# COMMAND ----------

dbutils.widgets.text("catalog", "main")
dbutils.widgets.text("schema", "iot_demo")
dbutils.widgets.text("volume", "landing")
dbutils.widgets.dropdown("scale", "small", ["tiny", "small", "medium", "large"])
dbutils.widgets.text("seed", "42")
# where the landing files go; empty: the volume's folder
dbutils.widgets.text("landing_root", "")
catalog, schema, volume = (dbutils.widgets.get(k) for k in ("catalog", "schema", "volume"))
scale, seed = dbutils.widgets.get("scale"), int(dbutils.widgets.get("seed"))
landing_root = dbutils.widgets.get("landing_root") or f"/Volumes/{catalog}/{schema}/{volume}"

# COMMAND ----------

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.demo import generate_iot_demo
from dbx_iot_gen.output import CatalogTarget

result = generate_iot_demo(spark, IoTConfig.preset(scale, seed=seed), f"{landing_root}/iot_demo",
                           target=CatalogTarget(catalog, schema))
display(spark.createDataFrame([(name, t["rows"], t["table"]) for name, t in result.manifest["tables"].items()],
                              "table STRING, rows BIGINT, full_name STRING"))

# COMMAND ----------

# MAGIC %md What was injected, as counted in the tables (anomalies, data-quality problems, events, alerts):

# COMMAND ----------

problems = result.manifest["problems"]
display(spark.createDataFrame([(kind, v["episodes"], v["readings"]) for kind, v in problems["anomalies"].items()],
                              "anomaly STRING, episodes BIGINT, readings BIGINT"))
