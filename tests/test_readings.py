"""Invariants and realism patterns of ``sensor_readings`` (SPEC sections 2 and 3)."""

from __future__ import annotations

import math
import random
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from chispa import assert_df_equality
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig, devices, devices_spec, locations_spec, readings_at, readings_spec
from dbx_iot_gen.catalog import CITIES, DEVICE_TYPES, METRICS
from dbx_iot_gen.fleet import PROFILES, FleetLayout
from dbx_iot_gen.patterns import BlockPolynomial, LocalTime
from dbx_iot_gen.tables._spec import replay
from dbx_iot_gen.tables.readings import CYCLES_TOLERANCE, profile_parameters, reading_defs

from .conftest import online_all_along, show


@pytest.fixture(scope="module")
def all_tables(spark, tiny_clean):
    """The true readings: no anomalies, no data-quality problems (see test_anomalies, test_quality)."""
    tiny = tiny_clean
    devices = devices_spec(spark, tiny).build().cache()
    locations = locations_spec(spark, tiny).build().cache()
    readings = readings_spec(spark, tiny).build().cache()
    local = (readings.join(devices.select("device_id", "device_type", "location_id", "install_date"), "device_id")
             .join(locations.select("location_id", "timezone"), "location_id")
             # local time computed independently of the library, with Spark's own zone rules
             .withColumn("local_ts", F.from_utc_timestamp("timestamp", F.col("timezone")))
             .withColumn("local_hour", F.hour("local_ts"))
             .withColumn("weekend", F.dayofweek("local_ts").isin(1, 7))).cache()
    return devices, readings, local


@pytest.fixture(scope="module")
def tables(spark, tiny_clean, all_tables):
    """The same, of the devices the registry has Online all along (test_cdc checks the others):
    their rows follow only the schedules and windows."""
    devices, readings, local = all_tables
    steady = online_all_along(spark, tiny_clean).cache()
    return devices, readings.join(steady, "device_id"), local.join(steady, "device_id")


def test_metric_and_unit_follow_the_device_type(tables):
    _, _, local = tables
    expected = {(t.name, m, METRICS[m].unit) for t in DEVICE_TYPES for m in t.metrics}
    found = {tuple(r) for r in local.select("device_type", "metric_name", "unit").distinct().collect()}
    assert found == expected


def test_one_reading_per_device_metric_and_tick_while_registered(spark, tables, tiny_clean):
    _, readings, _ = tables
    tiny = tiny_clean
    lifetimes = devices(spark, tiny).select("device_id", "device_type", "registered_at", "decommissioned_at")
    per_channel = readings.groupBy("device_id", "metric_name").count().join(lifetimes, "device_id")
    always = per_channel.where(f"registered_at = '{tiny.start.isoformat()}' and decommissioned_at is null")
    wrong = always.where(F.col("count") != tiny.reading_ticks)
    assert always.count() > 0 and wrong.count() == 0, show(wrong)
    # a device inserted or deleted by the CDC reports for the ticks of its lifetime (one more or less
    # at either end: a reading's jitter may put it on either side of the change)
    start_s, cadence = int(tiny.start.timestamp()), tiny.reading_cadence_seconds
    end = f"coalesce(unix_seconds(decommissioned_at), {int(tiny.end.timestamp())})"
    ticks = f"ceil(({end} - {start_s}) / {cadence}) - ceil((unix_seconds(registered_at) - {start_s}) / {cadence})"
    changed = per_channel.subtract(always).withColumn("expected", F.expr(ticks))
    wrong = changed.where("abs(count - expected) > 1")
    assert changed.count() > 0 and wrong.count() == 0, show(wrong)
    sensors = (lifetimes.join(online_all_along(spark, tiny), "device_id")
               .where("device_type not in ('Camera', 'GPS Tracker')"))
    assert per_channel.select("device_id").distinct().count() == sensors.count()
    tick = F.floor((F.unix_micros("timestamp") - tiny.start_micros) / (tiny.reading_cadence_seconds * 1e6))
    with_tick = readings.withColumn("tick", tick)
    assert with_tick.select("device_id", "metric_name", "tick").distinct().count() == readings.count()
    jitter = (F.unix_micros("timestamp") - tiny.start_micros) - with_tick["tick"] * tiny.reading_cadence_seconds * 1e6
    late = with_tick.where((jitter < 0) | (jitter > tiny.reading_jitter_seconds * 1e6))
    assert late.count() == 0, "timestamps off their tick by more than the jitter:" + show(late)
    assert readings.select("reading_id").distinct().count() == readings.count()


def test_values_are_physically_plausible(tables):
    _, readings, _ = tables
    for metric in METRICS.values():
        s = readings.where(F.col("metric_name") == metric.name).agg(
            F.min("metric_value"), F.max("metric_value"), F.avg("metric_value")).first()
        assert metric.low <= s[0] and s[1] <= metric.high, (metric, s)
        # the values are clamped to the range: few may sit at its ends (a clamp hides the others),
        # but for saturated air (fog, dew), where a hygrometer reads 100 %
        of_metric = readings.where(F.col("metric_name") == metric.name)
        n = of_metric.count()
        at_low = of_metric.where(F.col("metric_value") <= metric.low).count()
        at_high = of_metric.where(F.col("metric_value") >= metric.high).count()
        assert at_low <= 0.002 * n and at_high <= (0.05 if metric.name == "humidity" else 0.002) * n, \
            (metric, n, at_low, at_high)
    pressure = readings.where("metric_name = 'pressure'").agg(F.avg("metric_value")).first()[0]
    assert 1000 < pressure < 1025
    bad = readings.where("quality_score < 0 or quality_score > 100 "
                         "or (metric_value is null) != (device_status = 'Maintenance') "
                         "or ingest_timestamp <= timestamp or is_anomaly")
    assert bad.count() == 0, show(bad)


def test_values_change_slowly_from_tick_to_tick(tables):
    _, readings, _ = tables
    w = Window.partitionBy("device_id", "metric_name").orderBy("timestamp")
    steps = (readings.where("metric_name in ('temperature', 'humidity', 'pressure') and metric_value is not null")
             .withColumn("step", F.abs(F.col("metric_value") - F.lag("metric_value").over(w)))
             .groupBy("metric_name").agg(F.expr("percentile_approx(step, 0.5)").alias("median_step"),
                                         F.stddev("metric_value").alias("spread")))
    for row in steps.collect():
        assert row["median_step"] < 0.25 * row["spread"], row


def test_daily_cycle_follows_local_time(tables):
    _, _, local = tables
    temp = local.where("device_type = 'Temperature Sensor'")
    afternoon = temp.where("local_hour between 13 and 16").agg(F.avg("metric_value")).first()[0]
    night = temp.where("local_hour between 2 and 5").agg(F.avg("metric_value")).first()[0]
    assert afternoon - night > 4, (afternoon, night)


def test_power_follows_business_hours_and_weekends(tables):
    _, _, local = tables
    meters = local.where("device_type = 'Smart Meter'")

    def mean(cond: str) -> float:
        return meters.where(cond).agg(F.avg("metric_value")).first()[0]

    business = mean("not weekend and local_hour between 9 and 16")
    evening = mean("not weekend and local_hour between 19 and 21")
    night = mean("not weekend and local_hour between 1 and 5")
    weekend = mean("weekend and local_hour between 9 and 16")
    # the day's load well above the night's base load and the weekend day's; the evening on the
    # way down
    assert business > 1.4 * night and business > 1.4 * weekend, (business, night, weekend)
    assert 0.9 * night < evening < 0.9 * business, (business, evening, night)


def test_seasons_follow_the_hemisphere(spark):
    cfg = IoTConfig.preset("tiny", start="2024-01-01", end="2025-01-01", reading_cadence_seconds=86_400,
                           n_locations=86, n_devices=400)
    devices = devices_spec(spark, cfg).build()
    locations = locations_spec(spark, cfg).build()
    lat = {c.name: c.latitude for c in CITIES}
    hemi = F.udf(lambda city: "north" if lat[city] > 23 else ("south" if lat[city] < -23 else "tropics"))
    temps = (readings_spec(spark, cfg).build().where("metric_name = 'temperature'")
             .join(devices.where("device_type = 'Temperature Sensor'").select("device_id", "location_id"), "device_id")
             .join(locations.select("location_id", hemi("city").alias("zone")), "location_id")
             .withColumn("month", F.month("timestamp")))
    means = {(r["zone"], r["month"]): r["avg(metric_value)"]
             for r in temps.where("month in (1, 7)").groupBy("zone", "month").avg("metric_value").collect()}
    assert means[("north", 7)] - means[("north", 1)] > 10, means
    assert means[("south", 1)] - means[("south", 7)] > 5, means


def test_readings_drift_with_age(spark, tiny_clean):
    tiny = tiny_clean.replace(n_devices=400)  # 40 pressure sensors: enough for the mean drift factor
    drift = 0.005
    key = ["device_id", "metric_name", "reading_id"]
    base = readings_spec(spark, tiny.replace(patterns={"drift_per_day": 0.0})).build()
    drifted = readings_spec(spark, tiny.replace(patterns={"drift_per_day": drift})).build()
    devices = devices_spec(spark, tiny).build().select("device_id", "device_type", "install_date")
    diff = (drifted.alias("d").join(base.alias("b"), key)
            .join(devices, "device_id")
            .where("device_type = 'Pressure Sensor'")
            .withColumn("age", (F.unix_seconds("d.timestamp") - F.unix_seconds(F.col("install_date").cast("timestamp")))
                        / 86400.0)
            .withColumn("factor", (F.col("d.metric_value") - F.col("b.metric_value")) / (F.col("age") * drift)))
    per_channel = diff.groupBy("device_id").agg(F.min("factor").alias("lo"), F.max("factor").alias("hi"),
                                                F.avg("factor").alias("f"))
    inconsistent = per_channel.where("hi - lo > 0.01 or f < -0.51 or f > 1.51")
    assert inconsistent.count() == 0, "drift must be proportional to age since install:" + show(inconsistent)
    assert per_channel.agg(F.avg("f")).first()[0] > 0.2, "sensors drift mostly upwards"


def test_local_time_offsets_match_zoneinfo():
    cfg = IoTConfig.preset("tiny", start="2024-01-01", end="2025-12-31")
    lt = LocalTime(cfg)
    assert len(lt.cuts) > 20  # every DST change of the zones in two years
    for epoch in range(int(cfg.start.timestamp()), int(cfg.end.timestamp()), 86_400 * 3 + 3_607):
        for i, city in enumerate(CITIES):
            expected = datetime.fromtimestamp(epoch, timezone.utc).astimezone(ZoneInfo(city.timezone)).utcoffset()
            assert lt.offset_at(epoch, i) == expected.total_seconds(), (city.name, epoch)


def test_library_local_hour_matches_spark_zone_rules_across_dst(spark):
    """The SQL expression (not only the Python table) agrees with from_utc_timestamp over a DST change."""
    cfg = IoTConfig.preset("tiny", start="2024-03-08", end="2024-04-02")
    lt = LocalTime(cfg)
    cities = spark.createDataFrame([(i, c.timezone) for i, c in enumerate(CITIES)], "city_idx int, tz string")
    hours = spark.range(int(cfg.start.timestamp()), int(cfg.end.timestamp()), 1800).withColumnRenamed("id", "epoch_s")
    df = hours.crossJoin(cities).select(
        "epoch_s", "tz",
        F.expr(lt.local_seconds("epoch_s", "city_idx")).alias("mine"),
        F.unix_seconds(F.from_utc_timestamp(F.timestamp_seconds("epoch_s"), F.col("tz"))).alias("spark"))
    wrong = df.where("mine != spark")
    assert wrong.count() == 0, show(wrong)


def test_maintenance_windows_follow_local_time(tables):
    _, _, local = tables
    # Sunday 02:00-06:00 in the facility's local time (the seed's window), by Spark's own zone rules
    window = (F.dayofweek("local_ts") == 1) & (F.col("local_hour") >= 2) & (F.col("local_hour") < 6)
    marked = local.withColumn("in_window", window)
    wrong = marked.where("in_window != (device_status = 'Maintenance') "
                         "or in_window != (metric_value is null) "
                         "or device_status not in ('Online', 'Maintenance')")
    assert wrong.count() == 0, show(wrong.select("device_id", "timestamp", "timezone", "local_ts",
                                                 "device_status", "metric_value"))
    assert marked.where("in_window").count() > 0, "the tiny range holds a Sunday morning somewhere"


def test_maintenance_wins_over_anomalies_and_quality_problems(spark, tiny):
    """With every problem on, a reading in a window still has no value, says Maintenance, and is no
    anomaly; outside windows a missing value is always labeled (a dropout or a null_value)."""
    devices = devices_spec(spark, tiny).build().select("device_id", "location_id")
    locations = locations_spec(spark, tiny).build().select("location_id", "timezone")
    # (a reading stamped by a reset clock has no true local time: left out)
    local = (readings_spec(spark, tiny).build().where("quality_issue IS DISTINCT FROM 'clock_reset'")
             .join(online_all_along(spark, tiny), "device_id")
             .join(devices, "device_id").join(locations, "location_id")
             .withColumn("lt", F.from_utc_timestamp("timestamp", F.col("timezone"))))
    window = (F.dayofweek("lt") == 1) & F.hour("lt").between(2, 5)
    inside = local.where(window)
    wrong = inside.where("device_status != 'Maintenance' or metric_value is not null or is_anomaly "
                         "or quality_issue in ('null_value', 'out_of_range')")
    assert inside.count() > 0 and wrong.count() == 0, show(wrong)
    outside = local.where(~window)
    unlabeled = outside.where("metric_value is null and not (anomaly_type = 'dropout' "
                              "or quality_issue = 'null_value') or device_status = 'Maintenance'")
    assert unlabeled.count() == 0, show(unlabeled)


def test_maintenance_windows_are_configurable(spark, tiny_clean):
    tiny = tiny_clean
    windows = [{"day": "Friday", "start_hour": 12, "end_hour": 14}, {"day": "Saturday", "start_hour": 0,
                                                                       "end_hour": 1}]
    cfg = tiny.replace(patterns={"maintenance_windows": windows})
    devices = devices_spec(spark, cfg).build().select("device_id", "location_id")
    locations = locations_spec(spark, cfg).build().select("location_id", "timezone")
    steady = online_all_along(spark, cfg)
    local = (readings_spec(spark, cfg).build().join(steady, "device_id")
             .join(devices, "device_id").join(locations, "location_id")
             .withColumn("lt", F.from_utc_timestamp("timestamp", F.col("timezone"))))
    window = (((F.dayofweek("lt") == 6) & F.hour("lt").between(12, 13))
              | ((F.dayofweek("lt") == 7) & (F.hour("lt") == 0)))
    wrong = local.where(window != (F.col("device_status") == "Maintenance"))
    assert wrong.count() == 0, show(wrong)
    assert local.where(window).count() > 0
    none = tiny.replace(patterns={"maintenance_windows": []})
    assert readings_spec(spark, none).build().join(steady, "device_id").where("metric_value is null").count() == 0


def test_blocks_and_single_rows_agree(spark, tiny):
    """A batch build computes a channel's columns once per block of ticks; a replay (and a stream)
    computes them for each row from its id. Both give the same readings, value for value."""
    batch = readings_spec(spark, tiny).build().dropDuplicates(["reading_id"])
    ids = batch.selectExpr("reading_id - 1L AS id")
    single = readings_at(spark, tiny, ids).drop("id")
    assert_df_equality(batch.orderBy("reading_id"), single.orderBy("reading_id"), ignore_nullable=True)
    # every registered reading of the grid, and no other: none lost or added at a block's edges
    assert readings_at(spark, tiny, spark.range(FleetLayout(tiny).reading_rows)).count() == batch.count()


@pytest.mark.parametrize("length", [1_000, 19_203, 38_403])
def test_block_polynomial_is_within_its_error_bound(length):
    """The polynomial through a block's Chebyshev nodes stays within its stated bound for any sum of
    sinusoids of at most the given rates, is exact for a line, and has the lowest such degree."""
    rates = (1 / 21_600, 1 / 172_800, 1 / 86_400)
    fit = BlockPolynomial.for_sines(length, rates, tolerance=1e-3)
    assert fit is not None
    assert BlockPolynomial.error_bound(length, rates, fit.degree) <= 1e-3
    assert fit.degree == 1 or BlockPolynomial.error_bound(length, rates, fit.degree - 1) > 1e-3
    rnd = random.Random(length)
    for _ in range(50):
        parts = [(rnd.uniform(0.1, 10), rnd.uniform(r / 5, r), rnd.random()) for r in rates]
        line = (rnd.uniform(-5, 5), rnd.uniform(-1e-3, 1e-3))

        def f(x: float, parts=parts, line=line) -> float:
            return line[0] + line[1] * x + sum(a * math.sin(2 * math.pi * (p + r * x)) for a, r, p in parts)

        coef = [sum(w * f(x) for w, x in zip(row, fit.nodes, strict=True)) for row in fit.weights]
        bound = sum(a * BlockPolynomial.error_bound(length, (r,), fit.degree) for a, r, _ in parts)
        for t in range(201):
            x = length * t / 200
            u = 2 * x / length - 1
            assert abs(sum(c * u**i for i, c in enumerate(coef)) - f(x)) <= bound + 1e-9
    line_fit = [sum(w * (3 + 0.5 * x) for w, x in zip(row, fit.nodes, strict=True)) for row in fit.weights]
    assert line_fit[0] == pytest.approx(3 + 0.25 * length) and line_fit[1] == pytest.approx(0.25 * length)
    assert all(abs(c) < 1e-9 * length for c in line_fit[2:])
    # too long a block for max_degree: no fit (the rows compute their sines)
    assert BlockPolynomial.for_sines(200_000, rates, tolerance=1e-3, max_degree=12) is None


@pytest.mark.parametrize("when", ["tiny", "dst", "small"])
def test_value_cycles_from_block_polynomial_stay_within_tolerance(spark, tiny, when):
    """Batch builds take the value's cycles (trend, wander, daily cycle) from one polynomial per
    block; against each row's own sines the value moves by at most CYCLES_TOLERANCE of the
    cycles' amplitudes (times the malfunction factor), also for rows after a change of UTC offset
    inside their block (the "dst" range holds US and European changes), and at the default
    scale, small (5-minute readings: longer blocks, a polynomial of higher degree; the first block
    of 200 channels), and nothing else moves."""
    if when == "small":
        cfg = IoTConfig.preset("small")
        n, slot = FleetLayout(cfg).n_channels, cfg.anomalies.slot_readings
        ids = spark.range(200 * slot).selectExpr(f"(id div 200) * {n} + id % 200 AS id")
    else:
        cfg = tiny if when == "tiny" else tiny.replace(
            n_locations=50, start=datetime(2024, 3, 9, tzinfo=timezone.utc),
            end=datetime(2024, 3, 11, tzinfo=timezone.utc))
        ids = spark.range(FleetLayout(cfg).reading_rows)
    out = {}
    for exact in (False, True):
        defs, blocking = reading_defs(spark, cfg, exact_cycles=exact)
        out[exact] = replay(ids, defs, keep=("k", "epoch_s", "profile"), blocking=blocking).cache()
    fit, exact = out[False], out[True]
    assert fit.count() == exact.count() > 0
    if when == "dst":  # rows after their block's offset change exist, so the correction is tested
        assert fit.where("epoch_s >= k.offset_change").count() > 0
    others = [c for c in fit.columns if c not in ("metric_value", "k")]
    assert_df_equality(fit.select(others), exact.select(others), ignore_row_order=True)
    profiles, _ = profile_parameters(cfg)
    # the cycles' amplitudes: the wander's, the weather's daily swing (at most 1.45 times 5 C
    # times 1.6 in the driest city) and the 0.6 hPa tide
    amplitude = F.element_at(F.array(*[F.lit(p.wander + 12 * p.outdoor_temp + 0.6 * p.outdoor_pressure)
                                       for p in profiles]), F.col("profile") + 1)
    # (a value in the wrong unit: up to a thousand times the true one)
    factor = (F.when(F.col("quality_issue") == "out_of_range", cfg.quality.out_of_range_factor)
              .when(F.col("quality_issue") == "unit_mixup", 1000.0).otherwise(1.0))
    joined = fit.alias("f").join(exact.alias("e"), "id").select(
        "f.profile", "f.quality_issue", (F.col("f.metric_value") - F.col("e.metric_value")).alias("diff"),
        F.col("f.metric_value").isNull().alias("f_null"), F.col("e.metric_value").isNull().alias("e_null"))
    assert joined.where("f_null <> e_null").count() == 0
    too_far = joined.where(F.abs("diff") > amplitude * factor * CYCLES_TOLERANCE + 1e-9)
    assert too_far.count() == 0, show(too_far)
    # the polynomial is in use: values differ somewhere, though little
    assert joined.where(F.abs("diff") > 1e-12).count() > 0
    assert len(profiles) == len(PROFILES)


def test_meters_ramp_up_in_the_morning(all_tables):
    """Weekday load by local hour: the morning's hours lie between the night's and the day's
    level (a ramp, not a step). Every meter: one in maintenance has no values to average."""
    _, _, local = all_tables
    # each meter's own weekday means by local hour: meters differ in size, and one the registry has
    # away for a while misses some hours
    by_hour = (local.where("device_type = 'Smart Meter' and not weekend and local_hour in (3, 7, 10)")
               .groupBy("device_id").pivot("local_hour", [3, 7, 10]).agg(F.avg("metric_value")).dropna())
    ramps = sorted((r["7"] - r["3"]) / (r["10"] - r["3"]) for r in by_hour.collect())
    assert len(ramps) >= 3
    assert 0.2 < ramps[len(ramps) // 2] < 0.8, ramps


def test_a_column_added_to_the_spec_reads_its_columns(spark, tiny):
    """The README's extension, without ``baseColumn``: dbldatagen orders it after the columns its
    SQL reads (the spec's own columns skip that parsing: they name what they read)."""
    spec = readings_spec(spark, tiny).withColumn("value_f", "double", expr="metric_value * 1.8D + 32D")
    rows = (spec.build().where("metric_name = 'temperature' AND metric_value IS NOT NULL")
            .select("metric_value", "value_f").limit(50).collect())
    assert len(rows) == 50
    assert all(abs(r.value_f - (r.metric_value * 1.8 + 32)) < 1e-9 for r in rows)
