"""``environment_readings``: the Ruuvi tags of seed 004 behave like real tags (compressor cycles,
showers, the site's weather, missed broadcasts, drifting RSSI), and their long layout.

Measured on one table of 48 tags over the tiny preset's two days (enough tags for several outdoor
tags and appliances per site); expectations are computed here, not with the library's helpers.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

import pytest
from chispa import assert_df_equality
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen.tables.environment import LOCATIONS, MEASURES, SITES, environment_long, environment_spec

from .conftest import show

N_TAGS = 48


@pytest.fixture(scope="module")
def config(tiny):
    return tiny.replace(environment={"n_sensors": N_TAGS})


@pytest.fixture(scope="module")
def env(spark, config):
    df = environment_spec(spark, config).build().cache()
    cadence_us = config.environment.cadence_seconds * 1_000_000
    by_tag = Window.partitionBy("device_id").orderBy("timestamp")
    steps = df.select(
        "*", *[(F.col(c) - F.lag(c).over(by_tag)).alias(f"d_{c}") for c in
               ("measurement_sequence_number", "movement_counter", "battery")],
        F.lag("rssi").over(by_tag).alias("prev_rssi"),
        (F.unix_micros("timestamp") - F.lag(F.unix_micros("timestamp")).over(by_tag)).alias("gap_us"),
    ).withColumn("gap_ticks", F.col("gap_us") / cadence_us)
    yield df, steps.cache()
    df.unpersist()  # later tests build the same plan and must not read the cache
    steps.unpersist()


def _series(df, where: str, column: str) -> dict[str, list[tuple[int, float]]]:
    """Each tag's (epoch second, value), in time order."""
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for device, t, v in df.where(where).select("device_id", F.unix_timestamp("timestamp"), column).collect():
        out[device].append((t, v))
    return {d: sorted(points) for d, points in out.items()}


def _moving_average(values: list[float], half: int) -> list[float]:
    sums = [0.0]
    for v in values:
        sums.append(sums[-1] + v)
    return [(sums[min(len(values), i + half + 1)] - sums[max(0, i - half)])
            / (min(len(values), i + half + 1) - max(0, i - half)) for i in range(len(values))]


def _cycles(values: list[float], hysteresis: float) -> int:
    """Rises through the running median (2 hours: a defrost does not move it) by more than
    ``hysteresis`` either side."""
    trend = [statistics.median(values[max(0, i - 60):i + 61]) for i in range(len(values))]
    state, count = 0, 0
    for v, m in zip(values, trend):
        if v > m + hysteresis and state < 0:
            count += 1
        if v > m + hysteresis:
            state = 1
        elif v < m - hysteresis:
            state = -1
    return count


def _episodes(points: list[tuple[int, float]], threshold: float) -> list[tuple[int, int]]:
    """(start, end) epoch seconds of the runs of values above ``threshold``."""
    runs, start, last = [], None, None
    for t, v in points:
        if v > threshold and start is None:
            start = t
        elif v <= threshold and start is not None:
            runs.append((start, last))
            start = None
        last = t
    return runs


def test_one_row_per_heard_broadcast(env, config):
    df, steps = env
    n, cadence = N_TAGS, config.environment.cadence_seconds
    broadcasts = n * config.duration_seconds // cadence
    assert 0.9 * broadcasts < df.count() < broadcasts
    tags = df.groupBy("device_id").agg(F.countDistinct("site", "location").alias("dims"))
    assert tags.count() == n and tags.where("dims != 1").count() == 0, "a tag stays at its site and location"
    assert df.where(~F.col("device_id").rlike("^[0-9a-f]{12}$")).count() == 0
    off_cadence = steps.where(f"gap_us % {cadence * 1_000_000} != 0")
    assert off_cadence.count() == 0, show(off_cadence)
    assert {r[0] for r in df.select("site").distinct().collect()} <= set(SITES)
    assert {r[0] for r in df.select("location").distinct().collect()} == set(LOCATIONS)


def test_sequence_number_jumps_by_exactly_the_missed_broadcasts(env):
    _, steps = env
    wrong = steps.where("d_measurement_sequence_number != gap_ticks")
    shown = wrong.select("device_id", "timestamp", "gap_ticks", "d_measurement_sequence_number")
    assert wrong.count() == 0, show(shown)
    assert steps.where("d_measurement_sequence_number > 1").count() > 0, "some broadcasts are missed"


def test_each_tag_misses_its_own_share_of_broadcasts_in_bursts(env, config):
    df, _ = env
    ticks = config.duration_seconds // config.environment.cadence_seconds
    per_tag = df.groupBy("device_id").agg((1 - F.count(F.lit(1)) / ticks).alias("missed"), F.avg("rssi").alias("rssi"))
    lo, hi = per_tag.agg(F.min("missed"), F.max("missed")).first()
    assert 0.001 <= lo and hi <= 0.10, (lo, hi)
    assert hi > 3 * lo, "each tag its own loss rate"
    # bursty: missed broadcasts per tag and hour vary more than independent losses would (Poisson: 1)
    per_hour = df.groupBy("device_id", F.date_trunc("hour", "timestamp")).agg((60 - F.count(F.lit(1))).alias("m"))
    by_tag = per_hour.groupBy("device_id").agg(F.var_samp("m").alias("v"), F.avg("m").alias("m"))
    dispersion = by_tag.agg(F.sum("v") / F.sum("m")).first()[0]
    assert dispersion > 1.5, dispersion
    # weak tags lose more
    assert per_tag.stat.corr("rssi", "missed") < -0.2


def test_fridges_and_freezers_cycle_with_the_compressor(env):
    df, _ = env
    series = _series(df, "location IN ('fridge', 'freezer')", "temperature")
    assert len(series) >= 6
    periods, rising = [], []
    for points in series.values():
        values = _moving_average([v for _, v in points], 2)  # quiet the per-reading noise
        minutes = (points[-1][0] - points[0][0]) / 60
        periods.append(minutes / max(1, _cycles(values, 0.2)))
        steps = [b - a for a, b in itertools.pairwise(values) if a != b]
        rising.append(sum(s > 0 for s in steps) / len(steps))
    assert 18 <= min(periods) and max(periods) <= 100, sorted(periods)  # 20-90 min, measured within 10 %
    # a sawtooth: slow warming with the compressor off, faster cooling while it runs (a sine: 0.5)
    assert min(rising) > 0.53 and statistics.mean(rising) > 0.57, sorted(rising)


def test_freezers_defrost_a_few_times_a_day(env, config):
    df, _ = env
    days = config.duration_seconds / 86400
    series = _series(df, "location = 'freezer'", "temperature")
    assert series
    for device, points in series.items():
        median = statistics.median(v for _, v in points)
        runs = _episodes(points, median + 2.5)
        assert 1.5 <= len(runs) / days <= 4.5, (device, median, runs)
        assert all(10 * 60 <= end - start <= 90 * 60 for start, end in runs), (device, runs)
        peaks = [max(v for t, v in points if start <= t <= end) for start, end in runs]
        assert min(peaks) > median + 3.5, (device, median, peaks)


def test_appliance_temperatures_stay_near_their_setpoints(env):
    df, _ = env
    share = df.groupBy("location").agg(
        F.avg(F.expr("IF(temperature BETWEEN 1.5 AND 6.5, 1, 0)")).alias("fridge_band"),
        F.avg(F.expr("IF(temperature BETWEEN -21 AND -15, 1, 0)")).alias("freezer_band"))
    bands = {r["location"]: r for r in share.collect()}
    assert bands["fridge"]["fridge_band"] > 0.95 and bands["freezer"]["freezer_band"] > 0.95


def test_bathroom_humidity_peaks_with_showers_and_decays(env):
    df, _ = env
    local = F.from_utc_timestamp("timestamp", "Europe/Helsinki")
    series = _series(df.withColumn("local_date", F.to_date(local)).withColumn("h", F.struct("local_date", "humidity")),
                     "location = 'bathroom'", "h")
    assert series
    days = peaked = decayed = rose = 0
    for points in series.values():
        by_day: dict = defaultdict(list)
        for t, (d, h) in points:
            by_day[d].append((t, h))
        for day_points in by_day.values():
            if len(day_points) < 0.8 * 1440:  # a day from its morning on (local time)
                continue
            days += 1
            t_max, h_max = max(day_points, key=lambda p: p[1])
            peaked += h_max > 85
            after = [h for t, h in day_points if t_max + 3600 <= t <= t_max + 3700]
            before = [h for t, h in day_points if t_max - 1500 <= t <= t_max - 1400]
            decayed += bool(after) and after[0] < h_max - 15
            rose += bool(before) and before[0] < h_max - 15
    assert days >= 5
    assert peaked >= 0.8 * days and decayed >= 0.8 * days and rose >= 0.7 * days, (days, peaked, decayed, rose)
    # showers are taken in the morning and the evening (local time)
    hours = (df.where("location = 'bathroom' AND humidity > 85").select(F.hour(local).alias("h"))
             .groupBy("h").count().collect())
    at_night = sum(r["count"] for r in hours if r["h"] < 5 or 11 <= r["h"] < 15)
    assert at_night <= 0.02 * sum(r["count"] for r in hours), hours


def _paired(df, where: str, column: str):
    """Per pair of tags of a site: the correlation of ``column`` over the minutes both were heard."""
    rows = df.where(where).select("site", "device_id", F.date_trunc("minute", "timestamp").alias("m"), column)
    a, b = rows.alias("a"), rows.alias("b")
    joined = a.join(b, (F.col("a.site") == F.col("b.site")) & (F.col("a.m") == F.col("b.m"))
                    & (F.col("a.device_id") < F.col("b.device_id")))
    return joined.groupBy("a.site", "a.device_id", "b.device_id").agg(F.corr(f"a.{column}", f"b.{column}").alias("r"))


def test_outdoor_tags_of_a_site_agree(env):
    df, _ = env
    pairs = _paired(df, "location = 'outdoor'", "temperature")
    assert pairs.count() >= 2
    r = pairs.agg(F.min("r")).first()[0]
    assert r > 0.9, show(pairs)
    # and they follow a daily cycle of the weather, not a constant
    swing = df.where("location = 'outdoor'").groupBy("device_id").agg(F.max("temperature") - F.min("temperature"))
    assert swing.agg(F.min(F.col(swing.columns[1]))).first()[0] > 3


def test_every_tag_of_a_site_reads_its_pressure(env):
    df, _ = env
    # each tag against the mean of the site's other tags at the same minute
    site_minute = Window.partitionBy("site", "m")
    others = (df.withColumn("m", F.date_trunc("minute", "timestamp"))
              .withColumn("others", (F.sum("pressure").over(site_minute) - F.col("pressure"))
                          / F.nullif(F.count(F.lit(1)).over(site_minute) - 1, F.lit(0))))
    per_tag = others.groupBy("site", "device_id").agg(
        F.corr("pressure", "others").alias("r"), F.max(F.abs(F.col("pressure") - F.col("others"))).alias("max_diff"))
    assert per_tag.where("r IS NOT NULL").count() == N_TAGS
    apart = per_tag.where("r <= 0.95 OR max_diff > 100")
    assert apart.count() == 0, show(apart)
    # sites differ (weather and altitude)
    means = [r[1] for r in df.groupBy("site").agg(F.avg("pressure")).collect()]
    assert max(means) - min(means) > 100, means


def test_rssi_drifts_slowly_and_metal_weakens_it(env):
    df, steps = env
    lag1 = steps.where("gap_ticks = 1").groupBy("device_id").agg(F.corr("rssi", "prev_rssi").alias("r"))
    rs = [r["r"] for r in lag1.collect()]
    assert statistics.median(rs) > 0.5 and min(rs) > 0.2, sorted(rs)
    by_kind = df.where("location != 'outdoor'").groupBy(F.expr("location IN ('fridge', 'freezer')").alias("metal")) \
        .agg(F.avg("rssi").alias("rssi"))
    levels = {r["metal"]: r["rssi"] for r in by_kind.collect()}
    assert levels[False] - levels[True] > 7, levels


def test_counters_never_fall_and_battery_drains(env, config):
    _, steps = env
    assert steps.where("d_movement_counter < 0").count() == 0
    assert steps.where("d_movement_counter > 0").count() > 0, "tags do move"
    assert steps.where("d_battery > 0").count() == 0
    per_tag = steps.groupBy("device_id").agg((F.max("battery") - F.min("battery")).alias("drained"))
    days = config.duration_seconds / 86400
    assert per_tag.where(f"drained < 0 or drained > {2 * days}").count() == 0, "a fraction of a mV a day"
    assert per_tag.where("drained > 0").count() > 0


def test_values_are_physically_plausible(env):
    df, _ = env
    bad = df.where("humidity < 0 or humidity > 100 or pressure < 95000 or pressure > 106000"
                   " or battery < 2500 or battery > 3300 or rssi < -110 or rssi > -20"
                   " or tx_power not in (-4, 0, 4)")
    assert bad.count() == 0, show(bad)
    # humidity is not pinned at a bound (a clamp would hide values outside it)
    pinned = df.where("humidity > 99.9 or humidity < 0.1").count()
    assert pinned <= 0.001 * df.count(), pinned
    means = {r["location"]: r["t"] for r in df.groupBy("location").agg(F.avg("temperature").alias("t")).collect()}
    for location, t in means.items():
        if location != "outdoor":  # outdoors is the weather's
            assert abs(t - LOCATIONS[location].mean_temp) < 2.5, (location, t)
    assert means["freezer"] < means["outdoor"] < means["bedroom"]


def test_acceleration_is_gravity_at_rest_and_shakes_when_moved(env):
    _, steps = env
    g = F.sqrt(F.col("acceleration_x") ** 2 + F.col("acceleration_y") ** 2 + F.col("acceleration_z") ** 2)
    at_rest = steps.where("d_movement_counter = 0").withColumn("g", g)
    assert at_rest.where("abs(g - 1000) > 10").count() == 0, show(at_rest.where("abs(g - 1000) > 10"))
    moved = steps.where("d_movement_counter > 0").withColumn("g", g)
    shaken = moved.where("abs(g - 1000) > 10 or abs(acceleration_x) > 10 and abs(acceleration_y) > 10").count()
    assert shaken >= 0.8 * moved.count() > 0


def test_long_layout_has_one_row_per_measure_and_pivots_back(env, config):
    df, _ = env
    df = df.where(F.col("timestamp") < F.lit(config.start).cast("timestamp") + F.expr("INTERVAL 1 HOURS"))
    long = environment_long(df)
    assert long.count() == len(MEASURES) * df.count()
    assert {tuple(r) for r in long.select("measure_name", "measure_value_type").distinct().collect()} == set(
        MEASURES.items())
    wide = (long.groupBy("device_id", "site", "location", "time").pivot("measure_name", list(MEASURES))
            .agg(F.first("measure_value")))
    original = df.select("device_id", "site", "location", F.col("timestamp").alias("time"),
                         *[F.col(m).cast("double") for m in MEASURES])
    assert_df_equality(wide, original, ignore_row_order=True, ignore_nullable=True)
