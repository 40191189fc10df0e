# Databricks notebook source
# MAGIC %md
# MAGIC # dbx-iot-gen: demo and gold queries
# MAGIC
# MAGIC The seed's five demo queries (as of the data's last timestamp) and two gold queries, on the
# MAGIC tables written by `02_generate_demo`.

# COMMAND ----------

# MAGIC %pip install /Volumes/main/iot_demo/landing/dbx_iot_gen-0.3.0-py3-none-any.whl

# COMMAND ----------

dbutils.widgets.text("catalog", "main")
dbutils.widgets.text("schema", "iot_demo")
catalog, schema = dbutils.widgets.get("catalog"), dbutils.widgets.get("schema")
spark.sql(f"USE `{catalog}`.`{schema}`")

# COMMAND ----------

from dbx_iot_gen.queries import QUERIES, query

counts = {}
for name in QUERIES:
    result = query(spark, name)
    counts[name] = result.count()
    display(result.limit(20))

# COMMAND ----------

display(spark.createDataFrame(list(counts.items()), "query STRING, rows BIGINT"))
