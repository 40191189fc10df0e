"""``telemetry``: GPS trackers on delivery rounds through their depot's streets, without state.

Every depot (a facility) has a street grid, turned by its own angle, its blocks 80-250 m long
(one length along each axis). A vehicle lives in cycles from its home corner near the depot: it
idles while it is loaded (its engine warms up), drives a round of six legs along the streets (an
L-shaped loop of 18 to 56 blocks, with corners of 90 degrees) and parks (its engine off). On a
leg it accelerates at its own rate (1.2-2.8 m/s², braking at 1.5-3) to the leg's own cruise
speed, slows to 10-16 km/h to turn at a corner, stops at red lights (waits of 3-60 s) and at
delivery stops on corners (45 s to 4 minutes, idling).

How, without state: DataFrames of the vehicles, of their trips (enough to cover the time range),
of a trip's stretches (from a standstill or a corner to the next stop or corner: a closed-form
trapezoid of acceleration, cruise and braking, then the wait) and of the ticks each interval
(loading, stretch, parking) holds. Sums over windows (by vehicle, in trip and intersection order:
the same sums for any partitioning) give each stretch its start and each trip its start, fuel and
engine temperature. Every row then follows from its interval and its time:

* position: the stretch's start plus the distance driven along its street, plus GPS error (a slow
  wander of 2-5 m and a little white noise, parked too);
* speed and heading: the motion's; heading is the street's, kept while stopped;
* fuel: burned by distance and by idling; a round that ends below the vehicle's reserve is
  followed by a refuel while parked: it fills what it burned down to its reserve (back to 100 %
  less what it burned past it: the level after a refuel is a little under full);
* engine temperature: warms at a constant rate to its thermostat's temperature (loading and
  round together last long enough to get there), cools exponentially to the outdoor air when
  parked (the facility's weather).
"""

from __future__ import annotations

import math

import dbldatagen as dg
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.grid import grid
from dbx_iot_gen.patterns import city_attribute
from dbx_iot_gen.rand import Randomness, dbl, hash_fields
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.spark import analysis_barrier
from dbx_iot_gen.tables._spec import SpecBuilder, partitions_for
from dbx_iot_gen.tables.locations import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQUATOR, facility_coordinates
from dbx_iot_gen.weather import Weather

__all__ = ["BLOCK_METRES", "TELEMETRY_COLUMNS", "telemetry_spec"]

TELEMETRY_COLUMNS = TABLES["telemetry"].column_names
BLOCK_METRES = (80.0, 250.0)  # a depot's block lengths
LOAD_SECONDS = (60.0, 420.0)  # idling at home while loaded (longer if the engine needs it)
PARK_SECONDS = (300.0, 1500.0)  # parked between rounds
REFUEL_PARK_SECONDS = 600.0  # a park with a refuel lasts at least this
TOP_SPEED_KMH = 50.0  # the fastest leg's cruise speed, before the vehicle's own factor (0.85-1.15)
# a round's blocks: a of the first leg, b of the second, d of the fourth (the rest follow)
_ROUND_BLOCKS = {"a": (4, 12), "b": (3, 10), "d": (2, 6)}
# the shortest cycle of loading, round and park, in seconds: enough trips cover the time range
_SHORTEST_CYCLE = (LOAD_SECONDS[0] + PARK_SECONDS[0] + 2 * sum(lo for lo, _ in _ROUND_BLOCKS.values())
                   * BLOCK_METRES[0] / (TOP_SPEED_KMH * 1.15 / 3.6))


class _Rounds:
    """The base of a telemetry build: one row per vehicle and tick, with the interval (loading,
    stretch of a round, park) the tick falls in, as the struct ``_blk_iv``, and ``_blk_tick``,
    ``_blk_vehicle``. Batch only (the table does not stream)."""

    def __init__(self, config: IoTConfig) -> None:
        self.config = config

    def batch_base(self, spark: SparkSession, partitions: int) -> DataFrame:
        return analysis_barrier(_rows(spark, self.config, partitions))

    def row_base(self, df: DataFrame) -> DataFrame:
        raise NotImplementedError("telemetry is built in batch only")


def telemetry_spec(spark: SparkSession, config: IoTConfig) -> dg.DataGenerator:
    """The spec of ``telemetry``: one row per GPS tracker and tick (``telemetry_cadence_seconds``)
    while the tracker is registered and Online in ``devices_cdc`` (see :mod:`dbx_iot_gen.lifecycle`).

    Units: ``speed`` in km/h, ``altitude`` in metres, ``heading`` in whole degrees clockwise from
    north (0-359), ``fuel_level`` in percent, ``engine_temp`` in degrees Celsius.

    Example:
        df = telemetry_spec(spark, IoTConfig.preset("tiny")).build()
    """
    g = grid(config)
    layout, life = g.layout, g.life
    rows = layout.telemetry_rows
    start_s = config.start_micros // 1_000_000
    cadence = config.telemetry_cadence_seconds
    rnd = Randomness(config.seed, "telemetry")
    b = SpecBuilder(spark, "telemetry", rows, partitions_for(config, rows), config.seed)
    b.spec.blocking = _Rounds(config)  # type: ignore[assignment]
    b.tmp("tick", "long", "_blk_tick")
    b.tmp("iv", None, "_blk_iv")
    b.col("telemetry_id", "long", "id + 1L")
    b.col("device_id", "long", "iv.device_id")
    b.tmp("t_s", "long", f"tick * {cadence}L")
    b.col("timestamp", "timestamp", f"timestamp_seconds({start_s}L + t_s)")
    # the device lifecycle: no position before the tracker's CDC insert or after its delete, and
    # none while the registry says it is Offline or in Maintenance
    b.tmp("life_rank", "long", life.rank("device_id"))
    b.tmp("life_ins", "long", life.inserted_s("device_id", "life_rank"))
    b.tmp("life_del", "long", life.deleted_s("device_id", "life_rank"))
    b.tmp("reg_changes", "int", life.status_changes("device_id", f"({start_s}L + t_s)", "life_ins", "life_del"))
    online = life.is_online("device_id", "reg_changes")
    b.explode("registered", f"IF({life.registered('device_id', f'({start_s}L + t_s) * 1000000L', 'life_rank')}"
                            f" AND {online}, array(0), array())")
    # seconds into the interval, and into its motion (a stretch drives, then waits)
    b.tmp("tau", "double", "cast(t_s * 1000000L - iv.i0_us as double) * 1e-6D")
    b.tmp("td", "double", "least(tau, iv.drive_s)")
    b.tmp("brake", "double", "td - iv.t1 - iv.t2")
    b.tmp("s", "double", "CASE WHEN td < iv.t1 THEN iv.v0 * td + 0.5D * iv.accel * td * td"
                         " WHEN td < iv.t1 + iv.t2 THEN iv.d1 + iv.vm * (td - iv.t1)"
                         " ELSE iv.d1 + iv.d2 + iv.vm * brake - 0.5D * iv.decel * brake * brake END")
    b.tmp("v", "double", "CASE WHEN td < iv.t1 THEN iv.v0 + iv.accel * td WHEN td < iv.t1 + iv.t2 THEN iv.vm"
                         " ELSE greatest(0D, iv.vm - iv.decel * brake) END")
    # (a one-row Generate: splits the generated code, each part under the JIT's 8 KB a method)
    b.explode("motion_barrier", "array(0)")
    # where on the street grid (metres along its axes), then turned to east and north
    b.tmp("gx", "double", "iv.x0 + s * iv.dx")
    b.tmp("gy", "double", "iv.y0 + s * iv.dy")
    # GPS error: a slow wander (two periods of minutes) and a little white noise, in metres
    t = f"(cast({start_s}L + t_s as double))"
    u_e, u_n, u_t = hash_fields(rnd.hash("fix", "device_id", "tick"), 16, 16, 16)

    def wander(p1: str, p2: str) -> str:
        return (f"iv.gps_r * (0.6D * sin({dbl(2 * math.pi)} * ({t} / iv.p1 + iv.{p1}))"
                f" + 0.4D * sin({dbl(2 * math.pi)} * ({t} / iv.p2 + iv.{p2})))")

    b.tmp("east", "double", f"gx * iv.cos_phi - gy * iv.sin_phi + {wander('ph1', 'ph2')} + 0.6D * ({u_e} - 0.5D)")
    b.tmp("north", "double", f"gx * iv.sin_phi + gy * iv.cos_phi + {wander('ph3', 'ph4')} + 0.6D * ({u_n} - 0.5D)")
    b.col("latitude", "double", f"iv.lat0 + north * {dbl(1 / (1000 * KM_PER_DEG_LAT))}")
    b.col("longitude", "double", f"iv.lon0 + east / ({dbl(1000 * KM_PER_DEG_LON_EQUATOR)} * cos(radians(iv.lat0)))")
    # the ground rises and falls across the town; GPS altitude errs more than position
    b.col("altitude", "double",
          f"iv.alt0 + iv.terrain * sin({dbl(2 * math.pi)} * gx / iv.lx + iv.tph1)"
          f" * cos({dbl(2 * math.pi)} * gy / iv.ly + iv.tph2) + 1.5D * {wander('ph2', 'ph3')}")
    b.explode("position_barrier", "array(0)")
    b.col("speed", "double", "v * 3.6D")
    b.col("heading", "int", "iv.heading")
    # fuel: burned by distance and by idling (an idle engine: not while parked); refilled while
    # parked after a round that ended below the reserve
    b.tmp("used", "double", "iv.used0 + s * iv.burn + greatest(0D, tau - iv.drive_s) * iv.idle")
    b.col("fuel_level", "double",
          "100D - 100D * (used - IF(iv.refuel_s >= 0D AND tau >= iv.refuel_s, iv.used_after, iv.used_ref)) / iv.tank")
    # engine: warming at a constant rate to its thermostat's temperature, or cooling when parked
    b.col("engine_temp", "double",
          "IF(iv.kind = 2, iv.ambient + (iv.t_op - iv.ambient) * exp(-tau / iv.cool_s),"
          f" least(iv.t_op, iv.temp0 + iv.rate * tau)) + 0.3D * ({u_t} - 0.5D)")
    return b.spec


def _add(df: DataFrame, **columns: str) -> DataFrame:
    """``df`` with SQL expression columns added (in order: later ones may not read earlier ones)."""
    return df.selectExpr("*", *[f"{e} AS {n}" for n, e in columns.items()])


def _uniform_between(u: str, bounds: tuple[float, float]) -> str:
    lo, hi = bounds
    return f"({dbl(lo)} + {dbl(hi - lo)} * {u})"


def _vehicles(spark: SparkSession, config: IoTConfig, partitions: int) -> DataFrame:
    """One row per vehicle: its depot's grid and its own constants."""
    layout = grid(config).layout
    rnd = Randomness(config.seed, "telemetry")
    df = spark.range(0, max(1, layout.n_vehicles), 1, partitions).selectExpr(
        "id AS vehicle", f"{layout.vehicle_device('id')} AS device_id")
    df = _add(df, location_id=layout.location_of("device_id"))
    lat0, lon0 = facility_coordinates(layout, "location_id")
    g_phi, g_x, g_y = rnd.uniforms("street_grid", "location_id")  # the depot's, shared by its vehicles
    h_i, h_j, u_off = rnd.uniforms("home", "device_id")
    u_acc, u_dec, u_corner = rnd.uniforms("driving", "device_id")
    u_speed, u_top, u_warm = rnd.uniforms("engine", "device_id")
    u_cool, u_tank, u_burn = rnd.uniforms("tank", "device_id")
    u_idle, u_reserve, u_ph4 = rnd.uniforms("fuel", "device_id")
    u_r, u_p1, u_p2 = rnd.uniforms("gps", "device_id")
    ph = rnd.uniforms("gps_phase", "device_id")
    u_alt, u_terrain, u_lx = rnd.uniforms("terrain", "location_id")
    u_ly, t1, t2 = rnd.uniforms("terrain_phase", "location_id")
    u_cold, _, _ = rnd.uniforms("first_park", "device_id")
    pat = config.patterns
    df = _add(df, city_idx=layout.city_of_location("location_id"))
    df = _add(df, lat0=lat0, lon0=lon0,
              phi=f"{g_phi} * {dbl(math.pi / 2)}", block_x=_uniform_between(g_x, BLOCK_METRES),
              block_y=_uniform_between(g_y, BLOCK_METRES),
              home_i=f"cast(floor({h_i} * 7D) as int) - 3", home_j=f"cast(floor({h_j} * 7D) as int) - 3",
              off_u=u_off, accel=_uniform_between(u_acc, (1.2, 2.8)), decel=_uniform_between(u_dec, (1.5, 3.0)),
              v_corner=f"{_uniform_between(u_corner, (10.0, 16.0))} / 3.6D",
              speed_f=_uniform_between(u_speed, (0.85, 1.15)),
              t_op=_uniform_between(u_top, (85.0, 96.0)), warm_s=_uniform_between(u_warm, (300.0, 600.0)),
              cool_s=_uniform_between(u_cool, (1200.0, 3000.0)), tank=_uniform_between(u_tank, (55.0, 90.0)),
              # litres a metre, a second of idling
              burn=f"{_uniform_between(u_burn, (9.0, 16.0))} * 1e-5D",
              idle=f"{_uniform_between(u_idle, (0.6, 1.3))} / 3600D",
              reserve=_uniform_between(u_reserve, (12.0, 20.0)),
              gps_r=_uniform_between(u_r, (2.0, 5.0)), p1=_uniform_between(u_p1, (120.0, 300.0)),
              p2=_uniform_between(u_p2, (400.0, 900.0)), ph1=ph[0], ph2=ph[1], ph3=ph[2], ph4=u_ph4,
              alt0=f"{city_attribute('city_idx', 'altitude')} + 20D + 40D * {u_alt}",
              terrain=_uniform_between(u_terrain, (5.0, 15.0)), lx=_uniform_between(u_lx, (1500.0, 4000.0)),
              ly=_uniform_between(u_ly, (1500.0, 4000.0)), tph1=f"{t1} * {dbl(2 * math.pi)}",
              tph2=f"{t2} * {dbl(2 * math.pi)}",
              first_park_s=_uniform_between(u_cold, (3600.0, 36000.0)),
              climate=Weather.city_climate("city_idx", pat.temperature_daily_amplitude,
                                           pat.temperature_seasonal_amplitude))
    u_first = rnd.uniform("first_fuel", "device_id")
    # (each stage analyzed on its own over Spark Connect: see analysis_barrier)
    return analysis_barrier(_add(df, cos_phi="cos(phi)", sin_phi="sin(phi)",
                                 f0=f"reserve + 5D + (95D - reserve) * {u_first}"))


# the round's six legs in its own frame (before its turn and mirror): east a blocks, north b,
# west c, north d, west a - c, south b + d; each leg's direction and the corner it starts from
_LEG_DX, _LEG_DY = "array(1, 0, -1, 0, -1, 0)", "array(0, 1, 0, 1, 0, -1)"
_CORNER_X, _CORNER_Y = "array(0, a, a, a - c, a - c, 0)", "array(0, 0, b, b, b + d, b + d)"
_LEG_ENDS = "array(0, e1, e2, e3, e4, e5)"  # blocks before each leg (e1 = a, ...: see _rows)


def _split(df: DataFrame) -> DataFrame:
    """``df`` through a one-row Generate: whole-stage codegen puts what comes before and after it
    in separate methods (the JIT compiles no method over 8 KB of bytecode)."""
    return df.selectExpr("*", "explode(array(0)) AS _split").drop("_split")


def _turned(x: str, y: str) -> tuple[str, str]:
    """A vector of the round's frame in the street grid's axes: mirrored, then turned by quarters."""
    y = f"(IF(mirror, -1, 1) * {y})"
    return (f"(CASE turn WHEN 0 THEN {x} WHEN 1 THEN -{y} WHEN 2 THEN -{x} ELSE {y} END)",
            f"(CASE turn WHEN 0 THEN {y} WHEN 1 THEN {x} WHEN 2 THEN -{y} ELSE -{x} END)")


def _heading(dx: str, dy: str) -> str:
    """Compass heading (whole degrees) of a direction in the street grid's axes."""
    east, north = f"({dx} * cos_phi - {dy} * sin_phi)", f"({dx} * sin_phi + {dy} * cos_phi)"
    return f"cast(pmod(floor(degrees(atan2({east}, {north})) + 0.5D), 360D) as int)"


def _rows(spark: SparkSession, config: IoTConfig, partitions: int) -> DataFrame:
    rnd = Randomness(config.seed, "telemetry")
    n_v = max(1, grid(config).layout.n_vehicles)
    cadence_us = config.telemetry_cadence_seconds * 1_000_000
    ticks = config.telemetry_ticks
    span_us = ticks * cadence_us
    # enough trips to reach past the range's end from the first's start (before the range)
    k_max = math.ceil((span_us / 1e6 + LOAD_SECONDS[1] + PARK_SECONDS[1]) / _SHORTEST_CYCLE) + 1
    vehicles = _vehicles(spark, config, partitions)

    # trips: the round's shape (a 6-leg L of a, b, c, d blocks), turn, mirror, loading, park
    trips = vehicles.selectExpr("*", f"explode(sequence(0, {k_max - 1})) AS k")
    u = hash_fields(rnd.hash("trip", "device_id", "k"), 8, 8, 8, 8, 8, 8, 8, 8)
    blocks = {n: f"{lo} + cast(floor({u[i]} * {hi - lo + 1}D) as int)"
              for i, (n, (lo, hi)) in zip((0, 1, 3), _ROUND_BLOCKS.items())}
    trips = _add(trips, **blocks, turn=f"cast(floor({u[4]} * 4D) as int)",
                 mirror=f"{u[5]} < 0.5D", load_raw_s=_uniform_between(u[6], LOAD_SECONDS),
                 park_raw_s=_uniform_between(u[7], PARK_SECONDS),
                 refuel_after_s=rnd.between("refuel", "device_id", "k", low=120.0, high=360.0))
    trips = _add(trips, c=f"1 + cast(floor({u[2]} * (a - 1)) as int)")
    trips = _add(trips, n="2 * (a + b + d)", e1="a", e2="a + b", e3="a + b + c", e4="a + b + c + d",
                 e5="2 * a + b + d")
    # Only the trips that can start in the time range: the cycles before a trip last at least
    # their loading, park and round at top speed on the shorter blocks. The first cycle begins
    # lead_s before the range (the vehicle is loading or on its round at the start).
    by_vehicle = Window.partitionBy("vehicle").orderBy("k")
    earlier = by_vehicle.rowsBetween(Window.unboundedPreceding, -1)
    trips = _add(trips, least_cycle_s=f"load_raw_s + park_raw_s + n * least(block_x, block_y)"
                                      f" / ({dbl(TOP_SPEED_KMH / 3.6)} * speed_f)")
    trips = (trips.withColumn("lead_s", F.col("off_u") * F.first(F.expr("load_raw_s + park_raw_s")).over(by_vehicle))
             .withColumn("least_start_s", F.coalesce(F.sum("least_cycle_s").over(earlier), F.lit(0.0))
                         - F.col("lead_s"))
             .where(f"least_start_s < {dbl(span_us / 1e6)}"))
    trips = analysis_barrier(trips)

    # the intersections of a round; a stretch ends at a corner or a stop
    x = trips.selectExpr("vehicle", "k", "a", "b", "c", "d", "n", "e1", "e2", "e3", "e4", "e5", "turn", "mirror",
                         "device_id", "explode(sequence(1, n)) AS j")
    ends = [f"e{i}" for i in range(1, 6)]
    x = _add(x, leg=f"CASE {' '.join(f'WHEN j <= {e} THEN {i}' for i, e in enumerate(ends, start=1))} ELSE 6 END",
             corner=f"j IN ({', '.join(ends)})")
    x = _split(x)
    ul, uw, ud, udw = hash_fields(rnd.hash("crossing", "device_id", "k", "j"), 16, 16, 16, 16)
    x = _add(x, delivery=f"corner AND {ud} < 0.25D")
    x = _add(x, red=f"NOT delivery AND j < n AND {ul} < IF(corner, 0.45D, 0.3D)")
    x = _add(x, stop="delivery OR red OR j = n",
             wait_s=f"IF(delivery, {_uniform_between(udw, (45.0, 240.0))}, IF(red, {_uniform_between(uw, (3.0, 60.0))},"
                    " 0D))")
    x = _split(x.where("corner OR stop"))
    in_trip = Window.partitionBy("vehicle", "k").orderBy("j")
    x = (x.withColumn("prev_j", F.coalesce(F.lag("j").over(in_trip), F.lit(0)))
         .withColumn("prev_stop", F.coalesce(F.lag("stop").over(in_trip), F.lit(True))))
    x = x.join(vehicles.select("vehicle", "block_x", "block_y", "home_i", "home_j", "accel", "decel", "v_corner",
                               "speed_f", "cos_phi", "sin_phi"), "vehicle")
    x = _split(x)
    # the stretch: from intersection prev_j to j, on one leg
    dx, dy = _turned(f"element_at({_LEG_DX}, leg)", f"element_at({_LEG_DY}, leg)")
    along = f"(prev_j - element_at({_LEG_ENDS}, leg))"
    sx, sy = _turned(f"(element_at({_CORNER_X}, leg) + {along} * element_at({_LEG_DX}, leg))",
                     f"(element_at({_CORNER_Y}, leg) + {along} * element_at({_LEG_DY}, leg))")
    x = _add(x, dx=dx, dy=dy, gi=sx, gj=sy,
             vc=f"{rnd.between('leg', 'device_id', 'k', 'leg', low=20.0, high=TOP_SPEED_KMH)} / 3.6D"
                " * speed_f")
    x = _add(_split(x), x0="(home_i + gi) * block_x", y0="(home_j + gj) * block_y",
             dist="(j - prev_j) * IF(dx != 0, block_x, block_y)", heading=_heading("dx", "dy"),
             v0="IF(prev_stop, 0D, v_corner)", v1="IF(stop, 0D, v_corner)")
    # a trapezoid: accelerate to vm (the leg's speed, if there is room), cruise, brake to v1
    x = _add(_split(x),
             vm="least(vc, sqrt((2D * accel * decel * dist + decel * v0 * v0 + accel * v1 * v1) / (accel + decel)))")
    x = _add(x, t1="(vm - v0) / accel", d1="(vm * vm - v0 * v0) / (2D * accel)", t3="(vm - v1) / decel",
             d3="(vm * vm - v1 * v1) / (2D * decel)")
    x = _add(x, d2="greatest(0D, dist - d1 - d3)")
    x = _add(x, t2="d2 / vm")
    x = _add(x, drive_s="t1 + t2 + t3")
    x = _add(x, dur_us="cast((drive_s + wait_s) * 1e6D as long)")
    before = in_trip.rowsBetween(Window.unboundedPreceding, -1)
    x = analysis_barrier(x.withColumn("off_us", F.coalesce(F.sum("dur_us").over(before), F.lit(0)))
                         .withColumn("m_before", F.coalesce(F.sum("dist").over(before), F.lit(0.0)))
                         .withColumn("idle_before", F.coalesce(F.sum("wait_s").over(before), F.lit(0.0))))
    # a round's totals, from its last stretch (a window's sums: the same for any partitioning)
    totals = x.where("j = n").selectExpr("vehicle", "k", "off_us + dur_us AS drive_us", "m_before + dist AS dist_m",
                                         "idle_before + wait_s AS idle_s", "heading AS last_heading")

    # the trips in order: fuel, refuels, starts, the engine's temperature at the start
    tr = analysis_barrier(trips.join(totals, ["vehicle", "k"]))
    tr = _add(tr, load_us="greatest(cast(load_raw_s * 1e6D as long), cast(warm_s * 1e6D as long) - drive_us)")
    tr = _add(tr, usage="dist_m * burn + (idle_s + load_us * 1e-6D) * idle",
              budget="(100D - reserve) / 100D * tank", spare="(100D - f0) / 100D * tank")
    tr = tr.withColumn("used_start", F.coalesce(F.sum("usage").over(earlier), F.lit(0.0)) + F.col("spare"))
    tr = _add(tr, used_end="used_start + usage")
    # Each refuel fills a budget of litres (the tank down to its reserve), so the vehicle has
    # refuelled floor(used / budget) times: a round that ends below the reserve crosses the next
    # multiple, and its park refuels. The level is 100 % less what it burned since its last
    # multiple (used_ref).
    tr = _add(tr, refuel="floor(used_end / budget) > floor(used_start / budget)",
              used_ref="floor(used_start / budget) * budget", used_after="floor(used_end / budget) * budget")
    tr = _add(tr, park_us=f"cast(IF(refuel, greatest(park_raw_s, {dbl(REFUEL_PARK_SECONDS)}), park_raw_s) * 1e6D"
                          " as long)")
    tr = _add(tr, cycle_us="load_us + drive_us + park_us")
    tr = (tr.withColumn("start_us", F.coalesce(F.sum("cycle_us").over(earlier), F.lit(0))
                        - F.expr("cast(lead_s * 1e6D as long)"))
          .withColumn("prev_park_s", F.coalesce(F.lag("park_us").over(by_vehicle) / 1e6, F.col("first_park_s")))
          .withColumn("prev_heading", F.coalesce(F.lag("last_heading").over(by_vehicle), F.col("last_heading")))
          .where(f"start_us < {span_us}L"))
    pat = config.patterns
    weather = Weather.for_city(config.seed, "city_idx", pat.temperature_daily_amplitude,
                               pat.temperature_seasonal_amplitude, climate="climate")
    tr = _add(tr, ambient=weather.temperature(f"(cast({config.start_micros}L + start_us as double) * 1e-6D)"))
    # the engine cooled in the air of the last park (whose rows show it) since the last round
    tr = tr.withColumn("prev_ambient", F.coalesce(F.lag("ambient").over(by_vehicle), F.col("ambient")))
    tr = _add(tr, temp_start="prev_ambient + (t_op - prev_ambient) * exp(-prev_park_s / cool_s)")
    tr = analysis_barrier(_add(tr, rate="(t_op - least(temp_start, ambient)) / warm_s"))

    # the intervals, each a struct of what its rows read
    common = ("device_id", "accel", "decel", "cos_phi", "sin_phi", "lat0", "lon0", "gps_r", "p1", "p2", "ph1", "ph2",
              "ph3", "ph4", "alt0", "terrain", "lx", "ly", "tph1", "tph2", "tank", "burn", "used_ref", "t_op",
              "ambient", "cool_s", "rate")
    home = {"x0": "home_i * block_x", "y0": "home_j * block_y", "dx": "0D", "dy": "0D", "v0": "0D", "vm": "0D",
            "t1": "0D", "t2": "0D", "d1": "0D", "d2": "0D", "drive_s": "0D"}
    loading = {**home, "kind": "0", "i0_us": "start_us", "i1_us": "start_us + load_us", "heading": "prev_heading",
               "used0": "used_start", "idle": "idle", "temp0": "temp_start", "refuel_s": "-1D",
               "used_after": "used_ref"}
    parked = {**home, "kind": "2", "i0_us": "start_us + load_us + drive_us", "i1_us": "start_us + cycle_us",
              "heading": "last_heading", "used0": "used_end", "idle": "0D", "temp0": "t_op",
              "refuel_s": "IF(refuel, refuel_after_s, -1D)", "used_after": "used_after"}
    driving = {"x0": "x0", "y0": "y0", "dx": "cast(dx as double)", "dy": "cast(dy as double)", "v0": "v0",
               "vm": "vm", "t1": "t1", "t2": "t2", "d1": "d1", "d2": "d2", "drive_s": "drive_s", "kind": "1",
               "i0_us": "start_us + load_us + off_us", "i1_us": "start_us + load_us + off_us + dur_us",
               "heading": "heading", "used0": "used_start + load_us * 1e-6D * idle + m_before * burn"
                                              " + idle_before * idle",
               "idle": "idle", "temp0": "least(t_op, temp_start + rate * (load_us + off_us) * 1e-6D)",
               "refuel_s": "-1D", "used_after": "used_ref"}
    stretches = x.select("vehicle", "k", "x0", "y0", "dx", "dy", "v0", "vm", "t1", "t2", "d1", "d2", "drive_s",
                         "off_us", "dur_us", "heading", "m_before", "idle_before").join(
        tr.drop("heading"), ["vehicle", "k"])

    def intervals(df: DataFrame, fields: dict[str, str]) -> DataFrame:
        names = dict(sorted({**{c: c for c in common}, **fields}.items()))
        iv = f"named_struct({', '.join(f'{chr(39)}{n}{chr(39)}, {e}' for n, e in names.items())})"
        return df.selectExpr("vehicle", f"{iv} AS iv")

    ivs = intervals(tr, loading).unionByName(intervals(tr, parked)).unionByName(intervals(stretches, driving))
    # the rows in the spec's partitions (by vehicle)
    ivs = ivs.repartition(partitions, "vehicle")
    # the ticks in each interval: [i0, i1) of the time range
    first = f"greatest(0L, (iv.i0_us + {cadence_us - 1}L) div {cadence_us}L)"
    last = f"least({ticks}L, (iv.i1_us + {cadence_us - 1}L) div {cadence_us}L) - 1L"
    ticks_in = f"IF({last} >= {first}, sequence({first}, {last}), cast(array() as array<bigint>))"
    rows = ivs.selectExpr("vehicle", "iv", f"explode({ticks_in}) AS tick")
    return rows.selectExpr(f"tick * {n_v}L + vehicle AS id", "tick AS _blk_tick", "vehicle AS _blk_vehicle",
                           "iv AS _blk_iv")
