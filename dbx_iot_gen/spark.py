"""The SparkSession: the active one on Databricks, otherwise a local one with Delta configured."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

__all__ = ["get_spark", "on_databricks"]

def on_databricks() -> bool:
    """True inside a Databricks runtime (notebook, job or serverless)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def get_spark(app_name: str = "dbx-iot-gen", *, master: str = "local[2]") -> SparkSession:
    """The active SparkSession, or a new local one with Delta Lake, quiet logs and UTC time.

    On Databricks (or wherever a session is already active, Spark Connect included) the active
    session is returned untouched. Locally the Delta jars are resolved from Maven Central on first
    use, then from the local Ivy cache.

    Example:
        >>> spark = get_spark()  # doctest: +SKIP
        >>> spark.conf.get("spark.sql.session.timeZone")  # doctest: +SKIP
        'UTC'
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if on_databricks():  # pragma: no cover - needs a workspace
        return SparkSession.builder.getOrCreate()
    from delta import configure_spark_with_delta_pip

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("DBX_IOT_GEN_DRIVER_MEMORY", "4g"))
        # a local Delta log is small: the default 50 snapshot partitions only cost time
        .config("spark.databricks.delta.snapshotPartitions", "2")
    )
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    # a session this function created is a classic local one: its log level can be set here
    spark.sparkContext.setLogLevel("ERROR")
    return spark
