"""``devices_cdc`` and ``devices``: the registry's change batches, and each device as last known.

The seed's CDC picked random ids for its updates and deletes, so its batches updated devices that
did not exist and inserted ids that did. Here every change follows from the device lifecycle
(:mod:`dbx_iot_gen.lifecycle`), a pure function of ``device_id``:

* batch 0 inserts the initial registry at the data's start;
* batch ``k`` inserts the devices whose lifecycle starts in it, deletes those whose lifecycle ends
  in it (status Decommissioned), and updates some of the devices registered during its window:
  a firmware rollout moves the version 1 or 2 releases forward on its model's release train
  (:func:`~dbx_iot_gen.lifecycle.firmware_releases`), a status change takes an Online
  device Offline or to Maintenance and brings the others back Online;
* no change touches a device before its INSERT or after its DELETE; ``sequence_num`` orders each
  device's changes (its INSERT is 1).

The ``devices`` table is each device's last change: the final registry (what a replay of every
batch with MERGE yields) plus the decommissioned devices.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.fleet import FIRST_DEVICE_ID
from dbx_iot_gen.grid import grid
from dbx_iot_gen.schemas import DEVICE_COLUMNS, TABLES
from dbx_iot_gen.tables._spec import partitions_for, replay
from dbx_iot_gen.tables.devices import device_defs, firmware_version_sql

__all__ = ["CDC_COLUMNS", "DEVICES_TABLE_COLUMNS", "cdc_batch", "devices", "devices_cdc", "final_registry"]

CDC_COLUMNS = TABLES["devices_cdc"].column_names
DEVICES_TABLE_COLUMNS = TABLES["devices"].column_names

_FIRMWARE, _STATUS = 1, 2  # kinds of UPDATE


def devices_cdc(spark: SparkSession, config: IoTConfig) -> DataFrame:
    """Every change of the device registry, batch 0 (the initial registry) to ``config.cdc.batches``.

    Each row is the device's full image after the change (a DELETE carries the last image, with
    status Decommissioned), with ``operation``, ``operation_date``, ``sequence_num`` and
    ``batch_id``. Small: about ``n_devices * (1 + batches * changes_per_batch)`` rows.

    Example:
        cdc = devices_cdc(spark, IoTConfig.preset("tiny"))
        cdc.groupBy("batch_id", "operation").count().show()
    """
    life = grid(config).life
    n, batches = config.n_devices, life.batches
    rows = n * (batches + 1)
    u = life.update("device_id", "batch_id", "ins_s", "del_s")
    change = "named_struct('op', {op}, 'at_s', {at}, 'kind', {kind}, 'steps', {steps})"
    insert = change.format(op="'INSERT'", at="ins_s", kind=0, steps=0)
    delete = change.format(op="'DELETE'", at="del_s", kind=0, steps=0)
    update = change.format(op="'UPDATE'", at=u.at_s, kind=f"IF({u.is_status}, {_STATUS}, {_FIRMWARE})",
                           steps=u.steps)
    cells = (spark.range(0, rows, 1, partitions_for(config, rows))
            .selectExpr(f"{FIRST_DEVICE_ID}L + id % {n}L AS device_id", f"cast(id div {n}L as int) AS batch_id")
            .selectExpr("*", f"{life.rank('device_id')} AS life_rank")
            .selectExpr("*", f"{life.insert_batch('life_rank')} AS ins_batch",
                        f"{life.delete_batch('life_rank')} AS del_batch",
                        f"{life.inserted_s('device_id', 'life_rank')} AS ins_s",
                        f"{life.deleted_s('device_id', 'life_rank')} AS del_s")
            .selectExpr("device_id", "batch_id", f"explode(array_compact(array("
                        f"IF(ins_batch = batch_id, {insert}, NULL), "
                        f"IF({u.exists}, {update}, NULL), "
                        f"IF(del_batch = batch_id, {delete}, NULL)))) AS c"))
    by_device = Window.partitionBy("device_id").orderBy("c.at_s").rowsBetween(Window.unboundedPreceding, 0)
    changes = (cells
               .withColumn("sequence_num", F.row_number().over(Window.partitionBy("device_id").orderBy("c.at_s")))
               .withColumn("fw_steps", F.sum(F.expr(f"IF(c.kind = {_FIRMWARE}, c.steps, 0)")).over(by_device))
               .withColumn("status_changes", F.sum(F.expr(f"IF(c.kind = {_STATUS}, 1, 0)")).over(by_device))
               .selectExpr(f"device_id - {FIRST_DEVICE_ID}L AS id", "batch_id", "c", "sequence_num", "fw_steps",
                           "status_changes"))
    images = replay(changes, device_defs(spark, config), keep=("firmware_idx",))
    # status after j status changes: Online devices go away (Offline or Maintenance) and come back
    after = life.status_after("device_id", life.status_code("status"), "status_changes")
    status = f"IF(c.op = 'DELETE', 'Decommissioned', {life.status_name(after)})"
    overrides = {
        # forward on the model's own release train
        "firmware_version": firmware_version_sql(config, "model", "firmware_idx + cast(fw_steps as int)"),
        "status": status,
    }
    columns = [f"{overrides[c]} AS {c}" if c in overrides else c for c in DEVICE_COLUMNS]
    return images.selectExpr(*columns, "c.op AS operation", "timestamp_seconds(c.at_s) AS operation_date",
                             "cast(sequence_num as bigint) AS sequence_num", "batch_id")


def cdc_batch(cdc: DataFrame, batch: int) -> DataFrame:
    """The changes of one batch.

    Example:
        cdc_batch(devices_cdc(spark, IoTConfig.preset("tiny")), 0).count()  # 55
    """
    return cdc.where(F.col("batch_id") == batch)


def devices(spark: SparkSession, config: IoTConfig, cdc: DataFrame | None = None) -> DataFrame:
    """The ``devices`` table: every device registered at some time in the range, as last known.

    Columns: the device columns of its last change (a decommissioned device keeps its last image
    with status Decommissioned), ``registered_at`` and ``decommissioned_at`` (null while registered).

    Args:
        spark: the session.
        config: the dataset config.
        cdc: :func:`devices_cdc` of the config, if already at hand.

    Example:
        devices(spark, IoTConfig.preset("tiny")).where("decommissioned_at is null").count()  # 55
    """
    source = cdc if cdc is not None else devices_cdc(spark, config)
    last = F.max_by(F.struct(*DEVICE_COLUMNS), "sequence_num").alias("last")
    return (source.groupBy("device_id")
            .agg(last,
                 F.min(F.when(F.col("operation") == "INSERT", F.col("operation_date"))).alias("registered_at"),
                 F.max(F.when(F.col("operation") == "DELETE", F.col("operation_date"))).alias("decommissioned_at"))
            .select(*[F.col(f"last.{c}").alias(c) for c in DEVICE_COLUMNS], "registered_at", "decommissioned_at"))


def final_registry(spark: SparkSession, config: IoTConfig, devices_df: DataFrame | None = None) -> DataFrame:
    """The registry at the end of the range: what replaying every CDC batch with MERGE yields.

    Example:
        final_registry(spark, IoTConfig.preset("tiny")).count()  # 55
    """
    source = devices_df if devices_df is not None else devices(spark, config)
    return source.where("decommissioned_at IS NULL").select(*DEVICE_COLUMNS)
