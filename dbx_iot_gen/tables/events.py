"""``events`` and ``alerts``: what operations would see, following from what happened in the data.

Events come from three sources, each a small grid computed by arithmetic and hashes:

- anomaly episodes (one event per episode, at the reading that shows it): a spike raises
  "Threshold Exceeded"; a dropout "Connection Lost", or "Device Offline" when it lasts
  :data:`OFFLINE_READINGS` readings or more; a drift or a stuck sensor "Calibration Required";
- maintenance windows: "Maintenance Due" at the first reading of each window of each device;
- background events (firmware update, calibration due, battery low) on random device-days, at the
  configured severity weights (the seed's 10/30/60).

Like the readings, events only happen while their device is registered (see
:mod:`dbx_iot_gen.lifecycle`).

Alerts are raised by Critical and Warning events only, a few seconds to two minutes after them.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, SparkSession

from dbx_iot_gen.catalog import CITIES, DEVICE_TYPES
from dbx_iot_gen.config import SEVERITIES, WEEKDAYS, IoTConfig
from dbx_iot_gen.fleet import FIRST_DEVICE_ID, FleetLayout
from dbx_iot_gen.lifecycle import Lifecycle
from dbx_iot_gen.patterns import LocalTime
from dbx_iot_gen.rand import Randomness, dbl, hash_fields, sql_str, weighted_case
from dbx_iot_gen.tables.anomalies import anomaly_episodes
from dbx_iot_gen.tables.readings import readings_at

__all__ = ["ALERT_COLUMNS", "EVENT_COLUMNS", "EVENT_TYPES", "OFFLINE_READINGS", "RULES", "alerts", "events",
           "maintenance_starts"]

# The seed's seven event types.
EVENT_TYPES = ("Threshold Exceeded", "Device Offline", "Firmware Update", "Calibration Required", "Battery Low",
               "Connection Lost", "Maintenance Due")
EVENT_COLUMNS = ("event_id", "device_id", "timestamp", "event_type", "severity", "description", "acknowledged",
                 "resolved", "reading_id")
ALERT_COLUMNS = ("alert_id", "event_id", "device_id", "raised_at", "rule_name", "alert_level", "status",
                 "closed_at")
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
    lt = LocalTime(config)
    lo, hi = int(config.start.timestamp()), int(config.end.timestamp())
    out = []
    for city in range(len(CITIES)):
        starts = set()
        for day in range(lo // 86400 - 2, hi // 86400 + 2):  # local days, 1970-01-01 (a Thursday) = 0
            weekday = WEEKDAYS[(day + 3) % 7]
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
    return episodes.selectExpr(
        "anomaly_id AS event_id",
        "device_id",
        f"IF({at_start}, first_reading.timestamp, last_reading.timestamp) AS timestamp",
        "CASE anomaly_type WHEN 'spike' THEN 'Threshold Exceeded'"
        f" WHEN 'dropout' THEN IF(readings >= {OFFLINE_READINGS}, 'Device Offline', 'Connection Lost')"
        " ELSE 'Calibration Required' END AS event_type",
        f"CASE anomaly_type WHEN 'spike' THEN IF({u_critical} < 0.4D, 'Critical', 'Warning')"
        f" WHEN 'dropout' THEN IF(readings >= {OFFLINE_READINGS}, 'Critical', 'Warning')"
        " ELSE 'Warning' END AS severity",
        "CASE anomaly_type"
        " WHEN 'spike' THEN format_string('%s of device %d read %.2f %s, %.2f above its normal level',"
        " metric_name, device_id, first_reading.metric_value, unit, magnitude)"
        " WHEN 'dropout' THEN format_string('No %s value from device %d for %d readings from %s UTC',"
        " metric_name, device_id, readings, date_format(start_ts, 'yyyy-MM-dd HH:mm'))"
        " WHEN 'drift' THEN format_string('%s of device %d drifted %.2f %s over %d readings, to %.2f %s',"
        " metric_name, device_id, magnitude, unit, readings, last_reading.metric_value, unit)"
        " ELSE format_string('%s of device %d stuck at %.2f %s for %d readings',"
        " metric_name, device_id, magnitude, unit, readings) END AS description",
        f"IF({at_start}, first_reading.reading_id, last_reading.reading_id) AS reading_id",
    )


def _maintenance_events(spark: SparkSession, config: IoTConfig, first_id: int) -> tuple[DataFrame, int]:
    layout = FleetLayout(config)
    n_ch = layout.n_channels
    starts = maintenance_starts(config)
    n_occ = max(1, max(len(s) for s in starts))
    table = [s[j] if j < len(s) else -1 for s in starts for j in range(n_occ)]
    device, _ = layout.channel_parts("m_channel")
    city = layout.city_of_location(layout.location_of(device))
    cadence_us, start_us = config.reading_cadence_seconds * 1_000_000, config.start_micros
    rows = n_ch * n_occ
    first_metric = f"(m_channel < {layout.n_single_channels}L OR ((m_channel - {layout.n_single_channels}L) & 1L) = 0L)"
    grid = (spark.range(0, rows, 1, max(1, min(64, rows // 200_000 + 1)))
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
    df = (readings_at(spark, config, grid).where("device_status = 'Maintenance'").selectExpr(
        "event_id", "device_id", "timestamp", "'Maintenance Due' AS event_type", "'Info' AS severity",
        "format_string('Scheduled maintenance of device %d started: no %s values until the window ends',"
        " device_id, metric_name) AS description",
        "reading_id"))
    return df, rows


def _background_events(spark: SparkSession, config: IoTConfig, rnd: Randomness, first_id: int) -> DataFrame:
    layout = FleetLayout(config)
    n_dev = config.n_devices
    days = math.ceil(config.duration_seconds / 86400)
    rows = n_dev * days
    u_occurs, u_time, u_type, u_severity = hash_fields(rnd.hash("background", "id"), 16, 16, 16, 16)
    u_detail = rnd.uniform("background_detail", "id")
    type_name = (f"element_at(array({', '.join(sql_str(t.name) for t in DEVICE_TYPES)}), "
                 f"{layout.type_index_of_slot(layout.slot_of('device_id'))} + 1)")
    kind = weighted_case(u_type, [sql_str(t) for t, _ in _BACKGROUND], [w for _, w in _BACKGROUND])
    severity = weighted_case(u_severity, [sql_str(s) for s in SEVERITIES], list(config.events.severity_weights))
    start_us = config.start_micros
    return (spark.range(0, rows, 1, max(1, min(64, rows // 200_000 + 1)))
            .where(f"{u_occurs} < {dbl(config.events.background_per_device_day)}")
            .selectExpr(f"id + {first_id}L AS event_id", f"{FIRST_DEVICE_ID}L + id % {n_dev}L AS device_id",
                        f"timestamp_micros({start_us}L + (id div {n_dev}L) * 86400000000L"
                        f" + cast({u_time} * 86400000000D as long)) AS timestamp",
                        f"{kind} AS event_type", f"{severity} AS severity", f"{u_detail} AS detail")
            .where(f"timestamp < timestamp_micros({int(config.end.timestamp()) * 1_000_000}L)")
            # only while the device is registered
            .where(Lifecycle(config).registered("device_id", "unix_micros(timestamp)"))
            .selectExpr(
                "event_id", "device_id", "timestamp", "event_type", "severity",
                f"CASE event_type WHEN 'Firmware Update' THEN format_string("
                f"'Firmware update %d.%d.%d available for device %d (%s)', 2 + cast(detail * 3D as int),"
                f" cast(detail * 97D as int) % 10, cast(detail * 997D as int) % 20, device_id, {type_name})"
                f" WHEN 'Calibration Required' THEN format_string("
                f"'Calibration due on device %d (%s): %d days since the last one', device_id, {type_name},"
                f" 90 + cast(detail * 300D as int))"
                f" ELSE format_string('Battery low on device %d (%s): %d%% left', device_id, {type_name},"
                f" 5 + cast(detail * 15D as int)) END AS description",
                "CAST(NULL AS BIGINT) AS reading_id"))


def events(spark: SparkSession, config: IoTConfig, episodes: DataFrame | None = None) -> DataFrame:
    """The ``events`` table: episode, maintenance and background events.

    ``event_id`` is unique but not dense (each source numbers its own grid). Events caused by a
    reading carry its ``reading_id`` and its timestamp; ``resolved`` implies ``acknowledged``.

    Args:
        spark: the session.
        config: the dataset config.
        episodes: :func:`~dbx_iot_gen.tables.anomalies.anomaly_episodes` of the config, if at hand.

    Example:
        >>> events(spark, IoTConfig.preset("tiny")).groupBy("event_type").count().show()  # doctest: +SKIP
    """
    rnd = Randomness(config.seed, "events")
    layout = FleetLayout(config)
    n_episode_grid = layout.n_channels * -(-config.reading_ticks // config.anomalies.slot_readings)
    maintenance, n_maintenance_grid = _maintenance_events(spark, config, n_episode_grid + 1)
    background = _background_events(spark, config, rnd, n_episode_grid + n_maintenance_grid + 1)
    u_ack, u_resolved = hash_fields(rnd.hash("handling", "event_id"), 26, 26)
    ev = config.events
    source = episodes if episodes is not None else anomaly_episodes(spark, config)
    return (_episode_events(source, rnd).unionByName(maintenance).unionByName(background)
            .selectExpr("*", f"{u_ack} < {dbl(ev.acknowledged_rate)} AS acknowledged",
                        f"{u_resolved} < {dbl(ev.resolved_rate)} AS resolved_if_acknowledged")
            .selectExpr(*EVENT_COLUMNS[:-3], "acknowledged", "acknowledged AND resolved_if_acknowledged AS resolved",
                        "reading_id"))


def alerts(spark: SparkSession, config: IoTConfig, events_df: DataFrame | None = None) -> DataFrame:
    """The ``alerts`` table: one alert per Critical or Warning event (``alert_id`` = ``event_id``).

    Raised 5 seconds to 2 minutes after the event; ``status`` follows the event (closed when it is
    resolved, acknowledged, or open); ``closed_at`` only when closed, 5 minutes to a day later.

    Args:
        spark: the session.
        config: the dataset config.
        events_df: the events to raise alerts from (default: :func:`events` of the config).

    Example:
        >>> alerts(spark, IoTConfig.preset("tiny")).where("status = 'open'").count()  # doctest: +SKIP
    """
    rnd = Randomness(config.seed, "alerts")
    u_delay, u_close = hash_fields(rnd.hash("timing", "event_id"), 26, 26)
    source = events_df if events_df is not None else events(spark, config)
    rule = "CASE event_type " + " ".join(f"WHEN {sql_str(e)} THEN {sql_str(r)}" for e, r in RULES.items()) + " END"
    close_us = f"cast(exp({dbl(math.log(300e6))} + {u_close} * {dbl(math.log(86400 / 300))}) as long)"
    return (source.where("severity IN ('Critical', 'Warning')")
            .selectExpr("event_id AS alert_id", "event_id", "device_id",
                        f"timestamp_micros(unix_micros(timestamp) + 5000000L + cast({u_delay} * 115000000D as long))"
                        " AS raised_at",
                        f"{rule} AS rule_name", "lower(severity) AS alert_level",
                        "CASE WHEN resolved THEN 'closed' WHEN acknowledged THEN 'acknowledged' ELSE 'open' END"
                        " AS status")
            .selectExpr(*ALERT_COLUMNS[:-1],
                        f"IF(status = 'closed', timestamp_micros(unix_micros(raised_at) + {close_us}), NULL)"
                        " AS closed_at"))
