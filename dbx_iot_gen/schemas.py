"""The published schema of every table: column names, Spark SQL types and comments.

One registry serves the CLI's ``tables`` listing, the README, DDL strings for Auto Loader
``schemaHints`` and the comments of Unity Catalog tables. Tests check that every built table
matches it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TABLES", "Column", "TableSchema"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str


@dataclass(frozen=True)
class TableSchema:
    name: str
    key: str
    comment: str
    columns: tuple[Column, ...]

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


def _table(name: str, key: str, comment: str, *columns: tuple[str, str, str]) -> TableSchema:
    return TableSchema(name, key, comment, tuple(Column(*c) for c in columns))


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
    ),
    _table(
        "devices", "device_id", "The device registry.",
        ("device_id", "BIGINT", "Device id, unique, from 1000."),
        ("device_serial", "STRING", "Serial number: DEV- and 8 digits, unique."),
        ("device_type", "STRING", "One of the 8 device types, by weighted quotas."),
        ("manufacturer", "STRING", "Maker; depends on the type."),
        ("model", "STRING", "Model; depends on the type."),
        ("firmware_version", "STRING", "Firmware version major.minor.patch."),
        ("install_date", "DATE", "Install date, before the data's start."),
        ("location_id", "BIGINT", "Facility of the device (locations.location_id)."),
        ("latitude", "DOUBLE", "Device latitude, within 3 km of its facility."),
        ("longitude", "DOUBLE", "Device longitude, within 3 km of its facility."),
        ("status", "STRING", "Online, Offline, Maintenance or Decommissioned (85/8/5/2)."),
    ),
    _table(
        "sensor_readings", "reading_id", "One reading per device, metric and tick.",
        ("reading_id", "BIGINT", "Reading id, from 1; time rises with it."),
        ("device_id", "BIGINT", "Device that measured (devices.device_id)."),
        ("timestamp", "TIMESTAMP", "Measurement time, UTC: the tick plus a little jitter."),
        ("metric_name", "STRING", "temperature, humidity, pressure, vibration or power."),
        ("metric_value", "DOUBLE", "Measured value in the metric's unit; null during maintenance."),
        ("unit", "STRING", "celsius, percent, hPa, mm/s or kWh."),
        ("quality_score", "INT", "Signal quality 0-100; older devices score lower."),
        ("device_status", "STRING", "Online, or Maintenance inside a maintenance window (local time)."),
        ("is_anomaly", "BOOLEAN", "True inside an injected anomaly episode."),
        ("anomaly_type", "STRING", "Type of the anomaly episode, null outside one."),
        ("ingest_timestamp", "TIMESTAMP", "When the reading arrived, UTC; after timestamp."),
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
        ("fuel_level", "DOUBLE", "Fuel, percent; falls while driving, refilled during stops."),
        ("engine_temp", "DOUBLE", "Engine temperature, degrees Celsius."),
    ),
)}
