"""Anomaly episodes in ``sensor_readings`` and their ground truth in ``anomaly_labels`` (SPEC 2, 3)."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen import anomaly_labels, readings_spec
from dbx_iot_gen.catalog import METRICS
from dbx_iot_gen.config import ANOMALY_TYPES
from dbx_iot_gen.tables.readings import reading_defs

from .conftest import clean, online_all_along, show

KEY = ["reading_id"]


@pytest.fixture(scope="module")
def tiny_tables(spark, tiny):
    readings = readings_spec(spark, tiny).build().dropDuplicates(KEY).cache()
    labels = anomaly_labels(spark, tiny).cache()
    return readings, labels


@pytest.fixture(scope="module")
def twins(spark, tiny):
    """The same readings with anomalies and without (quality problems off in both): what an
    anomaly changed is exactly the difference."""
    quiet = tiny.replace(n_devices=400, end="2024-03-05T00:00:00", quality={"clean": True})
    faulty = readings_spec(spark, quiet).build()
    true = readings_spec(spark, clean(quiet)).build()
    both = (faulty.alias("f").join(true.alias("t"), KEY)
            .select("reading_id", "f.device_id", "f.metric_name", "f.timestamp", "f.anomaly_type", "f.is_anomaly",
                    "f.device_status", F.col("f.metric_value").alias("value"), F.col("t.metric_value").alias("truth"))
            .cache())
    return quiet, both, anomaly_labels(spark, quiet).cache()


def test_every_anomalous_reading_lies_in_exactly_one_label(tiny_tables):
    readings, labels = tiny_tables
    anomalous = readings.where("is_anomaly").alias("r")
    matches = anomalous.join(
        labels.alias("l"),
        (F.col("r.device_id") == F.col("l.device_id")) & (F.col("r.metric_name") == F.col("l.metric_name"))
        & F.col("r.timestamp").between(F.col("l.start_ts"), F.col("l.end_ts")), "left")
    per_reading = matches.groupBy("r.reading_id").agg(
        F.count("l.anomaly_id").alias("labels"),
        F.sum(F.when(F.col("l.anomaly_type") == F.col("r.anomaly_type"), 1).otherwise(0)).alias("same_type"))
    wrong = per_reading.where("labels != 1 or same_type != 1")
    assert anomalous.count() > 0 and wrong.count() == 0, show(wrong)


def test_every_label_covers_its_readings_and_nothing_else(tiny_tables):
    readings, labels = tiny_tables
    covered = (labels.alias("l").join(
        readings.alias("r"),
        (F.col("r.device_id") == F.col("l.device_id")) & (F.col("r.metric_name") == F.col("l.metric_name"))
        & F.col("r.timestamp").between(F.col("l.start_ts"), F.col("l.end_ts")), "left")
        .groupBy("l.anomaly_id", "l.readings")
        .agg(F.sum(F.when(F.col("r.is_anomaly"), 1).otherwise(0)).alias("anomalous"),
             F.sum(F.when(~F.col("r.is_anomaly") & (F.col("r.device_status") != "Maintenance"), 1)
                   .otherwise(0)).alias("normal")))
    wrong = covered.where("anomalous != readings or readings < 1 or normal > 0")
    assert labels.count() > 0 and wrong.count() == 0, show(wrong)
    assert labels.select("anomaly_id").distinct().count() == labels.count()


def test_tiny_data_holds_every_kind_of_anomaly(tiny_tables):
    readings, labels = tiny_tables
    kinds = {r[0] for r in labels.select("anomaly_type").distinct().collect()}
    assert kinds == set(ANOMALY_TYPES)
    in_readings = {r[0] for r in readings.where("is_anomaly").select("anomaly_type").distinct().collect()}
    assert in_readings == set(ANOMALY_TYPES)
    assert readings.where("is_anomaly != (anomaly_type is not null)").count() == 0


def test_anomaly_rates_follow_the_config(twins):
    config, both, labels = twins
    # devices the registry has Online all along: the others have no anomaly while away
    steady = online_all_along(both.sparkSession, config)
    both, labels = both.join(steady, "device_id"), labels.join(steady, "device_id")
    total = both.count()
    shares = {r["anomaly_type"]: r["count"] / total
              for r in both.where("is_anomaly").groupBy("anomaly_type").count().collect()}
    episodes = {r["anomaly_type"]: r for r in labels.groupBy("anomaly_type").agg(
        F.count("*").alias("n"), F.min("readings").alias("shortest"), F.max("readings").alias("longest")).collect()}
    # every tick of each of their channels (device and metric)
    channel_ticks = both.select("device_id", "metric_name").distinct().count() * config.reading_ticks
    for kind in ANOMALY_TYPES:
        # the config asks for a share `rate` of readings in episodes of `low` to `high` readings
        # (uniform): so about channel_ticks * rate / mean length episodes, a binomial count:
        # within 4 standard deviations
        rate = getattr(config.anomalies, f"{kind}_rate")
        low, high = getattr(config.anomalies, f"{kind}_readings")
        # lengths uniform from low to high; a drift's log-uniform: n with chance ln((n+1)/n) / ln((high+1)/low)
        mean = ((low + high) / 2 if kind != "drift" else
                sum(n * math.log((n + 1) / n) for n in range(low, high + 1)) / math.log((high + 1) / low))
        expected = channel_ticks * rate / mean
        assert abs(episodes[kind]["n"] - expected) < 4 * math.sqrt(expected) + 2, (kind, episodes[kind], expected)
        assert episodes[kind]["longest"] <= high, (kind, episodes[kind])
        # a share of readings moves with the lengths of a few dozen episodes: a loose bound
        assert 0.5 * rate < shares[kind] < 1.5 * rate, (kind, shares[kind], rate)


def test_anomalies_change_only_the_labeled_readings(twins):
    _, both, _ = twins
    changed = both.where("not is_anomaly and not (value <=> truth)")
    assert changed.count() == 0, show(changed)


def test_each_kind_of_fault_looks_like_its_name(twins):
    config, both, labels = twins
    joined = (both.where("is_anomaly").alias("r").join(
        labels.alias("l"),
        (F.col("r.device_id") == F.col("l.device_id")) & (F.col("r.metric_name") == F.col("l.metric_name"))
        & F.col("r.timestamp").between(F.col("l.start_ts"), F.col("l.end_ts")))
        .select("r.*", "l.magnitude", "l.start_ts", "l.end_ts").cache())
    # a dropout: no value, and the device reports Offline
    bad = joined.where("anomaly_type = 'dropout' and (value is not null or device_status != 'Offline')")
    assert bad.count() == 0, show(bad)
    # a stuck sensor repeats one value, the label's magnitude
    bad = joined.where("anomaly_type = 'stuck' and not (value = magnitude)")
    assert bad.count() == 0, show(bad)
    # a spike moves the true value by the magnitude, up or down (unless the sensor saturates at the
    # edge of its range: humidity in saturated air is at 100 % already, power does not go below 0)
    ranges = joined.sparkSession.createDataFrame([(m.name, m.low, m.high) for m in METRICS.values()],
                                                 "metric_name string, low double, high double")
    spikes = joined.where("anomaly_type = 'spike'").join(ranges, "metric_name").select(
        (F.col("value") - F.col("truth")).alias("lift"), "magnitude", "value", "metric_name", "low", "high")
    bad = spikes.where("not (abs(lift - magnitude) <= 1e-6 or (magnitude > 0 and value = high and lift >= 0)"
                       " or (magnitude < 0 and value = low and lift <= 0))")
    assert bad.count() == 0, show(bad)
    assert spikes.where("abs(lift - magnitude) <= 1e-6").count() > 0.8 * spikes.count()
    # a drift ramps away from the truth, up or down, and reaches the magnitude at its last reading,
    # just before its fix (the label's end: 3/4 of a cadence after that reading's tick)
    drift = joined.where("anomaly_type = 'drift'").join(ranges, "metric_name").withColumn(
        "offset", F.col("value") - F.col("truth"))
    last = drift.where(f"timestamp > end_ts - interval {int(config.reading_cadence_seconds * 0.75) + 1} seconds"
                       " and timestamp < end_ts")  # (a drift still running at the data's end has no fix)
    bad = last.where("abs(offset - magnitude) > 1e-6 and value != low and value != high")
    assert last.count() > 10 and bad.count() == 0, show(bad)
    ramps = drift.where("value != low and value != high").groupBy("device_id", "metric_name", "start_ts").agg(
        F.corr(F.unix_micros("timestamp").cast("double"), F.col("offset") * F.signum("magnitude")).alias("r"),
        F.count("*").alias("n"), F.max(F.col("magnitude") < 0).alias("down"))
    flat = ramps.where("n >= 3 and r < 0.9")
    assert flat.count() == 0, show(flat)
    assert ramps.where("down").count() > 0 and ramps.where("not down").count() > 0


def test_a_stuck_sensor_repeats_its_last_good_value_to_the_digit(twins):
    config, both, _ = twins
    channel = Window.partitionBy("device_id", "metric_name").orderBy("timestamp")
    seq = both.select("*", F.lag("value").over(channel).alias("prev_value"),
                      F.lag("anomaly_type").over(channel).alias("prev_type"),
                      F.lag("timestamp").over(channel).alias("prev_ts"))
    firsts = seq.where("anomaly_type = 'stuck' and prev_type is null")
    # the reading just before the episode, present and good
    before = firsts.where(f"prev_value is not null and timestamp - prev_ts"
                          f" < interval {int(config.reading_cadence_seconds * 1.5)} seconds")
    differ = before.where("value != prev_value")
    assert before.count() >= 5 and differ.count() == 0, show(differ)
    # and it holds that value for the whole episode
    held = seq.where("anomaly_type = 'stuck' and prev_type = 'stuck' and value != prev_value")
    assert held.count() == 0, show(held)


def test_spikes_go_both_ways_by_metric(twins):
    _, _, labels = twins
    spikes = labels.where("anomaly_type = 'spike'")
    by_metric = {r[0]: (r[1], r[2]) for r in spikes.groupBy("metric_name").agg(
        F.count("*"), F.avg(F.when(F.col("magnitude") < 0, 1.0).otherwise(0.0))).collect()}
    assert set(by_metric) >= {"temperature", "power", "vibration"}, by_metric
    # a thermometer glitches low as often as not quite; a machine's vibration seldom reads low
    down = {metric: share for metric, (n, share) in by_metric.items() if n >= 30}
    assert all(0.03 <= share <= 0.7 for share in down.values()), by_metric
    assert down["temperature"] > 0.25 and down["temperature"] > down.get("vibration", 0) + 0.1, by_metric
    overall = spikes.agg(F.avg(F.when(F.col("magnitude") < 0, 1.0).otherwise(0.0))).first()[0]
    assert 0.1 <= overall <= 0.6, overall


def test_a_drift_lasts_hours_and_ends_at_its_fix(twins):
    _, both, labels = twins
    drifts = labels.where("anomaly_type = 'drift'").alias("l")
    hours = drifts.selectExpr("(unix_seconds(end_ts) - unix_seconds(start_ts)) / 3600 AS h")
    median = hours.agg(F.percentile_approx("h", 0.5)).first()[0]
    assert drifts.count() >= 10 and median >= 2, (drifts.count(), median)
    # the fix lands after the drift's last reading, before the next tick, and the channel's next
    # reading is true again
    config, cadence = twins[0], twins[0].reading_cadence_seconds
    same_channel = ((F.col("r.device_id") == F.col("l.device_id")) & (F.col("r.metric_name") == F.col("l.metric_name"))
                    & (F.col("r.timestamp") >= F.col("l.start_ts")))
    after = F.when(F.col("r.timestamp") > F.col("l.end_ts"), F.col("r.timestamp"))
    around = (drifts.join(both.alias("r"), same_channel)
              .groupBy("l.anomaly_id", "l.end_ts")
              .agg(F.max(F.when((F.col("r.timestamp") <= F.col("l.end_ts")) & (F.col("r.anomaly_type") == "drift"),
                                F.col("r.timestamp"))).alias("last_drift"),
                   # (the label covers nothing but its drift and maintenance: another test)
                   F.max(F.when(F.col("r.timestamp") <= F.col("l.end_ts"), F.col("r.timestamp"))).alias("last"),
                   F.min_by(F.struct("r.timestamp", "r.value", "r.truth", "r.anomaly_type"), after).alias("next"))
              .selectExpr("*", "unix_micros(end_ts) - unix_micros(last) AS gap_us"))
    fixed = around.where("end_ts > last_drift")
    wrong = fixed.where(f"gap_us <= 0 or gap_us >= {cadence * 1e6}"
                        f" or next.timestamp < end_ts + interval {cadence // 4} seconds"
                        " or (next.anomaly_type is null and not (next.value <=> next.truth))"
                        " or next.anomaly_type <=> 'drift' and next.timestamp < end_ts + interval 1 hours")
    assert fixed.count() >= 5 and wrong.count() == 0, show(wrong)
    # a drift without a fix is one still running when the data ends
    running = around.where(f"end_ts = last_drift and end_ts < timestamp'{config.end.isoformat()}'"
                           f" - interval {3 * cadence} seconds")
    assert running.count() <= 0.2 * around.count(), show(running)


def test_no_anomalies_when_rates_are_zero(spark, tiny_clean):
    assert readings_spec(spark, tiny_clean).build().where("is_anomaly or anomaly_type is not null").count() == 0
    assert anomaly_labels(spark, tiny_clean).count() == 0


def test_episode_state_is_native_sql(spark, tiny):
    """Every column of the readings (anomalies and quality problems included) is a SQL expression."""
    row_defs, blocking = reading_defs(spark, tiny)
    defs = [*blocking.defs, *row_defs]
    assert {"ep_kind", "anomaly", "issue", "copy", "k"} <= {d.name for d in defs}
    assert not any("udf" in d.expr.lower() or "rand(" in d.expr.lower() for d in defs)
