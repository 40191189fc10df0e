"""``locations``: facilities near real cities (built-in list with true coordinates)."""

from __future__ import annotations

import dbldatagen as dg
from pyspark.sql import SparkSession

from dbx_iot_gen.catalog import FACILITY_KINDS
from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.fleet import FleetLayout
from dbx_iot_gen.grid import grid
from dbx_iot_gen.patterns import city_attribute, city_string
from dbx_iot_gen.rand import Randomness, sql_str
from dbx_iot_gen.tables._spec import SpecBuilder, partitions_for

__all__ = ["FACILITY_RADIUS_KM", "facility_coordinates", "locations_spec"]

FACILITY_RADIUS_KM = 15.0
# A degree on the mean Earth sphere (radius 6371 km), the same sphere as the haversine formula.
KM_PER_DEG_LAT = 111.19492664455873
KM_PER_DEG_LON_EQUATOR = KM_PER_DEG_LAT


def offset_coordinates(lat: str, lon: str, rnd: Randomness, column: str, key: str,
                       radius_km: float) -> tuple[str, str]:
    """(lat, lon) SQL expressions of a point uniformly within ``radius_km`` of (lat, lon)."""
    u_r, u_a, _ = rnd.uniforms(column, key)
    dist = f"({radius_km!r}D * sqrt({u_r}))"
    angle = f"(6.283185307179586D * {u_a})"
    new_lat = f"({lat} + {dist} * cos({angle}) / {KM_PER_DEG_LAT}D)"
    new_lon = f"({lon} + {dist} * sin({angle}) / ({KM_PER_DEG_LON_EQUATOR}D * cos(radians({lat}))))"
    return new_lat, new_lon


def facility_coordinates(layout: FleetLayout, location_id: str) -> tuple[str, str]:
    """(latitude, longitude) SQL expressions of a facility, from its location id expression."""
    city = layout.city_of_location(location_id)
    rnd = Randomness(layout.config.seed, "locations")
    return offset_coordinates(city_attribute(city, "latitude"), city_attribute(city, "longitude"),
                              rnd, "coordinates", location_id, FACILITY_RADIUS_KM)


def locations_spec(spark: SparkSession, config: IoTConfig) -> dg.DataGenerator:
    """The spec of ``locations``: one facility per row, within 15 km of a real city's centre.

    Args:
        spark: the session.
        config: the dataset config (``n_locations``, ``seed``).

    Returns:
        A dbldatagen spec; add columns to it, then ``.build()``.

    Example:
        df = locations_spec(spark, IoTConfig.preset("tiny")).build()
    """
    layout = grid(config).layout
    rnd = Randomness(config.seed, "locations")
    kinds = f"array({', '.join(sql_str(k) for k in FACILITY_KINDS)})"
    lat, lon = facility_coordinates(layout, "location_id")
    b = SpecBuilder(spark, "locations", config.n_locations, partitions_for(config, config.n_locations), config.seed)
    b.col("location_id", "long", "id + 1L")
    b.tmp("city_idx", "int", layout.city_of_location("location_id"))
    kind = f"element_at({kinds}, cast({rnd.int_range('kind', 'location_id', low=1, high=len(FACILITY_KINDS))} as int))"
    b.col("facility_name", "string", f"concat({city_string('city_idx', 'name')}, ' ', {kind}, ' ', location_id)")
    b.col("city", "string", city_string("city_idx", "name"))
    b.col("region", "string", city_string("city_idx", "region"))
    b.col("country", "string", city_string("city_idx", "country"))
    b.col("latitude", "double", lat)
    b.col("longitude", "double", lon)
    b.col("timezone", "string", city_string("city_idx", "timezone"))
    return b.spec
