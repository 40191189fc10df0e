"""The published schema of every table: column names, Spark SQL types and comments.

One registry serves the CLI's ``tables`` listing, the README, DDL strings for Auto Loader
``schemaHints`` and the comments of Unity Catalog tables. Tests check that every built table
matches it exactly.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbx_iot_gen.errors import InvalidConfigError

__all__ = ["DEVICE_COLUMNS", "TABLES", "Column", "TableSchema", "describe"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str


@dataclass(frozen=True)
class TableSchema:
    """One table of the registry: its schema, and how it is made.

    ``kind`` is ``spec`` (``builder`` returns a dbldatagen spec to build) or ``derived``
    (``builder`` returns the DataFrame); ``builder`` is ``module:function``, imported on first
    use (this module runs without pyspark); ``streams``: a feed of the table can be started
    (``dbx-iot-gen stream``).
    """

    name: str
    key: str
    comment: str
    columns: tuple[Column, ...]
    kind: str
    builder: str
    streams: bool = False

    def build_function(self) -> Callable[..., Any]:
        """The function that makes the table: ``(spark, config) -> DataGenerator`` for a spec,
        ``(spark, config) -> DataFrame`` for a derived table.

        Example:
            >>> TABLES["events"].build_function().__name__
            'events'
        """
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]

    @property
    def ddl(self) -> str:
        """``name TYPE, ...``: usable as a DataFrame schema or as Auto Loader ``schemaHints``.

        Example:
            >>> TABLES["locations"].ddl.split(", ")[0]
            'location_id BIGINT'
        """
        return ", ".join(f"{c.name} {c.type}" for c in self.columns)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _table(name: str, key: str, comment: str, *columns: tuple[str, str, str], kind: str, builder: str,
           streams: bool = False) -> TableSchema:
    return TableSchema(name, key, comment, tuple(Column(*c) for c in columns), kind, builder, streams)


# The columns of a device, in devices and in each change of devices_cdc.
_DEVICE_COLUMNS = (
    ("device_id", "BIGINT", "Device id, unique, from 1000."),
    ("device_serial", "STRING", "Serial number: DEV- and 8 digits, unique, unrelated between consecutive ids."),
    ("device_type", "STRING", "One of the 8 device types, by weighted quotas."),
    ("manufacturer", "STRING", "Maker; depends on the type."),
    ("model", "STRING", "Model; depends on the maker (no model has two makers)."),
    ("firmware_version", "STRING", "Firmware version major.minor.patch, a release of the model's own train; "
                                     "rollouts only move it forward on it."),
    ("install_date", "DATE", "Install date, before the data's start."),
    ("location_id", "BIGINT", "Facility of the device (locations.location_id)."),
    ("latitude", "DOUBLE", "Device latitude, within 3 km of its facility."),
    ("longitude", "DOUBLE", "Device longitude, within 3 km of its facility."),
    ("status", "STRING", "Online, Offline or Maintenance (85/8/5 when registered); Decommissioned once "
                         "deleted."),
)
DEVICE_COLUMNS: tuple[str, ...] = tuple(c[0] for c in _DEVICE_COLUMNS)

#: Every table, in the order the demo writes them (a table after those it is derived from): its
#: schema, its comment and how it is made.
TABLES: dict[str, TableSchema] = {t.name: t for t in (
    _table(
        "locations", "location_id", "Facilities near real cities.",
        ("location_id", "BIGINT", "Facility id, from 1."),
        ("facility_name", "STRING", "City, kind of site and id, e.g. 'Chicago Warehouse 12'."),
        ("city", "STRING", "Nearest real city."),
        ("region", "STRING", "State, province or region of the city."),
        ("country", "STRING", "Country of the city."),
        ("latitude", "DOUBLE", "Facility latitude, WGS84 degrees (within 15 km of the city centre)."),
        ("longitude", "DOUBLE", "Facility longitude, WGS84 degrees."),
        ("timezone", "STRING", "IANA time zone of the facility; daily cycles follow it."),
        kind="spec", builder="dbx_iot_gen.tables.locations:locations_spec",
    ),
    _table(
        "devices_cdc", "device_id, sequence_num",
        "Device registry changes: batch 0 inserts the initial registry, later batches update, insert and "
        "delete devices.",
        *_DEVICE_COLUMNS,
        ("operation", "STRING", "INSERT, UPDATE or DELETE."),
        ("operation_date", "TIMESTAMP", "When the change happened, UTC, inside its batch's window."),
        ("sequence_num", "BIGINT", "Order of the device's changes, from 1 (its INSERT)."),
        ("batch_id", "INT", "The batch, from 0 (the initial registry)."),
        kind="derived", builder="dbx_iot_gen.tables.cdc:devices_cdc",
    ),
    _table(
        "devices", "device_id",
        "Every device registered at some time in the data's range, as last known (the CDC batches applied).",
        *_DEVICE_COLUMNS,
        ("registered_at", "TIMESTAMP", "When the CDC inserted the device: the data's start for the initial "
                                       "registry."),
        ("decommissioned_at", "TIMESTAMP", "When the CDC deleted the device; null while it is registered."),
        kind="derived", builder="dbx_iot_gen.tables.cdc:devices",
    ),
    _table(
        "sensor_readings", "reading_id", "One reading per device, metric and tick.",
        ("reading_id", "BIGINT", "Reading id, from 1; time rises with it."),
        ("device_id", "BIGINT", "Device that measured (devices.device_id)."),
        ("timestamp", "TIMESTAMP", "Measurement time, UTC: the tick plus a little jitter (the device's own "
                                   "clock: wrong after a clock_reset)."),
        ("metric_name", "STRING", "temperature, humidity, pressure, vibration or power."),
        ("metric_value", "DOUBLE", "Measured value in the metric's unit; null in maintenance, dropouts and "
                                   "missing values; out of range after a malfunction."),
        ("unit", "STRING", "celsius, percent, hPa, mm/s or kW."),
        ("quality_score", "INT", "Signal quality 0-100; older devices score lower."),
        ("device_status", "STRING", "Online; Maintenance inside a maintenance window (local time) or while "
                                    "the registry says Maintenance; Offline in a dropout (an Offline device in "
                                    "the registry sends no rows)."),
        ("is_anomaly", "BOOLEAN", "True inside an anomaly episode (see anomaly_labels)."),
        ("anomaly_type", "STRING", "spike, dropout, drift or stuck inside an episode; null outside one."),
        ("quality_issue", "STRING", "Injected data-quality problem: null_value, out_of_range, sentinel_value, "
                                    "unit_mixup, clock_reset, duplicate (both copies) or late_arrival; null for "
                                    "a clean reading."),
        ("ingest_timestamp", "TIMESTAMP", "When the reading arrived, UTC: seconds after timestamp, minutes to "
                                          "hours for a late arrival."),
        kind="spec", builder="dbx_iot_gen.tables.readings:readings_spec", streams=True,
    ),
    _table(
        "anomaly_labels", "anomaly_id", "Ground truth: one row per anomaly episode in sensor_readings.",
        ("anomaly_id", "BIGINT", "Episode id, unique (not dense)."),
        ("device_id", "BIGINT", "Device of the episode (devices.device_id)."),
        ("metric_name", "STRING", "Metric of the episode."),
        ("anomaly_type", "STRING", "spike, dropout, drift or stuck."),
        ("start_ts", "TIMESTAMP", "Timestamp of the episode's first anomalous reading."),
        ("end_ts", "TIMESTAMP", "Timestamp of its last anomalous reading; a drift's: when the calibration that "
                                 "fixes it lands, after its last reading (unless still running at the data's end)."),
        ("magnitude", "DOUBLE", "Size in the metric's unit: a spike's height (negative: a spike down), a "
                                "drift's final offset, the value a stuck sensor repeats; null for a dropout."),
        ("readings", "INT", "Anomalous readings in the episode (at least 1)."),
        kind="derived", builder="dbx_iot_gen.tables.anomalies:anomaly_labels",
    ),
    _table(
        "events", "event_id", "Device events: from anomaly episodes, maintenance windows and background.",
        ("event_id", "BIGINT", "Event id, unique (not dense)."),
        ("device_id", "BIGINT", "Device (devices.device_id)."),
        ("timestamp", "TIMESTAMP", "Event time, UTC; the reading's time when a reading caused it."),
        ("event_type", "STRING", "Threshold Exceeded, Device Offline, Connection Lost, Calibration Required, "
                                 "Maintenance Due, Firmware Update or Battery Low."),
        ("severity", "STRING", "Critical, Warning or Info."),
        ("description", "STRING", "What happened, naming the device, the metric and the value."),
        ("acknowledged", "BOOLEAN", "Seen by operations."),
        ("resolved", "BOOLEAN", "Fixed; only if acknowledged."),
        ("reading_id", "BIGINT", "The reading that caused the event (sensor_readings.reading_id), or null."),
        kind="derived", builder="dbx_iot_gen.tables.events:events",
    ),
    _table(
        "alerts", "alert_id", "Alerts raised by Critical and Warning events.",
        ("alert_id", "BIGINT", "Alert id: the id of the event that raised it."),
        ("event_id", "BIGINT", "The event (events.event_id)."),
        ("device_id", "BIGINT", "Device (devices.device_id)."),
        ("raised_at", "TIMESTAMP", "When the alert fired, UTC: 5 s to 2 min after the event."),
        ("rule_name", "STRING", "The alerting rule, e.g. value_above_threshold, device_offline."),
        ("alert_level", "STRING", "critical or warning, from the event's severity."),
        ("status", "STRING", "open, acknowledged or closed, following the event."),
        ("closed_at", "TIMESTAMP", "When it was closed; null unless status is closed."),
        kind="derived", builder="dbx_iot_gen.tables.events:alerts",
    ),
    _table(
        "telemetry", "telemetry_id", "GPS tracker positions of vehicles on closed routes.",
        ("telemetry_id", "BIGINT", "Telemetry id, from 1; time rises with it."),
        ("device_id", "BIGINT", "GPS tracker (devices.device_id, type GPS Tracker)."),
        ("timestamp", "TIMESTAMP", "Position time, UTC, at the vehicle's fixed cadence."),
        ("latitude", "DOUBLE", "Latitude, WGS84 degrees."),
        ("longitude", "DOUBLE", "Longitude, WGS84 degrees."),
        ("altitude", "DOUBLE", "Altitude, metres."),
        ("speed", "DOUBLE", "Speed, km/h; 0 when stopped."),
        ("heading", "INT", "Heading, whole degrees clockwise from north, 0-359."),
        ("fuel_level", "DOUBLE", "Fuel, percent; burned by driving and idling, refilled while parked when low."),
        ("engine_temp", "DOUBLE", "Engine temperature, degrees Celsius."),
        kind="spec", builder="dbx_iot_gen.tables.telemetry:telemetry_spec",
    ),
    _table(
        "plant_sensors", "timestamp, address",
        "Factory plant sensors (seed 000): three frequency tiers, numeric and text sensors, downtime.",
        ("timestamp", "TIMESTAMP", "Event time, UTC."),
        ("system", "STRING", "Plant system, system000 to system019."),
        ("address", "STRING", "Sensor id: three letters and four upper-case hex digits, e.g. AAA01F3."),
        ("value", "DOUBLE", "Reading of a numeric sensor (slow wander, occasional jumps); null for a text sensor."),
        ("text", "STRING", "Message of a text sensor, message001 to message100; null for a numeric sensor."),
        ("status", "STRING", "active; stopping when the sensor goes down; starting at its first event after "
                             "the downtime."),
        kind="spec", builder="dbx_iot_gen.tables.plant:plant_spec", streams=True,
    ),
    _table(
        "environment_readings", "device_id, timestamp",
        "Ruuvi environmental tags (seed 004): one row per broadcast the gateway heard.",
        ("device_id", "STRING", "The tag's MAC address, 12 lower-case hex digits."),
        ("site", "STRING", "Site dimension: home, cottage, office or farm."),
        ("location", "STRING", "Location dimension: bedroom, kitchen, freezer, greenhouse, outdoor, ..."),
        ("timestamp", "TIMESTAMP", "Measurement time, UTC; every cadence_seconds (a missed broadcast: no row)."),
        ("temperature", "DOUBLE", "Air temperature, C; follows the location, the site's weather, a compressor."),
        ("humidity", "DOUBLE", "Relative humidity, percent (0-100); falls as the air warms, peaks at a shower."),
        ("pressure", "BIGINT", "Air pressure, Pa (around 101,325; the site's weather)."),
        ("acceleration_x", "BIGINT", "Acceleration on x, mg (gravity is 1,000 mg on the tag's resting axis)."),
        ("acceleration_y", "BIGINT", "Acceleration on y, mg."),
        ("acceleration_z", "BIGINT", "Acceleration on z, mg."),
        ("battery", "BIGINT", "Battery voltage, mV; drains slowly."),
        ("tx_power", "BIGINT", "Transmit power, dBm (-4, 0 or 4)."),
        ("movement_counter", "BIGINT", "Moves detected so far; never falls."),
        ("measurement_sequence_number", "BIGINT", "Counts broadcasts; jumps over missed ones, never back."),
        ("rssi", "BIGINT", "Signal strength heard by the gateway, dBm; drifts slowly, weaker inside metal appliances."),
        kind="spec", builder="dbx_iot_gen.tables.environment:environment_spec", streams=True,
    ),
)}



def describe(table: str) -> str:
    """What a table holds: its name, key and comment, then each column's name, type and comment
    (what ``dbx-iot-gen tables`` prints for each table).

    Args:
        table: a table name, one of :data:`TABLES`.

    Raises:
        InvalidConfigError: ``table`` is not one of the tables.

    Example:
        >>> print(describe("locations").splitlines()[1])
          location_id          BIGINT     Facility id, from 1.
    """
    if table not in TABLES:
        raise InvalidConfigError("table", f"must be one of {', '.join(TABLES)}, got {table!r}")
    t = TABLES[table]
    lines = [f"{t.name} (key {t.key}): {t.comment}"]
    lines += [f"  {c.name:<20} {c.type:<10} {c.comment}" for c in t.columns]
    return "\n".join(lines)
