"""``environment_readings``: Ruuvi environmental tags (seed 004), physically plausible, without state.

A tag sits at a site in a location, and measures every ``cadence_seconds``: temperature (C),
relative humidity (%), air pressure (Pa), acceleration on three axes (mg), battery (mV), tx power
(dBm), a movement counter, a measurement sequence number and the RSSI its gateway heard (dBm).

* temperature follows the location (a bedroom near 20 C, a freezer near -18 C, a greenhouse and
  the outdoors with a wide daily cycle), with a slow wander of the tag's own;
* humidity falls when the air warms (relative humidity), within 0-100 %;
* pressure is the site's weather: around 101,325 Pa, moving by a few hPa over days, the same for
  every tag of a site;
* the tag lies still (gravity, 1,000 mg, on its own axis), except when it is moved: the movement
  counter counts moves and never falls, and a measurement after a move shows the shake;
* the measurement sequence number rises by one per measurement; the battery drains slowly (a
  fraction of a mV a day), lower in a freezer.

:func:`environment_long` turns the wide table into the long layout of the seed's Timestream
table: dimensions, ``time``, ``measure_name``, ``measure_value``, ``measure_value_type``.
"""

from __future__ import annotations

import dbldatagen as dg
from pyspark.sql import DataFrame, SparkSession

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.rand import Randomness, dbl, hash_fields, salt, split_uniform, sql_str
from dbx_iot_gen.tables._spec import SOURCE_TIMESTAMP, SpecBuilder, partitions_for

__all__ = ["ENVIRONMENT_COLUMNS", "LOCATIONS", "LONG_COLUMNS", "MEASURES", "SITES", "environment_long",
           "environment_spec"]

ENVIRONMENT_COLUMNS = (
    "device_id", "site", "location", "timestamp", "temperature", "humidity", "pressure", "acceleration_x",
    "acceleration_y", "acceleration_z", "battery", "tx_power", "movement_counter", "measurement_sequence_number",
    "rssi",
)
SITES = ("home", "cottage", "office", "farm")
# location: mean temperature, daily half-swing (C), mean humidity (%), moves per day
LOCATIONS: dict[str, tuple[float, float, float, float]] = {
    "bedroom": (20.0, 1.5, 45.0, 1.0),
    "living room": (21.0, 2.0, 40.0, 2.0),
    "kitchen": (22.0, 3.0, 50.0, 3.0),
    "bathroom": (22.0, 2.0, 60.0, 1.0),
    "basement": (15.0, 0.5, 65.0, 0.2),
    "garage": (12.0, 4.0, 55.0, 4.0),
    "greenhouse": (24.0, 8.0, 75.0, 0.5),
    "outdoor": (10.0, 6.0, 70.0, 6.0),
    "fridge": (4.0, 0.5, 80.0, 8.0),
    "freezer": (-18.0, 1.0, 60.0, 3.0),
}
# measure: SQL type in the long layout
MEASURES = {
    "temperature": "DOUBLE", "humidity": "DOUBLE", "pressure": "BIGINT", "acceleration_x": "BIGINT",
    "acceleration_y": "BIGINT", "acceleration_z": "BIGINT", "battery": "BIGINT", "tx_power": "BIGINT",
    "movement_counter": "BIGINT", "measurement_sequence_number": "BIGINT", "rssi": "BIGINT",
}
LONG_COLUMNS = ("device_id", "site", "location", "time", "measure_name", "measure_value", "measure_value_type")
_TWO_PI = "6.283185307179586D"


def environment_spec(spark: SparkSession, config: IoTConfig, *, realtime: bool = False) -> dg.DataGenerator:
    """The spec of ``environment_readings``: every tag, every ``environment.cadence_seconds`` of the
    config's range.

    ``device_id`` is the tag's MAC address (12 lower-case hex digits, as the seed's
    ``e7428453ecb1``). Row ``id`` maps to ``tag = id % n_sensors``, ``tick = id div n_sensors``:
    time rises with the id. ``realtime``: event time is when the streaming source made the row
    (for ``build(withStreaming=True)`` only).

    Example:
        >>> df = environment_spec(spark, IoTConfig.preset("tiny")).build()  # doctest: +SKIP
        >>> df.groupBy("location").avg("temperature").show()  # doctest: +SKIP
    """
    env = config.environment
    ticks = max(1, config.duration_seconds // env.cadence_seconds)
    rows = env.n_sensors * ticks
    b = SpecBuilder(spark, "environment_readings", rows, partitions_for(config, rows), config.seed)
    _add_environment_columns(b, config, realtime=realtime)
    return b.spec


def _pick(names: tuple[str, ...] | list[str], index: str) -> str:
    return f"element_at(array({', '.join(sql_str(n) for n in names)}), {index} + 1)"


def _lookup(values: list[float], index: str) -> str:
    return f"element_at(array({', '.join(dbl(v) for v in values)}), {index} + 1)"


def _add_environment_columns(b: SpecBuilder, config: IoTConfig, *, realtime: bool = False) -> None:
    env = config.environment
    rnd = Randomness(config.seed, "environment_readings")
    n, cadence = env.n_sensors, env.cadence_seconds
    mac_mult = 0x5DEECE66D  # odd
    mac_offset = salt(config.seed, "environment_readings", "mac") % (1 << 48)
    names = list(LOCATIONS)
    mean_t, swing_t, mean_h, moves = (list(v) for v in zip(*LOCATIONS.values()))
    u_site, u_loc, u_phase, u_w1, u_w2, u_w3 = (split_uniform("tag_h", i, 10) for i in range(6))
    u_batt, u_drain, u_seq, u_rssi, u_axis, u_tx = (split_uniform("tag_h2", i, 10) for i in range(6))
    n_t, n_h, n_rssi, n_x, n_y, n_z = hash_fields("row_h", 10, 10, 10, 10, 10, 10)
    start_s = int(config.start.timestamp())

    b.tmp("tag", "long", f"pmod(id, {n}L)")
    b.tmp("tick", "long", f"coalesce(id div {n}L, 0L)")
    b.tmp("tag_h", "long", rnd.hash("tag", "tag"))
    b.tmp("tag_h2", "long", rnd.hash("tag_more", "tag"))
    # MAC: a bijection of the tag number onto 48 bits (odd multipliers and xor-shifts mod 2^48),
    # with no product over 2^63
    b.tmp("mac1", "long", f"pmod({mac_mult}L * tag + {mac_offset}L, {1 << 48}L)")
    b.tmp("mac2", "long", f"pmod((mac1 ^ shiftright(mac1, 21)) * 11443L, {1 << 48}L)")
    b.col("device_id", "string", "lpad(lower(hex(mac2 ^ shiftright(mac2, 17))), 12, '0')")
    b.tmp("site_idx", "int", f"cast({u_site} * {len(SITES)}D as int)")
    b.col("site", "string", _pick(SITES, "site_idx"))
    b.tmp("loc_idx", "int", f"cast({u_loc} * {len(names)}D as int)")
    b.col("location", "string", _pick(names, "loc_idx"))
    # each tag measures at its own second of the cadence
    if realtime:
        b.tmp("t_s", "double", f"(unix_micros({SOURCE_TIMESTAMP}) - {start_s * 1_000_000}L) * 1.0E-6D")
        b.col("timestamp", "timestamp", SOURCE_TIMESTAMP)
    else:
        b.tmp("t_s", "double", f"tick * {dbl(cadence)} + {u_phase} * {dbl(cadence)}")
        b.col("timestamp", "timestamp", f"timestamp_micros({start_s * 1_000_000}L + cast(t_s * 1000000D as long))")
    b.tmp("row_h", "long", rnd.hash("measurement", "tag", "tick"))
    day = f"(t_s * {dbl(1 / 86400)})"
    # the daily cycle peaks mid-afternoon; the wander has periods of 6-30 hours
    daily = f"sin({_TWO_PI} * (({start_s % 86400}D + t_s) * {dbl(1 / 86400)} - 0.375D))"
    wander = f"sin({_TWO_PI} * ({day} / (0.25D + {u_w1}) + {u_w2}))"
    b.col("temperature", "double",
          f"{_lookup(mean_t, 'loc_idx')} + {_lookup(swing_t, 'loc_idx')} * {daily}"
          f" + (0.5D + {u_w3}) * {wander} + 0.02D * ({n_t} - 0.5D)")
    # relative humidity falls about 3 % per degree the air warms above the location's mean
    b.col("humidity", "double",
          f"least(100D, greatest(0D, {_lookup(mean_h, 'loc_idx')}"
          f" - 3D * (temperature - {_lookup(mean_t, 'loc_idx')}) + 4D * {wander} + 0.2D * ({n_h} - 0.5D)))")
    # a code-size barrier: the generated methods stay small enough for the JIT to compile quickly
    b.explode("split", "array(0)")
    # weather: one pressure curve per site, periods of 2 to 7 days, +-15 hPa
    site_h = rnd.hash("site_weather", "site_idx")
    w1, w2, w3 = (split_uniform(site_h, i, 16) for i in range(3))
    b.col("pressure", "long",
          f"cast(101325D + 900D * sin({_TWO_PI} * ({day} / (2D + 5D * {w1}) + {w2}))"
          f" + 600D * sin({_TWO_PI} * ({day} / (1D + 2D * {w3}) + {w1})) + 5D * ({n_t} - 0.5D) as long)")
    # moves: floor of an increasing curve of time, bursty by day (its slope never turns negative)
    rate = f"({_lookup(moves, 'loc_idx')} * (0.5D + {u_w1}) * {dbl(1 / 86400)})"
    moved = ("cast(floor({rate} * ({t} + 0.9D * 86400D / {two_pi} * sin({two_pi} * {t} * {inv_day} + {ph})))"
             " as long)")
    fmt = {"rate": rate, "two_pi": _TWO_PI, "inv_day": dbl(1 / 86400), "ph": f"{_TWO_PI} * {u_w2}"}
    b.tmp("moves", "long", moved.format(t="t_s", **fmt))
    b.tmp("moves_before", "long", moved.format(t=f"(t_s - {dbl(cadence)})", **fmt))
    b.tmp("shake", "double", "IF(moves > moves_before, 300D, 4D)")
    # gravity on the tag's own axis: most lie flat (z), some stand on an edge (x or y)
    b.tmp("axis", "int", f"CASE WHEN {u_axis} < 0.7D THEN 2 WHEN {u_axis} < 0.85D THEN 0 ELSE 1 END")
    for i, (name, noise) in enumerate((("acceleration_x", n_x), ("acceleration_y", n_y), ("acceleration_z", n_z))):
        b.col(name, "long", f"cast(IF(axis = {i}, 1000D, 0D) + shake * ({noise} * 2D - 1D) as long)")
    b.col("battery", "long",
          f"cast(2950D + 200D * {u_batt} - (0.2D + 0.8D * {u_drain}) * {day}"
          f" - IF(loc_idx = {names.index('freezer')}, 150D, 0D) as long)")
    b.col("tx_power", "long", f"element_at(array(-4L, 0L, 4L), cast({u_tx} * 3D as int) + 1)")
    b.col("movement_counter", "long", f"cast({u_seq} * 50D as long) + moves")
    b.col("measurement_sequence_number", "long", f"cast({u_seq} * 30000D as long) + tick")
    b.col("rssi", "long", f"cast(-95D + 40D * {u_rssi} + 6D * ({n_rssi} - 0.5D) as long)")


def environment_long(df: DataFrame) -> DataFrame:
    """The long layout of the seed's Timestream table: one row per tag, time and measure, with the
    dimensions ``device_id``, ``site`` and ``location``, ``time``, ``measure_name``,
    ``measure_value`` (a double) and ``measure_value_type`` (DOUBLE or BIGINT).

    Example:
        >>> environment_long(environment_spec(spark, cfg).build()).show(3)  # doctest: +SKIP
    """
    pairs = ", ".join(f"{sql_str(m)}, cast({m} as double), {sql_str(t)}" for m, t in MEASURES.items())
    return df.selectExpr("device_id", "site", "location", "timestamp AS time",
                         f"stack({len(MEASURES)}, {pairs}) AS (measure_name, measure_value, measure_value_type)")
