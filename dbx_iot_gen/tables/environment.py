"""``environment_readings``: Ruuvi environmental tags (seed 004), as real tags behave, without state.

A tag sits at a site in a location and broadcasts every ``cadence_seconds``: temperature (C),
relative humidity (%), air pressure (Pa), acceleration on three axes (mg), battery (mV), tx power
(dBm), a movement counter, a measurement sequence number and the RSSI its gateway heard (dBm).
The sites are Finnish, as Ruuvi is: each has its own weather (:class:`dbx_iot_gen.weather.Weather`
with the climate of a nearby town) and the local time of Europe/Helsinki.

* **rooms** (bedroom, kitchen, basement, garage, greenhouse, ...): the location's temperature with
  a daily cycle in local time and a slow wander of the tag's own; a little of the weather leaks in
  (a room is slightly warmer on a warmer-than-normal day, a garage or a greenhouse much more);
  relative humidity falls as the air warms;
* **bathrooms**: 1-3 showers a day (morning, late afternoon, evening; hashed per tag and day):
  humidity jumps to 85-100 % within minutes and decays over 30-60 minutes, the air warms 1-2 C;
* **fridges and freezers**: the compressor's cycle, of 20-90 minutes per tag and a little longer or
  shorter from cycle to cycle: the air warms slowly while the compressor is off and cools fast while
  it runs (1-2 C from low to high: a fridge about 2-6 C, a freezer about -20 to -16 C); 2-4
  defrosts a day heat it for 15-30 minutes (a freezer by 4-8 C, a fridge by 1-2.5 C), then it
  recovers; the humidity inside rises and falls with the temperature;
* **outdoors**: the site's weather (temperature and relative humidity): outdoor tags of a site
  agree, each with a small offset (placement, sun) and noise of its own;
* **pressure**: the site's weather at the site's altitude, the same for every tag of the site
  (indoors too), each tag with a calibration offset of a few tens of Pa;
* **motion**: the tag lies still (gravity, 1,000 mg, on its own axis), except when it is moved: the
  movement counter counts moves and never falls, and a measurement after a move shows the shake;
* **radio**: the RSSI drifts slowly around the tag's level (a few dB over hours) plus 1-3 dB per
  broadcast; a metal fridge or freezer costs 10-20 dB, the wall to the outdoors a few; the tag's
  tx power adds to it. The gateway misses 0.5-5 % of a tag's broadcasts (weak tags more), partly
  in bursts (bad-reception hours) and more while the signal is low: a missed broadcast has no row,
  and the measurement sequence number, which counts broadcasts, jumps over it;
* the battery drains slowly (a fraction of a mV a day), lower in a freezer.

:func:`environment_long` turns the wide table into the long layout of the seed's Timestream
table: dimensions, ``time``, ``measure_name``, ``measure_value``, ``measure_value_type``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import dbldatagen as dg
from pyspark.sql import DataFrame, SparkSession

from dbx_iot_gen.catalog import CITIES
from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.grid import grid
from dbx_iot_gen.rand import Randomness, dbl, hash_fields, salt, split_uniform, sql_str, weighted_case
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.tables._spec import SOURCE_TIMESTAMP, SpecBuilder, partitions_for
from dbx_iot_gen.weather import Weather, relative_humidity, smooth_positive

__all__ = ["ENVIRONMENT_COLUMNS", "LOCATIONS", "LONG_COLUMNS", "MEASURES", "SITES", "SITE_CLIMATES", "TIMEZONE",
           "Location", "SiteClimate", "environment_long", "environment_spec"]

ENVIRONMENT_COLUMNS = TABLES["environment_readings"].column_names


class SiteClimate(NamedTuple):
    """The climate of a site: the normals of a nearby Finnish town, as :class:`Weather` takes them."""

    mean_temp: float  # annual mean (C)
    season_swing: float  # half the warmest-to-coldest month difference (C)
    daily_swing: float  # half the night-to-afternoon difference (C)
    dew_depression: float  # mean temperature minus dew point (C)
    longitude: float  # degrees east
    altitude: float  # metres above sea level


SITE_CLIMATES: dict[str, SiteClimate] = {
    "home": SiteClimate(6.0, 11.0, 4.0, 4.0, 24.9, 20.0),  # Helsinki, by the sea
    "cottage": SiteClimate(3.5, 13.0, 5.0, 4.5, 27.7, 100.0),  # Kuopio, lakes inland
    "office": SiteClimate(5.0, 12.0, 4.5, 4.0, 23.8, 90.0),  # Tampere
    "farm": SiteClimate(3.5, 12.5, 5.0, 4.5, 22.8, 50.0),  # Seinajoki, open plains
}
SITES = tuple(SITE_CLIMATES)
TIMEZONE = "Europe/Helsinki"
_TIMEZONE_CITY = next(i for i, c in enumerate(CITIES) if c.timezone == TIMEZONE)


class Location(NamedTuple):
    """How a location's air and radio behave."""

    mean_temp: float  # C (a fridge's or freezer's setpoint; outdoors: unused, the weather's)
    daily_swing: float  # half the night-to-afternoon difference (C)
    mean_humidity: float  # %
    moves_per_day: float  # times the tag is moved (a fridge's door, a kitchen's hands)
    weather_leak: float  # share of the outdoor temperature's departure from normal that reaches the tag
    dew_follow: float  # share of the temperature's departure the dew point follows (plants, vents, walls)
    wall_loss_db: float  # RSSI lost to walls or a metal shell
    weight: float  # how common the location is among tags


LOCATIONS: dict[str, Location] = {
    "bedroom": Location(20.0, 1.5, 45.0, 1.0, 0.05, 0.3, 0.0, 1.0),
    "living room": Location(21.0, 2.0, 40.0, 2.0, 0.05, 0.3, 0.0, 1.2),
    "kitchen": Location(22.0, 3.0, 50.0, 3.0, 0.05, 0.3, 0.0, 0.8),
    "bathroom": Location(22.0, 2.0, 55.0, 1.0, 0.04, 0.3, 0.0, 1.0),
    "basement": Location(15.0, 0.5, 65.0, 0.2, 0.1, 0.3, 3.0, 0.5),
    "garage": Location(12.0, 4.0, 55.0, 4.0, 0.3, 0.5, 5.0, 0.5),
    "greenhouse": Location(24.0, 8.0, 65.0, 0.5, 0.5, 0.6, 5.0, 0.4),
    "outdoor": Location(6.0, 4.0, 75.0, 6.0, 1.0, 0.0, 6.0, 1.6),
    "fridge": Location(4.0, 0.0, 80.0, 8.0, 0.0, 0.0, 15.0, 1.0),
    "freezer": Location(-18.0, 0.0, 60.0, 3.0, 0.0, 0.0, 15.0, 0.9),
}
_LOC = {name: i for i, name in enumerate(LOCATIONS)}
# measure: SQL type in the long layout
MEASURES = {
    "temperature": "DOUBLE", "humidity": "DOUBLE", "pressure": "BIGINT", "acceleration_x": "BIGINT",
    "acceleration_y": "BIGINT", "acceleration_z": "BIGINT", "battery": "BIGINT", "tx_power": "BIGINT",
    "movement_counter": "BIGINT", "measurement_sequence_number": "BIGINT", "rssi": "BIGINT",
}
LONG_COLUMNS = ("device_id", "site", "location", "time", "measure_name", "measure_value", "measure_value_type")
_TWO_PI = "6.283185307179586D"
# A cubic B-spline of unit-variance knots has a standard deviation of about 0.69: divide by it
_BSPLINE_STD = 0.69
_TABLE = "environment_readings"
# Showers: (earliest start, latest start) in local hours, and how likely each is on a day
_SHOWERS = ((6.0, 8.5, 0.8), (16.5, 18.5, 0.25), (19.0, 21.5, 0.6))


def environment_spec(spark: SparkSession, config: IoTConfig, *, realtime: bool = False) -> dg.DataGenerator:
    """The spec of ``environment_readings``: every broadcast the gateway heard of every tag, one
    every ``environment.cadence_seconds`` of the config's range (each tag misses 0.5-5 % of them
    on average).

    ``device_id`` is the tag's MAC address (12 lower-case hex digits, as the seed's
    ``e7428453ecb1``). Row ``id`` maps to ``tag = id % n_sensors``, ``tick = id div n_sensors``
    (time rises with the id); a missed broadcast's id makes no row. ``realtime``: event time is
    when the streaming source made the row (for ``build(withStreaming=True)`` only).

    Example:
        df = environment_spec(spark, IoTConfig.preset("tiny")).build()
        df.groupBy("location").avg("temperature").show()
    """
    env = config.environment
    ticks = max(1, config.duration_seconds // env.cadence_seconds)
    rows = env.n_sensors * ticks
    b = SpecBuilder(spark, _TABLE, rows, partitions_for(config, rows), config.seed)
    rnd = Randomness(config.seed, _TABLE)
    _add_tag_columns(b, config, rnd)
    _add_time_columns(b, config, realtime=realtime)
    _add_reception(b, config.seed, rnd)
    _add_weather(b, config.seed)
    _add_appliance_cycle(b, config.seed)
    _add_showers(b, config.seed)
    _add_air(b, config.seed)
    _add_motion_and_counters(b, config)
    return b.spec


def _lookup(values: list[float], index: str) -> str:
    return f"element_at(array({', '.join(dbl(v) for v in values)}), {index} + 1)"


def _by_location(field: str) -> str:
    """A :class:`Location` field of the row's location."""
    return _lookup([getattr(loc, field) for loc in LOCATIONS.values()], "loc_idx")


def _by_site(field: str) -> str:
    """A :class:`SiteClimate` field of the row's site."""
    return _lookup([getattr(c, field) for c in SITE_CLIMATES.values()], "site_idx")


def _normal(fields: tuple[str, ...]) -> str:
    """Near-normal of unit variance from independent uniforms (Irwin-Hall)."""
    n = len(fields)
    return f"(({' + '.join(fields)} - {dbl(n / 2)}) * {dbl(math.sqrt(12 / n))})"


def _percent(raw: str) -> str:
    """``raw`` kept within (0, 100) smoothly: unchanged a few points away from either end."""
    return f"(100D - {smooth_positive(f'100D - {smooth_positive(raw, 2.0)}', 2.0)})"


def _dew_point(temperature: float, humidity: float) -> float:
    """The dew point (C) of air at ``temperature`` (C) and relative ``humidity`` (%), Magnus formula."""
    a, b = 17.625, 243.04
    gamma = math.log(humidity / 100) + a * temperature / (b + temperature)
    return b * gamma / (a - gamma)


def _is(*locations: str) -> str:
    return f"loc_idx IN ({', '.join(str(_LOC[n]) for n in locations)})"


def _add_tag_columns(b: SpecBuilder, config: IoTConfig, rnd: Randomness) -> None:
    """Who the tag is: MAC address, site, location; its radio level and tx power."""
    n = config.environment.n_sensors
    mac_mult = 0x5DEECE66D  # odd
    mac_offset = salt(config.seed, _TABLE, "mac") % (1 << 48)
    u_site, u_loc, _, u_w1, u_w2, u_w3 = (split_uniform("tag_h", i, 10) for i in range(6))
    u_rssi, u_wall, u_tx = hash_fields("tag_h3", 16, 16, 16)
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
    b.col("site", "string", f"element_at(array({', '.join(sql_str(s) for s in SITES)}), site_idx + 1)")
    weights = [loc.weight for loc in LOCATIONS.values()]
    b.tmp("loc_idx", "int", weighted_case(u_loc, [str(i) for i in range(len(LOCATIONS))], weights))
    b.col("location", "string", f"element_at(array({', '.join(sql_str(s) for s in LOCATIONS)}), loc_idx + 1)")
    b.tmp("wander1", "double", u_w1)
    b.tmp("wander2", "double", u_w2)
    b.tmp("wander3", "double", u_w3)
    b.tmp("tag_air", "long", rnd.hash("air", "tag"))
    b.tmp("tag_h3", "long", rnd.hash("radio", "tag"))
    b.tmp("tx_dbm", "long", f"element_at(array(-4L, 0L, 4L), cast({u_tx} * 3D as int) + 1)")
    # distance: -48 to -78 dBm; a metal shell takes 10-20 dB more, a wall to the outdoors a few
    b.tmp("rssi_level", "double",
          f"-48D - 30D * {u_rssi} - {_by_location('wall_loss_db')} * (0.67D + 0.66D * {u_wall}) + tx_dbm")


def _add_time_columns(b: SpecBuilder, config: IoTConfig, *, realtime: bool) -> None:
    """When the tag broadcasts: ``t_s`` (seconds since the start), ``epoch_s``, local time."""
    cadence = config.environment.cadence_seconds
    start_s = int(config.start.timestamp())
    u_phase = split_uniform("tag_h", 2, 10)
    # each tag broadcasts at its own second of the cadence
    if realtime:
        b.tmp("t_s", "double", f"(unix_micros({SOURCE_TIMESTAMP}) - {start_s * 1_000_000}L) * 1.0E-6D")
        b.col("timestamp", "timestamp", SOURCE_TIMESTAMP)
    else:
        b.tmp("t_s", "double", f"tick * {dbl(cadence)} + {u_phase} * {dbl(cadence)}")
        b.col("timestamp", "timestamp", f"timestamp_micros({start_s * 1_000_000}L + cast(t_s * 1000000D as long))")
    b.tmp("epoch_s", "double", f"{dbl(start_s)} + t_s")
    if realtime:  # any time: the zone's rules (a batch build knows its offsets in advance: cheaper)
        offset = f"(unix_micros(from_utc_timestamp(timestamp, {sql_str(TIMEZONE)})) - unix_micros(timestamp)) * 1.0E-6D"
    else:
        local_time = grid(config).local_time
        offset = f"coalesce({local_time.offset_seconds('cast(epoch_s as long)', str(_TIMEZONE_CITY))}, 7200)"
    b.tmp("local_s", "double", f"epoch_s + {offset}")
    b.tmp("local_day", "long", "cast(floor(local_s * 1.1574074074074073E-5D) as long)")
    b.tmp("local_hour", "double", "(local_s - local_day * 86400D) * 2.777777777777778E-4D")


def _add_reception(b: SpecBuilder, seed: int, rnd: Randomness) -> None:
    """The radio: RSSI drift, bad-reception hours, and which broadcasts the gateway missed (no row)."""
    u_noise, u_loss = (split_uniform("tag_h2", i, 10) for i in (4, 5))
    u_miss = hash_fields("row_h2", 20)[0]
    rssi_noise = _normal(hash_fields("row_h2", 20, 11, 11, 11, 11)[1:])
    # slow drift (people, doors, furniture): about 3 dB over hours, 1.2 dB within the hour
    b.tmp("rssi_drift", "double",
          f"3D * {value_noise('epoch_s', 'tag', 14_400, salt(seed, _TABLE, 'rssi_drift'))}"
          f" + 1.2D * {value_noise('epoch_s', 'tag', 3_600, salt(seed, _TABLE, 'rssi_flutter'))}")
    # the tag's loss rate: 0.5-5 %, higher for weak tags
    weakness = "least(1D, greatest(0D, (-55D - rssi_level) * 0.025D))"
    b.tmp("loss_rate", "double", f"0.005D * exp(2.302585092994046D * (0.5D * {weakness} + 0.5D * {u_loss}))")
    # one hour in ten the tag's reception is bad (5 times the losses; the other hours make up for it)
    hour = "cast(floor(epoch_s * 2.777777777777778E-4D) as long)"
    b.tmp("bad_hour", "boolean", f"{rnd.uniform('bad_hour', 'tag', hour)} < 0.1D")
    b.tmp("row_h2", "long", rnd.hash("broadcast", "tag", "tick"))
    # a lower signal than usual loses more (exp(-0.1 dB) averages 1.05 over the drift)
    b.tmp("miss_p", "double",
          "loss_rate * IF(bad_hour, 5D, 0.5555555555555556D) * exp(-0.1D * rssi_drift) * 0.95D")
    b.explode("received", f"IF({u_miss} < miss_p, array(), array(0))")  # also a code-size barrier
    b.tmp("rssi_dbm", "double", f"rssi_level + rssi_drift + (1D + 2D * {u_noise}) * {rssi_noise}")


def value_noise(t_s: str, key: str, knot_seconds: float, noise_salt: int) -> str:
    """Smooth noise of about unit standard deviation (rarely beyond +-3): near-normal values hashed
    at every ``knot_seconds`` of epoch seconds ``t_s`` for ``key``, joined by a uniform cubic
    B-spline (continuous to the second derivative). Rows with the same key share it.

    Example:
        >>> sql = value_noise("t_s", "tag", 3_600, 7)
        >>> sql.count("xxhash64(7L, tag, ") // 4  # four knots, each hash read for four 16-bit uniforms
        4
    """
    x = f"(({t_s}) * {dbl(1 / knot_seconds)})"
    k = f"cast(floor({x}) as long)"
    f = f"({x} - floor({x}))"
    # a knot's value: four 16-bit uniforms summed (Irwin-Hall: near normal), unit variance
    knots = []
    for j in (-1, 0, 1, 2):
        fields = hash_fields(f"xxhash64({noise_salt}L, {key}, {k} + {j}L)", 16, 16, 16, 16)
        knots.append(f"(({' + '.join(fields)}) - 2D) * 1.7320508075688772D")
    w = (f"(1D - {f}) * (1D - {f}) * (1D - {f})",
         f"(3D * {f} * {f} * {f} - 6D * {f} * {f} + 4D)",
         f"(-3D * {f} * {f} * {f} + 3D * {f} * {f} + 3D * {f} + 1D)",
         f"({f} * {f} * {f})")
    total = " + ".join(f"{wi} * ({v})" for wi, v in zip(w, knots))
    return f"(({total}) * {dbl(1 / (6 * _BSPLINE_STD))})"


def _weather(seed: int) -> Weather:
    return Weather(seed, key="site_idx", mean_temp=_by_site("mean_temp"), season_swing=_by_site("season_swing"),
                   daily_swing=_by_site("daily_swing"), dew_depression=_by_site("dew_depression"),
                   longitude=_by_site("longitude"), table=_TABLE)


def _add_weather(b: SpecBuilder, seed: int) -> None:
    """The site's weather at the row's time: outdoor temperature, its departure from the season's
    normal, relative humidity, and the pressure at the site (Pa)."""
    w = _weather(seed)
    # each weather component a column, in generated methods of their own (code-size barriers)
    b.tmp("p_anomaly", "double", w.pressure_anomaly("epoch_s"))
    b.tmp("cloudiness", "double", w.cloudiness("epoch_s", "p_anomaly"))
    b.explode("split_clouds", "array(0)")
    b.tmp("mean_t", "double", w.mean_temperature("epoch_s"))
    b.tmp("out_temp", "double", w.temperature("epoch_s", "mean_t", "cloudiness"))
    b.explode("split_temperature", "array(0)")
    b.tmp("out_dew", "double", w.dew_point("epoch_s", "mean_t", "cloudiness"))
    b.tmp("out_warmth", "double", f"out_temp - {w.mean_temp} - {w.season_swing} * {w.season('epoch_s')}")
    b.tmp("out_rh", "double", relative_humidity("out_temp", "out_dew"))
    # sunshine on a tag in the open: from 06:00 to 18:00 solar time, less under clouds and in winter
    sun_up = f"greatest(0D, sin({w.solar_angle('epoch_s')} + 0.7853981633974483D))"
    b.tmp("sunshine", "double", f"(1D - cloudiness) * {sun_up} * (0.6D + 0.4D * {w.season('epoch_s')})")
    # barometric: about 12 Pa less per metre up
    altitude = [math.exp(-c.altitude / 8434.0) for c in SITE_CLIMATES.values()]
    b.tmp("site_pa", "double", f"100D * {w.pressure('epoch_s', 'p_anomaly')} * {_lookup(altitude, 'site_idx')}")
    b.explode("split_weather", "array(0)")


def _cycle_jitter(cycle_salt: int, k: str) -> str:
    """A compressor cycle's boundary shift, in [-0.2, 0.2) of the tag's period."""
    return f"(({split_uniform(f'xxhash64({cycle_salt}L, tag, {k})', 0, 16)} - 0.5D) * 0.4D)"


def _add_appliance_cycle(b: SpecBuilder, seed: int) -> None:
    """A fridge's or freezer's compressor cycle and defrosts: ``appliance_t`` (C) and ``cycle_rh``
    (the humidity's departure, %); 0 elsewhere."""
    u_period, u_phase, u_duty, u_amp, u_center, u_defrost, u_rise = hash_fields("tag_cycle", *[9] * 7)
    cycle_salt, defrost_salt = salt(seed, _TABLE, "cycle"), salt(seed, _TABLE, "defrost")
    b.tmp("tag_cycle", "long", f"IF({_is('fridge', 'freezer')}, xxhash64({cycle_salt}L, tag), 0L)")
    # cycles of a nominal period (20-90 min); boundary k lies at k + jitter(k) periods, so the
    # nearest boundary m and jitters m - 1, m, m + 1 place the row in its cycle
    b.tmp("cyc_x", "double", f"epoch_s / (1200D + 4200D * {u_period}) + {u_phase}")
    b.tmp("cyc_m", "long", "cast(floor(cyc_x + 0.5D) as long)")
    b.tmp("cyc_jm", "double", _cycle_jitter(cycle_salt, "cyc_m"))
    b.tmp("cyc_prev", "boolean", "cyc_x < cyc_m + cyc_jm")
    b.tmp("cyc_start", "double",
          f"IF(cyc_prev, cyc_m - 1D + {_cycle_jitter(cycle_salt, 'cyc_m - 1L')}, cyc_m + cyc_jm)")
    b.tmp("cyc_end", "double", f"IF(cyc_prev, cyc_m + cyc_jm, cyc_m + 1D + {_cycle_jitter(cycle_salt, 'cyc_m + 1L')})")
    b.tmp("cyc_f", "double", "(cyc_x - cyc_start) / (cyc_end - cyc_start)")
    b.explode("split_cycle", "array(0)")
    # off (warming, nearly linear) for 55-70 % of the cycle, then on (cooling fast, then slower)
    b.tmp("duty_off", "double", f"0.55D + 0.15D * {u_duty}")
    warm = "(cyc_f / duty_off) * (1.2D - 0.2D * cyc_f / duty_off)"
    cool = "(exp(-2.5D * (cyc_f - duty_off) / (1D - duty_off)) - 0.0820849986238988D) * 1.0894293746757312D"
    b.tmp("cycle_shape", "double", f"IF(cyc_f < duty_off, {warm}, {cool}) - 0.5D")
    # defrosts every 6, 8 or 12 hours, starting in the first quarter of the interval, 15-30 min
    b.tmp("defrost_every", "double", f"element_at(array(21600D, 28800D, 43200D), cast({u_defrost} * 3D as int) + 1)")
    b.tmp("defrost_slot", "long", "cast(floor(epoch_s / defrost_every) as long)")
    b.tmp("defrost_h", "long", f"xxhash64({defrost_salt}L, tag, defrost_slot)")
    d_start, d_len = hash_fields("defrost_h", 16, 16)
    b.tmp("defrost_s", "double", f"epoch_s - defrost_slot * defrost_every - {d_start} * 0.25D * defrost_every")
    b.tmp("defrost_len", "double", f"900D + 900D * {d_len}")
    # the heater warms the air steadily; then the compressor runs on and the air recovers in ~12 min
    b.tmp("defrost_heat", "double",
          "CASE WHEN defrost_s < 0D THEN 0D WHEN defrost_s < defrost_len THEN defrost_s / defrost_len"
          " ELSE exp((defrost_len - defrost_s) * 0.0013888888888888889D) END")
    b.explode("split_defrost", "array(0)")
    freezer = _is("freezer")
    b.tmp("defrost_rise", "double", f"IF({freezer}, 4D + 4D * {u_rise}, 1D + 1.5D * {u_rise})")
    amplitude = f"(1D + {u_amp})"
    center = f"({_by_location('mean_temp')} + 1.6D * ({u_center} - 0.5D))"
    b.tmp("appliance_t", "double",
          f"{center} + {amplitude} * cycle_shape * (1D - defrost_heat) + defrost_rise * defrost_heat")
    b.tmp("cycle_rh", "double",
          f"IF({freezer}, 3D, 4D) * ({amplitude} * cycle_shape * (1D - defrost_heat) + defrost_rise * defrost_heat)")


def _shower_effect(start_h: str, length_s: str) -> str:
    """How far a shower from local hour ``start_h`` for ``length_s`` seconds has filled the bathroom
    with steam, 0 to 1: up within minutes while the water runs, then an exponential decay (time
    constant ``shower_decay``)."""
    since = f"((local_hour - {start_h}) * 3600D)"
    return (f"CASE WHEN {since} < 0D THEN 0D WHEN {since} < {length_s} THEN 1D - exp(-{since} * 0.011D)"
            f" ELSE (1D - exp(-{length_s} * 0.011D)) * exp(({length_s} - {since}) / shower_decay) END")


def _add_showers(b: SpecBuilder, seed: int) -> None:
    """``steam``: 0 to 1, the bathroom's shower humidity (0 elsewhere), and ``shower_peak`` (%)."""
    u_len, u_decay = (split_uniform("tag_air", i, 10) for i in (4, 5))
    shower_salt = salt(seed, _TABLE, "shower")
    b.tmp("shower_h", "long", f"IF({_is('bathroom')}, xxhash64({shower_salt}L, tag, local_day), 0L)")
    fields = hash_fields("shower_h", 8, 8, 8, 12, 12, 12, 4)
    b.tmp("shower_decay", "double", f"600D + 600D * {u_decay}")  # time constant: gone in 30-60 min
    length = f"(300D + 600D * {u_len})"  # 5-15 minutes of hot water
    effects = []
    for i, (lo, hi, p) in enumerate(_SHOWERS):
        start = f"({dbl(lo)} + {dbl(hi - lo)} * {fields[3 + i]})"
        # the morning shower is taken whenever the evening one is not: 1-3 a day
        taken = f"{fields[i]} < {dbl(p)}" + (f" OR {fields[2]} >= {dbl(_SHOWERS[2][2])}" if i == 0 else "")
        effects.append(f"IF({taken}, {_shower_effect(start, length)}, 0D)")
    b.tmp("steam", "double", f"IF({_is('bathroom')}, greatest({', '.join(effects)}), 0D)")
    b.tmp("shower_peak", "double", f"88D + 12D * {fields[6]}")
    b.explode("split_showers", "array(0)")


def _add_air(b: SpecBuilder, seed: int) -> None:
    """Temperature, humidity and pressure by location."""
    u_hum, u_offset, u_warm, u_cal = (split_uniform("tag_air", i, 10) for i in range(4))
    n_t, n_h, n_p = hash_fields("row_h", 10, 10, 10)
    b.tmp("row_h", "long", Randomness(seed, _TABLE).hash("measurement", "tag", "tick"))  # per-reading noise
    day = f"(t_s * {dbl(1 / 86400)})"
    # rooms: the daily cycle peaks mid-afternoon; the wander has periods of 6-30 hours
    daily = f"sin({_TWO_PI} * (local_hour * {dbl(1 / 24)} - 0.375D))"
    wander = f"sin({_TWO_PI} * ({day} / (0.25D + wander1) + wander2))"
    b.tmp("wander", "double", wander)
    b.tmp("room_t", "double",
          f"{_by_location('mean_temp')} + {_by_location('daily_swing')} * {daily} + (0.5D + wander3) * wander"
          f" + {_by_location('weather_leak')} * out_warmth + (1D + {u_warm}) * steam")
    # outdoors: the site's weather, the tag's placement (+-0.5 C, a little wander) and the sun on
    # its shield (up to 2.5 C for a tag in the open, little for most)
    u_sun = hash_fields("tag_h3", 16, 16, 16, 16)[3]
    b.tmp("outdoor_t", "double",
          f"out_temp + {u_offset} - 0.5D + 0.3D * wander + 2.5D * {u_sun} * {u_sun} * sunshine")
    b.explode("split_air", "array(0)")
    b.col("temperature", "double",
          f"CASE WHEN {_is('fridge', 'freezer')} THEN appliance_t WHEN {_is('outdoor')} THEN outdoor_t"
          f" ELSE room_t END + 0.04D * ({n_t} - 0.5D)")
    # rooms: the air keeps its moisture (dew point) as it warms, so relative humidity falls;
    # showers fill the bathroom with steam
    dew = [_dew_point(loc.mean_temp, loc.mean_humidity) for loc in LOCATIONS.values()]
    b.tmp("room_dew", "double", f"{_lookup(dew, 'loc_idx')} + 3D * ({u_hum} - 0.5D)"
                                f" + {_by_location('dew_follow')} * (room_t - {_by_location('mean_temp')})")
    b.tmp("room_h", "double", relative_humidity("room_t", "room_dew"))
    b.col("humidity", "double", _percent(
        f"CASE WHEN {_is('fridge', 'freezer')} THEN {_by_location('mean_humidity')} + 10D * ({u_hum} - 0.5D)"
        f" + cycle_rh WHEN {_is('outdoor')} THEN out_rh + 6D * ({u_hum} - 0.5D)"
        f" ELSE room_h + (shower_peak - room_h) * steam END + 0.4D * ({n_h} - 0.5D)"))
    # every tag of a site reads the site's pressure, with its calibration offset (+-40 Pa)
    b.col("pressure", "long", f"cast(floor(site_pa + 80D * ({u_cal} - 0.5D) + 6D * ({n_p} - 0.5D)) as long)")
    b.explode("split_motion", "array(0)")


def _add_motion_and_counters(b: SpecBuilder, config: IoTConfig) -> None:
    """Acceleration, battery, tx power, movement counter, sequence number and RSSI."""
    cadence = config.environment.cadence_seconds
    names = list(LOCATIONS)
    u_batt, u_drain, u_seq, u_axis = (split_uniform("tag_h2", i, 10) for i in range(4))
    n_x, n_y, n_z = hash_fields("row_h", 10, 10, 10, 10, 10, 10)[3:]
    day = f"(t_s * {dbl(1 / 86400)})"
    # moves: floor of an increasing curve of time, bursty by day (its slope never turns negative)
    rate = f"({_by_location('moves_per_day')} * (0.5D + wander1) * {dbl(1 / 86400)})"
    moved = ("cast(floor({rate} * ({t} + 0.9D * 86400D / {two_pi} * sin({two_pi} * {t} * {inv_day} + {ph})))"
             " as long)")
    fmt = {"rate": rate, "two_pi": _TWO_PI, "inv_day": dbl(1 / 86400), "ph": f"{_TWO_PI} * wander2"}
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
    b.col("tx_power", "long", "tx_dbm")
    b.col("movement_counter", "long", f"cast({u_seq} * 50D as long) + moves")
    # one per broadcast, heard or not: a missed broadcast makes it jump
    b.col("measurement_sequence_number", "long", f"cast({u_seq} * 30000D as long) + tick")
    b.col("rssi", "long", "cast(floor(rssi_dbm + 0.5D) as long)")


def environment_long(df: DataFrame) -> DataFrame:
    """The long layout of the seed's Timestream table: one row per tag, time and measure, with the
    dimensions ``device_id``, ``site`` and ``location``, ``time``, ``measure_name``,
    ``measure_value`` (a double) and ``measure_value_type`` (DOUBLE or BIGINT).

    Example:
        environment_long(environment_spec(spark, cfg).build()).show(3)
    """
    pairs = ", ".join(f"{sql_str(m)}, cast({m} as double), {sql_str(t)}" for m, t in MEASURES.items())
    return df.selectExpr("device_id", "site", "location", "timestamp AS time",
                         f"stack({len(MEASURES)}, {pairs}) AS (measure_name, measure_value, measure_value_type)")
