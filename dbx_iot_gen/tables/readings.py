"""``sensor_readings``: one reading per device, metric and tick, from native SQL expressions only.

Row ``id`` maps to its grid cell by arithmetic: ``channel = id % n_channels`` (a device and one of
its metrics), ``tick = id div n_channels``; so time rises with the id, as a historical stream needs.
A value is the channel's baseline plus seasonal and daily cycles in the facility's local time,
business-hours schedules, slow channel-specific wander (continuity without state), drift with
days since install, and a little noise.
"""

from __future__ import annotations

import dbldatagen as dg
from pyspark.sql import SparkSession

from dbx_iot_gen.catalog import CITIES, METRICS
from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.fleet import PROFILES, FleetLayout
from dbx_iot_gen.patterns import (
    LocalTime,
    business_schedule,
    city_attribute,
    daily_cycle,
    day_of_week,
    hemisphere_of_city,
    hour_of_day,
    seasonal_cycle,
    slow_wander,
)
from dbx_iot_gen.rand import Randomness, dbl, sql_str
from dbx_iot_gen.tables._spec import SpecBuilder, partitions_for

__all__ = ["READING_COLUMNS", "readings_spec"]

READING_COLUMNS = (
    "reading_id", "device_id", "timestamp", "metric_name", "metric_value", "unit", "quality_score",
    "is_anomaly", "anomaly_type", "ingest_timestamp",
)

# Annual mean outdoor temperature of a city: warmer near the equator, colder up high.
_CITY_MEAN_TEMP = tuple(30.0 - 0.45 * abs(c.latitude) - 0.0065 * c.altitude for c in CITIES)
# Seasons are weak in the tropics.
_CITY_SEASON_SCALE = tuple(min(1.0, max(0.15, abs(c.latitude) / 50.0)) for c in CITIES)


def _city_value(city_idx: str, values: tuple[float, ...]) -> str:
    return f"element_at(array({', '.join(dbl(v) for v in values)}), {city_idx} + 1)"


def _profile_case(profile: str, by_profile: dict[int, str]) -> str:
    return "(CASE " + " ".join(f"WHEN {profile} = {p} THEN {e}" for p, e in by_profile.items()) + " END)"


def readings_spec(spark: SparkSession, config: IoTConfig) -> dg.DataGenerator:
    """The spec of ``sensor_readings`` for the config.

    Args:
        spark: the session.
        config: the dataset config (devices, time range, cadence, patterns, seed).

    Returns:
        A dbldatagen spec with ``id`` from 0 to ``FleetLayout(config).reading_rows - 1``.

    Example:
        >>> spec = readings_spec(spark, IoTConfig.preset("tiny"))  # doctest: +SKIP
        >>> df = spec.withColumn("value_f", "double", expr="metric_value * 1.8D + 32D").build()  # doctest: +SKIP
    """
    layout = FleetLayout(config)
    pat = config.patterns
    rnd = Randomness(config.seed, "sensor_readings")
    local_time = LocalTime(config)
    n_ch = layout.n_channels
    cadence_us = config.reading_cadence_seconds * 1_000_000
    jitter_us = int(config.reading_jitter_seconds * 1_000_000)
    start_day_s = int(config.start.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
    device_expr, profile_expr = layout.channel_parts("channel")
    u_jitter, u_noise, u_quality = rnd.uniforms("row", "id")
    c_base, c_phase1, c_phase2 = rnd.uniforms("channel", "device_id", "profile")
    c_drift, c_period1, c_period2 = rnd.uniforms("channel_shape", "device_id", "profile")
    noise = f"(({u_noise} * 2D - 1D) * {dbl(pat.noise_level)})"  # in [-noise_level, noise_level)
    metric_names = f"array({', '.join(sql_str(m) for _, m in PROFILES)})"
    units = f"array({', '.join(sql_str(METRICS[m].unit) for _, m in PROFILES)})"

    season = seasonal_cycle("local_s", "hemisphere")
    daily = daily_cycle("local_s")
    wander = "wander"
    drift = f"({dbl(pat.drift_per_day)} * age_days * ({c_drift} * 2D - 0.5D))"  # mostly upward
    hvac_daily = ("(CASE WHEN hod >= 6D AND hod < 10D THEN 1.5D WHEN hod >= 10D AND hod < 18D THEN 1.2D "
                  "WHEN hod >= 18D AND hod < 23D THEN 1.3D ELSE 0.8D END)")  # the seed's daily factors
    values = {
        # 0 ambient temperature (C)
        0: f"({_city_value('city_idx', _CITY_MEAN_TEMP)} + ({c_base} - 0.5D) * 3D"
           f" + {dbl(pat.temperature_seasonal_amplitude)} * {_city_value('city_idx', _CITY_SEASON_SCALE)} * {season}"
           f" + {dbl(pat.temperature_daily_amplitude)} * {daily} + 1.0D * {wander} + {drift} + 1.5D * {noise})",
        # 1 humidity (%): falls when the afternoon warms
        1: f"least(100D, greatest(0D, 50D + ({c_base} - 0.5D) * 30D"
           f" - 1.6D * {dbl(pat.temperature_daily_amplitude)} * {daily} + 6D * {wander}"
           f" + 2D * {drift} + 1.5D * {noise}))",
        # 2 pressure (hPa, at sea level): weather systems of a few days
        2: f"(1013.25D + ({c_base} - 0.5D) * 4D + 9D * {wander} + {drift} + 0.3D * {noise})",
        # 3 vibration (mm/s): machines run in business hours
        3: f"greatest(0D, {business_schedule('local_s', pat, business='3.0D', evening='1.5D', night='0.4D', weekend='0.4D')}"
           f" * (0.5D + {c_base}) * (1D + 0.2D * {wander}) + 0.1D * {drift} + 0.15D * {noise})",
        # 4 smart meter power (kWh): the seed's business-hours, evening, night and weekend levels
        4: f"greatest(0D, {business_schedule('local_s', pat, business='80D', evening='45D', night='30D', weekend='35D')}"
           f" * (0.5D + {c_base}) + 5D * {wander} + 2D * {drift} + 5D * {noise})",
        # 5 HVAC indoor temperature (C): held near its set point
        5: f"(21D + ({c_base} - 0.5D) * 2D + 0.1D * {dbl(pat.temperature_daily_amplitude)} * {daily}"
           f" + 0.3D * {wander} + 0.5D * {drift} + 0.3D * {noise})",
        # 6 HVAC power (kWh): the seed's daily factors, less at weekends, more in summer and winter
        6: f"greatest(0D, (5D + 15D * {c_base}) * {hvac_daily}"
           f" * IF({day_of_week('local_s')} >= 5L, 0.6D, 1D) * (1D + 0.3D * abs({season}))"
           f" + 0.5D * {wander} + 0.5D * {drift} + 0.5D * {noise})",
    }

    b = SpecBuilder(spark, "sensor_readings", layout.reading_rows, partitions_for(config, layout.reading_rows),
                    config.seed)
    b.tmp("channel", "long", f"id % {n_ch}L")
    b.tmp("tick", "long", f"id div {n_ch}L")
    b.col("reading_id", "long", "id + 1L")
    b.col("device_id", "long", device_expr)
    b.tmp("profile", "int", profile_expr)
    b.tmp("t_us", "long", f"{config.start_micros}L + tick * {cadence_us}L + cast({u_jitter} * {jitter_us}D as long)")
    b.col("timestamp", "timestamp", "timestamp_micros(t_us)")
    b.col("metric_name", "string", f"element_at({metric_names}, profile + 1)")
    b.tmp("epoch_s", "long", "t_us div 1000000L")
    b.tmp("city_idx", "int", layout.city_of_location(layout.location_of("device_id")))
    b.tmp("local_s", "long", local_time.local_seconds("epoch_s", "city_idx"))
    b.tmp("hod", "double", hour_of_day("local_s"))
    b.tmp("hemisphere", "double", hemisphere_of_city("city_idx"))
    b.tmp("age_days", "double",
          f"{layout.install_days_before_start('device_id')} + (epoch_s - {start_day_s}L) / 86400D")
    b.tmp("wander", "double",
          slow_wander("epoch_s", c_phase1, c_phase2, f"(6D + 24D * {c_period1})", f"(48D + 120D * {c_period2})"))
    b.col("metric_value", "double", _profile_case("profile", values))
    b.col("unit", "string", f"element_at({units}, profile + 1)")
    b.col("quality_score", "int",
          f"cast(greatest(0D, 100D - floor({u_quality} * 12D) - floor(age_days / 365D) * 2D) as int)")
    b.col("is_anomaly", "boolean", "false")
    b.col("anomaly_type", "string", "cast(null as string)")
    ingest_delay = rnd.between("ingest_delay", "id", low=200_000, high=3_000_000)
    b.col("ingest_timestamp", "timestamp", f"timestamp_micros(t_us + cast({ingest_delay} as long))")
    return b.spec


def city_index_range() -> int:
    """Number of built-in cities (for tests)."""
    return len(CITIES)
