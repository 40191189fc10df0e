"""Invariants of ``locations`` and ``devices`` (SPEC section 2)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig, devices_spec, locations_spec
from dbx_iot_gen.catalog import CITIES, DEVICE_STATUS_WEIGHTS, DEVICE_STATUSES, DEVICE_TYPES
from dbx_iot_gen.fleet import FleetLayout

from .conftest import show

HAVERSINE_KM = ("2 * 6371 * asin(sqrt(pow(sin(radians({lat2} - {lat1}) / 2), 2) + "
                "cos(radians({lat1})) * cos(radians({lat2})) * pow(sin(radians({lon2} - {lon1}) / 2), 2)))")


def haversine(lat1: str, lon1: str, lat2: str, lon2: str) -> F.Column:
    return F.expr(HAVERSINE_KM.format(lat1=lat1, lon1=lon1, lat2=lat2, lon2=lon2))


@pytest.fixture(scope="module")
def config() -> IoTConfig:
    return IoTConfig.preset("tiny", n_devices=3000, n_locations=120)


@pytest.fixture(scope="module")
def locations(spark, config):
    return locations_spec(spark, config).build().cache()


@pytest.fixture(scope="module")
def devices(spark, config):
    return devices_spec(spark, config).build().cache()


def test_locations_sit_near_real_cities(spark, locations, config):
    cities = spark.createDataFrame([(c.name, c.country, c.latitude, c.longitude, c.timezone) for c in CITIES],
                                   "city string, country string, clat double, clon double, ctz string")
    joined = locations.join(cities, ["city", "country"], "left")
    far = joined.where(F.col("clat").isNull() | (haversine("latitude", "longitude", "clat", "clon") > 15.0)
                       | (F.col("timezone") != F.col("ctz")))
    assert far.count() == 0, "locations away from their city, or with its wrong zone:" + show(far)
    assert locations.select("location_id").distinct().count() == config.n_locations
    assert locations.agg(F.min("location_id"), F.max("location_id")).first() == (1, config.n_locations)
    # the first locations spread over distinct cities
    assert locations.where("location_id <= 80").select("city").distinct().count() == 80


def test_device_ids_serials_types(devices, config):
    assert devices.agg(F.min("device_id"), F.max("device_id"), F.countDistinct("device_id")).first() == (
        1000, 1000 + config.n_devices - 1, config.n_devices)
    bad = devices.where(~F.col("device_serial").rlike(r"^DEV-[0-9]{8}$"))
    assert bad.count() == 0, "serials not DEV- and 8 digits:" + show(bad)
    assert devices.select("device_serial").distinct().count() == config.n_devices
    counts = {r["device_type"]: r["count"] for r in devices.groupBy("device_type").count().collect()}
    assert counts == FleetLayout(config).type_counts


def test_makers_models_and_firmware_follow_the_type(devices):
    by_type = {t.name: t for t in DEVICE_TYPES}
    for row in devices.select("device_type", "manufacturer", "model").distinct().collect():
        t = by_type[row["device_type"]]
        assert row["manufacturer"] in t.manufacturers and row["model"] in t.models, row
    bad = devices.where(~F.col("firmware_version").rlike(r"^[0-9]+\.[0-9]+\.[0-9]+$"))
    assert bad.count() == 0, show(bad)


def test_positions_have_decimals_and_sit_within_3_km_of_the_facility(devices, locations):
    joined = devices.join(locations.select("location_id", F.col("latitude").alias("flat"),
                                           F.col("longitude").alias("flon")), "location_id", "left")
    orphans = joined.where("flat is null")
    assert orphans.count() == 0, "location_id not in locations:" + show(orphans)
    far = joined.where(haversine("latitude", "longitude", "flat", "flon") > 3.0)
    assert far.count() == 0, show(far)
    whole = devices.where("latitude = floor(latitude) or longitude = floor(longitude)")
    assert whole.count() == 0, "whole-number coordinates (the seed's trap):" + show(whole)


def test_install_date_before_start_and_status_weights(devices, config):
    late = devices.where(F.col("install_date") > F.lit(config.start.date() - timedelta(days=1)))
    assert late.count() == 0, show(late)
    shares = {r["status"]: r["count"] / config.n_devices for r in devices.groupBy("status").count().collect()}
    total = sum(DEVICE_STATUS_WEIGHTS)
    for status, weight in zip(DEVICE_STATUSES, DEVICE_STATUS_WEIGHTS):
        assert abs(shares.get(status, 0) - weight / total) < 0.025, (status, shares)


def test_no_seed_traps_in_serial_or_model(devices):
    models = [r[0] for r in devices.select("model").distinct().collect()]
    assert not any("_" in m for m in models), models  # the seed's prefix trap gave 'Model-_1000'
    assert not any(re.match(r"^\dEV", s[0]) for s in devices.select("device_serial").limit(50).collect())


def test_every_city_has_climate_normals():
    from dbx_iot_gen.catalog import CLIMATE

    assert set(CLIMATE) == {c.name for c in CITIES}
    for name, (mean, swing) in CLIMATE.items():
        assert -10 < mean < 35 and 0 <= swing < 20, name
