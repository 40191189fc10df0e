"""Weather as SQL expressions of epoch seconds: one process per place, shared by every sensor there.

A city's weather is its climate normals (annual mean, seasonal swing, a daily cycle in solar time)
plus synoptic weather: each **octave** (fronts over days, shorter swings over a day or two) is
three sinusoids whose periods and phases each place draws from the seed (irregular periods, so
the sum never repeats within a dataset; smooth, so the readings' per-block polynomials fit it;
no hashing per value). Pressure fronts pass every few days; a low brings clouds,
clouds flatten the daily cycle; the air mass carries a dew point from which relative humidity
follows the temperature (it falls as the air warms, and never passes 100 %).

Everything is a pure function of (seed, place, time): any row is computable alone, every sensor
of a place sees the same weather, and any partitioning gives the same values.

Example:
    >>> w = Weather.for_city(seed=42, city_idx="city_idx")
    >>> sql = w.temperature("t_s")
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

from dbx_iot_gen.catalog import CITIES, CLIMATE, DEW_POINT_DEPRESSION, REFERENCE_SWING
from dbx_iot_gen.rand import dbl, sql_str

__all__ = ["OCTAVES", "Weather", "relative_humidity", "smooth_positive"]

TWO_PI = "6.283185307179586D"
# each octave of the weather's variation: the shortest and longest period of its sinusoids (hours)
OCTAVES = {"pressure_synoptic": (80, 200), "pressure_short": (30, 60), "temperature_synoptic": (72, 200),
           "temperature_daily": (28, 60), "cloud": (22, 50), "dew": (30, 80)}
_COMPONENTS = 3


def octave_waves(seed: int, table: str, octave: str) -> list[tuple[float, float, float]]:
    """The sinusoids of one octave, drawn from the seed: per component its rate (cycles per
    second) and the phase (cycles) of place ``p``, ``p * step + offset`` (an irrational step: every
    place its own phase, with no table to look up).

    Example:
        >>> [len(w) for w in octave_waves(42, "weather", "cloud")]
        [3, 3, 3]
    """
    lo, hi = OCTAVES[octave]
    out = []
    for i in range(_COMPONENTS):
        rnd = random.Random(f"{seed}/{table}/{octave}/{i}")
        period_h = lo * (hi / lo) ** ((i + rnd.random()) / _COMPONENTS)  # spread over the range
        out.append((1 / (3600 * period_h), 0.5 * (math.sqrt(5) - 1) + rnd.random() * 0.2, rnd.random()))
    return out


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
        key: SQL expression of the index (into :data:`CITIES`) of the place whose sensors share this
            weather.
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
    waves: str | None = None  # a column holding waves_struct (see from_waves); None: look up per use
    waves_t0: str = "0D"

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
        # unit variance: three sinusoids of amplitude sqrt(2/3)
        if self.waves is not None:  # their phases at waves_t0, from a struct column
            terms = [f"sin({TWO_PI} * ({self.waves}.{octave}_{i} + {dbl(rate)} * (({t_s}) - {self.waves_t0})))"
                     for i, (rate, _, _) in enumerate(octave_waves(self.seed, self.table, octave))]
        else:
            terms = [f"sin({TWO_PI} * ({self._cycles(t_s, wave)}))"
                     for wave in octave_waves(self.seed, self.table, octave)]
        return f"({dbl(math.sqrt(2 / _COMPONENTS))} * ({' + '.join(terms)}))"

    def _cycles(self, t_s: str, wave: tuple[float, float, float]) -> str:
        rate, step, offset = wave
        return f"(({t_s}) * {dbl(rate)} + cast({self.key} as double) * {dbl(step)} + {dbl(offset)})"

    def waves_struct(self, t0: str) -> str:
        """SQL struct of every sinusoid's phase at epoch seconds ``t0`` (``<octave>_<i>``, in
        cycles, whole cycles removed): computed once (per block of rows, say), :meth:`from_waves`
        then evaluates the weather near ``t0`` from it.

        Example:
            >>> w = Weather.for_city(seed=42, city_idx="city_idx")
            >>> "cloud_2" in w.waves_struct("t0")
            True
        """
        fields = []
        for octave in OCTAVES:
            for i, wave in enumerate(octave_waves(self.seed, self.table, octave)):
                cycles = self._cycles(f"cast({t0} as double)", wave)
                fields.append(f"'{octave}_{i}', {cycles} - floor({cycles})")
        return f"named_struct({', '.join(fields)})"

    def from_waves(self, waves: str, t0: str) -> Weather:
        """This weather, read from the column ``waves`` holding :meth:`waves_struct` of ``t0``."""
        return dataclasses.replace(self, waves=waves, waves_t0=f"cast({t0} as double)")

    def pressure_anomaly(self, t_s: str) -> str:
        """Sea-level pressure minus its mean (hPa): fronts of +-5-20 hPa over 3-7 days and
        shorter swings of a few hPa."""
        return f"(8D * {self._noise(t_s, 'pressure_synoptic')} + 1.5D * {self._noise(t_s, 'pressure_short')})"

    def pressure(self, t_s: str, anomaly: str | None = None) -> str:
        """Sea-level pressure (hPa): 1013.25 plus fronts (``anomaly``: the SQL of
        :meth:`pressure_anomaly`, if already computed) plus the semidiurnal tide (0.6 hPa, highs
        near 10:00 and 22:00 solar time)."""
        anomaly = anomaly or self.pressure_anomaly(t_s)
        return f"(1013.25D + {anomaly} + 0.6D * cos(2D * {self.solar_angle(t_s)}))"

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

