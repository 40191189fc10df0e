"""``anomaly_labels``: one row per anomaly episode, the ground truth of ``sensor_readings``.

Episodes live in slots (see :func:`.readings.readings_spec`): each device and metric has at most
one spike, dropout or stuck episode per slot of ``AnomalyConfig.slot_readings`` readings, and
one drift per drift slot of ``drift_slot_readings`` (a drift hides the others while it lasts).
The labels are a small grid over (channel, slot) and (channel, drift slot): the slot's first
reading tells whether it holds an episode, and its kind, length and start; then the episode's
readings are computed by the very expressions of the readings table
(:func:`.readings.readings_at`), so a label covers exactly the readings flagged ``is_anomaly``
(an episode that falls in a maintenance window, past the data's end or outside its device's
registration loses those readings, and a label with none left is dropped). A drift's label ends
when the calibration that fixes it lands, after its last reading.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.grid import grid
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.tables.readings import ANOMALY_CODES, readings_at

__all__ = ["LABEL_COLUMNS", "anomaly_episodes", "anomaly_labels"]

LABEL_COLUMNS = TABLES["anomaly_labels"].column_names


def anomaly_episodes(spark: SparkSession, config: IoTConfig) -> DataFrame:
    """Every episode with its readings summarised: the labels' columns, plus ``unit``, the first
    and last reading (id, value) and the reading where a drift is noticed for the events an
    episode raises, and ``fixed_at``: when a drift's calibration lands (null for other kinds, and
    for a drift still running at the data's end).

    Example:
        anomaly_episodes(spark, IoTConfig.preset("tiny")).count() > 0  # True
    """
    g = grid(config)
    n_ch, ticks, n_slots = g.layout.n_channels, config.reading_ticks, g.reading_slots
    slot, drift_slot = config.anomalies.slot_readings, config.anomalies.drift_slot_readings
    parts = max(1, min(64, n_ch * n_slots // 200_000 + 1))
    cells = spark.range(0, n_ch * n_slots, 1, parts).selectExpr(
        "id + 1L AS anomaly_id", f"id % {n_ch}L AS ep_channel", f"id div {n_ch}L AS ep_slot")
    firsts = cells.selectExpr("*", f"ep_slot * {slot}L * {n_ch}L + ep_channel AS id")
    # the slot's first reading knows the slot's episode: kind, length and start (= -ep_pos there)
    # (whether or not its device is registered then: the episode's registered readings count)
    short = (readings_at(spark, config, firsts, keep=("ep_kind", "ep_len", "ep_pos"), registered_only=False)
             .where("ep_kind > 0")
             .selectExpr("anomaly_id", "ep_channel", f"ep_slot * {slot}L - ep_pos AS first_tick", "ep_len",
                         "ep_kind AS ep_code"))
    # and a drift slot's first reading its drift (numbered after the slots' cells)
    drift_cells = spark.range(0, n_ch * g.drift_slots, 1, parts).selectExpr(
        f"id + {n_ch * n_slots + 1}L AS anomaly_id", f"id % {n_ch}L AS ep_channel", f"id div {n_ch}L AS ep_slot")
    drift_firsts = drift_cells.selectExpr("*", f"ep_slot * {drift_slot}L * {n_ch}L + ep_channel AS id")
    drifts = (readings_at(spark, config, drift_firsts, keep=("dr_first", "dr_len"), registered_only=False)
              .where("dr_first >= 0L")
              .selectExpr("anomaly_id", "ep_channel", "dr_first AS first_tick", "dr_len AS ep_len",
                          f"{ANOMALY_CODES['drift']} AS ep_code"))
    episodes = (short.unionByName(drifts)
                .where(f"first_tick < {ticks}L")
                # a stage of its own (by episode, as the aggregation below wants them): with both
                # reading computations in one, the generated class outgrows what Spark can
                # compile into one class, and its nested classes fail (IllegalAccessError)
                .repartition(parts, "anomaly_id"))
    ticks_df = episodes.selectExpr(
        "anomaly_id",
        f"explode(sequence(first_tick, least(first_tick + ep_len, {ticks}L) - 1L)) AS ep_tick",
        "ep_channel", "ep_code", "first_tick + ep_len - 1L AS ep_last")
    ids = ticks_df.selectExpr("anomaly_id", "ep_code", "ep_last", f"ep_tick * {n_ch}L + ep_channel AS id")
    # the episode's readings that show it (a drift hides the other episodes of its channel)
    readings = readings_at(spark, config, ids, keep=("anomaly", "ep_offset", "dr_pos", "dr_len"),
                           where="is_anomaly AND anomaly = ep_code")
    drift = ANOMALY_CODES["drift"]
    stuck = ANOMALY_CODES["stuck"]
    dropout = ANOMALY_CODES["dropout"]
    aggregates = [
        *[f"first({c}) AS {c}" for c in ("device_id", "metric_name", "anomaly_type", "unit")],
        "min(timestamp) AS start_ts",
        # a drift ends when a calibration fixes it: after its last tick (3/4 of the cadence, past
        # any jitter), before the next reading; one still running at the data's end has no fix
        f"IF(first(anomaly) = {drift} AND first(ep_last) < {ticks}L, timestamp_micros({config.start_micros}L"
        f" + (first(ep_last) * 4L + 3L) * {config.reading_cadence_seconds * 250_000}L), NULL) AS fixed_at",
        "max(timestamp) AS last_ts",
        # the fault's size in the metric's unit: a spike's height, a drift's final offset, the value
        # a stuck sensor repeats; none for a dropout
        f"max(CASE WHEN anomaly = {dropout} THEN NULL WHEN anomaly = {stuck} THEN metric_value"
        f" ELSE ep_offset END) AS magnitude",
        "cast(count(1) as int) AS readings",
        "min_by(struct(reading_id, timestamp, metric_value), reading_id) AS first_reading",
        "max_by(struct(reading_id, timestamp, metric_value), reading_id) AS last_reading",
        # a drift is noticed when it reaches half its size
        "min_by(struct(reading_id, timestamp, metric_value), IF((dr_pos + 1L) * 2L >= dr_len, reading_id, NULL))"
        " AS noticed_reading",
    ]
    # first() is deterministic here: all readings of an episode share device, metric, type and unit
    return (readings.groupBy("anomaly_id").agg(*[F.expr(a) for a in aggregates])
            .selectExpr("*", "coalesce(fixed_at, last_ts) AS end_ts").drop("last_ts"))


def anomaly_labels(spark: SparkSession, config: IoTConfig, episodes: DataFrame | None = None) -> DataFrame:
    """The ``anomaly_labels`` table: one row per episode (device, metric, type, start, end, size).

    Every reading with ``is_anomaly`` lies between ``start_ts`` and ``end_ts`` of exactly one label
    of its device and metric, and every label covers ``readings`` (at least one) of them.

    Args:
        spark: the session.
        config: the dataset config.
        episodes: :func:`anomaly_episodes` of the config, if already at hand.

    Example:
        labels = anomaly_labels(spark, IoTConfig.preset("tiny"))
        labels.groupBy("anomaly_type").count().show()
    """
    source = episodes if episodes is not None else anomaly_episodes(spark, config)
    return source.select(*LABEL_COLUMNS)
