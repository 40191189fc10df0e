"""``plant_sensors`` follows seed 000 rule by rule (SPEC section 4)."""

from __future__ import annotations

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen.tables.plant import PlantLayout, plant_spec

from .conftest import show


def seed_device_id(index: int) -> str:
    """The seed's generate_device_id, verbatim."""
    letters = index // (16**4) % (26**3)
    letter_part = "".join(chr(65 + (letters // (26**i) % 26)) for i in range(3)[::-1])
    hex_part = format(index % (16**4), "04x").upper()
    return f"{letter_part}{hex_part}"


@pytest.fixture(scope="module")
def plant(spark, tiny):
    df = plant_spec(spark, tiny).build().cache()
    by_sensor = Window.partitionBy("address").orderBy("timestamp")
    events = (df.withColumn("gap", F.unix_micros("timestamp") - F.lag(F.unix_micros("timestamp")).over(by_sensor))
              .withColumn("previous_status", F.lag("status").over(by_sensor))
              .withColumn("step", F.col("value") - F.lag("value").over(by_sensor))).cache()
    yield df, events
    df.unpersist()  # later tests build the same plan and must not read the cache
    events.unpersist()


def test_sensor_ids_are_the_seeds(plant, tiny):
    df, _ = plant
    n = tiny.plant.n_sensors
    found = {r[0] for r in df.select("address").distinct().collect()}
    assert found == {seed_device_id(i) for i in range(n)}
    assert df.where(~F.col("address").rlike("^[A-Z]{3}[0-9A-F]{4}$")).count() == 0
    assert seed_device_id(65536 + 255) == "AAB00FF"  # the letters count up past 16^4 sensors


def test_frequency_tiers_and_total_rate(plant, tiny):
    """20/30/50% of sensors send every 1, 10 and 100 base intervals; together rate_per_second."""
    _, events = plant
    regular = events.where("previous_status = 'active' and status != 'starting'")
    interval = regular.groupBy("address").agg(F.expr("percentile_approx(gap, 0.5)").alias("us")).collect()
    base_us = 1e6 / tiny.plant.tier_rates()[0]
    tiers = {"high": 0, "medium": 0, "low": 0}
    total_rate = 0.0
    for r in interval:
        ratio = r["us"] / base_us
        tier = min((abs(ratio - 1), "high"), (abs(ratio - 10), "medium"), (abs(ratio - 100), "low"))[1]
        assert abs(ratio - {"high": 1, "medium": 10, "low": 100}[tier]) < 0.01, (r, ratio)
        tiers[tier] += 1
        total_rate += 1e6 / r["us"]
    n = tiny.plant.n_sensors
    # low sensors send 2 or 3 events in 10 minutes: those with one gap at least
    assert tiers["high"] == int(0.2 * n) and tiers["medium"] == int(0.3 * n)
    assert tiers["low"] >= 0.9 * (n - int(0.2 * n) - int(0.3 * n))
    missing_low = n - sum(tiers.values())
    total_rate += missing_low * tiny.plant.tier_rates()[2]
    assert abs(total_rate - tiny.plant.rate_per_second) < 0.01 * tiny.plant.rate_per_second


def test_numeric_and_text_sensors(plant, tiny):
    df, _ = plant
    kinds = df.groupBy("address").agg(F.count("value").alias("values"), F.count("text").alias("texts"),
                                      F.count(F.lit(1)).alias("n"))
    mixed = kinds.where("not ((values = n and texts = 0) or (texts = n and values = 0))")
    assert mixed.count() == 0, show(mixed)
    assert kinds.where("values > 0").count() == int(0.8 * tiny.plant.n_sensors)
    messages = {r[0] for r in df.where("text is not null").select("text").distinct().collect()}
    assert messages == {f"message{i:03d}" for i in range(1, 101)}
    systems = {r[0] for r in df.select("system").distinct().collect()}
    assert systems == {f"system{i:03d}" for i in range(20)}


def test_numeric_values_change_slowly_with_occasional_jumps(plant):
    _, events = plant
    steps = events.where("step is not null and status = 'active' and previous_status = 'active'")
    n = steps.count()
    small = steps.where("abs(step) <= 2").count() / n
    jumps = steps.where("abs(step) > 4").count() / n
    assert small > 0.97, small
    assert 0.003 < jumps < 0.02, jumps  # about 1% of events jump (some jumps are small)
    assert steps.agg(F.max(F.abs("step"))).first()[0] <= 22


def test_downtime_stops_then_silent_then_starts(plant, tiny):
    _, events = plant
    total = events.count()
    stopping = events.where("status = 'stopping'").count()
    p = tiny.plant.downtime_probability
    assert abs(stopping / total - p) < 4 * (p / total) ** 0.5, (stopping, total)
    starting = events.where("status = 'starting'")
    wrong = starting.where(f"previous_status != 'stopping' or gap < {tiny.plant.downtime_seconds * 1e6}")
    assert starting.count() > 0 and wrong.count() == 0, show(wrong)
    after_stop = events.where("previous_status = 'stopping'")
    assert after_stop.where("status != 'starting'").count() == 0, "the event after a downtime says starting"
    # a stopped sensor stays silent for the downtime, but no longer than one interval more
    by_rate = after_stop.join(events.where("previous_status = 'active' and status = 'active'")
                              .groupBy("address").agg(F.min("gap").alias("interval")), "address")
    late = by_rate.where(f"gap >= {tiny.plant.downtime_seconds * 1e6} + interval + 1000")
    assert late.count() == 0, show(late)


def test_events_lie_in_the_configured_minutes_rounded_up_to_whole_periods(plant, tiny):
    df, _ = plant
    layout = PlantLayout(tiny)
    lo, hi = df.agg(F.min("timestamp"), F.max("timestamp")).first()
    assert lo >= tiny.start.replace(tzinfo=None)
    covered = layout.periods * layout.period_s
    assert tiny.plant.minutes * 60 <= covered < tiny.plant.minutes * 60 + layout.period_s
    assert covered - layout.period_s < (hi - tiny.start.replace(tzinfo=None)).total_seconds() < covered
    assert df.select("timestamp", "address").distinct().count() == df.count()  # the key
