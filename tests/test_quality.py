"""Data-quality problems of ``sensor_readings``, each labeled in ``quality_issue`` (SPEC section 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
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
    both = (dirty.dropDuplicates(["reading_id"]).alias("d").join(truth.alias("t"), "reading_id")
            .join(ranges, F.col("d.metric_name") == ranges.metric_name)
            .select("reading_id", "d.quality_issue", "d.device_status", "low", "high",
                    F.col("d.metric_value").alias("value"), F.col("t.metric_value").alias("truth"),
                    (F.unix_micros("d.ingest_timestamp") - F.unix_micros("d.timestamp")).alias("delay_us"))
            .cache())
    return config, dirty, truth, both


def test_readings_without_a_problem_are_the_true_readings(twins):
    _, dirty, truth, _ = twins
    unlabeled = dirty.where("quality_issue is null").drop("quality_issue")
    differ = unlabeled.exceptAll(truth.drop("quality_issue"))
    assert differ.count() == 0, show(differ)


def test_each_problem_is_what_its_label_says(twins):
    config, _, _, both = twins
    factor = config.quality.out_of_range_factor
    lo, hi = config.quality.late_seconds
    checks = {
        "null_value": "value is null and truth is not null and device_status = 'Online'",
        "out_of_range": f"value = greatest(truth * {factor}D, high * 2D) and (value < low or value > high)",
        "late_arrival": f"delay_us between {lo * 1e6} and {hi * 1e6} and value <=> truth",
        "duplicate": "value <=> truth and delay_us < 3200000",
    }
    for issue, holds in checks.items():
        wrong = both.where(F.col("quality_issue") == issue).where(f"not ({holds})")
        assert wrong.count() == 0, issue + show(wrong)
    on_time = both.where("quality_issue is null or quality_issue != 'late_arrival'")
    assert on_time.where("delay_us < 200000 or delay_us > 3000000").count() == 0, "most arrive within seconds"
    outside = both.where("quality_issue is null and (value < low or value > high)")
    assert outside.count() == 0, show(outside)


def test_duplicates_are_exact_copies_with_the_same_reading_id(twins):
    _, dirty, _, _ = twins
    copies = dirty.groupBy(*dirty.columns).count()
    wrong = copies.where("(quality_issue = 'duplicate') != (count = 2) or count > 2")
    assert wrong.count() == 0, show(wrong)
    per_id = dirty.groupBy("reading_id").agg(F.countDistinct(*[c for c in dirty.columns]).alias("versions"))
    assert per_id.where("versions > 1").count() == 0, "a copy differs from its original"


def test_late_readings_arrive_out_of_order(twins):
    config, dirty, _, _ = twins
    # later than the next reading of the same device and metric: overtaken by it
    last_tick = config.start + (config.reading_ticks - 1) * timedelta(seconds=config.reading_cadence_seconds)
    very_late = dirty.where(f"quality_issue = 'late_arrival' and ingest_timestamp > timestamp + "
                            f"interval {config.reading_cadence_seconds + 4} seconds "
                            f"and timestamp < '{last_tick.isoformat()}'").alias("l")
    overtaken = very_late.join(dirty.alias("n"), (F.col("n.device_id") == F.col("l.device_id"))
                               & (F.col("n.timestamp") > F.col("l.timestamp"))
                               & (F.col("n.ingest_timestamp") < F.col("l.ingest_timestamp")), "left_semi")
    late = dirty.where("quality_issue = 'late_arrival'").count()
    # all but the few whose later readings are late as well
    assert very_late.count() >= overtaken.count() > 0.99 * very_late.count()
    assert very_late.count() > late / 2


def test_problem_rates_follow_the_config(twins):
    config, _, _, both = twins
    total = both.count()
    shares = {r["quality_issue"]: r["count"] / total for r in both.groupBy("quality_issue").count().collect()}
    for issue in ("null_value", "duplicate", "out_of_range", "late_arrival"):
        rate = config.quality.rate(issue)
        # null and out-of-range spare readings without a value (maintenance): a little under the rate
        assert 0.85 * rate < shares[issue] < 1.1 * rate, (issue, shares[issue], rate)


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
