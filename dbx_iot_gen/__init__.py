"""dbx_iot_gen: synthetic, labeled, reproducible IoT datasets on Spark and Databricks."""

from dbx_iot_gen.config import (
    SCALES,
    AnomalyConfig,
    CdcConfig,
    EnvironmentConfig,
    EventConfig,
    IoTConfig,
    MaintenanceWindow,
    PatternConfig,
    PlantConfig,
    QualityConfig,
)
from dbx_iot_gen.errors import DbxIotGenError, InvalidConfigError, OutputError
from dbx_iot_gen.merge import merge_scd1, merge_scd2, read_cdc_batches
from dbx_iot_gen.stream import start_stream, stream, stream_spec
from dbx_iot_gen.tables import (
    alerts,
    anomaly_labels,
    cdc_batch,
    devices,
    devices_cdc,
    devices_spec,
    environment_long,
    environment_spec,
    events,
    final_registry,
    locations_spec,
    plant_spec,
    readings_at,
    readings_spec,
    telemetry_spec,
)

__version__ = "0.3.0"

__all__ = [
    "SCALES",
    "AnomalyConfig",
    "CdcConfig",
    "DbxIotGenError",
    "EnvironmentConfig",
    "EventConfig",
    "InvalidConfigError",
    "IoTConfig",
    "MaintenanceWindow",
    "OutputError",
    "PatternConfig",
    "PlantConfig",
    "QualityConfig",
    "__version__",
    "alerts",
    "anomaly_labels",
    "cdc_batch",
    "devices",
    "devices_cdc",
    "devices_spec",
    "environment_long",
    "environment_spec",
    "events",
    "final_registry",
    "locations_spec",
    "merge_scd1",
    "merge_scd2",
    "plant_spec",
    "read_cdc_batches",
    "readings_at",
    "readings_spec",
    "start_stream",
    "stream",
    "stream_spec",
    "telemetry_spec",
]
