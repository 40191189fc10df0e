"""Realism of ``sensor_readings``, measured on built tables: sensors at one facility share its
weather (issue 16, item 1); building loads ramp and differ by building, machines cycle (item 2).

The fleet is the ``small`` preset's (5-minute cadence, the per-block polynomial of degree 7) on
few facilities, so that many sensors share one; the expectations are statistics computed here
with Spark's own functions, against thresholds taken from the issue.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.tables.devices import devices_spec
from dbx_iot_gen.tables.locations import locations_spec
from dbx_iot_gen.tables.readings import readings_spec


@pytest.fixture(scope="module")
def fleet(spark) -> DataFrame:
    """Four days of 240 devices at 6 facilities, clean readings with their device's facility."""
    base = IoTConfig.preset("small")
    cfg = base.replace(n_devices=240, n_locations=6, end=base.start + timedelta(days=4))
    readings = (readings_spec(spark, cfg).build()
                .where("quality_issue IS NULL AND NOT is_anomaly AND metric_value IS NOT NULL"))
    devices = devices_spec(spark, cfg).build().select("device_id", "location_id", "device_type")
    return readings.join(devices, "device_id").cache()


@pytest.fixture(scope="module")
def local_fleet(spark, fleet) -> DataFrame:
    """The fleet with each reading's local hour and weekday, by Spark's own zone rules."""
    base = IoTConfig.preset("small")
    cfg = base.replace(n_devices=240, n_locations=6, end=base.start + timedelta(days=4))
    zones = locations_spec(spark, cfg).build().select("location_id", "timezone")
    return (fleet.join(zones, "location_id")
            .withColumn("local_ts", F.from_utc_timestamp("timestamp", F.col("timezone")))
            .withColumn("local_hour", F.hour("local_ts"))
            .withColumn("weekday", ~F.dayofweek("local_ts").isin(1, 7)))


def hourly(fleet: DataFrame, device_type: str, metric: str) -> DataFrame:
    """Hourly means per device of one kind and metric."""
    return (fleet.where(F.col("device_type") == device_type).where(F.col("metric_name") == metric)
            .groupBy("location_id", "device_id", F.date_trunc("hour", "timestamp").alias("h"))
            .agg(F.avg("metric_value").alias("v")))


def pair_correlations(x: DataFrame, y: DataFrame | None = None) -> list[float]:
    """Correlation over the hours of every pair of devices at one facility (of x with x, or x with y)."""
    same = y is None
    a, b = x.alias("a"), (x if same else y).alias("b")
    cond = (F.col("a.location_id") == F.col("b.location_id")) & (F.col("a.h") == F.col("b.h"))
    if same:
        cond = cond & (F.col("a.device_id") < F.col("b.device_id"))
    pairs = (a.join(b, cond).groupBy("a.device_id", "b.device_id")
             .agg(F.corr("a.v", "b.v").alias("r"), F.count("*").alias("n")).where("n >= 48"))
    return [row.r for row in pairs.collect()]


def minus_daily_cycle(x: DataFrame) -> DataFrame:
    """Each device's hourly values less its mean at that hour of the day."""
    x = x.withColumn("hod", F.hour("h"))
    # (hours seen on at least three days: a device registered for a day has no residual)
    mean = x.groupBy("device_id", "hod").agg(F.avg("v").alias("m"), F.count("*").alias("days")).where("days >= 3")
    return x.join(mean, ["device_id", "hod"]).withColumn("v", F.col("v") - F.col("m"))


def test_barometers_at_one_facility_agree(fleet):
    r = pair_correlations(hourly(fleet, "Pressure Sensor", "pressure"))
    assert len(r) >= 5, r
    assert min(r) > 0.95, sorted(r)[:5]


def test_outdoor_thermometers_share_the_weather_beyond_the_daily_cycle(fleet):
    r = pair_correlations(minus_daily_cycle(hourly(fleet, "Temperature Sensor", "temperature")))
    assert len(r) >= 5, r
    assert min(r) > 0.6, sorted(r)[:5]


def test_temperature_steps_between_readings_are_small(fleet):
    w = Window.partitionBy("device_id").orderBy("timestamp")
    steps = (fleet.where("device_type = 'Temperature Sensor'")
             .withColumn("step", F.abs(F.col("metric_value") - F.lag("metric_value").over(w)))
             .where("step IS NOT NULL"))
    median, p99 = steps.agg(F.percentile("step", 0.5), F.percentile("step", 0.99)).first()
    assert median <= 0.2, median  # C in 5 minutes
    assert p99 < 1.0, p99


def test_humidity_stays_at_most_100_and_falls_as_the_air_warms(fleet):
    humidity = fleet.where("device_type = 'Humidity Sensor'")
    top, at_top = humidity.agg(F.max("metric_value"), F.avg((F.col("metric_value") >= 100).cast("int"))).first()
    assert top <= 100
    # saturated (fog, dew on humid nights, a sensor reading high) now and then, not pinned at the
    # bound (5.2 % of these winter readings)
    assert at_top < 0.08, at_top
    # against the facility's thermometers, hour by hour
    r = pair_correlations(hourly(fleet, "Humidity Sensor", "humidity"),
                          hourly(fleet, "Temperature Sensor", "temperature"))
    assert len(r) >= 5
    assert sorted(r)[len(r) // 2] < -0.3, sorted(r)


def test_pressure_moves_with_fronts_not_a_tide(fleet):
    """Pressure changes over days by several hPa, smoothly (no 5 hPa tide every few hours)."""
    p = hourly(fleet, "Pressure Sensor", "pressure")
    spread = p.groupBy("device_id").agg((F.max("v") - F.min("v")).alias("range"))
    ranges = [row.range for row in spread.collect()]
    assert sorted(ranges)[len(ranges) // 2] > 3, ranges  # hPa over four days
    assert max(ranges) < 60, ranges
    w = Window.partitionBy("device_id").orderBy("h")
    hour_steps = p.withColumn("step", F.abs(F.col("v") - F.lag("v").over(w))).agg(F.percentile("step", 0.99))
    assert hour_steps.first()[0] < 1.5  # hPa in an hour


def test_rooms_follow_their_setpoint_and_the_outdoors_leaks_in(fleet):
    room = hourly(fleet, "HVAC Controller", "temperature")
    low, high = room.agg(F.min("v"), F.max("v")).first()
    assert 15 < low and high < 27, (low, high)
    r = pair_correlations(minus_daily_cycle(room), minus_daily_cycle(hourly(fleet, "Temperature Sensor",
                                                                          "temperature")))
    assert len(r) >= 5
    assert sorted(r)[len(r) // 2] > 0.3, sorted(r)


def five_minute_steps(fleet: DataFrame, device_type: str, metric: str) -> DataFrame:
    """Each reading with the step from the device's previous reading of the metric."""
    w = Window.partitionBy("device_id").orderBy("timestamp")
    return (fleet.where(F.col("device_type") == device_type).where(F.col("metric_name") == metric)
            .withColumn("step", F.col("metric_value") - F.lag("metric_value").over(w)))


def test_meters_ramp_instead_of_stepping(fleet):
    """No square waves: a meter's largest 5-minute steps (99.9th percentile) are a small share of
    its range (a switch between two schedule levels was 85 % of it)."""
    per_meter = (five_minute_steps(fleet, "Smart Meter", "power").groupBy("device_id")
                 .agg(F.percentile(F.abs("step"), 0.999).alias("p999"),
                      (F.max("metric_value") - F.min("metric_value")).alias("range"))
                 .where("range > 0").select((F.col("p999") / F.col("range")).alias("share")))
    shares = sorted(row.share for row in per_meter.collect())
    assert len(shares) >= 10, shares
    # (a step between hourly values, not interpolated, would give about 0.3)
    assert shares[len(shares) // 2] < 0.15 and shares[-1] < 0.3, shares


def test_meters_at_one_facility_correlate_but_are_not_clones(fleet):
    r = pair_correlations(hourly(fleet, "Smart Meter", "power"))
    assert len(r) >= 10, r
    median = sorted(r)[len(r) // 2]
    assert 0.5 < median < 0.9, sorted(r)


def test_machines_run_whole_jobs_with_a_spin_up(local_fleet):
    """Vibration is a machine's: at rest or running (jobs of 20-90 minutes, mostly in business
    hours), and a reading that catches a start shows part of its 2-minute spin-up."""
    vib = local_fleet.where("device_type = 'Motion Detector'")
    # each machine's running level: the 95th percentile of its readings
    level = vib.groupBy("device_id").agg(F.percentile("metric_value", 0.95).alias("level"))
    state = (vib.join(level, "device_id").where("level > 0")
             .withColumn("x", F.col("metric_value") / F.col("level"))
             .withColumn("state", F.expr("CASE WHEN x > 0.6 THEN 'run' WHEN x < 0.2 THEN 'rest' ELSE 'part' END")))
    share = {r.state: r.n for r in state.groupBy("state").agg(F.count("*").alias("n")).collect()}
    total = sum(share.values())
    assert share["rest"] > 0.3 * total and share["run"] > 0.1 * total, share
    # on/off, not a smooth level (an hourly schedule had 12-20 % between the two)
    assert 0.002 * total < share["part"] < 0.05 * total, share

    def running(cond: str) -> float:
        return state.where(cond).agg(F.avg(F.expr("IF(state = 'run', 1D, 0D)"))).first()[0]

    day, night = running("weekday AND local_hour BETWEEN 10 AND 15"), running("local_hour BETWEEN 1 AND 4")
    assert day > 3 * night, (day, night)
    # runs: consecutive readings running (gaps and islands), 5 minutes each
    w = Window.partitionBy("device_id").orderBy("timestamp")
    runs = (state.withColumn("start", F.expr("IF(state = 'run' AND coalesce(lag(state) OVER (PARTITION BY "
                                             "device_id ORDER BY timestamp), '') != 'run', 1, 0)"))
            .withColumn("run_id", F.sum("start").over(w)).where("state = 'run'")
            .groupBy("device_id", "run_id").agg((F.count("*") * 5).alias("minutes")))
    # whole jobs: even the short runs last 20 minutes or more (a thermostat's runs at night, at a
    # duty of 5 %, would last minutes)
    q1, median = runs.agg(F.percentile("minutes", 0.25), F.percentile("minutes", 0.5)).first()
    assert q1 >= 20 and median <= 90, (q1, median)


def test_hvac_compressors_cycle_more_as_the_outdoors_departs_from_18_c(local_fleet):
    """HVAC power is a fan and a compressor that cycles every 10-30 minutes: 5-minute readings
    (each the interval's average) vary within an hour, and the hours' power rises with how far
    the facility's outdoor air is from 18 C."""
    open_hours = local_fleet.where("weekday AND local_hour BETWEEN 10 AND 15")
    hvac = hourly(open_hours, "HVAC Controller", "power")
    # cycling: the readings of an hour spread around its mean (a schedule alone varies by noise)
    spread = (open_hours.where("device_type = 'HVAC Controller' AND metric_name = 'power'")
              .groupBy("device_id", F.date_trunc("hour", "timestamp").alias("h"))
              .agg((F.stddev("metric_value") / F.avg("metric_value")).alias("cv")))
    median_cv = spread.agg(F.percentile("cv", 0.5)).first()[0]
    assert median_cv > 0.1, median_cv
    # each controller's hours against the outdoor temperature at its facility, both relative to
    # the controller's own mean (facilities differ by size and by climate)
    outdoor = (hourly(open_hours, "Temperature Sensor", "temperature").groupBy("location_id", "h")
               .agg(F.abs(F.avg("v") - 18).alias("need")))
    own = Window.partitionBy("device_id")
    joined = (hvac.join(outdoor, ["location_id", "h"])
              .select((F.col("v") / F.avg("v").over(own)).alias("x"),
                      (F.col("need") - F.avg("need").over(own)).alias("y")))
    r = joined.agg(F.corr("x", "y")).first()[0]
    assert r > 0.5, r
