"""Invariants of ``telemetry``: GPS trackers only, fixed cadence, consistent motion, fuel."""

from __future__ import annotations

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig, devices_spec
from dbx_iot_gen.tables import telemetry_spec

from .conftest import show
from .test_dimensions import haversine

BEARING = ("pmod(degrees(atan2(sin(radians(lon2 - lon1)) * cos(radians(lat2)), "
           "cos(radians(lat1)) * sin(radians(lat2)) "
           "- sin(radians(lat1)) * cos(radians(lat2)) * cos(radians(lon2 - lon1)))), 360)")


@pytest.fixture(scope="module")
def steps(spark, tiny):
    df = telemetry_spec(spark, tiny).build()
    w = Window.partitionBy("device_id").orderBy("timestamp")
    return (df.select("*", *[F.lag(c).over(w).alias(f"prev_{c}") for c in
                             ("timestamp", "latitude", "longitude", "speed", "heading", "fuel_level")])
            .withColumn("lat1", F.col("prev_latitude")).withColumn("lon1", F.col("prev_longitude"))
            .withColumn("lat2", F.col("latitude")).withColumn("lon2", F.col("longitude"))
            .withColumn("km", haversine("lat1", "lon1", "lat2", "lon2"))
            .withColumn("bearing", F.expr(BEARING))
            .withColumn("dt", F.unix_seconds("timestamp") - F.unix_seconds("prev_timestamp"))
            .where("prev_timestamp is not null")).cache()


def test_only_and_every_gps_tracker(spark, tiny):
    devices = devices_spec(spark, tiny).build()
    trackers = {r[0] for r in devices.where("device_type = 'GPS Tracker'").select("device_id").collect()}
    df = telemetry_spec(spark, tiny).build()
    assert {r[0] for r in df.select("device_id").distinct().collect()} == trackers
    per_vehicle = df.groupBy("device_id").count().where(F.col("count") != tiny.telemetry_ticks)
    assert per_vehicle.count() == 0, show(per_vehicle)


def test_fixed_cadence(steps, tiny):
    off = steps.where(F.col("dt") != tiny.telemetry_cadence_seconds)
    assert off.count() == 0, show(off)


def test_speed_agrees_with_distance_between_points(steps):
    implied = F.col("km") / F.col("dt") * 3600
    mean_speed = (F.col("speed") + F.col("prev_speed")) / 2
    moving = steps.where(mean_speed > 5)
    assert moving.count() > 0.5 * steps.count(), "vehicles should mostly drive"
    off = moving.where(F.abs(implied - mean_speed) > 0.05 * mean_speed + 0.5)
    assert off.count() == 0, show(off.select("device_id", "timestamp", "speed", "prev_speed", "km"))
    parked = steps.where("speed = 0 and prev_speed = 0 and km > 0.001")
    assert parked.count() == 0, show(parked)


def test_heading_agrees_with_direction_of_travel(steps):
    moving = steps.where("speed > 5 and prev_speed > 5")
    diff = F.abs(((F.col("bearing") - F.col("heading") + 540) % 360) - 180)
    off = moving.where(diff > 5)
    assert off.count() == 0, show(off.select("device_id", "timestamp", "heading", "bearing"))
    assert steps.where("heading < 0 or heading > 359").count() == 0


def test_fuel_falls_while_driving_and_jumps_at_refuels(spark):
    cfg = IoTConfig.preset("tiny", telemetry_hours=48, telemetry_cadence_seconds=60)
    df = telemetry_spec(spark, cfg).build()
    w = Window.partitionBy("device_id").orderBy("timestamp")
    d = df.select("*", F.lag("fuel_level").over(w).alias("prev_fuel"), F.lag("speed").over(w).alias("prev_speed"))
    rises = d.where("fuel_level > prev_fuel + 1e-9")
    assert rises.count() > 0, "48 hours of driving should include refuels"
    bad_rises = rises.where("speed != 0 or prev_speed != 0 or fuel_level != 100")
    assert bad_rises.count() == 0, "fuel may only rise at a stop, to a full tank:" + show(bad_rises)
    driving = d.where("speed > 0 and prev_speed > 0")
    assert driving.where("fuel_level >= prev_fuel").count() == 0, "fuel must fall while driving"
    s = df.agg(F.min("fuel_level"), F.max("fuel_level"), F.min("engine_temp"), F.max("engine_temp"),
               F.min("altitude")).first()
    assert 15 - 1e-9 <= s[0] and s[1] <= 100 and 20 <= s[2] and s[3] <= 90 + 1e-9 and s[4] >= -5, s
