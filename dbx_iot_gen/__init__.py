"""dbx_iot_gen: synthetic, labeled, reproducible IoT datasets on Spark and Databricks."""

from dbx_iot_gen.config import SCALES, IoTConfig, PatternConfig
from dbx_iot_gen.errors import DbxIotGenError, InvalidConfigError, OutputError
from dbx_iot_gen.tables import devices_spec, locations_spec, readings_spec

__version__ = "0.1.0"

__all__ = [
    "SCALES",
    "DbxIotGenError",
    "InvalidConfigError",
    "IoTConfig",
    "OutputError",
    "PatternConfig",
    "__version__",
    "devices_spec",
    "locations_spec",
    "readings_spec",
]
