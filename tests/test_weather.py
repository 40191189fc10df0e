"""The weather process (``dbx_iot_gen.weather``): smooth, shared by a place, physically consistent.

Values are computed by Spark from the library's SQL over a grid of places and 5-minute times;
the expectations are statistics computed here with Spark's own functions.
"""

from __future__ import annotations

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen.weather import OCTAVES, Weather

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


def test_synoptic_noise_is_smooth_with_unit_spread_and_differs_by_place(spark):
    """Each octave has about unit spread, moves little in an hour, and two places (or two
    seeds) draw different weather."""
    df = spark.range(24 * 365).selectExpr("id", "cast(1704067200L + id * 3600L as double) AS t")
    a, b, c = (Weather.for_city(seed, key) for seed, key in ((42, "3"), (42, "4"), (7, "3")))
    df = df.selectExpr("*", f"{a._noise('t', 'pressure_synoptic')} AS a", f"{b._noise('t', 'pressure_synoptic')} AS b",
                       f"{c._noise('t', 'pressure_synoptic')} AS c")
    std, corr_ab, corr_ac = df.agg(F.stddev("a"), F.corr("a", "b"), F.corr("a", "c")).first()
    assert 0.7 < std < 1.3, std
    assert abs(corr_ab) < 0.3 and abs(corr_ac) < 0.3, (corr_ab, corr_ac)
    w = Window.orderBy("id")
    step = df.withColumn("step", F.abs(F.col("a") - F.lag("a").over(w))).agg(F.max("step")).first()[0]
    # three waves of amplitude sqrt(2/3), none faster than one cycle in 80 hours: an hour moves the
    # sum by at most sqrt(2/3) * 3 * 2 pi / 80
    assert step < 0.1924, step


def test_block_waves_give_the_same_weather_as_direct_evaluation(spark):
    """The per-block form (phases at the block's start, then the rates) equals evaluating each
    time directly."""
    t0 = 1_704_000_000
    w = Weather.for_city(5, "city_idx")
    df = (spark.range(0, 20_000, 600).selectExpr("cast(id % 7 as int) AS city_idx", f"cast({t0}L + id as double) AS t")
          .selectExpr("*", f"{w.waves_struct(f'{t0}L')} AS waves"))
    blocked = w.from_waves("waves", f"{t0}L")
    df = df.selectExpr(f"{blocked.pressure('t')} AS blocked", f"{w.pressure('t')} AS direct")
    worst = df.agg(F.max(F.abs(F.col("blocked") - F.col("direct")))).first()[0]
    assert worst < 1e-6, worst


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
    assert set(OCTAVES) >= {"pressure_synoptic", "cloud"}
