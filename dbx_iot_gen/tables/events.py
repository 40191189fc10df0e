"""``events`` and ``alerts``: what operations would see, following from what happened in the data.

Events come from three sources, each a small grid computed by arithmetic and hashes:

- anomaly episodes (one event per episode, at the reading that shows it): a spike raises
  "Threshold Exceeded"; a dropout "Connection Lost", or "Device Offline" when it lasts
  :data:`OFFLINE_READINGS` readings or more; a drift or a stuck sensor "Calibration Required";
- maintenance windows: "Maintenance Due" at the first reading of each window of each device;
- background events (firmware update, calibration due, battery low) on random device-days, at the
  configured severity weights (the seed's 10/30/60). A firmware update names the release after
  the device's current one on its model's train (from the CDC), and only one that some device of
  the model runs within the data. A device draws only the kinds it can have: no Battery Low on a
  mains-powered type, no Firmware Update on the newest release of its model's train seen.

Like the readings, events only happen while their device is registered and Online in
``devices_cdc`` (see :mod:`dbx_iot_gen.lifecycle`): a device the registry has Offline or in
Maintenance raises nothing, and a maintenance window of a device already in maintenance is no event.

Alerts are raised by Critical and Warning events only, a few seconds to two minutes after them.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dbx_iot_gen.catalog import CITIES, DEVICE_TYPES
from dbx_iot_gen.config import SEVERITIES, WEEKDAYS, IoTConfig
from dbx_iot_gen.fleet import FIRST_DEVICE_ID
from dbx_iot_gen.grid import grid
from dbx_iot_gen.lifecycle import STATUS_CODES
from dbx_iot_gen.patterns import EPOCH_HOUR_OF_WEEK
from dbx_iot_gen.rand import Randomness, dbl, hash_fields, sql_str, weighted_case
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.tables.anomalies import anomaly_episodes
from dbx_iot_gen.tables.cdc import devices_cdc
from dbx_iot_gen.tables.devices import firmware_trains_sql
from dbx_iot_gen.tables.readings import readings_at

__all__ = ["ALERT_COLUMNS", "EVENT_COLUMNS", "EVENT_TYPES", "OFFLINE_READINGS", "RULES", "alerts", "events",
           "maintenance_starts"]

# The seed's seven event types.
EVENT_TYPES = ("Threshold Exceeded", "Device Offline", "Firmware Update", "Calibration Required", "Battery Low",
               "Connection Lost", "Maintenance Due")
EVENT_COLUMNS = TABLES["events"].column_names
ALERT_COLUMNS = TABLES["alerts"].column_names
# A dropout of at least this many readings takes the device offline (a Critical event).
OFFLINE_READINGS = 6
# The alerting rule that fires for each event type.
RULES = {
    "Threshold Exceeded": "value_above_threshold",
    "Device Offline": "device_offline",
    "Connection Lost": "connection_lost",
    "Calibration Required": "calibration_due",
    "Battery Low": "battery_low",
    "Firmware Update": "firmware_update_failed",
    "Maintenance Due": "maintenance_due",
}
_BACKGROUND = (("Firmware Update", 3.0), ("Calibration Required", 3.0), ("Battery Low", 4.0))


def maintenance_starts(config: IoTConfig) -> list[list[int]]:
    """For each city of ``CITIES``: the epoch seconds at which its maintenance windows begin within
    the data's range, in order (exact local time, DST included)."""
    lt = grid(config).local_time
    lo, hi = int(config.start.timestamp()), int(config.end.timestamp())
    out = []
    for city in range(len(CITIES)):
        starts = set()
        for day in range(lo // 86400 - 2, hi // 86400 + 2):  # local days, 1970-01-01 = 0
            weekday = WEEKDAYS[(day + EPOCH_HOUR_OF_WEEK // 24) % 7]
            for w in config.patterns.maintenance_windows:
                if w.day == weekday:
                    u = lt.first_instant(city, day * 86400 + w.start_hour * 3600, day * 86400 + w.end_hour * 3600)
                    if u is not None and lo <= u < hi:
                        starts.add(u)
        out.append(sorted(starts))
    return out


def _episode_events(episodes: DataFrame, rnd: Randomness) -> DataFrame:
    u_critical = rnd.uniform("spike_critical", "anomaly_id")
    at_start = "anomaly_type IN ('spike', 'dropout')"
    # a drift is noticed when it reaches half its size; a stuck sensor at its episode's end
    shows = (f"IF({at_start}, first_reading, IF(anomaly_type = 'drift', coalesce(noticed_reading, last_reading),"
             " last_reading))")
    return episodes.selectExpr(
        "anomaly_id AS event_id",
        "device_id",
        f"{shows}.timestamp AS timestamp",
        "CASE anomaly_type WHEN 'spike' THEN 'Threshold Exceeded'"
        f" WHEN 'dropout' THEN IF(readings >= {OFFLINE_READINGS}, 'Device Offline', 'Connection Lost')"
        " ELSE 'Calibration Required' END AS event_type",
        f"CASE anomaly_type WHEN 'spike' THEN IF({u_critical} < 0.4D, 'Critical', 'Warning')"
        f" WHEN 'dropout' THEN IF(readings >= {OFFLINE_READINGS}, 'Critical', 'Warning')"
        " ELSE 'Warning' END AS severity",
        "CASE anomaly_type"
        " WHEN 'spike' THEN format_string('%s of device %d read %.2f %s, %.2f %s its normal level',"
        " metric_name, device_id, first_reading.metric_value, unit, abs(magnitude),"
        " IF(magnitude < 0D, 'below', 'above'))"
        " WHEN 'dropout' THEN format_string('No %s value from device %d for %d readings from %s UTC',"
        " metric_name, device_id, readings, date_format(start_ts, 'yyyy-MM-dd HH:mm'))"
        " WHEN 'drift' THEN IF(fixed_at IS NULL, format_string('%s of device %d drifting off its calibration:"
        " %.2f %s off after %d readings', metric_name, device_id, magnitude, unit, readings),"
        " format_string('%s of device %d drifting off its calibration: %.2f %s off when recalibrated at %s UTC,"
        " after %d readings', metric_name, device_id, magnitude, unit, date_format(fixed_at, 'yyyy-MM-dd HH:mm'),"
        " readings))"
        " ELSE format_string('%s of device %d stuck at %.2f %s for %d readings',"
        " metric_name, device_id, magnitude, unit, readings) END AS description",
        f"{shows}.reading_id AS reading_id",
        # the calibration that ends a drift resolves its event
        "fixed_at IS NOT NULL AS fixed",
    )


def _maintenance_events(spark: SparkSession, config: IoTConfig, first_id: int) -> tuple[DataFrame, int]:
    layout = grid(config).layout
    n_ch = layout.n_channels
    starts = maintenance_starts(config)
    n_occ = max(1, max(len(s) for s in starts))
    table = [s[j] if j < len(s) else -1 for s in starts for j in range(n_occ)]
    device, _ = layout.channel_parts("m_channel")
    city = layout.city_of_location(layout.location_of(device))
    cadence_us, start_us = config.reading_cadence_seconds * 1_000_000, config.start_micros
    rows = n_ch * n_occ
    first_metric = f"(m_channel < {layout.n_single_channels}L OR ((m_channel - {layout.n_single_channels}L) & 1L) = 0L)"
    cells = (spark.range(0, rows, 1, max(1, min(64, rows // 200_000 + 1)))
            .selectExpr(f"id + {first_id}L AS event_id", f"id % {n_ch}L AS m_channel", f"id div {n_ch}L AS m_occ")
            .where(first_metric)
            .selectExpr("event_id", "m_channel",
                        f"element_at(array({', '.join(f'{t}L' for t in table)}), "
                        f"cast({city} * {n_occ} + m_occ + 1 as int)) AS m_start")
            .where("m_start >= 0L")
            # the first tick at or after the window's start
            .selectExpr("event_id", "m_channel",
                        f"(m_start * 1000000L - {start_us}L + {cadence_us - 1}L) div {cadence_us}L AS m_tick")
            .where(f"m_tick < {config.reading_ticks}L")
            .selectExpr("event_id", f"m_tick * {n_ch}L + m_channel AS id"))
    # a window starts for a device that is Online in the registry (else it sends nothing, or is
    # in maintenance already)
    starts = f"device_status = 'Maintenance' AND registry = {STATUS_CODES['Online']}"
    # (at the window's true time: a device's reset clock stamps its own readings, not the event)
    df = (readings_at(spark, config, cells, keep=("t_us",), where=starts).selectExpr(
        "event_id", "device_id", "timestamp_micros(t_us) AS timestamp", "'Maintenance Due' AS event_type",
        "'Info' AS severity",
        "format_string('Scheduled maintenance of device %d started: no %s values until the window ends',"
        " device_id, metric_name) AS description",
        "reading_id"))
    return df, rows


def _background_kind(type_idx: str, u: str, can_update: str) -> str:
    """SQL: the kind of a background event, by ``u`` at the kinds' weights among those the device
    can have: Battery Low only on a battery-powered type, Firmware Update only when a later release
    of its model's train is in the data (SQL boolean ``can_update``)."""
    battery_types = ", ".join(str(i) for i, t in enumerate(DEVICE_TYPES) if t.battery_powered)
    branches = []
    for on_battery, updatable in ((True, True), (True, False), (False, True)):
        kinds = [(k, w) for k, w in _BACKGROUND if (on_battery or k != "Battery Low")
                 and (updatable or k != "Firmware Update")]
        when = (f"{type_idx} {'' if on_battery else 'NOT '}IN ({battery_types})"
                f" AND {'' if updatable else 'NOT '}({can_update})")
        pick = weighted_case(u, [sql_str(k) for k, _ in kinds], [w for _, w in kinds])
        branches.append(f"WHEN {when} THEN {pick}")
    return f"(CASE {' '.join(branches)} ELSE 'Calibration Required' END)"


def _background_events(spark: SparkSession, config: IoTConfig, rnd: Randomness, first_id: int,
                       cdc: DataFrame) -> DataFrame:
    layout = grid(config).layout
    n_dev = config.n_devices
    days = math.ceil(config.duration_seconds / 86400)
    rows = n_dev * days
    u_occurs, u_time, u_type, u_severity = hash_fields(rnd.hash("background", "id"), 16, 16, 16, 16)
    u_detail = rnd.uniform("background_detail", "id")
    type_names = f"array({', '.join(sql_str(t.name) for t in DEVICE_TYPES)})"
    severity = weighted_case(u_severity, [sql_str(s) for s in SEVERITIES], list(config.events.severity_weights))
    start_us = config.start_micros
    life = grid(config).life
    changes = life.status_changes("device_id", "unix_seconds(timestamp)", "life_ins", "life_del")
    online = life.is_online("device_id", "reg_changes")
    background = (spark.range(0, rows, 1, max(1, min(64, rows // 200_000 + 1)))
                  .where(f"{u_occurs} < {dbl(config.events.background_per_device_day)}")
                  .selectExpr(f"id + {first_id}L AS event_id", f"{FIRST_DEVICE_ID}L + id % {n_dev}L AS device_id",
                              f"timestamp_micros({start_us}L + (id div {n_dev}L) * 86400000000L"
                              f" + cast({u_time} * 86400000000D as long)) AS timestamp",
                              f"{u_type} AS u_kind", f"{severity} AS severity", f"{u_detail} AS detail")
                  .where(f"timestamp < timestamp_micros({int(config.end.timestamp()) * 1_000_000}L)")
                  # only while the device is registered and Online in the registry (a Generate,
                  # not a filter: pushed down, a filter would repeat the registry's expressions)
                  .where(life.registered("device_id", "unix_micros(timestamp)"))
                  .selectExpr("*", f"{life.inserted_s('device_id')} AS life_ins",
                              f"{life.deleted_s('device_id')} AS life_del")
                  .selectExpr("*", f"{changes} AS reg_changes")
                  .selectExpr("*", f"explode(IF({online}, array(0), array())) AS online")
                  .drop("life_ins", "life_del", "reg_changes", "online"))
    return (_with_firmware_offer(background, cdc, config)
            .selectExpr("*", f"{layout.type_index_of_slot(layout.slot_of('device_id'))} AS type_idx")
            # the kinds this device can have now: no Battery Low on mains power, no Firmware Update
            # on the newest release of its model's train
            .selectExpr("*", f"{_background_kind('type_idx', 'u_kind', 'firmware_next IS NOT NULL')} AS kind")
            .selectExpr(
                "event_id", "device_id", "timestamp", "kind AS event_type", "severity",
                f"CASE kind WHEN 'Firmware Update' THEN format_string("
                f"'Firmware update %s available for device %d (%s)', firmware_next, device_id,"
                f" element_at({type_names}, type_idx + 1))"
                f" WHEN 'Calibration Required' THEN format_string("
                f"'Calibration due on device %d (%s): %d days since the last one', device_id,"
                f" element_at({type_names}, type_idx + 1), 90 + cast(detail * 300D as int))"
                f" ELSE format_string('Battery low on device %d (%s): %d%% left', device_id,"
                f" element_at({type_names}, type_idx + 1), 5 + cast(detail * 15D as int)) END AS description",
                "CAST(NULL AS BIGINT) AS reading_id"))


def _with_firmware_offer(background: DataFrame, cdc: DataFrame, config: IoTConfig) -> DataFrame:
    """``background`` with ``firmware_next``: the release after the device's firmware at the
    event's time on its model's train (from the CDC); NULL when no device of the model runs a
    later release within the data (a release the data never shows is not announced)."""
    trains = firmware_trains_sql(config)
    # 1-based position of each registry image's version on its model's train, and the newest
    # position any device of the model reaches in the data
    seen = (cdc.selectExpr("device_id AS fw_device", "model", "operation_date",
                           f"array_position(element_at({trains}, model), firmware_version) AS fw_pos")
            .withColumn("newest_pos", F.max("fw_pos").over(Window.partitionBy("model"))))
    # a registered device has its INSERT at or before the event; firmware never goes backwards,
    # so the current release is the latest one installed by then. (<=>: an inferred "is not null"
    # filter would be pushed down into the CDC's grid, inlining whole column expressions.)
    current = (background.join(seen, F.col("device_id").eqNullSafe(F.col("fw_device"))
                               & (F.col("operation_date") <= F.col("timestamp")))
               .groupBy(*background.columns, "model", "newest_pos").agg(F.max("fw_pos").alias("current_pos")))
    return current.selectExpr(*background.columns,
                              f"IF(current_pos < newest_pos, element_at(element_at({trains}, model),"
                              " cast(current_pos as int) + 1), NULL) AS firmware_next")


def events(spark: SparkSession, config: IoTConfig, episodes: DataFrame | None = None,
           cdc: DataFrame | None = None) -> DataFrame:
    """The ``events`` table: episode, maintenance and background events.

    ``event_id`` is unique but not dense (each source numbers its own grid). Events caused by a
    reading carry its ``reading_id`` and its timestamp; ``resolved`` implies ``acknowledged``.

    Args:
        spark: the session.
        config: the dataset config.
        episodes: :func:`~dbx_iot_gen.tables.anomalies.anomaly_episodes` of the config, if at hand.
        cdc: :func:`~dbx_iot_gen.tables.cdc.devices_cdc` of the config, if at hand (firmware
            updates name the release after the device's current one).

    Example:
        events(spark, IoTConfig.preset("tiny")).groupBy("event_type").count().show()
    """
    rnd = Randomness(config.seed, "events")
    n_episode_grid = grid(config).episode_cells
    maintenance, n_maintenance_grid = _maintenance_events(spark, config, n_episode_grid + 1)
    registry = cdc if cdc is not None else devices_cdc(spark, config)
    background = _background_events(spark, config, rnd, n_episode_grid + n_maintenance_grid + 1, registry)
    u_ack, u_resolved = hash_fields(rnd.hash("handling", "event_id"), 26, 26)
    ev = config.events
    source = episodes if episodes is not None else anomaly_episodes(spark, config)
    return (_episode_events(source, rnd).unionByName(maintenance.selectExpr("*", "false AS fixed"))
            .unionByName(background.selectExpr("*", "false AS fixed"))
            .selectExpr("*", f"fixed OR {u_ack} < {dbl(ev.acknowledged_rate)} AS acknowledged",
                        f"fixed OR {u_resolved} < {dbl(ev.resolved_rate)} AS resolved_if_acknowledged")
            .selectExpr("*", "acknowledged AND resolved_if_acknowledged AS resolved")
            .select(*EVENT_COLUMNS))


def alerts(spark: SparkSession, config: IoTConfig, events_df: DataFrame | None = None,
           episodes: DataFrame | None = None) -> DataFrame:
    """The ``alerts`` table: one alert per Critical or Warning event (``alert_id`` = ``event_id``).

    Raised 5 seconds to 2 minutes after the event; ``status`` follows the event (closed when it is
    resolved, acknowledged, or open); ``closed_at`` only when closed, 5 minutes to a day later;
    a drift's alert closes when the calibration that ends it lands (its label's ``end_ts``), or
    when raised if that is later.

    Args:
        spark: the session.
        config: the dataset config.
        events_df: the events to raise alerts from (default: :func:`events` of the config).
        episodes: :func:`~dbx_iot_gen.tables.anomalies.anomaly_episodes` of the config, if at hand.

    Example:
        alerts(spark, IoTConfig.preset("tiny")).where("status = 'open'").count()
    """
    rnd = Randomness(config.seed, "alerts")
    u_delay, u_close = hash_fields(rnd.hash("timing", "event_id"), 26, 26)
    source = events_df if events_df is not None else events(spark, config)
    rule = "CASE event_type " + " ".join(f"WHEN {sql_str(e)} THEN {sql_str(r)}" for e, r in RULES.items()) + " END"
    close_us = f"cast(exp({dbl(math.log(300e6))} + {u_close} * {dbl(math.log(86400 / 300))}) as long)"
    found = episodes if episodes is not None else anomaly_episodes(spark, config)
    fixes = found.where("fixed_at IS NOT NULL").selectExpr("anomaly_id AS event_id", "fixed_at")
    return (source.where("severity IN ('Critical', 'Warning')").join(fixes, "event_id", "left")
            .selectExpr("event_id AS alert_id", "event_id", "device_id",
                        f"timestamp_micros(unix_micros(timestamp) + 5000000L + cast({u_delay} * 115000000D as long))"
                        " AS raised_at",
                        f"{rule} AS rule_name", "lower(severity) AS alert_level",
                        "CASE WHEN resolved THEN 'closed' WHEN acknowledged THEN 'acknowledged' ELSE 'open' END"
                        " AS status", "fixed_at")
            .selectExpr("*", f"IF(status != 'closed', NULL, IF(fixed_at IS NULL, timestamp_micros("
                             f"unix_micros(raised_at) + {close_us}), greatest(fixed_at, raised_at))) AS closed_at")
            .select(*ALERT_COLUMNS))
