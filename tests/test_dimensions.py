"""Invariants of ``locations`` and ``devices`` (SPEC section 2)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import timedelta
from itertools import pairwise

import pytest
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig, devices_spec, locations_spec
from dbx_iot_gen.catalog import CITIES, DEVICE_TYPES
from dbx_iot_gen.fleet import FleetLayout
from dbx_iot_gen.lifecycle import BASE_RELEASES, firmware_releases
from dbx_iot_gen.rand import Randomness

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


def test_makers_follow_the_type_and_models_the_maker(devices):
    lines = {(t.name, line.manufacturer): line.models for t in DEVICE_TYPES for line in t.lines}
    rows = devices.select("device_type", "manufacturer", "model").distinct().collect()
    wrong = [r for r in rows if r["model"] not in lines.get((r["device_type"], r["manufacturer"]), ())]
    assert not wrong, f"models outside their maker's line for the type: {wrong}"
    assert len(rows) == sum(map(len, lines.values())), "every model of every line is in a 3,000-device fleet"
    bad = devices.where(~F.col("firmware_version").rlike(r"^[0-9]+\.[0-9]+\.[0-9]+$"))
    assert bad.count() == 0, show(bad)


def test_no_model_name_belongs_to_two_makers_in_the_catalog():
    makers: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for t in DEVICE_TYPES:
        assert t.lines and all(line.models for line in t.lines), t.name
        for line in t.lines:
            for model in line.models:
                makers[model].add((t.name, line.manufacturer))
    shared = {m: sorted(who) for m, who in makers.items() if len(who) > 1}
    assert not shared, f"models sold under two (type, maker) pairs: {shared}"


def test_no_model_name_belongs_to_two_makers_in_the_devices_table(devices):
    shared = (devices.groupBy("model")
              .agg(F.countDistinct("manufacturer", "device_type").alias("pairs"),
                   F.collect_set(F.concat_ws(" / ", "device_type", "manufacturer")).alias("sold_by"))
              .where("pairs > 1"))
    assert shared.count() == 0, "models under two makers:" + show(shared)


def test_release_trains_rise_and_differ_by_model(config):
    trains = {m: firmware_releases(config.seed, m, 60) for t in DEVICE_TYPES for m in t.models}
    for model, train in trains.items():
        versions = [tuple(int(x) for x in v.split(".")) for v in train]
        assert all(a < b for a, b in pairwise(versions)), (model, train)
    assert len({tuple(t) for t in trains.values()}) == len(trains), "two models share a release train"
    assert len({t[0] for t in trains.values()}) > len(trains) // 2, "most models start on their own version"


def test_every_firmware_is_a_release_of_its_models_train(devices, config):
    rows = devices.select("device_id", "model", "firmware_version").collect()
    starts = {m: firmware_releases(config.seed, m, BASE_RELEASES) for t in DEVICE_TYPES for m in t.models}
    wrong = [r for r in rows if r["firmware_version"] not in starts[r["model"]]]
    assert not wrong, f"firmware off the first {BASE_RELEASES} releases of the model's train: {wrong[:10]}"
    # the trains are not one shared list: the same position is another version on another model
    assert len({r["firmware_version"] for r in rows}) > BASE_RELEASES


def test_serials_are_not_a_progression_in_the_device_id(devices):
    rows = sorted((r["device_id"], int(r["device_serial"][4:])) for r in devices.collect())
    steps = [b[1] - a[1] for a, b in pairwise(rows)]
    share = len(set(steps)) / len(steps)
    assert share > 0.9, (f"consecutive ids' serials differ by few distinct steps ({share:.3f}):"
                         f" {Counter(steps).most_common(5)}")


def test_serial_digits_are_roughly_uniform(devices):
    serials = [r[0][4:] for r in devices.select("device_serial").collect()]
    for position in (0, 3, 7):  # first, a middle and the last digit
        counts = Counter(s[position] for s in serials)
        expected = len(serials) / 10
        chi2 = sum((counts.get(str(d), 0) - expected) ** 2 / expected for d in range(10))
        assert chi2 < 30.0, (f"digit {position} of the serials is far from uniform (chi2 {chi2:.1f},"
                             f" 9 degrees of freedom): {sorted(counts.items())}")


def test_serial_permutation_is_a_bijection_of_its_whole_domain(spark, config):
    """The serial's construction on a 4-digit domain, every key of it: no two keys share a value
    (the 8-digit serial is the same network on halves of 4 digits instead of 2)."""
    permuted = spark.range(10**4).selectExpr(
        "id", f"{Randomness(config.seed, 'devices').permutation('serial', 'id', digits=4)} AS v")
    stats = permuted.agg(F.min("v"), F.max("v"), F.countDistinct("v")).first()
    assert tuple(stats) == (0, 10**4 - 1, 10**4), stats
    assert permuted.where("v = id").count() < 10, "most keys move"


def test_positions_have_decimals_and_sit_within_3_km_of_the_facility(devices, locations):
    joined = devices.join(locations.select("location_id", F.col("latitude").alias("flat"),
                                           F.col("longitude").alias("flon")), "location_id", "left")
    orphans = joined.where("flat is null")
    assert orphans.count() == 0, "location_id not in locations:" + show(orphans)
    far = joined.where(haversine("latitude", "longitude", "flat", "flon") > 3.0)
    assert far.count() == 0, show(far)
    whole = devices.where("latitude = floor(latitude) or longitude = floor(longitude)")
    assert whole.count() == 0, "whole-number coordinates (the seed's trap):" + show(whole)


def test_install_date_before_start(devices, config):
    late = devices.where(F.col("install_date") > F.lit(config.start.date() - timedelta(days=1)))
    assert late.count() == 0, show(late)


def test_devices_are_registered_online_offline_or_in_maintenance_85_8_5(spark):
    """The README's mix: a registered device is Online, Offline or in Maintenance at 85 : 8 : 5;
    none is registered Decommissioned (that is the status of a deleted device)."""
    n = 20_000
    registered = devices_spec(spark, IoTConfig.preset("tiny", n_devices=n, n_locations=120)).build()
    counts = {r["status"]: r["count"] for r in registered.groupBy("status").count().collect()}
    assert sum(counts.values()) == n and set(counts) == {"Online", "Offline", "Maintenance"}, counts
    for status, weight in (("Online", 85), ("Offline", 8), ("Maintenance", 5)):
        p = weight / 98
        # within four standard deviations of a binomial share (85 out of 100 for Online is 7 off)
        assert abs(counts[status] / n - p) < 4 * (p * (1 - p) / n) ** 0.5, (status, counts)


def test_no_seed_traps_in_serial_or_model(devices):
    models = [r[0] for r in devices.select("model").distinct().collect()]
    assert not any("_" in m for m in models), models  # the seed's prefix trap gave 'Model-_1000'
    assert not any(re.match(r"^\dEV", s[0]) for s in devices.select("device_serial").limit(50).collect())


def test_every_city_has_climate_normals():
    from dbx_iot_gen.catalog import CLIMATE

    assert set(CLIMATE) == {c.name for c in CITIES}
    for name, (mean, swing) in CLIMATE.items():
        assert -10 < mean < 35 and 0 <= swing < 20, name
