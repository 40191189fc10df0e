"""Realism patterns as SQL expression builders: local time, seasons, daily cycles, business hours,
drift with age, continuity. Each pattern is written once here and used by every table that needs it.

All builders return Spark SQL strings over epoch seconds and hash-derived parameters: native
expressions only, no state, so any row is computable on its own.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dbx_iot_gen.catalog import CITIES
from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.rand import dbl, sql_str

__all__ = ["EPOCH_HOUR_OF_WEEK", "BlockPolynomial", "LocalTime", "daily_cycle", "duty_on_fraction", "hour_of_week",
           "in_maintenance_window", "occupancy_value", "seasonal_cycle", "slow_wander"]

TWO_PI = "6.283185307179586D"
_TIMEZONES = tuple(sorted({c.timezone for c in CITIES}))
_CITY_TZ = tuple(_TIMEZONES.index(c.timezone) for c in CITIES)


def _offset(tz: ZoneInfo, epoch: int) -> int:
    delta = datetime.fromtimestamp(epoch, timezone.utc).astimezone(tz).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _transitions(tz: ZoneInfo, lo: int, hi: int) -> list[int]:
    """Epoch seconds in [lo, hi] at which the UTC offset of ``tz`` changes (daily scan, then bisect)."""
    out = []
    day = 86_400
    t, prev = lo, _offset(tz, lo)
    while t < hi:
        nxt = min(t + day, hi)
        cur = _offset(tz, nxt)
        if cur != prev:
            a, b = t, nxt  # offset(a) == prev, offset(b) == cur
            while b - a > 1:
                mid = (a + b) // 2
                if _offset(tz, mid) == prev:
                    a = mid
                else:
                    b = mid
            out.append(b)
            prev = cur
        t = nxt
    return out


class LocalTime:
    """Facility-local wall-clock time by arithmetic, exact for the config's time range.

    ``from_utc_timestamp`` with a per-row zone parses the zone name on every row (measured here:
    2 M rows/s against 35 M rows/s for this lookup). Instead the UTC offsets of every zone over
    the data's range are computed once in Python with ``zoneinfo``: the range is cut at every
    offset change of any zone, and a literal table holds each zone's offset per segment.

    Example:
        >>> lt = LocalTime(IoTConfig.preset("tiny"))
        >>> expr = lt.local_seconds("epoch_s", "city_idx")
    """

    def __init__(self, config: IoTConfig) -> None:
        lo = int((config.start - timedelta(days=2)).timestamp())
        hi = int((config.end + timedelta(days=2)).timestamp())
        zones = [ZoneInfo(name) for name in _TIMEZONES]
        cuts = sorted({t for z in zones for t in _transitions(z, lo, hi)})
        self.cuts: tuple[int, ...] = tuple(cuts)
        starts = [lo, *cuts]
        self.starts: tuple[int, ...] = tuple(starts)
        self.offsets: tuple[tuple[int, ...], ...] = tuple(
            tuple(_offset(z, s) for z in zones) for s in starts
        )

    def offset_seconds(self, epoch_s: str, city_idx: str) -> str:
        """UTC offset in seconds of the city's zone at ``epoch_s`` (bigint seconds)."""
        return f"element_at({self._offset_table()}, {self._index(epoch_s, city_idx)})"

    def _offset_table(self) -> str:
        flat = [seg[tz] for seg in self.offsets for tz in _CITY_TZ]  # one row of cities per segment
        return f"array({', '.join(map(str, flat))})"

    def _index(self, epoch_s: str, city_idx: str) -> str:
        # 1-based place of (segment of epoch_s, city) in the tables of segments x cities
        if not self.cuts:
            return f"{city_idx} + 1"
        return f"{self._segment(epoch_s, 0, len(self.cuts))} * {len(CITIES)} + {city_idx} + 1"

    def _segment(self, epoch_s: str, lo: int, hi: int) -> str:
        # nested IFs: a binary search over the cut points, O(log n) per row
        if lo == hi:
            return str(lo)
        mid = (lo + hi) // 2
        return f"IF({epoch_s} < {self.cuts[mid]}L, {self._segment(epoch_s, lo, mid)}, " \
               f"{self._segment(epoch_s, mid + 1, hi)})"

    def block_offsets(self, t0: str, city_idx: str, span_s: int) -> tuple[str, str, str] | None:
        """For rows of one city whose epoch seconds lie in ``[t0, t0 + span_s)``: SQL for the UTC
        offset at ``t0``, the epoch second of the zone's next offset change after ``t0``, and the
        offset from then on. A row's offset is then ``IF(epoch_s < change, before, after)``: exact,
        and one comparison a row instead of a lookup. None when a zone changes its offset twice
        within ``span_s`` seconds somewhere in the range (then look up each row).

        Example:
            >>> before, change, after = LocalTime(IoTConfig.preset("tiny")).block_offsets("t0", "city_idx", 3600)
        """
        for z in range(len(_TIMEZONES)):
            changes = [self.starts[j] for j in range(1, len(self.starts))
                       if self.offsets[j][z] != self.offsets[j - 1][z]]
            if any(b - a <= span_s for a, b in itertools.pairwise(changes)):
                return None
        never = 2**62
        change_at: list[int] = []
        after: list[int] = []
        for s, seg in enumerate(self.offsets):
            for tz in _CITY_TZ:
                j = next((j for j in range(s + 1, len(self.offsets)) if self.offsets[j][tz] != seg[tz]), None)
                change_at.append(never if j is None else self.starts[j])
                after.append(seg[tz] if j is None else self.offsets[j][tz])
        index = self._index(t0, city_idx)  # the same place in the three tables
        before = f"element_at({self._offset_table()}, {index})"
        if not self.cuts:
            return before, f"{never}L", before
        return (before, f"element_at(array({', '.join(f'{c}L' for c in change_at)}), {index})",
                f"element_at(array({', '.join(map(str, after))}), {index})")

    def local_seconds(self, epoch_s: str, city_idx: str) -> str:
        """Local wall-clock time as seconds since 1970-01-01 00:00 local."""
        return f"({epoch_s} + {self.offset_seconds(epoch_s, city_idx)})"

    def first_instant(self, city: int, local_start: int, local_end: int) -> int | None:
        """The first epoch second whose local time in the city lies in ``[local_start, local_end)``
        (local seconds since 1970-01-01 00:00 local), or None; exact across DST changes."""
        tz = _CITY_TZ[city]
        ends = [*self.starts[1:], 2**62]
        for a, b, seg in zip(self.starts, ends, self.offsets):
            u = max(a, local_start - seg[tz])
            if u < b and u + seg[tz] < local_end:
                return u
        return None

    def offset_at(self, epoch_s: int, city: int) -> int:
        """The same lookup in Python (for tests)."""
        return self.offsets[bisect.bisect_right(self.cuts, epoch_s)][_CITY_TZ[city]]


# Divisions are nullable in Spark (and so bloat generated code with null checks): the builders
# multiply by reciprocals and use coalesce() around integer div and pmod.
_PER_DAY = "1.1574074074074073E-5D"  # 1 / 86400
_PER_HOUR = "2.777777777777778E-4D"  # 1 / 3600


def hour_of_day(local_s: str) -> str:
    """Local hour as a double in [0, 24)."""
    return f"(coalesce(pmod({local_s}, 86400L), 0L) * {_PER_HOUR})"


# 1970-01-01 was a Thursday: its first hour is hour 72 of a week that starts on Monday 00:00
EPOCH_HOUR_OF_WEEK = 72


def hour_of_week(local_s: str) -> str:
    """Local hour of the week (SQL int), Monday 00:00-01:00 = 0 ... Sunday 23:00-24:00 = 167, of
    local epoch seconds (see :class:`LocalTime`)."""
    return f"cast(coalesce(pmod(coalesce({local_s} div 3600L, 0L) + {EPOCH_HOUR_OF_WEEK}L, 168L), 0L) as int)"


def in_maintenance_window(config: IoTConfig, hour_of_week: str) -> str:
    """SQL: the local hour of the week (Monday 00:00 is 0; see :func:`hour_of_week`) is in one
    of the config's maintenance windows.

    Example:
        >>> in_maintenance_window(IoTConfig.preset("tiny"), "h")  # Sunday 02:00 to 06:00
        '((h >= 146 AND h < 150))'
    """
    hours = sorted({h for w in config.patterns.maintenance_windows for h in w.hours_of_week()})
    ranges: list[list[int]] = []
    for h in hours:
        if ranges and ranges[-1][1] == h:
            ranges[-1][1] = h + 1
        else:
            ranges.append([h, h + 1])
    if not ranges:
        return "false"
    return "(" + " OR ".join(f"({hour_of_week} >= {a} AND {hour_of_week} < {b})" for a, b in ranges) + ")"


def sin_cycles(cycles: str) -> str:
    """``sin(2 pi x)`` for ``x`` in cycles, reduced to one cycle first: the JVM's sine of a large
    argument (epoch seconds times a rate) is twice as slow (measured here)."""
    return f"sin({TWO_PI} * (({cycles}) - cast(({cycles}) as long)))"


def year_cycles(seconds: str) -> str:
    """Position in the yearly cycle, in cycles, of epoch seconds: :func:`seasonal_cycle` is its sine."""
    return f"({seconds} * {_PER_DAY} - 80D) * {dbl(1 / 365.2422)} - 0.05D"


def seasonal_cycle(local_s: str, hemisphere: str) -> str:
    """Yearly cycle in [-1, 1]: +1 at the northern midsummer (late July, like the seed), flipped
    south of the equator (``hemisphere`` is +1 or -1)."""
    return f"({hemisphere} * {sin_cycles(year_cycles(local_s))})"


def daily_cycle(local_s: str) -> str:
    """Daily cycle in [-1, 1]: coolest before dawn, warmest mid-afternoon (the seed's phase)."""
    return f"sin({daily_angle(local_s)})"


def daily_angle(local_s: str) -> str:
    """The angle whose sine is :func:`daily_cycle`; it grows by ``2 pi / 86400`` a second."""
    return f"{TWO_PI} * ({hour_of_day(local_s)} - 9D) * {dbl(1 / 24)}"


def slow_wander(seconds: str, phase1: str, phase2: str, rate1: str, rate2: str) -> str:
    """Two slow sinusoids with channel-specific rates (cycles per second) and phases, in [-1, 1]:
    looks like the seed's random walk, computed without state."""
    return (f"(0.6D * {sin_cycles(f'{seconds} * {rate1} + {phase1}')}"
            f" + 0.4D * {sin_cycles(f'{seconds} * {rate2} + {phase2}')})")


def occupancy_value(hod: float, dow: int, *, opens: float, ramp: float, closes: float, fall: float, lunch: float,
                    saturday: float, sunday: float) -> float:
    """How busy an office building is at a local time, in [0, 1]: 0 at night; on weekdays a
    ramp up over ``ramp`` hours from hour ``opens``, a dip by the share ``lunch`` around 12:30, a
    decline over ``fall`` hours from hour ``closes``; Saturday and Sunday the weekday times
    ``saturday`` and ``sunday``. The ramps are smoothsteps (no kink at their ends).

    Args:
        hod: local hour of the day, in [0, 24).
        dow: local day of the week, Monday = 0 ... Sunday = 6.

    Example:
        >>> occupancy_value(11.0, 0, opens=6, ramp=3, closes=17, fall=3, lunch=0.1, saturday=0.4, sunday=0.1)
        1.0
    """
    def step(x: float) -> float:
        c = min(1.0, max(0.0, x))
        return c * c * (3 - 2 * c)

    day = 1.0 if dow < 5 else saturday if dow == 5 else sunday
    return (step((hod - opens) / ramp) * (1 - step((hod - closes) / fall))
            * (1 - lunch * step(1 - abs(hod - 12.5))) * day)


def duty_on_fraction(u1: str, u2: str, cycle0: str, duty: str, run: str, seed: str) -> str:
    """The share of a window a cycling machine (a compressor, a pump, a mill) runs (SQL).

    Time is counted in cycles: the window is ``[u1, u2]`` cycles after cycle ``cycle0`` began
    (``0 < u2 - u1 <= 1``). Each cycle ``m`` runs once, for a length ``L_m`` (a share of the
    cycle) from ``(1 - L_m) s_m``, where ``s_m`` is a uniform drawn from the hash of (``seed``, a
    bigint, and ``m``), so runs start at irregular times. A thermostat (``run`` 0) runs every cycle
    for ``duty``; a machine that runs whole jobs (``run`` > 0) runs a cycle for ``run`` with
    probability ``duty / run`` (a second uniform of the same hash), else rests. Either way the
    mean share is ``duty`` (for a machine that runs jobs, while ``duty <= run``; above, it runs
    every cycle: ``run``). A window short against the cycle shows the machine's ramps (a spin-up);
    one as long as a reading's interval gives its average power.

    The run time of cycle ``n`` up to ``f`` cycles into it is ``clamp(f - start_n, 0, L_n)``; the
    window holds the end of cycle ``floor(u1)`` and the start of ``floor(u2)`` (the same cycle, or
    the next: a cycle is never shorter than the window).

    Example:
        >>> duty_on_fraction("u1", "u2", "k.cycle0", "0.4D", "0D", "k.seed").startswith("(")
        True
    """
    u1, u2 = f"({u1})", f"({u2})"

    def draw(u: str, i: int) -> str:  # the i-th 16-bit uniform of cycle floor(u)'s hash
        h = f"xxhash64(cast({cycle0} + floor({u}) as long), {seed})"
        return f"(cast(shiftright({h}, {16 * i}) & 65535L as double) * {dbl(1 / 65536)})"

    def length(u: str) -> str:  # L of cycle floor(u)
        return f"IF({run} > 0D, IF({draw(u, 1)} * {run} < {duty}, {run}, 0D), {duty})"

    def run_until(u: str) -> str:  # run time of cycle floor(u) up to u
        n = length(u)
        return f"least({n}, greatest(0D, {u} - floor({u}) - (1D - {n}) * {draw(u, 0)}))"

    return (f"(({run_until(u2)} - {run_until(u1)} + (floor({u2}) - floor({u1})) * {length(u1)})"
            f" / ({u2} - {u1}))")


def hemisphere_of_city(city_idx: str) -> str:
    """+1 north of the equator, -1 south."""
    return f"element_at(array({', '.join('1D' if c.latitude >= 0 else '-1D' for c in CITIES)}), {city_idx} + 1)"


def city_attribute(city_idx: str, attribute: str) -> str:
    """A numeric attribute of ``CITIES`` (latitude, longitude, altitude) by city index expression."""
    return f"element_at(array({', '.join(dbl(getattr(c, attribute)) for c in CITIES)}), {city_idx} + 1)"


def city_string(city_idx: str, attribute: str) -> str:
    """A string attribute of ``CITIES`` (name, region, country, timezone) by city index expression."""
    values = ", ".join(sql_str(getattr(c, attribute)) for c in CITIES)
    return f"element_at(array({values}), {city_idx} + 1)"


@dataclass(frozen=True)
class BlockPolynomial:
    """A smooth function of the seconds ``x`` since a block's start, on ``[0, length]``, replaced
    by the polynomial that takes its values at Chebyshev nodes: computed once per block, the
    sines it holds cost a few multiplications per row instead of a sine each.

    :meth:`for_sines` picks the lowest degree whose error bound, for sinusoids of at most the
    given rates, is within ``tolerance`` of their amplitudes: a sinusoid of amplitude ``A`` and
    angular rate ``w`` differs from its interpolant by at most
    ``A (w length / 2) ** (n + 1) / (2 ** n (n + 1)!)``. Linear terms come out exact.

    Example:
        >>> fit = BlockPolynomial.for_sines(19_203, rates=(1 / 21_600, 1 / 86_400))
        >>> fit.degree, len(fit.nodes)
        (7, 8)
        >>> fit.evaluate(fit.coefficients([f"v{j}" for j in range(8)]), "x").count("*") > 8
        True
    """

    length: float
    nodes: tuple[float, ...]  # where to evaluate the function, in [0, length]
    weights: tuple[tuple[float, ...], ...]  # [i][j]: weight of node j's value in the coefficient of u ** i

    @property
    def degree(self) -> int:
        """Degree of the polynomial."""
        return len(self.nodes) - 1

    @staticmethod
    def error_bound(length: float, rates: tuple[float, ...], degree: int) -> float:
        """Largest error of the interpolant of degree ``degree`` for sinusoids of unit amplitude
        and the given rates (cycles per second), summed over them."""
        n = degree
        return sum((math.pi * r * length) ** (n + 1) / (2**n * math.factorial(n + 1)) for r in rates)

    @classmethod
    def for_sines(cls, length: float, rates: tuple[float, ...], tolerance: float = 1e-3,
                  max_degree: int = 12) -> BlockPolynomial | None:
        """The fit of lowest degree (at least 1) within ``tolerance``; None if that needs more
        than ``max_degree`` (then compute the sines)."""
        degree = next((n for n in range(1, max_degree + 1) if cls.error_bound(length, rates, n) <= tolerance), None)
        return None if degree is None else cls.of_degree(length, degree)

    @classmethod
    def of_degree(cls, length: float, degree: int) -> BlockPolynomial:
        """The interpolant of degree ``degree`` at the Chebyshev nodes of ``[0, length]``."""
        n = degree
        angles = [(2 * j + 1) * math.pi / (2 * (n + 1)) for j in range(n + 1)]
        nodes = tuple((math.cos(a) + 1) * length / 2 for a in angles)
        # monomial coefficients of the Chebyshev polynomials T_0 .. T_n
        cheb: list[list[float]] = [[1.0] + [0.0] * n, [0.0, 1.0] + [0.0] * (n - 1)][: n + 1]
        for k in range(2, n + 1):
            cheb.append([2 * (cheb[k - 1][i - 1] if i else 0.0) - cheb[k - 2][i] for i in range(n + 1)])
        # value at node j -> Chebyshev coefficient k (discrete orthogonality) -> coefficient of u ** i
        weights = tuple(
            tuple(sum(cheb[k][i] * (1 if k == 0 else 2) / (n + 1) * math.cos(k * a) for k in range(n + 1))
                  for a in angles)
            for i in range(n + 1)
        )
        return cls(float(length), nodes, weights)

    def coefficients(self, values: list[str]) -> list[str]:
        """SQL for the coefficients of ``u ** 0 .. u ** n`` from the SQL values at the nodes."""
        return [" + ".join(f"{dbl(w)} * ({v})" for w, v in zip(row, values, strict=True)) for row in self.weights]

    def evaluate(self, coefficients: list[str], x: str) -> str:
        """SQL for the polynomial at ``x`` seconds since the block's start (Horner's rule in
        ``u = 2 x / length - 1``, which lies in [-1, 1])."""
        u = f"({x} * {dbl(2 / self.length)} - 1D)"
        out = coefficients[-1]
        for c in reversed(coefficients[:-1]):
            out = f"({out}) * {u} + {c}"
        return f"({out})"
