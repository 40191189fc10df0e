"""``telemetry``: GPS trackers driving closed routes around their depot, without state.

Each vehicle drives a circle of radius ``R`` around its depot (the tracker's registered
position). Every hour it drives 50 minutes in stop-and-go waves and stands 10 minutes. Its
distance along the route is closed-form in time, so position, speed, heading, fuel and engine
temperature of any row follow from the row's id alone and agree with each other by construction:

* speed ``v(m) = v0 * (1 - cos(2 pi m / 600 s))`` while moving (``m`` = moving seconds this
  hour), 0 when stopped; distance is its integral;
* angle on the route ``theta = distance / R``; heading is the tangent, ``theta + 90 deg``;
* fuel falls with distance and is refilled to 100 % during a stop every ``K`` hours;
* the engine warms towards 90 C while driving and cools towards 20 C while stopped.
"""

from __future__ import annotations

import dbldatagen as dg
from pyspark.sql import SparkSession

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.grid import grid
from dbx_iot_gen.patterns import city_attribute
from dbx_iot_gen.rand import Randomness
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.tables._spec import SpecBuilder, partitions_for
from dbx_iot_gen.tables.devices import device_coordinates
from dbx_iot_gen.tables.locations import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQUATOR

__all__ = ["DRIVE_SECONDS_PER_HOUR", "TELEMETRY_COLUMNS", "WAVE_SECONDS", "telemetry_spec"]

TELEMETRY_COLUMNS = TABLES["telemetry"].column_names
DRIVE_SECONDS_PER_HOUR = 3000  # then 600 s stopped
WAVE_SECONDS = 600  # one stop-and-go wave; divides the driving time, so speed is 0 at each stop
REFUEL_AFTER_SECONDS = 300  # into the stop of the last hour of a tank
RESERVE_PERCENT = 15.0  # fuel left when the vehicle refuels at the latest
ENGINE_HOT_C, ENGINE_COLD_C = 90.0, 20.0
WARM_UP_S, COOL_DOWN_S = 300.0, 900.0


def telemetry_spec(spark: SparkSession, config: IoTConfig) -> dg.DataGenerator:
    """The spec of ``telemetry``: one row per GPS tracker and tick (``telemetry_cadence_seconds``)
    while the tracker is registered and Online in ``devices_cdc`` (see :mod:`dbx_iot_gen.lifecycle`).

    Units: ``speed`` in km/h, ``altitude`` in metres, ``heading`` in whole degrees clockwise from
    north (0-359), ``fuel_level`` in percent, ``engine_temp`` in degrees Celsius.

    Example:
        df = telemetry_spec(spark, IoTConfig.preset("tiny")).build()
    """
    layout = grid(config).layout
    rnd = Randomness(config.seed, "telemetry")
    n_v = max(1, layout.n_vehicles)
    rows = layout.telemetry_rows
    start_s = config.start_micros // 1_000_000
    dep_lat, dep_lon = device_coordinates(layout, "device_id")
    u_speed, u_radius, u_phase = rnd.uniforms("vehicle", "device_id")
    u_range, u_clock, u_alt = rnd.uniforms("vehicle_tank", "device_id")
    two_pi = "6.283185307179586D"
    wave = f"{WAVE_SECONDS}D"
    drive = DRIVE_SECONDS_PER_HOUR

    b = SpecBuilder(spark, "telemetry", rows, partitions_for(config, rows), config.seed)
    b.tmp("vehicle", "long", f"id % {n_v}L")
    b.tmp("tick", "long", f"id div {n_v}L")
    b.col("telemetry_id", "long", "id + 1L")
    b.col("device_id", "long", layout.vehicle_device("vehicle"))
    b.tmp("t_s", "long", f"tick * {config.telemetry_cadence_seconds}L")
    b.col("timestamp", "timestamp", f"timestamp_seconds({start_s}L + t_s)")
    # the device lifecycle: no position before the tracker's CDC insert or after its delete, and
    # none while the registry says it is Offline or in Maintenance
    life = grid(config).life
    b.tmp("life_rank", "long", life.rank("device_id"))
    b.tmp("life_ins", "long", life.inserted_s("device_id", "life_rank"))
    b.tmp("life_del", "long", life.deleted_s("device_id", "life_rank"))
    b.tmp("reg_changes", "int", life.status_changes("device_id", f"({start_s}L + t_s)", "life_ins", "life_del"))
    online = life.is_online("device_id", "reg_changes")
    b.explode("registered", f"IF({life.registered('device_id', f'({start_s}L + t_s) * 1000000L', 'life_rank')}"
                            f" AND {online}, array(0), array())")
    b.tmp("v0", "double", f"(20D + 20D * {u_speed})")  # mean driving speed, km/h
    b.tmp("radius_km", "double", f"(2D + 6D * {u_radius})")
    b.tmp("range_km", "double", f"(350D + 350D * {u_range})")  # distance on a full tank
    b.tmp("hour_km", "double", f"(v0 * {drive}D / 3600D)")  # distance driven per hour
    b.tmp("tank_hours", "long", f"greatest(1L, cast(floor(range_km * {1 - RESERVE_PERCENT / 100}D / hour_km) as long))")
    # each vehicle's day starts at its own second of the hour and its own hour of the tank
    b.tmp("clock_s", "long", f"t_s + cast({u_clock} * 36000D as long)")
    b.tmp("hour_idx", "long", "clock_s div 3600L")
    b.tmp("in_hour", "long", "pmod(clock_s, 3600L)")
    b.tmp("moving_s", "double", f"cast(least(in_hour, {drive}L) as double)")
    b.tmp("hour_dist", "double", f"(v0 / 3600D * (moving_s - {wave} / {two_pi} * sin({two_pi} * moving_s / {wave})))")
    b.tmp("dist_km", "double", "(hour_idx * hour_km + hour_dist)")
    b.tmp("theta", "double", f"(dist_km / radius_km + {two_pi} * {u_phase})")
    b.col("latitude", "double", f"({dep_lat} + radius_km * cos(theta) / {KM_PER_DEG_LAT}D)")
    b.col("longitude", "double",
          f"({dep_lon} + radius_km * sin(theta) / ({KM_PER_DEG_LON_EQUATOR}D * cos(radians({dep_lat}))))")
    city = layout.city_of_location(layout.location_of("device_id"))
    b.col("altitude", "double",
          f"{city_attribute(city, 'altitude')} + (10D + 40D * {u_alt}) * (1D + sin(theta + 1D))")
    b.col("speed", "double", f"IF(in_hour < {drive}L, v0 * (1D - cos({two_pi} * moving_s / {wave})), 0D)")
    b.col("heading", "int", "cast(pmod(floor(degrees(theta) + 90D), 360D) as int)")
    b.tmp("tank_hour", "long", "pmod(hour_idx, tank_hours)")
    b.col("fuel_level", "double",
          f"IF(tank_hour = tank_hours - 1L AND in_hour >= {drive + REFUEL_AFTER_SECONDS}L, 100D,"
          f" 100D - (tank_hour * hour_km + hour_dist) / range_km * 100D)")
    # engine: after each 600 s stop it starts at T0, warms while driving, cools while stopped
    hot, cold = f"{ENGINE_HOT_C}D", f"{ENGINE_COLD_C}D"
    t0 = f"({cold} + ({hot} - {cold}) * exp(-{3600 - drive}D / {COOL_DOWN_S}D))"
    b.col("engine_temp", "double",
          f"IF(in_hour < {drive}L, {hot} - ({hot} - {t0}) * exp(-moving_s / {WARM_UP_S}D),"
          f" {cold} + ({hot} - {cold}) * exp(-(in_hour - {drive}L) / {COOL_DOWN_S}D))")
    return b.spec
