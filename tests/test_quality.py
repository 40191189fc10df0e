"""Data-quality problems of ``sensor_readings``, each labeled in ``quality_issue`` (SPEC section 3)."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen import readings_spec
from dbx_iot_gen.catalog import METRICS
from dbx_iot_gen.config import ANOMALY_TYPES

from .conftest import clean, show


@pytest.fixture(scope="module")
def twins(spark, tiny):
    """The same readings with data-quality problems and without (anomalies off in both)."""
    config = tiny.replace(n_devices=400, end="2024-03-05T00:00:00",
                          anomalies={f"{k}_rate": 0.0 for k in ANOMALY_TYPES})
    dirty = readings_spec(spark, config).build().cache()
    truth = readings_spec(spark, clean(config)).build().cache()
    ranges = spark.createDataFrame([(m.name, m.low, m.high) for m in METRICS.values()],
                                   "metric_name string, low double, high double")
    # each reading once, its first copy (a retransmission arrives later)
    first = dirty.withColumn("first_ingest", F.min("ingest_timestamp").over(Window.partitionBy("reading_id"))) \
        .where("ingest_timestamp = first_ingest").drop("first_ingest")
    both = (first.alias("d").join(truth.alias("t"), "reading_id")
            .join(ranges, F.col("d.metric_name") == ranges.metric_name)
            .select("reading_id", "d.quality_issue", "d.device_status", "low", "high",
                    F.col("d.metric_value").alias("value"), F.col("t.metric_value").alias("truth"),
                    "d.device_id", "d.metric_name", "d.timestamp", "d.ingest_timestamp",
                    F.col("t.timestamp").alias("true_ts"),
                    (F.unix_micros("d.ingest_timestamp") - F.unix_micros("t.timestamp")).alias("delay_us"))
            .cache())
    return config, dirty, truth, both


def test_readings_without_a_problem_are_the_true_readings(twins):
    _, dirty, truth, _ = twins
    unlabeled = dirty.where("quality_issue is null").drop("quality_issue")
    differ = unlabeled.exceptAll(truth.drop("quality_issue"))
    assert differ.count() == 0, show(differ)


# what a sensor sends when it cannot measure: a 1-Wire thermometer 85.0 (power lost before a
# conversion) or -127.0 (bus error), others a logger's -999 or a failed register read's 65535
SENTINELS = {"temperature": (85.0, -127.0, -999.0, 65535.0), "humidity": (-999.0, 65535.0),
             "pressure": (-999.0, 65535.0), "vibration": (-999.0, 65535.0), "power": (-999.0, 65535.0)}
# a value in the wrong unit: Fahrenheit, a fraction, Pa, in/s, W
WRONG_UNIT = {"temperature": (1.8, 32.0), "humidity": (0.01, 0.0), "pressure": (100.0, 0.0),
              "vibration": (1 / 25.4, 0.0), "power": (1000.0, 0.0)}


def _by_metric(table, column="metric_name"):
    """A SQL CASE over the metrics: ``table[metric]`` formatted into SQL."""
    return "CASE " + " ".join(f"WHEN {column} = '{m}' THEN {v}" for m, v in table.items()) + " END"


def test_each_problem_is_what_its_label_says(twins):
    config, _, _, both = twins
    factor = config.quality.out_of_range_factor
    _, longest = config.quality.late_seconds
    sentinel = _by_metric({m: f"value in ({', '.join(map(str, v))})" for m, v in SENTINELS.items()})
    converted = _by_metric({m: f"truth * {a} + {b}" for m, (a, b) in WRONG_UNIT.items()})
    checks = {
        "null_value": "value is null and truth is not null and device_status = 'Online'",
        "out_of_range": f"value = greatest(truth * {factor}D, high * 2D) and (value < low or value > high)",
        "sentinel_value": f"truth is not null and device_status = 'Online' and {sentinel}",
        "unit_mixup": f"truth is not null and device_status = 'Online' and abs(value - ({converted}))"
                      " <= 1e-9 * abs(value) + 1e-12 and value != truth",
        # a reset clock: 1970 or a firmware build date (up to two years before the data), the
        # value and the arrival true
        "clock_reset": f"value <=> truth and timestamp < timestamp'{config.start:%Y-%m-%d}'"
                       f" - interval 30 days and (year(timestamp) = 1970 or timestamp >= timestamp"
                       f"'{config.start:%Y-%m-%d}' - interval 731 days) and delay_us between 200000 and 3000000",
        # buffered through an outage (at most the longest), sent 5 s after the link is back, the
        # backlog a millisecond a second apart
        "late_arrival": f"delay_us between 5000000 and {longest * 1.001e6 + 5e6} and value <=> truth",
        "duplicate": "value <=> truth and delay_us between 200000 and 3000000",
    }
    for issue, holds in checks.items():
        wrong = both.where(F.col("quality_issue") == issue).where(f"not ({holds})")
        assert wrong.count() == 0, issue + show(wrong)
    on_time = both.where("quality_issue is null or quality_issue != 'late_arrival'")
    assert on_time.where("delay_us < 200000 or delay_us > 3000000").count() == 0, "most arrive within seconds"
    outside = both.where("quality_issue is null and (value < low or value > high)")
    assert outside.count() == 0, show(outside)


def test_a_duplicate_is_the_same_reading_received_again_later(twins):
    config, dirty, _, _ = twins
    payload = [c for c in dirty.columns if c != "ingest_timestamp"]
    copies = dirty.groupBy(*payload).agg(F.count("*").alias("count"),
                                         F.min(F.unix_micros("ingest_timestamp")).alias("first"),
                                         F.max(F.unix_micros("ingest_timestamp")).alias("last"))
    wrong = copies.where("(quality_issue = 'duplicate') != (count = 2) or count > 2")
    assert wrong.count() == 0, show(wrong)
    per_id = dirty.groupBy("reading_id").agg(F.countDistinct(F.xxhash64(*payload)).alias("versions"))
    assert per_id.where("versions > 1").count() == 0, "a copy differs from its original"
    # the copy arrives seconds to minutes after the original (log-uniform)
    lo, hi = config.quality.retransmit_seconds
    gaps = copies.where("count = 2").selectExpr("(last - first) / 1e6 AS gap").cache()
    assert gaps.where(f"gap < {lo} - 1e-3 or gap > {hi} + 1e-3").count() == 0, show(gaps.orderBy("gap"))
    median = gaps.agg(F.percentile_approx("gap", 0.5)).first()[0]
    assert math.sqrt(lo * hi) / 2 < median < 2 * math.sqrt(lo * hi), median


def test_late_readings_come_in_bursts_at_reconnect(twins):
    """A device loses its link for minutes to hours; what it measured meanwhile arrives together,
    in order, when it is back."""
    _, _, _, both = twins
    channel = Window.partitionBy("device_id", "metric_name").orderBy("timestamp")
    flagged = (both.select("device_id", "metric_name", "timestamp", "ingest_timestamp",
                           F.coalesce(F.col("quality_issue") == "late_arrival", F.lit(False)).alias("late"))
               .withColumn("prev_late", F.lag("late").over(channel))
               .withColumn("prev_ingest", F.lag("ingest_timestamp").over(channel))
               .where("prev_late is not null").cache())
    base, after_late = flagged.agg(F.avg(F.col("late").cast("double")),
                                   F.avg(F.when(F.col("prev_late"), F.col("late").cast("double")))).first()
    # independent lateness would give after_late = base
    assert after_late > 0.8 and after_late > 30 * base, (base, after_late)
    runs = (flagged.withColumn("run", F.sum(F.when(F.col("late") & ~F.col("prev_late"), 1).otherwise(0))
                               .over(channel))
            .where("late")
            .groupBy("device_id", "metric_name", "run")
            .agg(F.min(F.unix_micros("timestamp")).alias("t_first"), F.max(F.unix_micros("timestamp")).alias("t_last"),
                 F.min(F.unix_micros("ingest_timestamp")).alias("in_first"),
                 F.max(F.unix_micros("ingest_timestamp")).alias("in_last"), F.count("*").alias("n"))
            .cache())
    # the backlog goes out after its last reading, all within a millisecond a second of backlog
    apart = runs.where("in_first < t_last + 5000000 or in_last - in_first > (t_last - t_first) / 1000 + 1000")
    assert runs.count() > 20 and apart.count() == 0, show(apart)
    # in the order it was measured
    disorder = flagged.where("late and prev_late and ingest_timestamp <= prev_ingest")
    assert disorder.count() == 0, show(disorder)
    # outages of minutes to hours
    spans = runs.selectExpr("(t_last - t_first) / 60e6 AS minutes")
    assert spans.where("minutes >= 60").count() > 0 and spans.agg(F.percentile_approx("minutes", 0.5)).first()[0] < 180
    # a device loses its link, not a sensor: its other metric (an HVAC controller's) at the same
    # tick is late as well, but for readings at an outage's edge (their jitter differs)
    pairs = (flagged.where("late").alias("a").join(
        flagged.alias("b"), (F.col("a.device_id") == F.col("b.device_id"))
        & (F.col("a.metric_name") != F.col("b.metric_name"))
        & (F.abs(F.unix_seconds("a.timestamp") - F.unix_seconds("b.timestamp")) < 60)))
    together = pairs.agg(F.avg(F.col("b.late").cast("double")), F.count("*")).first()
    assert together[1] > 20 and together[0] > 0.9, together


def test_a_reset_clock_runs_on_from_1970_or_the_firmware_date_until_it_syncs(twins):
    """A device that rebooted without its clock stamps its readings (all its metrics) from its
    reset: a run of consecutive readings whose timestamps advance as the true ones do."""
    config, _, _, both = twins
    reset = (both.where("quality_issue = 'clock_reset'")
             .withColumn("shift_s", (F.unix_micros("true_ts") - F.unix_micros("timestamp")) / 1e6).cache())
    jitter = config.reading_jitter_seconds
    # the clock runs as true time does: one shift from the true time a run, to the microsecond
    runs = (reset.groupBy("device_id", "shift_s")
            .agg(F.count("*").alias("n"), F.countDistinct("metric_name").alias("metrics"),
                 F.min("timestamp").alias("first_stamp"),
                 F.min(F.unix_seconds("true_ts")).alias("t0"), F.max(F.unix_seconds("true_ts")).alias("t1"))
            .cache())
    per_device = runs.groupBy("device_id").count().agg(F.avg("count")).first()[0]
    assert runs.count() >= 50 and per_device < 1.5, (runs.count(), per_device)
    # a run is consecutive readings, a quarter of a slot at most
    slot = config.anomalies.slot_readings
    cadence = config.reading_cadence_seconds
    assert runs.where(f"t1 - t0 > {slot // 4 * cadence + 2 * jitter}").count() == 0, show(runs)
    # the clock restarted seconds before the run's first reading: its first stamp is 8-60 s past
    # a whole second of 1970 or of the build date (a build time of the day)
    first = runs.selectExpr("year(first_stamp) = 1970 AS epoch", "unix_seconds(first_stamp) AS s")
    epoch = first.where("epoch").collect()
    assert epoch and all(8 <= r["s"] < 60 + jitter + 1 for r in epoch), epoch
    assert first.where("not epoch").count() > 0, "some reset to their firmware's build date"
    # every metric of a device that has two (an HVAC controller's) is reset together
    twice = both.groupBy("device_id").agg(F.countDistinct("metric_name").alias("m")).where("m = 2")
    # (but a metric in an anomaly episode meanwhile, whose labels tell its readings' true times)
    pairs = runs.join(twice, "device_id")
    assert pairs.count() > 0 and pairs.where("metrics != 2").count() <= 0.1 * pairs.count(), show(pairs)


def test_a_mixed_up_unit_lasts_a_run_of_readings(twins):
    """A sensor replaced or set up in the wrong unit reports in it until it is fixed: runs of a
    channel's readings, not single readings."""
    config, _, _, both = twins
    channel = Window.partitionBy("device_id", "metric_name").orderBy("true_ts")
    flagged = (both.select("device_id", "metric_name", "true_ts",
                           F.coalesce(F.col("quality_issue") == "unit_mixup", F.lit(False)).alias("mixed"))
               .withColumn("prev", F.lag("mixed").over(channel)).where("prev is not null"))
    base, after = flagged.agg(F.avg(F.col("mixed").cast("double")),
                              F.avg(F.when(F.col("prev"), F.col("mixed").cast("double")))).first()
    assert base > 0 and after > 0.8, (base, after)
    slot = config.anomalies.slot_readings
    runs = (flagged.withColumn("run", F.sum(F.when(F.col("mixed") & ~F.col("prev"), 1).otherwise(0)).over(channel))
            .where("mixed").groupBy("device_id", "metric_name", "run").count())
    assert runs.agg(F.max("count")).first()[0] <= slot
    assert runs.agg(F.percentile_approx("count", 0.5)).first()[0] >= slot // 8, show(runs)


def test_problem_rates_follow_the_config(twins):
    config, _, _, both = twins
    total = both.count()
    shares = {r["quality_issue"]: r["count"] / total for r in both.groupBy("quality_issue").count().collect()}
    # value problems hit readings with a value (not in maintenance: 9 % of them here)
    online = both.where("device_status = 'Online'")
    n_online = online.count()
    valued = {r["quality_issue"]: r["count"] / n_online for r in online.groupBy("quality_issue").count().collect()}
    for issue in ("null_value", "duplicate", "out_of_range", "sentinel_value"):
        rate = config.quality.rate(issue)
        # all spare the late readings and the runs of mixed-up units and reset clocks (3 % here)
        share = shares[issue] if issue == "duplicate" else valued[issue]
        assert 0.85 * rate < share < 1.1 * rate, (issue, share, rate)
    rate = config.quality.rate("late_arrival")
    assert 0.5 * rate < shares["late_arrival"] < 1.5 * rate, (shares["late_arrival"], rate)
    # runs of readings: unit mix-ups about 70 here, clock resets about 135 (of devices)
    for issue in ("unit_mixup", "clock_reset"):
        rate = config.quality.rate(issue)
        assert 0.5 * rate < shares[issue] < 1.5 * rate, (issue, shares[issue], rate)


def test_clean_switch_turns_every_problem_off(spark, tiny):
    df = readings_spec(spark, tiny.replace(quality={"clean": True})).build()
    assert df.where("quality_issue is not null").count() == 0
    assert df.count() == df.select("reading_id").distinct().count()
    assert df.where("ingest_timestamp > timestamp + interval 4 seconds").count() == 0


def test_quality_score_is_lower_for_faulty_readings(demo):
    """A reading with an anomaly or a data-quality problem scores well below a clean one (the
    penalties are 3 to 25 points; the device's age, link and battery count against both)."""
    readings = demo.delta("sensor_readings")
    faulty = "is_anomaly or quality_issue is not null"
    clean_mean = readings.where(f"not ({faulty})").agg(F.avg("quality_score")).first()[0]
    by_kind = {r[0]: r[1] for r in readings.where(faulty)
               .groupBy(F.coalesce("anomaly_type", "quality_issue")).agg(F.avg("quality_score")).collect()}
    assert all(clean_mean - mean >= 2 for mean in by_kind.values()), (clean_mean, by_kind)
    faulty_mean = readings.where(faulty).agg(F.avg("quality_score")).first()[0]
    assert clean_mean - faulty_mean >= 5, (clean_mean, faulty_mean)
    assert readings.where("quality_score < 0 or quality_score > 100").count() == 0


def test_outages_when_readings_are_hours_apart(spark, tiny):
    """Readings an hour apart (a block spans days: each reading finds its own outage): the late
    share still follows the config, and a late reading still waits for the reconnect."""
    config = tiny.replace(n_devices=300, reading_cadence_seconds=3600, end="2024-03-21T00:00:00",
                          anomalies={f"{k}_rate": 0.0 for k in ANOMALY_TYPES}, quality={"late_rate": 0.05})
    df = readings_spec(spark, config).build().dropDuplicates(["reading_id"]).selectExpr(
        "device_id", "metric_name", "timestamp", "quality_issue = 'late_arrival' AS late",
        "(unix_micros(ingest_timestamp) - unix_micros(timestamp)) / 1e6 AS delay").cache()
    share = df.where("late").count() / df.count()
    assert 0.025 < share < 0.075, share
    _, longest = config.quality.late_seconds
    wrong = df.where(f"late and (delay < 5 or delay > {longest * 1.001 + 5})")
    assert wrong.count() == 0, show(wrong)
    channel = Window.partitionBy("device_id", "metric_name").orderBy("timestamp")
    after_late = df.withColumn("prev", F.lag("late").over(channel)).where("prev").agg(
        F.avg(F.col("late").cast("double"))).first()[0]
    assert after_late > 5 * share, (after_late, share)
