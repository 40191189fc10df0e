"""Apply ``devices_cdc`` batches to Delta tables: SCD type 1 (the registry) and type 2 (its history).

Both are one Delta ``MERGE`` per batch, written in SQL so that they run on a classic session and
over Spark Connect alike. Apply the batches in order, from ``batch_000``; a batch may hold several
changes of one device (its insert and an update the same day), ordered by ``sequence_num``.

Example:
    for batch in read_cdc_batches(spark, "/tmp/iot/landing/devices_cdc"):
        merge_scd1(spark, batch, "/tmp/iot/silver/devices")
        merge_scd2(spark, batch, "/tmp/iot/silver/devices_history")
"""

from __future__ import annotations

import uuid
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from dbx_iot_gen.errors import OutputError
from dbx_iot_gen.output import read_landing
from dbx_iot_gen.schemas import DEVICE_COLUMNS, TABLES

__all__ = ["SCD2_COLUMNS", "merge_scd1", "merge_scd2", "read_cdc_batches"]

_DEVICE_DDL = ", ".join(f"{c.name} {c.type}" for c in TABLES["devices"].columns if c.name in DEVICE_COLUMNS)
# The history table: the device columns, then the validity of each version.
SCD2_COLUMNS = (*DEVICE_COLUMNS, "valid_from", "valid_to", "is_current")


def read_cdc_batches(spark: SparkSession, folder: str) -> list[DataFrame]:
    """The CDC batches of a landing folder (``batch_000``, ``batch_001``, ...), in order, read with
    the published schema.

    Raises:
        OutputError: the folder holds no ``batch_NNN`` folder.
    """
    root = Path(folder)
    batches = sorted(p for p in root.glob("batch_[0-9][0-9][0-9]") if p.is_dir()) if root.is_dir() else []
    if not batches:
        raise OutputError("folder", f"{folder} holds no CDC batch folders (batch_000, batch_001, ...)")
    return [read_landing(spark, str(p), TABLES["devices_cdc"].ddl) for p in batches]


def _target(target: str) -> str:
    """A SQL reference to a Delta table given by name (``catalog.schema.table``) or by path."""
    if "/" in target or "\\" in target:
        return f"delta.`{target}`"
    return target


def _view(df: DataFrame) -> str:
    name = f"_dbx_iot_gen_cdc_{uuid.uuid4().hex[:12]}"
    df.createOrReplaceTempView(name)
    return name


def merge_scd1(spark: SparkSession, batch: DataFrame, target: str) -> None:
    """Apply one CDC batch to the registry table ``target`` (a Delta table name or path; created
    when missing): SCD type 1, the current state of each device, as Lakeflow ``AUTO CDC`` with
    ``apply_as_deletes = operation = 'DELETE'`` and ``sequence_by = sequence_num`` would.

    Example:
        merge_scd1(spark, cdc_batch(devices_cdc(spark, cfg), 0), "/tmp/silver/devices")
    """
    ref = _target(target)
    spark.sql(f"CREATE TABLE IF NOT EXISTS {ref} ({_DEVICE_DDL}) USING delta")
    # the last change of each device in the batch decides
    last = (batch.withColumn("_n", F.row_number().over(
        Window.partitionBy("device_id").orderBy(F.col("sequence_num").desc()))).where("_n = 1"))
    view = _view(last)
    assignments = ", ".join(f"t.{c} = s.{c}" for c in DEVICE_COLUMNS)
    try:
        spark.sql(f"""
            MERGE INTO {ref} t USING {view} s ON t.device_id = s.device_id
            WHEN MATCHED AND s.operation = 'DELETE' THEN DELETE
            WHEN MATCHED THEN UPDATE SET {assignments}
            WHEN NOT MATCHED AND s.operation != 'DELETE' THEN
              INSERT ({', '.join(DEVICE_COLUMNS)}) VALUES ({', '.join('s.' + c for c in DEVICE_COLUMNS)})
        """)
    finally:
        spark.catalog.dropTempView(view)


def merge_scd2(spark: SparkSession, batch: DataFrame, target: str) -> None:
    """Apply one CDC batch to the history table ``target`` (created when missing): SCD type 2.

    Each INSERT or UPDATE opens a version (``valid_from`` = its ``operation_date``); the next
    change of the device closes it (``valid_to``, ``is_current = false``); a DELETE only closes.
    So every registered device has exactly one current version, and the versions of a device do
    not overlap. One atomic MERGE: the rows that close current versions are keyed by device, the
    new versions by a null key (the "staged updates" pattern).

    Example:
        merge_scd2(spark, cdc_batch(devices_cdc(spark, cfg), 0), "/tmp/silver/devices_history")
    """
    ref = _target(target)
    spark.sql(f"CREATE TABLE IF NOT EXISTS {ref} ({_DEVICE_DDL}, valid_from TIMESTAMP, valid_to TIMESTAMP, "
              "is_current BOOLEAN) USING delta")
    by_device = Window.partitionBy("device_id").orderBy("sequence_num")
    changes = (batch.withColumn("_next", F.lead("operation_date").over(by_device))
               .withColumn("_first", F.min("operation_date").over(Window.partitionBy("device_id"))))
    versions = changes.where("operation != 'DELETE'").select(
        F.lit(None).cast("bigint").alias("merge_key"), F.lit(None).cast("timestamp").alias("close_at"),
        *DEVICE_COLUMNS, F.col("operation_date").alias("valid_from"), F.col("_next").alias("valid_to"),
        F.col("_next").isNull().alias("is_current"))
    closes = (changes.where("operation_date = _first")
              .select(F.col("device_id").alias("merge_key"), F.col("_first").alias("close_at"),
                      *[F.lit(None).alias(c) for c in DEVICE_COLUMNS],
                      *[F.lit(None).cast(t).alias(c) for c, t in (("valid_from", "timestamp"),
                                                                    ("valid_to", "timestamp"),
                                                                    ("is_current", "boolean"))]))
    view = _view(versions.unionByName(closes, allowMissingColumns=False))
    try:
        spark.sql(f"""
            MERGE INTO {ref} t USING {view} s ON t.device_id = s.merge_key AND t.is_current
            WHEN MATCHED THEN UPDATE SET t.valid_to = s.close_at, t.is_current = false
            WHEN NOT MATCHED AND s.merge_key IS NULL THEN
              INSERT ({', '.join(SCD2_COLUMNS)}) VALUES ({', '.join('s.' + c for c in SCD2_COLUMNS)})
        """)
    finally:
        spark.catalog.dropTempView(view)
