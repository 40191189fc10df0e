"""One module per table. Large tables return a dbldatagen spec (``DataGenerator``); tables derived
from them (labels, events, alerts) and the device lifecycle (CDC, devices) return DataFrames
computed from small grids. None writes."""

from dbx_iot_gen.tables.anomalies import anomaly_episodes, anomaly_labels
from dbx_iot_gen.tables.cdc import cdc_batch, devices, devices_cdc, final_registry
from dbx_iot_gen.tables.devices import devices_spec
from dbx_iot_gen.tables.environment import environment_long, environment_spec
from dbx_iot_gen.tables.events import alerts, events
from dbx_iot_gen.tables.locations import locations_spec
from dbx_iot_gen.tables.plant import plant_spec
from dbx_iot_gen.tables.readings import readings_at, readings_spec
from dbx_iot_gen.tables.telemetry import telemetry_spec

__all__ = [
    "alerts",
    "anomaly_episodes",
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
    "plant_spec",
    "readings_at",
    "readings_spec",
    "telemetry_spec",
]
