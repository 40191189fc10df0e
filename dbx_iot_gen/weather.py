"""Weather as SQL expressions of epoch seconds: one process per place, shared by every sensor there.

A city's weather is its climate normals (annual mean, seasonal swing, a daily cycle in solar time)
plus synoptic weather drawn as **value noise**: values hashed at knots of a coarse time grid keyed
by the place, joined by a cubic B-spline (smooth to the second derivative, so the readings' per-block
polynomials fit it), a few octaves summed. Pressure fronts pass every few days; a low brings clouds,
clouds flatten the daily cycle; the air mass carries a dew point from which relative humidity
follows the temperature (it falls as the air warms, and never passes 100 %).

Everything is a pure function of (seed, place, time): any row is computable alone, every sensor
of a place sees the same weather, and any partitioning gives the same values.

Example:
    >>> w = Weather.for_city(seed=42, city_idx="city_idx")
    >>> sql = w.temperature("t_s")
"""

from __future__ import annotations

from dataclasses import dataclass

from dbx_iot_gen.catalog import CITIES, CLIMATE, DEW_POINT_DEPRESSION, REFERENCE_SWING
from dbx_iot_gen.rand import dbl, hash_fields, salt, sql_str

__all__ = ["KNOT_SECONDS", "Weather", "noise_at", "noise_knots", "noise_segment", "relative_humidity",
           "smooth_positive", "value_noise"]

TWO_PI = "6.283185307179586D"
# knot spacing of each weather octave (seconds): the readings' polynomial degree accounts for them
KNOT_SECONDS = {"pressure_synoptic": 216_000, "pressure_short": 64_800, "temperature_synoptic": 302_400,
                "temperature_daily": 108_000, "cloud": 86_400, "dew": 129_600}
# A cubic B-spline of unit-variance knots has a standard deviation of about 0.69: divide by it
_BSPLINE_STD = 0.69


def value_noise(t_s: str, key: str, knot_seconds: float, noise_salt: int) -> str:
    """Smooth noise of about unit standard deviation (rarely beyond +-3): near-normal values hashed
    at every ``knot_seconds`` of epoch seconds ``t_s`` for ``key``, joined by a uniform cubic
    B-spline (continuous to the second derivative). Rows with the same key share it.

    Example:
        >>> sql = value_noise("t_s", "city_idx", 86_400, 7)
        >>> "floor(((t_s) * 1.1574074074074073e-05D))" in sql and "xxhash64(7L, city_idx" in sql
        True
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


def _knot_value(key: str, knot: str, noise_salt: int) -> str:
    # four 16-bit uniforms of one hash summed (Irwin-Hall: near normal), scaled to unit variance
    fields = hash_fields(f"xxhash64({noise_salt}L, {key}, {knot})", 16, 16, 16, 16)
    return f"((({' + '.join(fields)}) - 2D) * 1.7320508075688772D)"


def noise_knots(t0: str, key: str, knot_seconds: float, noise_salt: int) -> str:
    """The knots of :func:`value_noise` around ``t0`` as a SQL struct: the first knot ``k`` of
    the interval holding ``t0`` and the values ``v0..v4`` of knots ``k - 1 .. k + 3`` (five
    hashes), which decide the noise on ``[k, k + 2)`` knot intervals; see :func:`noise_segment`.

    Example:
        >>> noise_knots("t0", "city_idx", 86_400, 7).startswith("named_struct('k', ")
        True
    """
    k = f"cast(floor(({t0}) * {dbl(1 / knot_seconds)}) as long)"
    values = ", ".join(f"'v{j + 1}', {_knot_value(key, f'{k} + {j}L', noise_salt)}" for j in (-1, 0, 1, 2, 3))
    return f"named_struct('k', {k}, {values})"


def noise_segment(knots: str) -> str:
    """From a :func:`noise_knots` column, the cubic coefficients (in the fraction of a knot
    interval) of the noise on its two intervals: ``a0..a3`` on the first, ``b0..b3`` on the
    second; :func:`noise_at` evaluates them."""
    scale = dbl(1 / (6 * _BSPLINE_STD))

    def coefficients(prefix: str, first: int) -> list[str]:
        p0, p1, p2, p3 = (f"{knots}.v{first + j}" for j in range(4))
        exprs = [f"({p0} + 4D * {p1} + {p2})", f"3D * ({p2} - {p0})", f"3D * ({p0} - 2D * {p1} + {p2})",
                 f"(3D * ({p1} - {p2}) + {p3} - {p0})"]
        return [f"'{prefix}{i}', {e} * {scale}" for i, e in enumerate(exprs)]

    return f"named_struct('k', {knots}.k, {', '.join(coefficients('a', 0) + coefficients('b', 1))})"


def noise_at(segment: str, t: str, knot_seconds: float) -> str:
    """The value noise at epoch seconds ``t`` from a segment column (see :func:`noise_segment`);
    ``t`` must lie within the segment's two knot intervals."""
    f = f"(({t}) * {dbl(1 / knot_seconds)} - {segment}.k)"

    def horner(c: list[str], x: str) -> str:
        return f"({c[0]} + {x} * ({c[1]} + {x} * ({c[2]} + {x} * {c[3]})))"

    a = [f"{segment}.a{i}" for i in range(4)]
    b = [f"{segment}.b{i}" for i in range(4)]
    return f"IF({f} < 1D, {horner(a, f)}, {horner(b, f'({f} - 1D)')})"


def smooth_positive(x: str, width: float = 1.0) -> str:
    """A smooth ``max(x, 0)``: ``(x + sqrt(x^2 + width^2)) / 2`` (no kink for a polynomial to miss)."""
    return f"(0.5D * (({x}) + sqrt(({x}) * ({x}) + {dbl(width * width)})))"


def _lookup(values: list[float], index: str) -> str:
    return f"element_at(array({', '.join(dbl(v) for v in values)}), {index} + 1)"


@dataclass(frozen=True)
class Weather:
    """The weather of the places ``key`` (a SQL expression: a city index, a site), as SQL of epoch
    seconds. Climate columns are SQL expressions too (per-place lookups).

    Args:
        seed: the dataset seed.
        key: SQL expression naming the place whose sensors share this weather.
        mean_temp: annual mean temperature (C).
        season_swing: half the warmest-to-coldest month difference (C), negative south of the equator.
        daily_swing: half the mean night-to-afternoon difference (C) under a half-clouded sky.
        dew_depression: mean difference of temperature and dew point (C): large in deserts.
        longitude: degrees east, for solar time (the daily cycle follows the sun, not the clock).
        table: the table whose randomness this is (places of different tables draw their own).
    """

    seed: int
    key: str
    mean_temp: str
    season_swing: str
    daily_swing: str
    dew_depression: str
    longitude: str
    table: str = "weather"
    segments: str | None = None  # prefix of noise segment columns (see segment_columns); None: hash per use

    @classmethod
    def for_city(cls, seed: int, city_idx: str, daily_amplitude: float = 5.0,
                 seasonal_amplitude: float = 15.0, climate: str | None = None) -> Weather:
        """The weather of every facility of a city (``city_idx``: index into :data:`CITIES`):
        climate normals from :data:`CLIMATE`; the seasonal swing scaled by ``seasonal_amplitude``
        over the reference swing (``REFERENCE_SWING``), the daily one by ``daily_amplitude``.
        ``climate``: the name of a column holding :meth:`city_climate` (else looked up per use)."""
        if climate is None:
            climate = cls.city_climate(city_idx, daily_amplitude, seasonal_amplitude)
        fields = ("mean_temp", "season_swing", "daily_swing", "dew_depression", "longitude")
        return cls(seed, city_idx, *(f"{climate}.{f}" for f in fields))

    @staticmethod
    def city_climate(city_idx: str, daily_amplitude: float = 5.0, seasonal_amplitude: float = 15.0) -> str:
        """SQL struct of the climate of city ``city_idx`` that :meth:`for_city` reads."""
        swing = [CLIMATE[c.name][1] * seasonal_amplitude / REFERENCE_SWING * (1 if c.latitude >= 0 else -1)
                 for c in CITIES]
        # dry air swings more from night to day
        daily = [daily_amplitude * (0.75 + 0.04 * DEW_POINT_DEPRESSION[c.name]) for c in CITIES]
        columns = {"mean_temp": [CLIMATE[c.name][0] for c in CITIES], "season_swing": swing, "daily_swing": daily,
                   "dew_depression": [DEW_POINT_DEPRESSION[c.name] for c in CITIES],
                   "longitude": [c.longitude for c in CITIES]}
        return f"named_struct({', '.join(f'{sql_str(n)}, {_lookup(v, city_idx)}' for n, v in columns.items())})"

    def _noise(self, t_s: str, octave: str) -> str:
        if self.segments is not None:
            return noise_at(f"{self.segments}_{octave}", t_s, KNOT_SECONDS[octave])
        return value_noise(t_s, self.key, KNOT_SECONDS[octave], salt(self.seed, self.table, octave))

    def segment_columns(self, t0: str, prefix: str) -> list[tuple[str, str]]:
        """Columns (name, SQL) that hold every octave's noise from ``t0`` to ``t0`` plus the
        shortest knot spacing (:data:`KNOT_SECONDS`), in order: first the knots of every octave,
        then their segments (put the two groups in separate projections: Spark's optimizer would
        copy a knot's hash into every coefficient); ``replace(segments=prefix)`` then reads them
        instead of hashing (for a block of rows: a few hashes per block)."""
        knots = [(f"{prefix}_{octave}_knots", noise_knots(t0, self.key, spacing, salt(self.seed, self.table, octave)))
                 for octave, spacing in KNOT_SECONDS.items()]
        segments = [(f"{prefix}_{octave}", noise_segment(name)) for (name, _), octave in zip(knots, KNOT_SECONDS)]
        return knots + segments

    def pressure_anomaly(self, t_s: str) -> str:
        """Sea-level pressure minus its mean (hPa): fronts of +-5-20 hPa over 3-7 days and
        shorter swings of a few hPa."""
        return f"(8D * {self._noise(t_s, 'pressure_synoptic')} + 2.5D * {self._noise(t_s, 'pressure_short')})"

    def pressure(self, t_s: str, anomaly: str | None = None) -> str:
        """Sea-level pressure (hPa): 1013.25 plus fronts (``anomaly``: the SQL of
        :meth:`pressure_anomaly`, if already computed) plus the semidiurnal tide (0.6 hPa, highs
        near 10:00 and 22:00 solar time)."""
        anomaly = anomaly or self.pressure_anomaly(t_s)
        return f"(1013.25D + {anomaly} + 0.6D * sin(2D * {self.solar_angle(t_s)} + 1.5707963267948966D))"

    def cloudiness(self, t_s: str, pressure_anomaly: str | None = None) -> str:
        """Cloud cover in [0, 1]: more under low pressure."""
        anomaly = pressure_anomaly or self.pressure_anomaly(t_s)
        return f"least(1D, greatest(0D, 0.45D - 0.035D * {anomaly} + 0.2D * {self._noise(t_s, 'cloud')}))"

    def solar_angle(self, t_s: str) -> str:
        """Angle of the day in solar time: 0 at 09:00, pi / 2 at 15:00 (sine peaks mid-afternoon)."""
        hours = f"(({t_s}) * {dbl(1 / 3600)} + {self.longitude} * {dbl(1 / 15)} - 9D)"
        return f"({TWO_PI} * ({hours} * {dbl(1 / 24)} - floor({hours} * {dbl(1 / 24)})))"

    def season(self, t_s: str) -> str:
        """Yearly cycle in [-1, 1]: +1 in late July (the seed's phase)."""
        cycles = f"((({t_s}) * {dbl(1 / 86400)} - 80D) * {dbl(1 / 365.2422)} - 0.05D)"
        return f"sin({TWO_PI} * ({cycles} - floor({cycles})))"

    def mean_temperature(self, t_s: str) -> str:
        """The day's mean temperature of the air mass (C): normal for the season plus the synoptic
        swings (daily means move by 2-5 C from front to front)."""
        return (f"({self.mean_temp} + {self.season_swing} * {self.season(t_s)}"
                f" + 2.6D * {self._noise(t_s, 'temperature_synoptic')}"
                f" + 1.2D * {self._noise(t_s, 'temperature_daily')})")

    def temperature(self, t_s: str, mean: str | None = None, cloudiness: str | None = None) -> str:
        """Air temperature (C): the air mass's mean plus a daily cycle in solar time whose swing
        shrinks under clouds (``mean``, ``cloudiness``: SQL of the components, if computed)."""
        mean = mean or self.mean_temperature(t_s)
        cloudiness = cloudiness or self.cloudiness(t_s)
        return f"({mean} + {self.daily_swing} * (1.45D - 0.9D * {cloudiness}) * sin({self.solar_angle(t_s)}))"

    def dew_point(self, t_s: str, mean: str | None = None, cloudiness: str | None = None) -> str:
        """Dew point of the air mass (C): the day's mean temperature less the place's depression,
        smaller under clouds (the air may reach it at night: dew and fog)."""
        mean = mean or self.mean_temperature(t_s)
        cloudiness = cloudiness or self.cloudiness(t_s)
        depression = f"{self.dew_depression} * (1.25D - 0.6D * {cloudiness}) + 1.5D * {self._noise(t_s, 'dew')}"
        return f"({mean} - {smooth_positive(depression)})"

    def relative_humidity(self, t_s: str) -> str:
        """Relative humidity (%) of the air at its temperature and dew point (Magnus formula);
        below 100 by construction."""
        return relative_humidity(self.temperature(t_s), self.dew_point(t_s))


def relative_humidity(temperature: str, dew_point: str) -> str:
    """Relative humidity (%) from air temperature and dew point (C), Magnus formula; the dew point
    is first kept at least 0.2 C under the temperature (smoothly), so the result stays below 100."""
    a, b = 17.625, 243.04
    td = f"(({temperature}) - 0.2D - {smooth_positive(f'({temperature}) - 0.2D - ({dew_point})', 0.5)})"
    return (f"(100D * exp({dbl(a)} * {td} / ({dbl(b)} + {td})"
            f" - {dbl(a)} * ({temperature}) / ({dbl(b)} + ({temperature}))))")

