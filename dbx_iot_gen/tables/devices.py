"""The devices as first registered: every attribute is a function of ``device_id`` and the seed.

The ``devices`` table itself (each device as last known, with when it was registered and
decommissioned) follows from the CDC batches: see :mod:`.cdc`.
"""

from __future__ import annotations

import dbldatagen as dg
from pyspark.sql import SparkSession

from dbx_iot_gen.catalog import DEVICE_TYPES, ProductLine
from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.fleet import FIRST_DEVICE_ID, FleetLayout
from dbx_iot_gen.grid import grid
from dbx_iot_gen.lifecycle import BASE_RELEASES, INITIAL_STATUSES, firmware_releases
from dbx_iot_gen.rand import Randomness, sql_str
from dbx_iot_gen.tables._spec import ColumnDef, SpecBuilder, partitions_for
from dbx_iot_gen.tables.locations import facility_coordinates, offset_coordinates

__all__ = ["DEVICE_RADIUS_KM", "INITIAL_STATUSES", "PRODUCT_LINES", "device_coordinates", "device_defs",
           "devices_spec", "firmware_trains_sql", "firmware_version_sql"]

DEVICE_RADIUS_KM = 3.0

# Every (type index, product line), in catalog order: a device picks its maker's line, then a model.
PRODUCT_LINES: tuple[tuple[int, ProductLine], ...] = tuple(
    (i, line) for i, t in enumerate(DEVICE_TYPES) for line in t.lines)


def device_coordinates(layout: FleetLayout, device_id: str) -> tuple[str, str]:
    """(latitude, longitude) SQL expressions of a device: within 3 km of its facility."""
    lat, lon = facility_coordinates(layout, layout.location_of(device_id))
    rnd = Randomness(layout.config.seed, "devices")
    return offset_coordinates(lat, lon, rnd, "coordinates", device_id, DEVICE_RADIUS_KM)


def _pick(index: str, options: list[tuple[str, ...]], u: str) -> str:
    """SQL: one of ``options[index]`` (plain strings), uniformly by ``u`` in [0, 1)."""
    branches = []
    for i, values in enumerate(options):
        names = ", ".join(sql_str(v) for v in values)
        branches.append(f"WHEN {i} THEN element_at(array({names}), cast(floor({u} * {len(values)}D) as int) + 1)")
    return f"(CASE {index} {' '.join(branches)} END)"


def _int_array(values: list[int]) -> str:
    return f"array({', '.join(str(v) for v in values)})"


def firmware_trains_sql(config: IoTConfig) -> str:
    """SQL map from each model to its release train (an array of versions, oldest first): the
    first :data:`~dbx_iot_gen.lifecycle.BASE_RELEASES` a device can start on, then enough for two
    releases per CDC batch."""
    count = BASE_RELEASES + 2 * config.cdc.batches + 1
    trains = []
    for t in DEVICE_TYPES:
        for model in t.models:
            releases = ", ".join(sql_str(v) for v in firmware_releases(config.seed, model, count))
            trains.append(f"{sql_str(model)}, array({releases})")
    return f"map({', '.join(trains)})"


def firmware_version_sql(config: IoTConfig, model: str, index: str) -> str:
    """SQL: release ``index`` (from 0) of the train of ``model`` (SQL expressions)."""
    return f"element_at(element_at({firmware_trains_sql(config)}, {model}), {index} + 1)"


def devices_spec(spark: SparkSession, config: IoTConfig) -> dg.DataGenerator:
    """The spec of every device as first registered: ids from 1000, types by exact weighted quotas,
    real decimals.

    ``device_serial`` is ``DEV-`` and 8 digits, unique (a hashed bijection of the id: consecutive
    ids get unrelated serials); ``manufacturer`` follows the type, ``model`` the maker (no model
    has two makers); positions lie within 3 km of the device's facility; ``install_date`` is 1
    day to 4 years before the data's start; ``firmware_version`` is one of the first 40 releases
    of the model's own train; ``status`` Online, Offline or Maintenance (85/8/5). The ``devices``
    table applies the CDC's changes to these (:func:`~dbx_iot_gen.tables.cdc.devices`).

    Example:
        spec = devices_spec(spark, IoTConfig.preset("tiny"))
        spec.withColumn("is_vehicle", "boolean", expr="device_type = 'GPS Tracker'").build()
    """
    b = SpecBuilder(spark, "devices", config.n_devices, partitions_for(config, config.n_devices), config.seed)
    _add_device_columns(b, config)
    return b.spec


def device_defs(spark: SparkSession, config: IoTConfig) -> list[ColumnDef]:
    """The column definitions of :func:`devices_spec`, for :func:`~dbx_iot_gen.tables._spec.replay`
    on ``id = device_id - 1000``; the intermediate column ``firmware_idx`` is the release index on
    the model's train."""
    b = SpecBuilder(spark, "devices", 1, 1, config.seed)
    _add_device_columns(b, config)
    return b.defs


def _add_device_columns(b: SpecBuilder, config: IoTConfig) -> None:
    layout = grid(config).layout
    rnd = Randomness(config.seed, "devices")
    lat, lon = device_coordinates(layout, "device_id")
    u_maker, u_model, _ = rnd.uniforms("maker_model", "device_id")
    type_names = f"array({', '.join(sql_str(t.name) for t in DEVICE_TYPES)})"
    first_line = _int_array([sum(len(t.lines) for t in DEVICE_TYPES[:i]) for i in range(len(DEVICE_TYPES))])
    n_lines = _int_array([len(t.lines) for t in DEVICE_TYPES])
    makers = f"array({', '.join(sql_str(line.manufacturer) for _, line in PRODUCT_LINES)})"
    b.col("device_id", "long", f"id + {FIRST_DEVICE_ID}L")
    b.tmp("type_idx", "int", layout.type_index_of_slot(layout.slot_of("device_id")))
    serial = rnd.permutation("serial", f"device_id - {FIRST_DEVICE_ID}L", digits=8)
    b.col("device_serial", "string", f"concat('DEV-', lpad(cast({serial} as string), 8, '0'))")
    b.col("device_type", "string", f"element_at({type_names}, type_idx + 1)")
    # the maker's product line (an index into PRODUCT_LINES), then one of its models
    b.tmp("line_idx", "int", f"element_at({first_line}, type_idx + 1)"
                             f" + cast(floor({u_maker} * element_at({n_lines}, type_idx + 1)) as int)")
    b.col("manufacturer", "string", f"element_at({makers}, line_idx + 1)")
    b.col("model", "string", _pick("line_idx", [line.models for _, line in PRODUCT_LINES], u_model))
    b.tmp("firmware_idx", "int", f"cast({rnd.int_range('firmware_release', 'device_id', low=0, high=BASE_RELEASES - 1)}"
                                 " as int)")
    b.col("firmware_version", "string", firmware_version_sql(config, "model", "firmware_idx"))
    b.col("install_date", "date",
          f"date_sub(to_date('{config.start.date().isoformat()}'), "
          f"cast({layout.install_days_before_start('device_id')} as int))")
    b.col("location_id", "long", layout.location_of("device_id"))
    b.col("latitude", "double", lat)
    b.col("longitude", "double", lon)
    b.col("status", "string", grid(config).life.initial_status("device_id"))
