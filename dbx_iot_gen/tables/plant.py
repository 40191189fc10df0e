"""``plant_sensors``: the factory plant simulator of seed 000, rule by rule, without its state.

The seed runs a priority queue of sensors, each with a last value and a status. Here every event
is a pure function of its row id:

* **Sensors**: ``n_sensors`` ids of three letters and four upper-case hex digits (``AAA0000``,
  ``AAA0001``, ..., the seed's ``generate_device_id``). An affine permutation of the sensor index
  deals exact quotas: 20% high, 30% medium, 50% low frequency; another one 80% numeric, 20% text.
* **Rates**: a high sensor sends one event every ``1 / base`` seconds, a medium one every
  ``10 / base``, a low one every ``100 / base``, where ``base = rate_per_second / (high + 0.1 *
  medium + 0.01 * low)``: together they send ``rate_per_second`` events (each sensor starts at
  its own phase of its interval).
* **Grid**: time is cut into periods of ``100 / base`` seconds. A period holds 100 events of each
  high sensor, 10 of each medium and 1 of each low one, in three contiguous id blocks, so event
  time rises with the id period by period, as a historical stream needs. The batch table covers
  ``minutes`` rounded up to whole periods.
* **Values**: a numeric sensor starts at its own level in [0, 100), wanders slowly (small steps
  from event to event, like the seed's ``+ uniform(-1, 1)``) and jumps by up to 10 about once in
  100 events (the seed's 1%); a text sensor sends one of ``message001`` .. ``message100``. Every
  event names one of ``system000`` .. ``system019``.
* **Downtime**: at an event a sensor goes down with ``downtime_probability``: that event says
  ``stopping``, the sensor sends nothing for ``downtime_seconds``, then its next event says
  ``starting``; all others say ``active``. Stateless: each sensor's events are cut into slots,
  and a slot holds at most one downtime, whose position comes from a hash of (sensor, slot).
"""

from __future__ import annotations

import math

import dbldatagen as dg
from pyspark.sql import SparkSession

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.fleet import coprime_multiplier
from dbx_iot_gen.rand import Randomness, dbl, hash_fields, salt, split_uniform
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.tables._spec import SOURCE_TIMESTAMP, SpecBuilder, partitions_for

__all__ = ["JUMP_EVERY", "PLANT_COLUMNS", "TIER_MULTIPLES", "PlantLayout", "plant_spec"]

PLANT_COLUMNS = TABLES["plant_sensors"].column_names
TIER_MULTIPLES = (100, 10, 1)  # events of one sensor per period: the rate weights 1, 0.1, 0.01
JUMP_EVERY = 100  # events between two jumps of a numeric sensor, on average (the seed's 1%)
NUMERIC_SHARE = 0.8


def sensor_address(index: str) -> str:
    """SQL of the seed's sensor id of an index: three letters (index div 16^4 in base 26) and four
    upper-case hex digits (index mod 16^4)."""
    letters = f"({index} div 65536L)"
    parts = [f"char(65 + cast(pmod({letters} div {26 ** i}L, 26L) as int))" for i in (2, 1, 0)]
    return f"concat({', '.join(parts)}, upper(lpad(hex(pmod({index}, 65536L)), 4, '0')))"


class PlantLayout:
    """Counts, rates, periods and downtime slots of the plant of a config.

    Example:
        >>> layout = PlantLayout(IoTConfig.preset("tiny"))
        >>> layout.counts, layout.rows_per_period
        ((100, 150, 250), 11750)
    """

    def __init__(self, config: IoTConfig) -> None:
        plant = config.plant
        self.config = config
        self.counts = plant.tier_counts()
        self.rates = plant.tier_rates()
        self.period_s = TIER_MULTIPLES[0] / self.rates[0]  # one event of a low sensor
        self.block_sizes = tuple(n * m for n, m in zip(self.counts, TIER_MULTIPLES))
        self.rows_per_period = sum(self.block_sizes)
        self.span_s = plant.minutes * 60.0
        self.periods = max(1, math.ceil(self.span_s / self.period_s))
        self.rows = self.periods * self.rows_per_period
        p, down = plant.downtime_probability, plant.downtime_seconds
        # events a sensor of each tier skips while down: it resumes at the first event >= down s later
        self.silent = tuple(max(0, math.ceil(down * r - 1e-9) - 1) for r in self.rates)
        slots, chances = [], []
        for m in self.silent:
            size = 2 * (m + 2)
            chance = p * size / (1 + p * m) if p > 0 else 0.0
            if chance > 1:  # a sensor down most of the time: a downtime in every slot, 1/p events apart
                size, chance = m + 2 + round(1 / p), 1.0
            slots.append(size)
            chances.append(chance)
        # slot size and chance of a downtime in a slot: one event in 1/p goes down, on average
        self.slot_events = tuple(slots)
        self.slot_chances = tuple(chances)
        self.tier_mult = coprime_multiplier(plant.n_sensors, config.seed, "plant_sensors", "tier")
        self.tier_offset = salt(config.seed, "plant_sensors", "tier_offset") % plant.n_sensors
        self.kind_mult = coprime_multiplier(plant.n_sensors, config.seed, "plant_sensors", "kind")
        self.kind_offset = salt(config.seed, "plant_sensors", "kind_offset") % plant.n_sensors

    def index_of_slot(self, slot: str) -> str:
        """Sensor index of a tier-order slot expression (inverse of the tier permutation)."""
        n = self.config.plant.n_sensors
        inverse = pow(self.tier_mult, -1, n) if n > 1 else 0
        return f"coalesce(pmod({inverse}L * (({slot}) - {self.tier_offset}L), {n}L), 0L)"

    def is_numeric(self, index: str) -> str:
        """SQL boolean: does the sensor of an index report numbers (80%, exact quota)?"""
        n = self.config.plant.n_sensors
        return f"(pmod({self.kind_mult}L * {index} + {self.kind_offset}L, {n}L) < {int(n * NUMERIC_SHARE)}L)"


def _arr(values: tuple[float, ...] | tuple[int, ...] | list[int], tier: str = "tier", long: bool = True) -> str:
    literal = (lambda v: f"{int(v)}L") if long else dbl
    return f"element_at(array({', '.join(literal(v) for v in values)}), {tier} + 1)"


def plant_spec(spark: SparkSession, config: IoTConfig, *, realtime: bool = False) -> dg.DataGenerator:
    """The spec of ``plant_sensors`` for the config's ``plant`` section, from the config's start:
    ``plant.minutes`` rounded up to whole periods. ``realtime``: event time is when the streaming
    source made the row (for ``build(withStreaming=True)`` only).

    Columns: ``timestamp``, ``system``, ``address``, ``value`` (null for a text sensor), ``text``
    (null for a numeric sensor), ``status`` (active, stopping, starting).

    Example:
        df = plant_spec(spark, IoTConfig.preset("tiny")).build()
        df.groupBy("status").count().show()
    """
    layout = PlantLayout(config)
    rows = layout.rows
    b = SpecBuilder(spark, "plant_sensors", rows, partitions_for(config, rows), config.seed)
    _add_plant_columns(b, config, layout, realtime=realtime)
    return b.spec


def _add_plant_columns(b: SpecBuilder, config: IoTConfig, layout: PlantLayout, *, realtime: bool = False) -> None:
    rnd = Randomness(config.seed, "plant_sensors")
    h_size, m_size, _ = layout.block_sizes
    firsts = (0, layout.counts[0], layout.counts[0] + layout.counts[1])
    intervals_us = [layout.period_s / m * 1e6 for m in TIER_MULTIPLES]
    u_system, u_text, u_noise = hash_fields("row_h", 16, 16, 16)
    d_has, d_pos = split_uniform("slot_h", 0, 26), split_uniform("slot_h", 1, 26)
    j_pos = split_uniform("jump_h", 0, 26)
    c_phase, c_level, c_p1, c_p2, c_f1, c_f2 = (split_uniform("sensor_h", i, 10) for i in range(6))

    b.tmp("period", "long", f"coalesce(id div {layout.rows_per_period}L, 0L)")
    b.tmp("local", "long", f"id - period * {layout.rows_per_period}L")
    b.tmp("tier", "int", f"CASE WHEN local < {h_size}L THEN 0 WHEN local < {h_size + m_size}L THEN 1 ELSE 2 END")
    b.tmp("in_tier", "long", f"local - {_arr((0, h_size, h_size + m_size))}")
    b.tmp("n_tier", "long", _arr(layout.counts))
    b.tmp("sensor_idx", "long", layout.index_of_slot(f"{_arr(firsts)} + pmod(in_tier, n_tier)"))
    # the sensor's own event counter: its events in earlier periods, then this period's
    b.tmp("k", "long", f"period * {_arr(TIER_MULTIPLES)} + coalesce(in_tier div n_tier, 0L)")
    b.tmp("sensor_h", "long", rnd.hash("sensor", "sensor_idx"))
    b.tmp("t_us", "long", f"cast((k + {c_phase}) * {_arr(tuple(intervals_us), long=False)} as long)")
    # downtime: slot of the event, whether the slot holds a downtime and where
    b.tmp("slot_size", "long", _arr(layout.slot_events))
    b.tmp("silent", "long", _arr(layout.silent))
    b.tmp("slot_h", "long", rnd.hash("downtime", "sensor_idx", "coalesce(k div slot_size, 0L)"))
    b.tmp("slot_pos", "long", "pmod(k, slot_size)")
    b.tmp("down_at", "long",
          f"IF({d_has} < {_arr(layout.slot_chances, long=False)},"
          f" cast({d_pos} * (slot_size - silent - 1L) as long), -1000000L)")
    # no row while the sensor is down
    b.explode("emitted", "IF(down_at >= 0L AND slot_pos > down_at AND slot_pos <= down_at + silent,"
                         " array(), array(0))")
    b.col("timestamp", "timestamp",
          SOURCE_TIMESTAMP if realtime else f"timestamp_micros({config.start_micros}L + t_us)")
    b.tmp("row_h", "long", rnd.hash("event", "sensor_idx", "k"))
    b.col("system", "string", f"concat('system', lpad(cast(cast({u_system} * 20D as int) as string), 3, '0'))")
    b.col("address", "string", sensor_address("sensor_idx"))
    b.tmp("numeric", "boolean", layout.is_numeric("sensor_idx"))
    # a jump about once in JUMP_EVERY events: one change point per block of that many events
    b.tmp("jump_block", "long", f"coalesce(k div {JUMP_EVERY}L, 0L)")
    b.tmp("jump_h", "long", rnd.hash("jump", "sensor_idx", "jump_block"))
    b.tmp("segment", "long", f"IF(k - jump_block * {JUMP_EVERY}L >= cast({j_pos} * {JUMP_EVERY}D as long),"
                             " jump_block, jump_block - 1L)")
    level = f"(({rnd.uniform('level', 'sensor_idx', 'segment')} * 2D - 1D) * 10D)"
    # slow wander: two sinusoids over the event counter, periods of 40-200 and 400-2000 events
    wander = (f"(3D * sin(6.283185307179586D * (k / (40D + 160D * {c_p1}) + {c_f1}))"
              f" + 5D * sin(6.283185307179586D * (k / (400D + 1600D * {c_p2}) + {c_f2})))")
    b.col("value", "double", f"IF(numeric, 100D * {c_level} + {wander} + {level} + ({u_noise} - 0.5D), NULL)")
    b.col("text", "string",
          f"IF(numeric, NULL, concat('message', lpad(cast(1 + cast({u_text} * 100D as int) as string), 3, '0')))")
    b.col("status", "string", "CASE WHEN slot_pos = down_at THEN 'stopping'"
                              " WHEN slot_pos = down_at + silent + 1L THEN 'starting' ELSE 'active' END")
