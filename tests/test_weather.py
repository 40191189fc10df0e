"""The weather process (``dbx_iot_gen.weather``): smooth, shared by a place, physically consistent.

Values are computed by Spark from the library's SQL over a grid of places and 5-minute times;
the expectations are statistics computed here with Spark's own functions.
"""

from __future__ import annotations

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen.weather import KNOT_SECONDS, Weather, noise_at, noise_knots, noise_segment, value_noise

START_S = 1704067200  # 2024-01-01 00:00 UTC
TICKS = 12 * 24 * 14  # two weeks of 5-minute times


@pytest.fixture(scope="module")
def grid(spark):
    """Two weeks of 5-minute times for six cities (Seattle, Phoenix, Chicago, Miami, London, Dubai)."""
    cities = spark.createDataFrame([(3,), (6,), (12,), (18,), (35,), (61,)], "city_idx int")
    times = spark.range(TICKS).selectExpr("id AS tick", f"cast({START_S}L + id * 300L as double) AS t_s")
    w = Weather.for_city(42, "city_idx")
    return (cities.crossJoin(times)
            .selectExpr("*", f"{w.temperature('t_s')} AS temp", f"{w.relative_humidity('t_s')} AS rh",
                        f"{w.pressure('t_s')} AS pressure", f"{w.cloudiness('t_s')} AS cloud",
                        f"{w.dew_point('t_s')} AS dew")
            .cache())


def test_value_noise_is_smooth_with_unit_spread_and_shared_by_key(spark):
    df = spark.range(20_000).selectExpr("id", "cast(id * 3600L as double) AS t", "id % 2 AS parity")
    df = df.selectExpr("*", f"{value_noise('t', '1L', 86_400, 7)} AS a",
                       f"{value_noise('t', '1L', 86_400, 7)} AS a2", f"{value_noise('t', '2L', 86_400, 7)} AS b")
    std, corr_ab = df.agg(F.stddev("a"), F.corr("a", "b")).first()
    assert 0.7 < std < 1.3, std
    assert abs(corr_ab) < 0.1, corr_ab  # another key: another noise
    assert df.where("a <> a2").count() == 0  # the same key and time: the same value
    w = Window.orderBy("id")
    step = df.withColumn("step", F.abs(F.col("a") - F.lag("a").over(w))).agg(F.max("step")).first()[0]
    assert step < 0.25, step  # an hour is 1/24 of a knot: the curve has no jumps


def test_segments_give_the_same_noise_as_direct_hashing(spark):
    spacing, t0 = 86_400, 1_704_000_000
    knots = noise_knots(f"{t0}D", "5L", spacing, 11)
    df = (spark.range(0, 86_400, 600).selectExpr(f"cast({t0}L + id as double) AS t")
          .selectExpr("t", f"{knots} AS knots").selectExpr("t", f"{noise_segment('knots')} AS seg")
          .selectExpr(f"{noise_at('seg', 't', spacing)} AS segmented",
                      f"{value_noise('t', '5L', spacing, 11)} AS direct"))
    worst = df.agg(F.max(F.abs(F.col("segmented") - F.col("direct")))).first()[0]
    assert worst < 1e-9, worst


def test_relative_humidity_never_passes_100_and_falls_as_the_air_warms(grid):
    assert grid.agg(F.max("rh")).first()[0] < 100.0
    # where the air cools to its dew point (nights: dew, fog) it is saturated, and only there
    assert grid.where("dew >= temp and rh < 95").count() == 0
    assert grid.where("dew < temp - 5 and rh > 80").count() == 0
    r = [row[1] for row in grid.groupBy("city_idx").agg(F.corr("temp", "rh")).collect()]
    assert all(x < -0.3 for x in r), r


def test_fronts_move_pressure_over_days_with_a_small_tide(grid):
    daily = grid.groupBy("city_idx", F.floor(F.col("tick") / 288).alias("day")).agg(F.avg("pressure").alias("p"))
    swings = [row[1] for row in daily.groupBy("city_idx").agg(F.max("p") - F.min("p")).collect()]
    assert min(swings) > 4 and max(swings) < 60, swings
    w = Window.partitionBy("city_idx").orderBy("tick")
    steps = grid.withColumn("step", F.abs(F.col("pressure") - F.lag("pressure").over(w)))
    assert steps.agg(F.max("step")).first()[0] < 0.3  # hPa in 5 minutes


def test_daily_means_move_by_degrees_from_front_to_front_and_steps_are_small(grid):
    daily = grid.groupBy("city_idx", F.floor(F.col("tick") / 288).alias("day")).agg(F.avg("temp").alias("m"))
    w = Window.partitionBy("city_idx").orderBy("day")
    changes = daily.withColumn("change", F.abs(F.col("m") - F.lag("m").over(w))).where("change is not null")
    typical = changes.agg(F.expr("percentile_approx(change, 0.9)")).first()[0]
    assert 1.5 < typical < 8, typical
    w2 = Window.partitionBy("city_idx").orderBy("tick")
    steps = grid.withColumn("step", F.abs(F.col("temp") - F.lag("temp").over(w2))).where("step is not null")
    assert steps.agg(F.expr("percentile_approx(step, 0.5)")).first()[0] < 0.2


def test_cities_differ_by_climate(grid):
    means = {r[0]: (r[1], r[2]) for r in grid.groupBy("city_idx").agg(F.avg("temp"), F.avg("rh")).collect()}
    assert means[18][0] - means[12][0] > 10, means  # Miami is warmer than Chicago in January
    assert means[6][1] < means[3][1] - 15, means  # Phoenix air is drier than Seattle's


def test_clouds_follow_low_pressure_and_flatten_the_day(grid):
    r = [row[1] for row in grid.groupBy("city_idx").agg(F.corr("pressure", "cloud")).collect()]
    assert all(x < -0.3 for x in r), r
    assert set(KNOT_SECONDS) >= {"pressure_synoptic", "cloud"}
