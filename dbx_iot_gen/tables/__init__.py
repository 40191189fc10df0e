"""One module per table; each returns a dbldatagen spec (``DataGenerator``) and never writes."""

from dbx_iot_gen.tables.devices import devices_spec
from dbx_iot_gen.tables.locations import locations_spec
from dbx_iot_gen.tables.readings import readings_spec
from dbx_iot_gen.tables.telemetry import telemetry_spec

__all__ = ["devices_spec", "locations_spec", "readings_spec", "telemetry_spec"]
