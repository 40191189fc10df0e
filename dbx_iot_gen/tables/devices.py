"""The devices as first registered: every attribute is a function of ``device_id`` and the seed.

The ``devices`` table itself (each device as last known, with when it was registered and
decommissioned) follows from the CDC batches: see :mod:`.cdc`.
"""

from __future__ import annotations

import math

import dbldatagen as dg
from pyspark.sql import SparkSession

from dbx_iot_gen.catalog import DEVICE_STATUS_WEIGHTS, DEVICE_STATUSES, DEVICE_TYPES
from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.fleet import FIRST_DEVICE_ID, FleetLayout
from dbx_iot_gen.lifecycle import BASE_RELEASES, firmware_releases
from dbx_iot_gen.rand import Randomness, salt, sql_str
from dbx_iot_gen.tables._spec import ColumnDef, SpecBuilder, partitions_for
from dbx_iot_gen.tables.locations import facility_coordinates, offset_coordinates

__all__ = ["DEVICE_RADIUS_KM", "INITIAL_STATUSES", "device_coordinates", "device_defs", "devices_spec",
           "releases_sql"]

# A registered device starts Online, Offline or in Maintenance (the seed's 85/8/5); Decommissioned
# is the status of a device the CDC deletes.
INITIAL_STATUSES = DEVICE_STATUSES[:3]

DEVICE_RADIUS_KM = 3.0


def device_coordinates(layout: FleetLayout, device_id: str) -> tuple[str, str]:
    """(latitude, longitude) SQL expressions of a device: within 3 km of its facility."""
    lat, lon = facility_coordinates(layout, layout.location_of(device_id))
    rnd = Randomness(layout.config.seed, "devices")
    return offset_coordinates(lat, lon, rnd, "coordinates", device_id, DEVICE_RADIUS_KM)


def _serial_multiplier(seed: int) -> int:
    a = 10_000_019 + salt(seed, "devices", "serial") % 50_000_000
    while math.gcd(a, 10**8) != 1:
        a += 1
    return a


def _by_type(type_idx: str, options: dict[int, tuple[str, ...]], u: str) -> str:
    branches = []
    for i, values in options.items():
        names = ", ".join(sql_str(v) for v in values)
        pick = f"element_at(array({names}), cast(floor({u} * {len(values)}D) as int) + 1)"
        branches.append(f"WHEN {type_idx} = {i} THEN {pick}")
    return f"(CASE {' '.join(branches)} END)"


def releases_sql(config: IoTConfig) -> str:
    """SQL array of the firmware releases a device can run, oldest first (index from 0)."""
    releases = firmware_releases(config.seed, BASE_RELEASES + 2 * config.cdc.batches + 1)
    return f"array({', '.join(sql_str(v) for v in releases)})"


def devices_spec(spark: SparkSession, config: IoTConfig) -> dg.DataGenerator:
    """The spec of every device as first registered: ids from 1000, types by exact weighted quotas,
    real decimals.

    ``device_serial`` is ``DEV-`` and 8 digits, unique (a bijection of the id); ``model`` and
    ``manufacturer`` follow the type; positions lie within 3 km of the device's facility;
    ``install_date`` is 1 day to 4 years before the data's start; ``firmware_version`` is one of
    the first 40 releases; ``status`` Online, Offline or Maintenance (85/8/5). The ``devices``
    table applies the CDC's changes to these (:func:`~dbx_iot_gen.tables.cdc.devices`).

    Example:
        >>> spec = devices_spec(spark, IoTConfig.preset("tiny"))  # doctest: +SKIP
        >>> spec.withColumn("is_vehicle", "boolean", expr="device_type = 'GPS Tracker'").build()  # doctest: +SKIP
    """
    b = SpecBuilder(spark, "devices", config.n_devices, partitions_for(config, config.n_devices), config.seed)
    _add_device_columns(b, config)
    return b.spec


def device_defs(spark: SparkSession, config: IoTConfig) -> list[ColumnDef]:
    """The column definitions of :func:`devices_spec`, for :func:`~dbx_iot_gen.tables._spec.replay`
    on ``id = device_id - 1000``; the intermediate column ``firmware_idx`` is the release index."""
    b = SpecBuilder(spark, "devices", 1, 1, config.seed)
    _add_device_columns(b, config)
    return b.defs


def _add_device_columns(b: SpecBuilder, config: IoTConfig) -> None:
    layout = FleetLayout(config)
    rnd = Randomness(config.seed, "devices")
    lat, lon = device_coordinates(layout, "device_id")
    serial_mult = _serial_multiplier(config.seed)
    serial_off = salt(config.seed, "devices", "serial_offset") % 10**8
    u_maker, u_model, _ = rnd.uniforms("maker_model", "device_id")
    type_names = f"array({', '.join(sql_str(t.name) for t in DEVICE_TYPES)})"
    b.col("device_id", "long", f"id + {FIRST_DEVICE_ID}L")
    b.tmp("type_idx", "int", layout.type_index_of_slot(layout.slot_of("device_id")))
    b.col("device_serial", "string",
          f"concat('DEV-', lpad(cast(pmod({serial_mult}L * device_id + {serial_off}L, 100000000L) as string), 8, '0'))")
    b.col("device_type", "string", f"element_at({type_names}, type_idx + 1)")
    b.col("manufacturer", "string",
          _by_type("type_idx", {i: t.manufacturers for i, t in enumerate(DEVICE_TYPES)}, u_maker))
    b.col("model", "string", _by_type("type_idx", {i: t.models for i, t in enumerate(DEVICE_TYPES)}, u_model))
    b.tmp("firmware_idx", "int", f"cast({rnd.int_range('firmware_release', 'device_id', low=0, high=BASE_RELEASES - 1)}"
                                 " as int)")
    b.col("firmware_version", "string", f"element_at({releases_sql(config)}, firmware_idx + 1)")
    b.col("install_date", "date",
          f"date_sub(to_date('{config.start.date().isoformat()}'), "
          f"cast({layout.install_days_before_start('device_id')} as int))")
    b.col("location_id", "long", layout.location_of("device_id"))
    b.col("latitude", "double", lat)
    b.col("longitude", "double", lon)
    b.col("status", "string", rnd.choice("status", "device_id", values=INITIAL_STATUSES,
                                         weights=DEVICE_STATUS_WEIGHTS[:3]))
