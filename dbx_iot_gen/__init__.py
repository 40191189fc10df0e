"""dbx_iot_gen: synthetic, labeled, reproducible IoT datasets on Spark and Databricks."""

from dbx_iot_gen.config import (
    SCALES,
    AnomalyConfig,
    EventConfig,
    IoTConfig,
    MaintenanceWindow,
    PatternConfig,
    QualityConfig,
)
from dbx_iot_gen.errors import DbxIotGenError, InvalidConfigError, OutputError
from dbx_iot_gen.tables import (
    alerts,
    anomaly_labels,
    devices_spec,
    events,
    locations_spec,
    readings_at,
    readings_spec,
    telemetry_spec,
)

__version__ = "0.2.0"

__all__ = [
    "SCALES",
    "AnomalyConfig",
    "DbxIotGenError",
    "EventConfig",
    "InvalidConfigError",
    "IoTConfig",
    "MaintenanceWindow",
    "OutputError",
    "PatternConfig",
    "QualityConfig",
    "__version__",
    "alerts",
    "anomaly_labels",
    "devices_spec",
    "events",
    "locations_spec",
    "readings_at",
    "readings_spec",
    "telemetry_spec",
]
