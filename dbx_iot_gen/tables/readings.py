"""``sensor_readings``: one reading per device, metric and tick, from native SQL expressions only.

Row ``id`` maps to its grid cell by arithmetic: ``channel = id % n_channels`` (a device and one of
its metrics), ``tick = id div n_channels``; so time rises with the id, as a historical stream needs.
A value is the channel's baseline plus seasonal and daily cycles in the facility's local time,
business-hours schedules, slow channel-specific wander (continuity without state), drift with
days since install, and a little noise.

A device reports only while it is registered: from its CDC insert to its delete, and not while
the registry has it Offline (see :mod:`dbx_iot_gen.lifecycle`); the grid's other cells make no
row. While the registry has it in Maintenance, its rows have no value and status Maintenance.

Then what goes wrong, each labeled in the row: maintenance windows (no value, status
Maintenance), anomaly episodes (spike, dropout, drift, stuck; see :mod:`.anomalies`) and
data-quality problems (missing values, duplicates, malfunctions out of range, sensor error codes,
values in the wrong unit, timestamps from a reset clock, late arrival).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import dbldatagen as dg
from pyspark.sql import DataFrame, SparkSession

from dbx_iot_gen.catalog import DEVICE_TYPES, METRICS, Metric
from dbx_iot_gen.config import ANOMALY_TYPES, AnomalyConfig, IoTConfig
from dbx_iot_gen.fleet import PROFILES
from dbx_iot_gen.grid import grid
from dbx_iot_gen.lifecycle import STATUS_CODES, Lifecycle
from dbx_iot_gen.patterns import (
    EPOCH_HOUR_OF_WEEK,
    TWO_PI,
    BlockPolynomial,
    duty_on_fraction,
    hour_of_week,
    in_maintenance_window,
    occupancy_value,
    slow_wander,
)
from dbx_iot_gen.rand import Randomness, dbl, hash_fields, split_uniform, sql_str
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.tables._spec import SOURCE_TIMESTAMP, Blocking, ColumnDef, SpecBuilder, partitions_for, replay
from dbx_iot_gen.weather import Weather, relative_humidity

__all__ = ["ANOMALY_CODES", "BATTERY_TYPES", "ISSUE_CODES", "QUALITY_PENALTIES", "READING_COLUMNS", "readings_at",
           "readings_spec"]

READING_COLUMNS = TABLES["sensor_readings"].column_names

# Codes of the int columns ``anomaly`` and ``issue``; 0 is none. Value problems come first.
ANOMALY_CODES = {kind: i + 1 for i, kind in enumerate(ANOMALY_TYPES)}
ISSUE_ORDER = ("null_value", "out_of_range", "sentinel_value", "unit_mixup", "clock_reset", "duplicate", "late_arrival")
_VALUE_ISSUES = 4  # the first four: problems of a value, so only of a reading with one
ISSUE_CODES = {issue: i + 1 for i, issue in enumerate(ISSUE_ORDER)}

# Quality points a reading loses for what went wrong with it or its device
QUALITY_PENALTIES = {"anomaly": 20, "null_value": 10, "out_of_range": 25, "sentinel_value": 25, "unit_mixup": 15,
                     "clock_reset": 10, "duplicate": 3, "late_arrival": 6, "battery_low": 8}
# device types with a battery (the others run on mains power)
BATTERY_TYPES = tuple(t.name for t in DEVICE_TYPES if t.battery_powered)

# Rates of the slow wander's two sinusoids: one cycle in 6 to 30 hours, and in 2 to 7 days (cycles
# per second)
_WANDER_RATES = ((1 / 108000, 1 / 21600), (1 / 604800, 1 / 172800))
# Largest error of the per-block polynomial of the value's cycles (batch builds), as a share of
# their amplitudes: far below each metric's noise.
CYCLES_TOLERANCE = 1e-3

# a device back from an outage sends its backlog this long after its link is back (microseconds)
RECONNECT_US = 5_000_000
# the weather weights of a profile (fields of _Profile)
_WEATHER_WEIGHTS = ("outdoor_temp", "outdoor_rh", "outdoor_pressure", "degree_hours")
_PER_METHOD = 8


@dataclass(frozen=True)
class _Profile:
    """How one kind of channel behaves; see :func:`profile_parameters`.

    A channel's true value is ``level * load`` plus its weather terms, wander and drift, where
    ``load = schedule * (1 - duty_amp) + duty_amp * on``: ``schedule`` is ``night`` plus the rest
    times the building's occupancy (the profile's hour-of-week table), ``on`` the share of the
    reading's window its machine runs (:func:`~dbx_iot_gen.patterns.duty_on_fraction`), with a
    duty that grows with occupancy and with the outdoor air's distance from 18 C.
    """

    base: float  # level: the peak load, or a sensor's calibration offset
    spread: float  # channel-to-channel spread of the level (a sensor's calibration offset)
    wander: float  # amplitude of the slow channel-specific wander (the sensor's own spot)
    drift: float  # drift multiplier
    noise: float  # half-width of the per-reading noise
    sigma: float  # typical deviation: the unit of anomaly magnitudes
    outdoor_temp: float = 0.0  # weight of the facility's outdoor air temperature (C)
    outdoor_rh: float = 0.0  # weight of its outdoor relative humidity (%)
    outdoor_pressure: float = 0.0  # weight of its sea-level pressure (hPa)
    degree_hours: float = 0.0  # load per degree of heating or cooling (|outdoor - 18 C|, smoothed)
    night: float = 0.0  # the building's base load, as a share of its level (the schedule adds the rest)
    night_spread: float = 0.0  # building-to-building spread of night
    shift: float = 0.0  # each building's day starts up to this many hours earlier or later
    # the machine's cycle: its share of the load; its duty (the share of time it runs) when the
    # building is empty, what occupancy adds, and what each degree of heating or cooling adds; the
    # length of its cycles (seconds, drawn per channel); the window a reading averages (seconds;
    # 0: the interval since the last reading: an average power); a machine that runs whole jobs:
    # their share of a cycle (0: a thermostat, which runs every cycle for its duty)
    duty_amp: float = 0.0
    duty0: float = 0.5
    duty_occ: float = 0.0
    duty_dh: float = 0.0
    period_lo: float = 1800.0
    period_hi: float = 3600.0
    window: float = 0.0
    run: float = 0.0
    typical: float = 1.0  # mean load (a stuck sensor's level, realtime)
    spike_down: float = 0.0  # share of spikes that go down (a glitch that reads low)
    # the error codes its sensor sends instead of a value (half of the time each)
    sentinel_a: float = -999.0
    sentinel_b: float = 65535.0
    # a value in the wrong unit is value * unit_scale + unit_offset
    unit_scale: float = 1.0
    unit_offset: float = 0.0


# a thermometer in Fahrenheit (a mixed-up unit)
_FAHRENHEIT = {"unit_scale": 1.8, "unit_offset": 32.0}
# a machine's duty stays within these; its building's heating or cooling need weighs 40 % when
# the building is empty, 100 % when full
_DUTY_BOUNDS = (0.02, 0.95)
_NEED_EMPTY, _NEED_OCCUPIED = 0.4, 0.6


def _duty(d0: float | str, occ: float | str, need: float | str, occupancy: float | str) -> float | str:
    """The share of time a machine runs: its duty in an empty building ``d0``, what occupancy
    adds (``occ`` per unit), what the heating or cooling ``need`` adds; of floats a float (a
    profile's typical load), of SQL expressions (strings) the SQL of a row's duty."""
    lo, hi = _DUTY_BOUNDS
    if isinstance(d0, str):
        return (f"least({dbl(hi)}, greatest({dbl(lo)}, {d0} + {occ} * {occupancy}"
                f" + {need} * ({dbl(_NEED_EMPTY)} + {dbl(_NEED_OCCUPIED)} * {occupancy})))")
    assert not isinstance(occ, str) and not isinstance(need, str) and not isinstance(occupancy, str)
    return min(hi, max(lo, d0 + occ * occupancy + need * (_NEED_EMPTY + _NEED_OCCUPIED * occupancy)))


def _typical_load(p: _Profile, week: list[float]) -> float:
    """A profile's load averaged over a week of its occupancy (mild weather: 5 degree-hours)."""
    return sum((p.night + (1 - p.night) * occ) * (1 - p.duty_amp) + p.duty_amp * _duty(p.duty0, p.duty_occ,
                                                                                      p.duty_dh * 5.0, occ)
               for occ in week) / len(week)


def profile_parameters(config: IoTConfig) -> tuple[list[_Profile], list[float]]:
    """The coefficients of every profile and the schedule table ``[profile][local hour of the week]``
    (the schedule at the start of each hour; a reading interpolates between two hours).

    One formula serves every channel; the profile only picks coefficients. That keeps the
    generated code small (the JVM does not compile methods over 8 KB of bytecode: a CASE of seven
    formulas ran 60 times slower here).
    """
    pat = config.patterns
    n = pat.noise_level
    by_metric = {
        # outdoor sensors: the facility's weather, each with its calibration offset, its own spot
        # (sun, shade, wind: a small slow wander) and a little noise
        # (a 1-Wire DS18B20: 85.0 C after a power loss, -127.0 C when its bus fails; Fahrenheit
        # when mixed up)
        ("Temperature Sensor", "temperature"): _Profile(0, 1.0, 0.3, 1.0, 0.1 * n, 4.0, outdoor_temp=1,
                                                        spike_down=0.4, sentinel_a=85.0, sentinel_b=-127.0,
                                                        **_FAHRENHEIT),
        # (a fraction for a percentage; Pa for hPa)
        ("Humidity Sensor", "humidity"): _Profile(0, 2, 1.0, 2.0, 0.5 * n, 8.0, outdoor_rh=1, spike_down=0.3,
                                                  unit_scale=0.01),
        ("Pressure Sensor", "pressure"): _Profile(0, 1.0, 0.15, 1.0, 0.1 * n, 6.0, outdoor_pressure=1,
                                                  spike_down=0.5, unit_scale=100.0),
        # a machine's vibration (mm/s RMS), running or at rest: it runs jobs of 20-90 minutes,
        # mostly in business hours, and spins up over the 2 minutes a reading measures
        ("Motion Detector", "vibration"): _Profile(4.0, 3.0, 0.03, 0.05, 0.05 * n, 1.0, night=1.0, duty_amp=0.95,
                                                   duty0=0.05, duty_occ=0.7, period_lo=1800, period_hi=7200,
                                                   window=120, run=0.8, spike_down=0.1, unit_scale=1 / 25.4),
        # a building's power (kW): its base load, its occupancy (a morning ramp, a lunch dip, an
        # evening decline, quieter weekends) on its own hours, heating or cooling as the
        # outdoors departs from 18 C
        ("Smart Meter", "power"): _Profile(80, 60, 10.0, 2.0, 1.5 * n, 15.0, degree_hours=0.6, night=0.4,
                                           night_spread=0.3, shift=1.5, spike_down=0.2, unit_scale=1000.0),
        # a room at its setpoint (21 C), the outdoors leaking in by 8 %
        ("HVAC Controller", "temperature"): _Profile(19.32, 2, 0.3, 0.5, 0.1 * n, 1.5, outdoor_temp=0.08,
                                                     spike_down=0.4, **_FAHRENHEIT),
        # its fan by the building's hours (from three hours before they start), its compressor
        # cycling every 10-30 minutes, longer as the outdoors departs from 18 C: a reading is the
        # interval's average power
        ("HVAC Controller", "power"): _Profile(12.5, 15, 0.2, 0.5, 0.05 * n, 6.0, night=0.3, shift=1.0,
                                               duty_amp=0.85, duty0=0.05, duty_occ=0.2, duty_dh=0.025,
                                               period_lo=600, period_hi=1800, spike_down=0.15, unit_scale=1000.0),
    }
    start, end = pat.business_hours_start, pat.business_hours_end

    # occupancy of an office building: ramps up over three hours to an hour after business hours
    # start, a 10 % dip at lunch, down over three hours from an hour before they end
    occupancy = [occupancy_value(h % 24, h // 24, opens=start - 2, ramp=3, closes=end - 1, fall=3, lunch=0.1,
                                 saturday=0.35, sunday=0.1) for h in range(168)]
    # an HVAC system runs from three hours before business hours to their end
    conditioned = [occupancy_value(h % 24, h // 24, opens=start - 3, ramp=2, closes=end, fall=1, lunch=0,
                                   saturday=0.35, sunday=0.1) for h in range(168)]
    schedules = {
        ("Motion Detector", "vibration"): occupancy,
        ("Smart Meter", "power"): occupancy,
        ("HVAC Controller", "power"): conditioned,
    }
    table, profiles = [], []
    for p in PROFILES:
        week = schedules.get(p, [1.0] * 168)  # by local hour of the week, Monday 00:00 first
        table += week
        prof = by_metric[p]
        profiles.append(dataclasses.replace(prof, typical=_typical_load(prof, week)))
    return profiles, table


def outdoor(temp: str, pressure: str, rh: str, degree_hours: str, weights: str) -> str:
    """SQL of what a channel measures of its facility's weather, by its profile's weights
    (``weights``: the prefix of the weight fields, for example ``coef.``)."""
    return (f"{weights}outdoor_temp * {temp} + {weights}outdoor_rh * {rh}"
            f" + {weights}outdoor_pressure * {pressure} + {weights}degree_hours * {degree_hours}")


def _degree_hours(temp: str) -> str:
    # how far the air is from 18 C, where a building needs neither heating nor cooling (smoothed)
    return f"sqrt(({temp} - 18D) * ({temp} - 18D) + 1D)"


def _at(t0: str, x: str) -> str:
    return f"(cast({t0} as double) + {x})"


def readings_spec(spark: SparkSession, config: IoTConfig, *, realtime: bool = False) -> dg.DataGenerator:
    """The spec of ``sensor_readings`` for the config.

    Args:
        spark: the session.
        config: the dataset config (devices, time range, cadence, patterns, anomalies, quality, seed).
        realtime: event time is when the streaming source made the row, not the row's tick (for
            ``build(withStreaming=True)`` only; see :mod:`dbx_iot_gen.stream`).

    Returns:
        A dbldatagen spec with ``id`` from 0 to ``grid(config).layout.reading_rows - 1``; duplicated
        readings (``quality_issue = 'duplicate'``) come out twice.

    Example:
        spec = readings_spec(spark, IoTConfig.preset("tiny"))
        df = spec.withColumn("value_f", "double", expr="metric_value * 1.8D + 32D").build()
    """
    layout = grid(config).layout
    b = _builder(spark, config, layout.reading_rows, partitions_for(config, layout.reading_rows))
    _add_reading_columns(b, config, realtime=realtime)
    return b.spec


def readings_at(spark: SparkSession, config: IoTConfig, ids: DataFrame, *, keep: tuple[str, ...] = (),
                registered_only: bool = True, where: str | None = None) -> DataFrame:
    """The readings with the row ids (``reading_id - 1``) of column ``id`` of ``ids``, computed by
    the very expressions of :func:`readings_spec`, without generating the table (no duplicates).

    Args:
        spark: the session.
        config: the dataset config.
        ids: a DataFrame with a bigint column ``id``; its other columns are kept in front.
        keep: intermediate columns to keep as well (for example ``anomaly``, ``ep_offset``).
        registered_only: drop the ids whose device is not registered, or Offline in the registry, at
            the reading's time (as the table does); ``False`` computes them anyway (keep
            ``registered`` to see which).
        where: keep only the readings where this SQL boolean of their columns (and ``keep``)
            holds. Prefer it to ``.where()`` on the result: Spark would push that filter down
            through the readings' expressions, into generated code too big to compile.

    Example:
        readings_at(spark, cfg, spark.range(5)).count()  # 5
    """
    b = _builder(spark, config, 1, 1)
    _add_reading_columns(b, config)
    conditions = [c for c in ("registered" if registered_only else None, where) if c]
    return replay(ids, b.defs, keep=keep, where=" AND ".join(f"({c})" for c in conditions) or None,
                  blocking=b.blocking)


def reading_defs(spark: SparkSession, config: IoTConfig, *,
                 exact_cycles: bool = False) -> tuple[list[ColumnDef], Blocking]:
    """The column definitions of ``sensor_readings`` and its blocking (for tests and tools);
    ``exact_cycles``: each row computes the sines of its value's cycles (the table itself takes
    them from a polynomial per block, within :data:`CYCLES_TOLERANCE`)."""
    b = _builder(spark, config, 1, 1)
    _add_reading_columns(b, config, exact_cycles=exact_cycles)
    assert b.blocking is not None
    return b.defs, b.blocking


def _builder(spark: SparkSession, config: IoTConfig, rows: int, partitions: int) -> SpecBuilder:
    # a block is an anomaly slot of one channel: its episode, device and profile are computed once
    blocking = Blocking(grid(config).layout.n_channels, config.reading_ticks, config.anomalies.slot_readings)
    return SpecBuilder(spark, "sensor_readings", rows, partitions, config.seed, blocking=blocking)


def _add_reading_columns(b: SpecBuilder, config: IoTConfig, *, realtime: bool = False,
                         exact_cycles: bool = False) -> None:
    g = grid(config)
    layout, local_time = g.layout, g.local_time
    rnd = Randomness(config.seed, "sensor_readings")
    cadence_us = config.reading_cadence_seconds * 1_000_000
    jitter_us = int(config.reading_jitter_seconds * 1_000_000)
    start_s = int(config.start.timestamp())  # the data's start, epoch seconds
    start_day_s = int(config.start.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
    device_expr, profile_expr = layout.channel_parts("channel")
    profiles, schedule = profile_parameters(config)
    metrics = [METRICS[m] for _, m in PROFILES]
    anomalies, quality = config.anomalies, config.quality

    # One non-null struct of coefficients per profile: a single lookup, then cheap field reads.
    def struct(p: _Profile, low: float, high: float) -> str:
        fields = [f"'{f.name}', {dbl(getattr(p, f.name))}" for f in dataclasses.fields(p)]
        return f"named_struct({', '.join(fields)}, 'low', {dbl(low)}, 'high', {dbl(high)})"

    structs = [struct(p, m.low, m.high) for p, m in zip(profiles, metrics)]
    coef = ("(CASE " + " ".join(f"WHEN profile = {i} THEN {st}" for i, st in enumerate(structs[:-1]))
            + f" ELSE {structs[-1]} END)")
    # few hashes a row: five uniforms from the row's hash, six 10-bit ones from the channel's, four
    # 16-bit ones from the episode slot's
    # (the second, the noise's, is read from v_h: below)
    u_jitter, _, u_quality, u_ingest, u_issue = hash_fields("row_h", 12, 12, 8, 16, 16)
    c_base, c_phase1, c_phase2, c_drift, c_period1, c_period2 = (split_uniform("channel_h", i, 10) for i in range(6))
    e_size = split_uniform("ep_h", 3, 16)  # the episode's fault size (its kind, length, start: the 0th to 2nd)

    # once per block (a slot of one channel): device, profile, location, the slot's episode, the
    # channel's level and coefficients, the device's registration
    slot = anomalies.slot_readings
    life = g.life
    b.block("device_id", "long", device_expr, alias=False)
    b.block("profile", "int", profile_expr)
    b.block("channel_h", "long", rnd.hash("channel", "device_id", "profile"))
    b.block("device_h", "long", layout.device_hash("device_id"))  # location and install date
    b.block("life_rank", "long", life.rank("device_id"))
    b.block("duty_h", "long", rnd.hash("duty", "channel"))
    _add_episode_columns(b, anomalies, rnd)
    run_terms = _add_quality_runs(b, config, rnd)
    b.block("city_idx", "int", layout.city_of_location(layout.location_of("device_id", "device_h")))
    first_us, until_us = life.registered_span("device_id", "life_rank")
    b.block("life_from_us", "long", first_us)
    b.block("life_until_us", "long", until_us)
    # a block's first tick (without jitter) and how long its rows last, in seconds
    t0 = f"({start_s}L + slot * {config.reading_cadence_seconds * slot}L)"
    span_s = config.reading_block_seconds
    reg_terms, inside = _add_registry_columns(b, life, t0, span_s, realtime=realtime)
    # The device's connectivity outages (its late readings): its time is cut into slots of
    # outage_slot seconds from the data's start, each holding one outage at most (inside it). A
    # block no longer than a slot meets two slots at most, computed once for the block; else
    # (readings hours apart) each row computes its own slot's.
    outage_slot, outage_chance = quality.outages()
    outage_slot = outage_slot if outage_chance > 0 else 0
    outage_rows = realtime or span_s > outage_slot

    def outage(j: str, h: str) -> tuple[str, str]:  # its start and end (microseconds; 0 and 0: none)
        lo, hi = quality.late_seconds
        u_has, u_length, u_at = (split_uniform(h, i, 16) for i in range(3))
        length = f"({dbl(lo)} * exp({u_length} * {dbl(math.log(hi / lo))}))"
        begin = (f"(({start_s}L + {j} * {outage_slot}L) * 1000000L"
                 f" + cast({u_at} * ({outage_slot}D - {length}) * 1000000D as long))")
        has = f"{u_has} < {dbl(outage_chance)}"
        return f"IF({has}, {begin}, 0L)", f"IF({has}, {begin} + cast({length} * 1000000D as long), 0L)"

    outage_terms = {}
    if outage_slot and not outage_rows:
        for i in (1, 2):
            j = f"(slot * {config.reading_cadence_seconds * slot}L div {outage_slot}L + {i - 1}L)"
            b.block(f"out_h{i}", "long", rnd.hash("outage", "device_id", j), alias=False)
            outage_terms[f"o{i}s"], outage_terms[f"o{i}e"] = outage(j, f"out_h{i}")
    # the facility's weather: one process per city, shared by every sensor there
    pat = config.patterns
    climate_args = (pat.temperature_daily_amplitude, pat.temperature_seasonal_amplitude)
    b.block("climate", None, Weather.city_climate("city_idx", *climate_args), alias=False)
    # the coefficients: one lookup of a non-null struct (a cast to a declared struct type would make
    # the fields nullable: null checks everywhere), then the terms of the value
    c = "coef"
    # size of the episode's fault in the metric's unit: a spike's height, a drift's final offset
    size = f"{c}.sigma * (0.75D + 0.5D * {e_size})"
    d_size, d_sign = hash_fields("dr_h", 16, 16, 16, 8, 8)[3:]
    drift_rate = f"{c}.drift * {dbl(pat.drift_per_day)} * ({c_drift} * 2D - 0.5D)"  # per day of age
    terms = {
        "level": f"{c}.base + {c}.spread * ({c_base} - 0.5D)",
        # a spike goes down for a share of the metric's spikes
        "fault": f"{size} * {dbl(anomalies.spike_magnitude)}"
                 f" * IF({rnd.uniform('spike_down', 'channel', 'slot')} < {c}.spike_down, -1D, 1D)",
        # a drift's offset at its end, up or down
        "drift_fault": f"{c}.sigma * (0.75D + 0.5D * {d_size}) * {dbl(anomalies.drift_magnitude)}"
                       f" * IF({d_sign} < 0.5D, -1D, 1D)",
        **{f"wander_rate{i}": f"{dbl(lo)} + {dbl(hi - lo)} * {u_period}"
           for i, ((lo, hi), u_period) in enumerate(zip(_WANDER_RATES, (c_period1, c_period2)), start=1)},
        "noise_amp": f"{c}.noise",
        "low": f"{c}.low",
        "high": f"{c}.high",
        "typical": f"{c}.typical",
        # the building's base load and hours (both channels of an HVAC controller share them)
        "night": f"{c}.night + {c}.night_spread * ({rnd.uniform('night', 'device_id')} - 0.5D)",
        "shift_s": f"cast({c}.shift * 3600D * ({rnd.uniform('shift', 'device_id')} * 2D - 1D) as long)",
        **reg_terms,
        **outage_terms,
        **run_terms,
        "sentinel_a": f"{c}.sentinel_a",
        "sentinel_b": f"{c}.sentinel_b",
        "unit_scale": f"{c}.unit_scale",
        "unit_offset": f"{c}.unit_offset",
    }
    install_days = f"cast({layout.install_days_before_start('device_id', 'device_h')} as double)"
    # a device's radio link (a fifth of the devices have a weak one) and battery (3-6 years, then
    # replaced; its last 15 % at the data's start) cost its readings quality points
    battery_life = f"(1095D + 1095D * {rnd.uniform('battery_life', 'device_id')})"
    battery_profiles = ", ".join(str(i) for i, (t, _) in enumerate(PROFILES) if t in BATTERY_TYPES)
    terms["link_off"] = f"cast(greatest(0D, {rnd.uniform('link_margin', 'device_id')} - 0.8D) * 50D as int)"
    terms["battery_off"] = (f"IF(profile IN ({battery_profiles}) AND pmod({install_days}, {battery_life})"
                            f" > 0.85D * {battery_life}, {QUALITY_PENALTIES['battery_low']}, 0)")
    fit: BlockPolynomial | None = None
    if realtime:
        terms |= {
            "wander_amp": f"{c}.wander",
            "wander_phase1": c_phase1,
            "wander_phase2": c_phase2,
            "drift_rate": drift_rate,
            "install_days": install_days,
            **{f"w_{w}": f"{c}.{w}" for w in _WEATHER_WEIGHTS},
        }
    else:
        # What moves slowly is computed at the block's start (t0, its first tick without jitter)
        # and carried to each row by its seconds since: the drift with age by its value and slope,
        # the slow wander by its phases, the age; the UTC offset by the one change it may have
        # within the block. (A realtime row's time is not its tick's: all computed for each row.)
        since_day = f"cast({t0} - {start_day_s}L as double)"
        for i, phase0 in ((1, c_phase1), (2, c_phase2)):
            b.block(f"wander_cycles{i}", "double", f"{since_day} * ({terms[f'wander_rate{i}']}) + {phase0}",
                    alias=False)
        age0 = f"({install_days} + {since_day} * {dbl(1 / 86400)})"
        terms |= {
            "t0": t0,
            # the drift with age, linear: at t0 and per second
            "trend0": f"{drift_rate} * {age0}",
            "trend1": f"{drift_rate} * {dbl(1 / 86400)}",
            "wander0_1": "wander_cycles1 - cast(wander_cycles1 as long)",
            "wander0_2": "wander_cycles2 - cast(wander_cycles2 as long)",
            "wander_a1": f"0.6D * {c}.wander",
            "wander_a2": f"0.4D * {c}.wander",
            # what the device's age (years, at most 8) takes off its quality score
            "years_off": f"cast(least(floor(({age0}) * {dbl(1 / 365)}), 8L) * 2L as int)",
        }
        offsets = local_time.block_offsets(t0, "city_idx", span_s)
        if offsets is not None:
            terms |= dict(zip(("utc_offset", "offset_change", "offset_after"), offsets, strict=True))
        # The value's smooth terms (the wander, the weather with its daily cycle and pressure
        # tide) as one polynomial of the seconds since the block's start, from their values at a
        # few points of the block: no sine per row.
        rates = (*(hi for _, hi in _WANDER_RATES), 1 / 86400, 2 / 86400)
        fit = None if exact_cycles else BlockPolynomial.for_sines(span_s, rates, CYCLES_TOLERANCE)

    def cycles(x: str) -> str:  # the drift and the wander, x seconds into the block
        return (f"k.trend0 + k.trend1 * {x}"
                f" + k.wander_a1 * sin({TWO_PI} * (k.wander0_1 + k.wander_rate1 * {x}))"
                f" + k.wander_a2 * sin({TWO_PI} * (k.wander0_2 + k.wander_rate2 * {x}))")

    def block_doubles(prefix: str, exprs: list[str]) -> list[str]:
        # a few per generated method: all in one would pass the JIT's size limit
        for i, e in enumerate(exprs):
            if i % _PER_METHOD == 0:
                b.block_barrier()
            b.block(f"{prefix}{i}", "double", e, alias=False)
        return [f"{prefix}{i}" for i in range(len(exprs))]

    b.block("coef", None, coef, alias=False)
    if not realtime:
        # The weather of the block's city at the block's start, middle and end: what moves slowly
        # or is not linear (fronts, air mass, humidity, heating and cooling) as the quadratic
        # through them; the daily cycle and the pressure tide at the polynomial's nodes.
        weather = Weather.for_city(config.seed, "city_idx", *climate_args, climate="climate")
        b.block_barrier()
        b.block("waves", None, weather.waves_struct(t0), alias=False)
        weather = weather.from_waves("waves", t0)
        fields = []
        for j, x in enumerate((0, span_s / 2, span_s)):
            t = _at(t0, dbl(x))
            pressure_anomaly, mean = weather.pressure_anomaly(t), weather.mean_temperature(t)
            cloud = weather.cloudiness(t, pressure_anomaly=pressure_anomaly)
            fields += [f"'pa{j}', {pressure_anomaly}", f"'mean{j}', {mean}", f"'cloud{j}', {cloud}",
                       f"'dew{j}', {weather.dew_point(t, mean=mean, cloudiness=cloud)}",
                       f"'t{j}', {weather.temperature(t, mean=mean, cloudiness=cloud)}"]
        b.block_barrier()
        b.block("wx", None, f"named_struct({', '.join(fields)})", alias=False)
        slow = [outdoor(f"wx.mean{j}", f"(1013.25D + wx.pa{j})",
                        f"IF(coef.outdoor_rh = 0D, 0D, {relative_humidity(f'wx.t{j}', f'wx.dew{j}')})",
                        _degree_hours(f"wx.t{j}"), "coef.") for j in range(3)]
        for j, m in enumerate(slow):  # one a generated method
            b.block_barrier()
            b.block(f"wm{j}", "double", m, alias=False)
        b.block_barrier()
        swings = [f"'a{j}', coef.outdoor_temp * {weather.daily_swing} * (1.45D - 0.9D * wx.cloud{j})" for j in range(3)]
        b.block("wm", None, f"named_struct('m0', wm0, 'm1', wm1, 'm2', wm2, {', '.join(swings)}, "
                            f"'tide', coef.outdoor_pressure * 0.6D, 'solar0', {weather.solar_angle(_at(t0, '0D'))})",
                alias=False)
    # What each reading needs of its block, in one struct: whole-stage codegen passes every column
    # that crosses a Generate as a parameter of a method, and C2 refuses to compile a method with
    # that many ("unsupported calling sequence": it then runs 3 times slower).
    b.block("k", None, f"named_struct({', '.join(f'{sql_str(n)}, {e}' for n, e in terms.items())})")
    # the machine's cycle (a struct of its own: in k, its code would pass the JVM's limits): its
    # length and window in cycles, and where the cycles stand at the reference time (the block's
    # start; the data's, realtime)
    u_period, u_phase = (split_uniform("duty_h", i, 16) for i in range(2))
    window = f"IF({c}.window > 0D, {c}.window, {dbl(config.reading_cadence_seconds)})"
    period = f"greatest({c}.period_lo + ({c}.period_hi - {c}.period_lo) * {u_period}, {window})"
    tref = f"{start_s}L" if realtime else t0
    at_ref = f"(cast({tref} as double) / ({period}) + {u_phase})"
    duty_terms = {
        "amp": f"{c}.duty_amp", "d0": f"{c}.duty0", "occ": f"{c}.duty_occ",
        "run": f"{c}.run", "inv_period": f"1D / ({period})", "w_cycles": f"({window}) / ({period})",
        "seed": "duty_h", "cycle0": f"cast(floor({at_ref}) as double)", "f0": f"{at_ref} - floor({at_ref})",
    }
    if realtime:  # what each degree of heating or cooling adds (the row knows its degrees)
        duty_terms["dh"] = f"{c}.duty_dh"
    else:  # what heating or cooling adds, at the block's start, middle and end
        duty_terms |= {f"dh{j}": f"{c}.duty_dh * {_degree_hours(f'wx.t{j}')}" for j in range(3)}
    b.block_barrier()
    b.block("kd", None, f"named_struct({', '.join(f'{sql_str(n)}, {e}' for n, e in duty_terms.items())})")

    def quadratic_coefficients(wm: str, part: str = "m") -> list[str]:
        # of the quadratic in u = 2 x / length - 1 through its values at the start, middle, end
        v0, v1, v2 = (f"{wm}.{part}{j}" for j in range(3))
        return [v1, f"0.5D * ({v2} - {v0})", f"0.5D * ({v0} + {v2}) - {v1}"]

    def quadratic(x: str, wm: str, part: str = "m") -> str:
        u = f"({x} * {dbl(2 / span_s)} - 1D)"
        c0, c1, c2 = quadratic_coefficients(wm, part)
        return f"({c0} + {u} * ({c1} + {u} * ({c2})))"

    def daily(x: str, wm: str) -> str:
        # the daily cycle (its swing follows the clouds) and the pressure tide (cos 2a is
        # 1 - 2 sin^2 a), x seconds into the block
        s = f"sin({wm}.solar0 + {dbl(2 * math.pi / 86400)} * {x})"
        return f"({quadratic(x, wm, 'a')} * {s} + {wm}.tide * (1D - 2D * {s} * {s}))"

    if fit is not None:
        # at each node: the drift, the wander, the daily cycle and the tide
        values = block_doubles("cycles_at", [f"{cycles(dbl(x))} + {daily(dbl(x), 'wm')}" for x in fit.nodes])
        # plus the quadratic (in the same u = 2 x / length - 1)
        coefficients = fit.coefficients(values)
        coefficients[:3] = [f"{c} + {q}" for c, q in zip(coefficients, quadratic_coefficients("wm"))]
        coefficients = block_doubles("poly_c", coefficients)
        fields = ", ".join(f"'c{i}', {c}" for i, c in enumerate(coefficients))
        b.block("poly", None, f"named_struct({fields})")

    # then for each reading
    b.tmp("tick", "long", "_blk_tick")
    b.tmp("channel", "long", "_blk_channel")
    b.col("reading_id", "long", "id + 1L")
    b.col("device_id", "long", "_blk_device_id")
    b.tmp("row_h", "long", rnd.hash("row", "id"))
    b.tmp("in_slot", "int", f"cast(tick & {slot - 1}L as int)")  # the reading's place in its slot
    b.tmp("ep_pos", "int", "in_slot - ep_start")
    # a drift takes over a channel: no other episode shows meanwhile
    b.tmp("dr_pos", "long", "tick - dr_first")
    b.tmp("ep_active", "int", f"IF(dr_first >= 0L AND dr_pos >= 0L AND dr_pos < dr_len, {ANOMALY_CODES['drift']},"
                              f" IF(ep_pos >= 0 AND ep_pos < ep_len, ep_kind, 0))")
    b.tmp("ep_offset", "double", f"IF(ep_active = {ANOMALY_CODES['drift']}, k.drift_fault, k.fault)")

    b.tmp("t_us", "long", f"unix_micros({SOURCE_TIMESTAMP})" if realtime else
          f"{config.start_micros}L + tick * {cadence_us}L + cast({u_jitter} * {jitter_us}D as long)")
    b.tmp("epoch_s", "long", "coalesce(t_us div 1000000L, 0L)")
    # its device's connectivity outage (late arrival): the outage's start and end, 0 if none
    if outage_slot and outage_rows:
        # (floor division in whole numbers: the time may lie before the data's start, realtime)
        since = f"(epoch_s - {start_s}L)"
        b.tmp("o_j", "long", f"({since} - pmod({since}, {outage_slot}L)) div {outage_slot}L")
        b.tmp("o_h", "long", rnd.hash("outage", "device_id", "o_j"))
        o_s, o_e = outage("o_j", "o_h")
        b.tmp("o_s", "long", o_s)
        b.tmp("o_e", "long", o_e)
    if outage_slot:
        ends = [(f"k.o{i}s", f"k.o{i}e") for i in (1, 2)] if not outage_rows else [("o_s", "o_e")]
        for name, pick in (("out_start", 0), ("out_end", 1)):
            b.tmp(name, "long", "".join(f"IF(t_us >= {lo} AND t_us < {hi}, {(lo, hi)[pick]}, " for lo, hi in ends)
                  + "0L" + ")" * len(ends))
    else:
        b.tmp("out_start", "long", "0L")
        b.tmp("out_end", "long", "0L")
    # a reset clock stamps the reading with its own time: from its reset, as far on as the reading
    # from the run's first (not in an anomaly episode, whose labels tell its readings' times)
    clock = "cr_first" in terms
    if clock:
        b.tmp("clock", "boolean", "ep_active = 0 AND k.cr_first >= 0 AND in_slot >= k.cr_first"
                                  " AND in_slot < k.cr_first + k.cr_len")
        stamp = (f"IF(clock, k.cr_base + (in_slot - k.cr_first) * {cadence_us}L"
                 f" + cast({u_jitter} * {jitter_us}D as long), t_us)")
    b.col("timestamp", "timestamp", f"timestamp_micros({stamp if clock else 't_us'})")
    # strings from literal arrays, not from the block: a string read from a row is a new object each time
    b.col("metric_name", "string", f"element_at(array({', '.join(sql_str(m.name) for m in metrics)}), profile + 1)")
    stuck = ANOMALY_CODES["stuck"]
    if realtime:
        b.tmp("v_s", "long", "epoch_s")
        b.tmp("v_h", "long", "row_h")
    else:
        # The value's time and hash: the reading's own, but a stuck sensor repeats its last good
        # value, so a stuck reading computes the value of the reading before its episode (its
        # tick and id, hence its jitter and noise): the same double, to the last digit.
        before = "(tick - ep_pos - 1L)"
        b.tmp("v_h", "long", f"IF(ep_active = {stuck}, {rnd.hash('row', f'{before} * {layout.n_channels}L + channel')},"
                             f" row_h)")
        v_jitter = hash_fields("v_h", 12)[0]
        b.tmp("v_s", "long", f"IF(ep_active = {stuck}, coalesce(({config.start_micros}L + {before} * {cadence_us}L"
                             f" + cast({v_jitter} * {jitter_us}D as long)) div 1000000L, 0L), epoch_s)")
        b.tmp("dt", "double", "cast(v_s - k.t0 as double)")  # seconds since the block's start

    def local(epoch: str) -> str:
        if "utc_offset" in terms:
            return f"{epoch} + IF({epoch} < k.offset_change, k.utc_offset, k.offset_after)"
        return f"coalesce({local_time.local_seconds(epoch, 'city_idx')}, {epoch})"

    b.tmp("local_s", "long", local("v_s"))  # the value's local time
    own_local = "local_s" if realtime else f"IF(ep_active = {stuck}, {local('epoch_s')}, local_s)"
    # the schedule: by the building's local hour of the week (its own hours: shifted), between
    # the table's values at the start of that hour and the next, so loads ramp; maintenance by
    # the facility's local hour
    b.tmp("sched_h", "double", f"cast(local_s + k.shift_s as double) * {dbl(1 / 3600)} + {EPOCH_HOUR_OF_WEEK}D")
    b.tmp("sched_i", "int", "cast(pmod(cast(floor(sched_h) as long), 168L) as int)")
    table = f"array({', '.join(dbl(v) for v in schedule)})"
    at = f"coalesce(element_at({table}, profile * 168 + {{}} + 1), 0D)"
    b.tmp("sched_f", "double", "sched_h - floor(sched_h)")
    b.tmp("occupancy", "double",
          f"{at.format('sched_i')} * (1D - sched_f) + {at.format('IF(sched_i = 167, 0, sched_i + 1)')} * sched_f")
    b.tmp("sched", "double", "k.night + (1D - k.night) * occupancy")
    b.tmp("in_window", "boolean", in_maintenance_window(config, hour_of_week(own_local)))
    _add_registry_status(b, life, inside, realtime=realtime)
    # a device in maintenance (a scheduled window, or the registry's status) measures nothing, so
    # it has no anomaly either
    b.tmp("in_maintenance", "boolean", f"in_window OR registry = {STATUS_CODES['Maintenance']}")
    b.tmp("anomaly", "int", "IF(in_maintenance, 0, ep_active)")

    # Data-quality problems, one at most: a reset clock stamps a run of readings wrongly; a
    # reading taken while its device was cut off (an outage) waits for it to reconnect (late
    # arrival); a mixed-up unit lasts a run of readings; of the others, one uniform picks one at
    # most. Value problems need a value.
    q_branches, cumulative, sentinel = [], 0.0, "k.sentinel_a"
    for code, issue in enumerate(ISSUE_ORDER, start=1):
        rate = quality.rate(issue)
        if rate > 0 and issue not in ("late_arrival", "unit_mixup", "clock_reset"):
            if issue == "sentinel_value":  # its two error codes, half of the time each
                sentinel = f"IF({u_issue} < {dbl(cumulative + rate / 2)}, k.sentinel_a, k.sentinel_b)"
            cumulative += rate
            q_branches.append(f"WHEN {u_issue} < {dbl(cumulative)} THEN {code}")
    issue = f"(CASE {' '.join(q_branches)} ELSE 0 END)" if q_branches else "0"
    if "mx_first" in terms:
        issue = (f"IF(k.mx_first >= 0 AND in_slot >= k.mx_first AND in_slot < k.mx_first + k.mx_len,"
                 f" {ISSUE_CODES['unit_mixup']}, {issue})")
    if issue != "0":
        b.tmp("issue_pick", "int", issue)
        issue = f"IF(issue_pick <= {_VALUE_ISSUES} AND (anomaly > 0 OR in_maintenance), 0, issue_pick)"
    if outage_slot:
        issue = f"IF(out_end > 0L, {ISSUE_CODES['late_arrival']}, {issue})"
    if clock:  # (its readings arrive on time: a device that lost its link keeps none of them)
        issue = f"IF(clock, {ISSUE_CODES['clock_reset']}, {issue})"
    b.tmp("issue", "int", issue)
    # the device lifecycle: no reading before the device's CDC insert or after its delete
    # and none while the registry says it is Offline
    b.tmp("registered", "boolean", f"t_us >= life_from_us AND t_us < life_until_us"
                                   f" AND registry != {STATUS_CODES['Offline']}")
    # no row for an unregistered device, two for a retransmitted reading; also splits the generated
    # code in two methods
    b.explode("copy", f"IF(registered, IF(issue = {ISSUE_CODES['duplicate']}, array(0, 1), array(0)), array())")

    # the true value: level, load, weather, wander and drift (noise and faults come after)
    if realtime:
        rt = Weather.for_city(config.seed, "city_idx", *climate_args, climate="_blk_climate")
        b.tmp("wx_pa", "double", rt.pressure_anomaly("epoch_s"))
        b.tmp("wx_mean", "double", rt.mean_temperature("epoch_s"))
        b.tmp("wx_cloud", "double", rt.cloudiness("epoch_s", pressure_anomaly="wx_pa"))
        b.tmp("wx_dew", "double", rt.dew_point("epoch_s", mean="wx_mean", cloudiness="wx_cloud"))
        b.tmp("wx_t", "double", rt.temperature("epoch_s", mean="wx_mean", cloudiness="wx_cloud"))
    # the machine: its duty now, and the share of the reading's window it ran
    since_ref = f"cast(epoch_s - {start_s}L as double)" if realtime else "dt"
    b.tmp("cycle_at", "double", f"kd.f0 + {since_ref} * kd.inv_period")
    heat_need = f"kd.dh * {_degree_hours('wx_t')}" if realtime else quadratic("dt", "kd", "dh")
    b.tmp("duty", "double", _duty("kd.d0", "kd.occ", heat_need, "occupancy"))
    on = duty_on_fraction("cycle_at - kd.w_cycles", "cycle_at", "kd.cycle0", "duty", "kd.run", "kd.seed")
    b.tmp("load", "double", f"IF(kd.amp > 0D, sched * (1D - kd.amp) + kd.amp * {on}, sched)")
    if realtime:
        b.tmp("age_days", "double", f"k.install_days + (epoch_s - {start_day_s}L) * {dbl(1 / 86400)}")
        wander = slow_wander(f"(epoch_s - {start_day_s}L)", "k.wander_phase1", "k.wander_phase2",
                             "k.wander_rate1", "k.wander_rate2")
        b.tmp("smooth", "double",
              f"k.level * load + k.wander_amp * {wander} + k.drift_rate * age_days + "
              + outdoor("wx_t", rt.pressure("epoch_s", anomaly="wx_pa"), relative_humidity("wx_t", "wx_dew"),
                        _degree_hours("wx_t"), "k.w_"))
        # a stuck sensor repeats a typical reading (a realtime row knows nothing before it)
        b.tmp("stuck", "double", "k.level * k.typical + k.w_outdoor_temp * _blk_climate.mean_temp"
                                 " + k.w_outdoor_rh * 70D + k.w_outdoor_pressure * 1013.25D")
        b.tmp("age_penalty", "int", f"cast(least(floor(age_days * {dbl(1 / 365)}), 8L) * 2L as int)")
    elif fit is None:
        # each row computes its daily cycle and the wander's sines (block-relative phases)
        b.tmp("smooth", "double", f"k.level * load + {cycles('dt')} + {daily('dt', '_blk_wm')}"
                                  f" + {quadratic('dt', '_blk_wm')}")
    else:
        poly = fit.evaluate([f"poly.c{i}" for i in range(len(fit.nodes))], "dt")
        b.tmp("smooth", "double", f"k.level * load + {poly}")
    if not realtime:
        b.tmp("age_penalty", "int", "k.years_off")
    v_noise = hash_fields("v_h", 12, 12)[1]  # the value's noise (u_noise, or the reading's a stuck one repeats)
    _add_faults_and_labels(b, config, metrics, v_noise, u_quality, u_ingest, rnd.uniform("retransmit", "id"),
                           sentinel, realtime=realtime)


def _add_episode_columns(b: SpecBuilder, anomalies: AnomalyConfig, rnd: Randomness) -> None:
    """The block's anomaly episode: ``ep_kind`` (0: none, else ANOMALY_CODES), ``ep_len`` and
    ``ep_start`` (readings into the slot); and its drift slot's drift: ``dr_first`` (its first
    tick; negative: none), ``dr_len`` and ``dr_h`` (its hash: size and sign)."""
    e_kind, e_length, e_start = (split_uniform("ep_h", i, 16) for i in range(3))
    slot = anomalies.slot_readings
    # Anomaly episodes by slot: a channel's ticks are cut into slots of S readings; a slot holds at
    # most one episode, whose kind, length, start and size come from one hash of (channel, slot).
    b.block("ep_h", "long", rnd.hash("episode", "channel", "slot"))
    probs = anomalies.episode_probabilities()
    lows = [anomalies.lengths(k)[0] for k in ANOMALY_TYPES]
    spans = [anomalies.lengths(k)[1] - anomalies.lengths(k)[0] + 1 for k in ANOMALY_TYPES]
    branches, cumulative = [], 0.0
    for code, p in enumerate(probs, start=1):
        if p > 0 and code != ANOMALY_CODES["drift"]:
            cumulative += p
            branches.append(f"WHEN {e_kind} < {dbl(cumulative)} THEN {code}")
    b.block("ep_kind", "int", f"(CASE {' '.join(branches)} ELSE 0 END)" if branches else "0")
    b.block("ep_len", "int", f"element_at(array(0, {', '.join(map(str, lows))}), ep_kind + 1)"
                             f" + cast({e_length} * element_at(array(1D, {', '.join(dbl(s) for s in spans)}),"
                             f" ep_kind + 1) as int)")
    # a stuck episode starts at the slot's second reading or later: the reading before it, whose
    # value the sensor repeats, lies in the same block (computed by the same polynomial)
    b.block("ep_start", "int", f"IF(ep_kind = {ANOMALY_CODES['stuck']}, 1 + cast({e_start} * ({slot} - ep_len) as int),"
                               f" cast({e_start} * ({slot + 1} - ep_len) as int))")
    # Drifts by drift slot (whole slots: a block lies in one), at most one a drift slot, of a
    # log-uniform length: hours to days.
    drift_slot = anomalies.drift_slot_readings
    lo, hi = anomalies.lengths("drift")
    d_has, d_length, d_start = hash_fields("dr_h", 16, 16, 16)
    b.block("dr_h", "long", rnd.hash("drift", "channel", f"(slot div {drift_slot // slot}L)"))
    b.block("dr_len", "int", f"least({hi}, cast({dbl(lo)} * exp({d_length} * {dbl(math.log((hi + 1) / lo))}) as int))")
    b.block("dr_first", "long", f"IF({d_has} < {dbl(anomalies.drift_probability)}, (slot div {drift_slot // slot}L)"
                                f" * {drift_slot}L + cast({d_start} * ({drift_slot + 1} - dr_len) as long), -1L)")


def _add_quality_runs(b: SpecBuilder, config: IoTConfig, rnd: Randomness) -> dict[str, str]:
    """The quality problems that last a run of readings, by anomaly slot (at most one of each a
    slot); returns the fields of the block's struct ``k`` that tell a row whether it is in one
    (``*_first``: its first reading in the slot, negative: none; ``*_len``: its readings):

    * a unit mix-up (``mx_*``), of one channel;
    * a clock reset (``cr_*``), of a device (all its channels: one clock): the device rebooted
      8-60 s before the run's first reading with its clock at 1970-01-01 or at its firmware's
      build date (30 days to two years before the data's start, at any second); its timestamps
      count on from there (``cr_base``: the first reading's, without its jitter).
    """
    slot, quality, terms = config.anomalies.slot_readings, config.quality, {}
    for issue, prefix, owner in (("unit_mixup", "mx", "channel"), ("clock_reset", "cr", "device_id")):
        lo, hi, chance = quality.episode(issue, slot)
        if chance <= 0:
            continue
        u_has, u_len, u_start, u_base, u_up = hash_fields(f"{prefix}_h", 16, 16, 16, 8, 8)
        b.block(f"{prefix}_h", "long", rnd.hash(issue, owner, "slot"), alias=False)
        b.block(f"{prefix}_len", "int", f"{lo} + cast({u_len} * {hi - lo + 1}D as int)", alias=False)
        terms[f"{prefix}_first"] = (f"IF({u_has} < {dbl(chance)}, cast({u_start} * ({slot + 1} - {prefix}_len)"
                                    " as int), -1)")
        terms[f"{prefix}_len"] = f"{prefix}_len"
        if issue == "clock_reset":
            start_s = int(config.start.timestamp())
            build_s = (f"({start_s}L - 2592000L - cast({rnd.uniform('firmware_build', 'device_id')}"
                       f" * 60480000D as long))")
            up_us = f"(8000000L + cast({u_up} * 52000000D as long))"
            terms["cr_base"] = f"IF({u_base} < 0.5D, 0L, {build_s} * 1000000L) + {up_us}"
    return terms


def _add_registry_columns(b: SpecBuilder, life: Lifecycle, t0: str, span_s: int, *,
                          realtime: bool) -> tuple[dict[str, str], int]:
    """The registry's status changes the block needs (block columns); returns the fields a
    realtime row reads from the block's struct ``k``, and how many changes can fall inside a
    block (batch builds)."""
    # The device's status in the registry (devices_cdc): its initial status, then one change at
    # most per CDC batch, at the second the CDC says. A block knows how many changes came before
    # it, and when the few that can fall inside it happen (windows are whole batches apart).
    b.block_barrier()
    b.block("reg_init", "int", life.initial_code("device_id"), alias=False)
    batches = range(1, life.batches + 1)
    if life.batches:
        # never null (null checks bloat the generated code): never deleted is the largest bigint
        b.block("reg_ins", "long", f"coalesce({life.inserted_s('device_id', 'life_rank')}, 0L)", alias=False)
        b.block("reg_del", "long", f"coalesce({life.deleted_s('device_id', 'life_rank')}, {2**63 - 1}L)",
                alias=False)
        # each batch's hash and window, computed once: the optimizer would inline them where read
        updates = [life.update("device_id", k, "reg_ins", "reg_del") for k in batches]
        fields = [f"'h{k}', {life.update_hash('device_id', k)}, 'lo{k}', {u.lo}, 'hi{k}', {u.hi}"
                  for k, u in zip(batches, updates)]
        b.block("reg_h", None, f"named_struct({', '.join(fields)})", alias=False)
        b.block_barrier()
        changes = [f"'a{k}', " + life.status_change_s("device_id", k, "reg_ins", "reg_del", hashed=f"reg_h.h{k}",
                                                      bounds=(f"reg_h.lo{k}", f"reg_h.hi{k}"))
                   for k in batches]
        b.block("reg_chg", None, f"named_struct({', '.join(changes)})", alias=False)
        b.block_barrier()
    after = [f"reg_chg.a{k}" for k in batches]
    if realtime:  # the row computes its status itself, from these fields of the block's struct k
        return {"reg_init": "reg_init", **{f"reg_a{k}": a for k, a in enumerate(after, start=1)}}, 0
    forever, reg = f"{2**63 - 1}L", {}
    b.block("reg_n0", "int", " + ".join(f"IF({a} < {t0}, 1, 0)" for a in after) or "0", alias=False)
    # the i-th change at or after the block's start: at most one a batch window it overlaps
    inside = min(life.batches, -(-span_s // life.step_s) + 1) if life.batches else 0
    for i in range(1, inside + 1):
        later = [f"IF({a} >= {t0}, {a}, {forever})" if i == 1 else f"IF({a} > reg_e{i - 1}, {a}, {forever})"
                 for a in after]
        b.block(f"reg_e{i}", "long", f"least({', '.join([*later, forever])})", alias=False)
        # in microseconds, as a reading's time (the largest bigint stays: never)
        reg[f"e{i}"] = f"IF(reg_e{i} = {forever}, reg_e{i}, reg_e{i} * 1000000L)"
    for i in range(inside + 1):
        reg[f"s{i}"] = life.status_after("device_id", "reg_init", f"(reg_n0 + {i})")
    b.block_barrier()
    b.block("reg", None, f"named_struct({', '.join(f'{sql_str(n)}, {e}' for n, e in reg.items())})")
    return {}, inside


def _add_registry_status(b: SpecBuilder, life: Lifecycle, inside: int, *, realtime: bool) -> None:
    """``registry``: the device's status in the registry at the reading's time."""
    # the device's status in the registry now (STATUS_CODES: 0 Online, 1 Offline, 2 Maintenance)
    if realtime:
        changes = " + ".join(f"IF(epoch_s >= k.reg_a{i}, 1, 0)" for i in range(1, life.batches + 1)) or "0"
        b.tmp("registry", "int", life.status_after("device_id", "k.reg_init", f"({changes})"))
    else:
        status = f"reg.s{inside}"
        for i in range(inside, 0, -1):
            status = f"IF(t_us >= reg.e{i}, {status}, reg.s{i - 1})"
        b.tmp("registry", "int", status)


def _add_faults_and_labels(b: SpecBuilder, config: IoTConfig, metrics: list[Metric], u_noise: str, u_quality: str,
                           u_ingest: str, u_retransmit: str, sentinel: str, *, realtime: bool) -> None:
    """What goes wrong with a reading, on its true value (``smooth``; ``stuck`` for a stuck
    sensor): the anomaly's fault, noise, data-quality problems (``sentinel``: the error code a
    sentinel value sends); then the output columns that label them (quality score, status,
    anomaly type, quality issue, ingest time)."""
    quality = config.quality
    # A one-row Generate that the value reads: the optimizer pushes a filter on it (metric_value
    # IS NOT NULL) down to here and no further; below, the filter would repeat the value's whole
    # expression (over the JVM's 64 KB a method, and computed twice). It also splits the code.
    b.explode("value_barrier", "array(0D)")
    # a spike's height, or a drift's offset, growing to its full size at the drift's last reading
    fault = (f"IF(anomaly = {ANOMALY_CODES['spike']}, k.fault, IF(anomaly = {ANOMALY_CODES['drift']}, "
             f"(dr_pos + 1L) * (k.drift_fault / dr_len), 0D))")
    b.tmp("value", "double",
          "least(k.high, greatest(k.low, " + (f"IF(anomaly = {ANOMALY_CODES['stuck']}, stuck, " if realtime else "(")
          + f"smooth + value_barrier + k.noise_amp * ({u_noise} * 2D - 1D) + {fault})))")
    factor = dbl(quality.out_of_range_factor)
    # a malfunction's value far out of range, a sensor's error code, a value in the wrong unit
    malfunction = (f"CASE issue WHEN {ISSUE_CODES['out_of_range']} THEN greatest(value * {factor}, k.high * 2D)"
                   f" WHEN {ISSUE_CODES['sentinel_value']} THEN {sentinel}"
                   f" WHEN {ISSUE_CODES['unit_mixup']} THEN value * k.unit_scale + k.unit_offset ELSE value END")
    # null in maintenance, dropouts and missing values: try_divide by 0 gives NULL, and costs far
    # less code than IF(..., NULL, ...)
    b.col("metric_value", "double",
          f"try_divide({malfunction}, IF(in_maintenance OR anomaly = {ANOMALY_CODES['dropout']}"
          f" OR issue = {ISSUE_CODES['null_value']}, 0D, 1D))")
    b.col("unit", "string", f"element_at(array({', '.join(sql_str(m.unit) for m in metrics)}), profile + 1)")
    # a reading loses quality points for its device (age, radio link, battery) and for what went
    # wrong with it: an anomaly, a missing or impossible value, a retransmission, a late arrival
    problem_off = f"element_at(array(0, {', '.join(str(QUALITY_PENALTIES[i]) for i in ISSUE_ORDER)}), issue + 1)"
    b.col("quality_score", "int",
          f"100 - cast(floor({u_quality} * 6D) as int) - age_penalty - k.link_off - k.battery_off"
          f" - IF(anomaly > 0, {QUALITY_PENALTIES['anomaly']}, 0) - coalesce({problem_off}, 0)")
    b.col("device_status", "string",
          f"IF(in_maintenance, 'Maintenance', IF(anomaly = {ANOMALY_CODES['dropout']}, 'Offline', 'Online'))")
    b.col("is_anomaly", "boolean", "anomaly > 0")
    b.col("anomaly_type", "string",
          f"element_at(array(CAST(NULL AS STRING), {', '.join(map(sql_str, ANOMALY_TYPES))}), anomaly + 1)")
    b.col("quality_issue", "string",
          f"element_at(array(CAST(NULL AS STRING), {', '.join(map(sql_str, ISSUE_ORDER))}), issue + 1)")
    # A reading arrives 0.2-3 s after it is taken; one taken in an outage once its device has
    # reconnected (5 s after the link is back), the backlog in order (a millisecond for each second
    # it waited); a retransmitted copy some seconds or minutes after its original.
    rt_lo, rt_hi = quality.retransmit_seconds
    retransmit = (f"IF(copy = 1, cast(exp({dbl(math.log(rt_lo * 1e6))} + {u_retransmit}"
                  f" * {dbl(math.log(rt_hi / rt_lo))}) as long), 0L)")
    b.col("ingest_timestamp", "timestamp",
          f"timestamp_micros(IF(issue = {ISSUE_CODES['late_arrival']},"
          f" out_end + {RECONNECT_US}L + (t_us - out_start) div 1000L,"
          f" t_us + 200000L + cast({u_ingest} * 2800000D as long)) + {retransmit})")
