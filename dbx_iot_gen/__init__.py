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
from dbx_iot_gen.schemas import TABLES, describe

# The Spark-facing API is imported on first use (PEP 562): a config can be built, validated and
# written where pyspark is not installed (a CI that checks a bundle's config, say).
_LAZY = {
    "merge_scd1": "dbx_iot_gen.merge", "merge_scd2": "dbx_iot_gen.merge", "read_cdc_batches": "dbx_iot_gen.merge",
    "generate_iot_demo": "dbx_iot_gen.demo", "build_tables": "dbx_iot_gen.demo", "build_table": "dbx_iot_gen.demo",
    "get_spark": "dbx_iot_gen.spark", "CatalogTarget": "dbx_iot_gen.output", "query": "dbx_iot_gen.queries",
    "report": "dbx_iot_gen.reporting", "report_figures": "dbx_iot_gen.reporting",
    "start_stream": "dbx_iot_gen.stream", "stream": "dbx_iot_gen.stream", "stream_spec": "dbx_iot_gen.stream",
    **{name: "dbx_iot_gen.tables" for name in (
        "alerts", "anomaly_labels", "cdc_batch", "devices", "devices_cdc", "devices_spec", "environment_long",
        "environment_spec", "events", "final_registry", "locations_spec", "plant_spec", "readings_at",
        "readings_spec", "telemetry_spec")},
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dbx_iot_gen' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__version__ = "0.3.0"

__all__ = [
    "SCALES",
    "TABLES",
    "AnomalyConfig",
    "CatalogTarget",
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
    "build_table",
    "build_tables",
    "cdc_batch",
    "describe",
    "devices",
    "devices_cdc",
    "devices_spec",
    "environment_long",
    "environment_spec",
    "events",
    "final_registry",
    "generate_iot_demo",
    "get_spark",
    "locations_spec",
    "merge_scd1",
    "merge_scd2",
    "plant_spec",
    "query",
    "read_cdc_batches",
    "readings_at",
    "readings_spec",
    "report",
    "report_figures",
    "start_stream",
    "stream",
    "stream_spec",
    "telemetry_spec",
]
