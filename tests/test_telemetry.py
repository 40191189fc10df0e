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


# GPS error moves a fix at most this far between two fixes 5 s apart (metres): a wander of at
# most 5 m with periods of minutes (under 1 m in 5 s an axis), and white noise of 0.6 m at most
GPS_STEP_M = 2.5
TOP_ACCEL = 3.0  # m/s², braking included


def test_speed_agrees_with_distance_between_points(steps):
    """The distance between two fixes on a straight stretch is the mean of their speeds times the
    time between them, within what the acceleration between them and the GPS error allow."""
    implied = F.col("km") / F.col("dt") * 3600
    mean_speed = (F.col("speed") + F.col("prev_speed")) / 2
    straight = steps.where("(speed > 0 or prev_speed > 0) and heading = prev_heading")
    assert straight.count() > 0.3 * steps.count(), "vehicles should drive a good part of the time"
    # the mean of two speeds errs by at most A dt / 4 from the mean speed between them for any
    # motion of accelerations within A (braking to a stop and starting again included)
    allowed = 0.05 * mean_speed + 3.6 * (TOP_ACCEL * F.col("dt") / 4 + GPS_STEP_M / F.col("dt"))
    off = straight.where(F.abs(implied - mean_speed) > allowed)
    assert off.count() == 0, show(off.select("device_id", "timestamp", "speed", "prev_speed", "km"))
    median = straight.select(F.abs(implied - mean_speed).alias("e")).agg(F.percentile_approx("e", 0.5)).first()[0]
    assert median < 1.0, median


def test_parked_fixes_jitter_a_little(steps):
    """Parked, a GPS fix still wanders by a few metres, never twice the same."""
    parked = steps.where("speed = 0 and prev_speed = 0").cache()
    assert parked.count() > 100
    assert parked.where(f"km * 1000 > {GPS_STEP_M}").count() == 0, show(parked.orderBy(F.desc("km")))
    assert parked.where("km = 0").count() == 0, "a parked fix should jitter"
    # over a park (five minutes or more standing), the fixes spread over metres (a wander of 2-5 m)
    w = Window.partitionBy("device_id").orderBy("timestamp")
    runs = (steps.withColumn("standing", F.col("speed") == 0)
            .withColumn("run", F.sum(F.when(F.col("standing") != F.lag("standing").over(w), 1).otherwise(0)).over(w))
            .where("standing").groupBy("device_id", "run")
            .agg(F.stddev("latitude").alias("s_lat"), F.count("*").alias("n")).where("n > 60"))
    metres = [r["s_lat"] * 111320 for r in runs.collect()]
    assert metres and all(0.5 < m < 8 for m in metres), metres


def test_heading_agrees_with_direction_of_travel(steps):
    moving = steps.where("speed > 20 and prev_speed > 20 and heading = prev_heading")
    diff = F.abs(((F.col("bearing") - F.col("heading") + 540) % 360) - 180)
    # GPS error turns the line between two fixes by up to asin(error / distance); heading is rounded
    off = moving.where(diff > F.degrees(F.asin(F.least(F.lit(1.0), GPS_STEP_M / (F.col("km") * 1000)))) + 0.5)
    assert moving.count() > 100 and off.count() == 0, show(off.select("device_id", "timestamp", "heading", "bearing"))
    assert steps.where("heading < 0 or heading > 359").count() == 0


def test_streets_turn_at_right_angles(steps, tiny):
    """Vehicles drive streets: the heading only changes at corners, by a quarter or a half turn,
    and corners come every few minutes of driving (a circle turns a little at every fix)."""
    turns = steps.where("heading != prev_heading").withColumn("turn", F.expr("pmod(heading - prev_heading, 360)"))
    odd = turns.where("least(abs(turn - 90), abs(turn - 180), abs(turn - 270)) > 1")
    assert odd.count() == 0, show(odd.select("device_id", "timestamp", "heading", "prev_heading"))
    driving_hours = steps.where("speed > 0 or prev_speed > 0").agg(F.sum("dt")).first()[0] / 3600
    assert turns.count() / driving_hours > 8, (turns.count(), driving_hours)


def test_acceleration_braking_and_stops(steps):
    """Vehicles accelerate and brake at 1-3 m/s², at a pace that differs from leg to leg, and stop
    at lights along a street for irregular waits."""
    rates = steps.where("speed != prev_speed").select((F.abs(F.col("speed") - F.col("prev_speed")) / 3.6
                                                       / F.col("dt")).alias("a"))
    p90, top = rates.agg(F.percentile_approx("a", 0.9), F.max("a")).first()
    assert 1.0 < p90 and top <= TOP_ACCEL + 1e-9, (p90, top)
    # each leg (a run of fixes of one heading) has a top speed of its own
    w = Window.partitionBy("device_id").orderBy("timestamp")
    legs = (steps.withColumn("leg", F.sum(F.when(F.col("heading") != F.col("prev_heading"), 1).otherwise(0)).over(w))
            .groupBy("device_id", "leg").agg(F.max("speed").alias("top")).where("top > 15"))
    spread = legs.groupBy("device_id").agg(F.stddev("top").alias("sd"), F.avg("top").alias("mean"),
                                           F.count("*").alias("n")).where("n >= 3")
    assert spread.count() > 0 and spread.where("sd < 0.1 * mean").count() == 0, show(spread)
    # stops within a leg (the heading the same before and after): red lights, waits of seconds to a minute
    stops = (steps.withColumn("stopped", F.col("speed") == 0)
             .withColumn("run", F.sum(F.when(F.col("stopped") != F.lag("stopped").over(w), 1).otherwise(0)).over(w))
             .where("stopped").groupBy("device_id", "run")
             .agg(F.count("*").alias("fixes"), F.min("prev_speed").alias("before")))
    waits = [r["fixes"] for r in stops.where("fixes < 20").collect()]
    assert len(waits) >= 10 and len(set(waits)) >= 5, waits


@pytest.fixture(scope="module")
def two_days(spark):
    cfg = IoTConfig.preset("tiny", telemetry_hours=48, telemetry_cadence_seconds=60)
    df = telemetry_spec(spark, cfg).build()
    w = Window.partitionBy("device_id").orderBy("timestamp")
    return df.select("*", *[F.lag(c).over(w).alias(f"prev_{c}") for c in ("fuel_level", "speed", "engine_temp")]
                     ).where("prev_speed is not null").cache()


def test_fuel_falls_while_driving_and_jumps_at_refuels(two_days):
    d = two_days
    rises = d.where("fuel_level > prev_fuel_level + 1e-9")
    assert rises.count() > 0, "48 hours of driving should include refuels"
    # at a stop, to a nearly full tank (it fills what it burned down to its reserve)
    bad_rises = rises.where("speed != 0 or prev_speed != 0 or fuel_level < 90 or fuel_level > 100")
    assert bad_rises.count() == 0, "fuel may only rise at a stop, to a full tank:" + show(bad_rises)
    # a vehicle refuels after a round that ended below its reserve (12-20 %), not before
    low = rises.where("prev_fuel_level > 20")
    assert low.count() == 0, show(low)
    driving = d.where("speed > 0 and prev_speed > 0")
    assert driving.where("fuel_level >= prev_fuel_level").count() == 0, "fuel must fall while driving"
    # an idling engine burns fuel too (waiting at a light, loading), a parked one does not
    standing = d.where("speed = 0 and prev_speed = 0")
    assert standing.where("fuel_level < prev_fuel_level").count() > 0
    assert standing.where("fuel_level = prev_fuel_level").count() > 0
    s = d.agg(F.min("fuel_level"), F.max("fuel_level"), F.min("altitude")).first()
    assert 5 <= s[0] and s[1] <= 100 and s[2] >= -5, s


def test_engines_warm_up_and_cool_down_each_their_own_way(two_days):
    d = two_days
    # every vehicle's engine runs at its own temperature
    tops = [r[0] for r in d.groupBy("device_id").agg(F.round(F.max("engine_temp"), 1)).collect()]
    assert len(tops) == len(set(tops)) > 3, tops
    w = Window.partitionBy("device_id").orderBy("timestamp")
    # from a cold start it warms to its thermostat's temperature over minutes (5 to 10 from the
    # outdoor air), not at once
    top = Window.partitionBy("device_id")
    warming = (d.withColumn("rising", F.col("engine_temp") > F.col("prev_engine_temp") + 0.3)
               .withColumn("run", F.sum(F.when(F.col("rising") != F.lag("rising").over(w), 1).otherwise(0)).over(w))
               .withColumn("top", F.max("engine_temp").over(top))
               .where("rising").groupBy("device_id", "run")
               .agg(F.min("prev_engine_temp").alias("from"), F.max("engine_temp").alias("to"),
                    F.count("*").alias("minutes"), F.first("top").alias("top"))
               .where("top - `from` > 30 and `to` > top - 3"))
    assert warming.count() > 5, show(warming)
    hasty = warming.where("minutes < 3 or minutes > 11")
    assert hasty.count() == 0, show(hasty)
    # parked, it cools by less each minute (exponentially)
    parked = (d.withColumn("parked", (F.col("speed") == 0) & (F.col("engine_temp") < F.col("prev_engine_temp") - 0.3))
              .withColumn("run", F.sum(F.when(F.col("parked") != F.lag("parked").over(w), 1).otherwise(0)).over(w))
              .where("parked"))
    runs = (parked.withColumn("i", F.row_number().over(Window.partitionBy("device_id", "run").orderBy("timestamp")))
            .groupBy("device_id", "run").agg(
                F.max(F.when(F.col("i") == 1, F.col("engine_temp"))).alias("t0"),
                F.max(F.when(F.col("i") == 7, F.col("engine_temp"))).alias("t6"),
                F.max(F.when(F.col("i") == 13, F.col("engine_temp"))).alias("t12"))
            .where("t12 is not null"))
    assert runs.count() > 5
    not_slowing = runs.where("t0 - t6 <= t6 - t12 or t6 - t12 <= 0")
    assert not_slowing.count() == 0, show(not_slowing)
