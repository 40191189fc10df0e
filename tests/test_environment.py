"""``environment_readings``: the Ruuvi tags of seed 004, physically plausible, and their long layout."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen.tables.environment import LOCATIONS, MEASURES, SITES, environment_long, environment_spec

from .conftest import show


@pytest.fixture(scope="module")
def env(spark, tiny):
    df = environment_spec(spark, tiny).build().cache()
    by_tag = Window.partitionBy("device_id").orderBy("timestamp")
    with_prev = df.select("*", *[(F.col(c) - F.lag(c).over(by_tag)).alias(f"d_{c}") for c in
                                 ("measurement_sequence_number", "movement_counter", "battery")],
                          (F.unix_micros("timestamp") - F.lag(F.unix_micros("timestamp")).over(by_tag)).alias("gap"))
    yield df, with_prev.cache()
    df.unpersist()  # later tests build the same plan and must not read the cache
    with_prev.unpersist()


def test_one_measurement_per_tag_and_cadence(env, tiny):
    df, steps = env
    n, cadence = tiny.environment.n_sensors, tiny.environment.cadence_seconds
    assert df.count() == n * tiny.duration_seconds // cadence
    tags = df.groupBy("device_id").agg(F.countDistinct("site", "location").alias("dims"))
    assert tags.count() == n and tags.where("dims != 1").count() == 0, "a tag stays at its site and location"
    assert df.where(~F.col("device_id").rlike("^[0-9a-f]{12}$")).count() == 0
    assert steps.where(f"gap != {cadence * 1_000_000}").count() == 0
    assert {r[0] for r in df.select("site").distinct().collect()} <= set(SITES)
    assert {r[0] for r in df.select("location").distinct().collect()} <= set(LOCATIONS)


def test_sequence_rises_by_one_counter_never_falls_battery_drains(env, tiny):
    _, steps = env
    assert steps.where("d_measurement_sequence_number != 1").count() == 0
    assert steps.where("d_movement_counter < 0").count() == 0
    assert steps.where("d_movement_counter > 0").count() > 0, "tags do move"
    assert steps.where("d_battery > 0").count() == 0
    per_tag = steps.groupBy("device_id").agg((F.max("battery") - F.min("battery")).alias("drained"))
    days = tiny.duration_seconds / 86400
    assert per_tag.where(f"drained < 0 or drained > {2 * days}").count() == 0, "a fraction of a mV a day"
    assert per_tag.where("drained > 0").count() > 0


def test_values_are_physically_plausible(env):
    df, _ = env
    bad = df.where("humidity < 0 or humidity > 100 or pressure < 95000 or pressure > 106000"
                   " or battery < 2500 or battery > 3300 or rssi < -100 or rssi > -30"
                   " or tx_power not in (-4, 0, 4)")
    assert bad.count() == 0, show(bad)
    means = {r["location"]: r["t"] for r in df.groupBy("location").agg(F.avg("temperature").alias("t")).collect()}
    for location, t in means.items():
        assert abs(t - LOCATIONS[location][0]) < 2.5, (location, t)
    if "freezer" in means and "greenhouse" in means:
        assert means["freezer"] < 0 < means["greenhouse"]
    # a site's tags share its weather
    minute = F.date_trunc("minute", "timestamp")
    spread = df.groupBy("site", minute).agg((F.max("pressure") - F.min("pressure")).alias("d"))
    assert spread.agg(F.max("d")).first()[0] < 20


def test_acceleration_is_gravity_at_rest_and_shakes_when_moved(env):
    _, steps = env
    g = F.sqrt(F.col("acceleration_x") ** 2 + F.col("acceleration_y") ** 2 + F.col("acceleration_z") ** 2)
    at_rest = steps.where("d_movement_counter = 0").withColumn("g", g)
    assert at_rest.where("abs(g - 1000) > 10").count() == 0, show(at_rest.where("abs(g - 1000) > 10"))
    moved = steps.where("d_movement_counter > 0").withColumn("g", g)
    shaken = moved.where("abs(g - 1000) > 10 or abs(acceleration_x) > 10 and abs(acceleration_y) > 10").count()
    assert shaken >= 0.8 * moved.count() > 0


def test_long_layout_has_one_row_per_measure_and_pivots_back(env):
    df, _ = env
    long = environment_long(df)
    assert long.count() == len(MEASURES) * df.count()
    assert {tuple(r) for r in long.select("measure_name", "measure_value_type").distinct().collect()} == set(
        MEASURES.items())
    wide = (long.groupBy("device_id", "site", "location", "time").pivot("measure_name", list(MEASURES))
            .agg(F.first("measure_value")))
    original = df.select("device_id", "site", "location", F.col("timestamp").alias("time"),
                         *[F.col(m).cast("double") for m in MEASURES])
    assert_df_equality(wide, original, ignore_row_order=True, ignore_nullable=True)
