"""The validated, frozen configuration of a dataset, with scale presets.

A config is checked completely when it is made: a wrong value raises one
:class:`~dbx_iot_gen.errors.InvalidConfigError` naming the field and what is accepted, before
Spark runs anything.

Example:
    >>> cfg = IoTConfig.preset("tiny", seed=7)
    >>> cfg.n_devices, cfg.seed
    (60, 7)
    >>> cfg.replace(n_devices=120).n_devices
    120
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dbx_iot_gen.catalog import DEFAULT_DEVICE_TYPE_WEIGHTS, DEVICE_TYPES
from dbx_iot_gen.errors import InvalidConfigError

__all__ = [
    "ANOMALY_TYPES",
    "CDC_OPERATIONS",
    "PLANT_TIERS",
    "QUALITY_ISSUES",
    "SCALES",
    "SEVERITIES",
    "WEEKDAYS",
    "AnomalyConfig",
    "CdcConfig",
    "EnvironmentConfig",
    "EventConfig",
    "IoTConfig",
    "MaintenanceWindow",
    "PatternConfig",
    "PlantConfig",
    "QualityConfig",
]

_MAX_DAYS = 3 * 366
_TYPE_NAMES = tuple(t.name for t in DEVICE_TYPES)


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _check_range(name: str, value: Any, low: float, high: float, *, integer: bool = False) -> None:
    kind = "a whole number" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        raise InvalidConfigError(name, f"must be {kind} from {_num(low)} to {_num(high)}, got {value!r}")
    if not low <= value <= high:
        raise InvalidConfigError(name, f"must be from {_num(low)} to {_num(high)}, got {value!r}")


def _check_weights(name: str, weights: Any, labels: tuple[str, ...]) -> tuple[float, ...]:
    """Weights, one per label, each from 0 to 1e6 and not all 0; returned as floats."""
    if not isinstance(weights, (list, tuple)) or len(weights) != len(labels):
        count = {2: "two", 3: "three"}.get(len(labels), str(len(labels)))
        raise InvalidConfigError(name, f"must be {count} weights for {', '.join(labels)}, got {weights!r}")
    for label, w in zip(labels, weights):
        _check_range(f"{name}[{label}]", w, 0, 1e6)
    if sum(weights) <= 0:
        raise InvalidConfigError(name, "at least one weight must be above 0")
    return tuple(float(w) for w in weights)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class MaintenanceWindow:
    """A weekly maintenance window in the facility's local time, whole hours ``[start_hour, end_hour)``.

    Example:
        >>> MaintenanceWindow("Sunday", 2, 6).hours_of_week()[:2]
        [146, 147]
    """

    day: str = "Sunday"
    start_hour: int = 2
    end_hour: int = 6

    def __post_init__(self) -> None:
        if self.day not in WEEKDAYS:
            raise InvalidConfigError("patterns.maintenance_windows.day",
                                     f"must be one of {', '.join(WEEKDAYS)}, got {self.day!r}")
        _check_range("patterns.maintenance_windows.start_hour", self.start_hour, 0, 23, integer=True)
        _check_range("patterns.maintenance_windows.end_hour", self.end_hour, self.start_hour + 1, 24, integer=True)

    def hours_of_week(self) -> list[int]:
        """The hours of the week it covers, Monday 00:00 = 0."""
        first = WEEKDAYS.index(self.day) * 24
        return list(range(first + self.start_hour, first + self.end_hour))


@dataclass(frozen=True)
class PatternConfig:
    """Amplitudes and windows of the realism patterns (SPEC section 3); defaults are the seed's.

    Attributes:
        temperature_seasonal_amplitude: half the summer-to-winter swing of temperature at a strongly
            seasonal site, in C; each city's swing is scaled from it by its climate normals.
        temperature_daily_amplitude: half the night-to-afternoon swing, in C.
        noise_level: multiplier of the per-reading noise of every metric (1 = the seed's noise).
        drift_per_day: how far a sensor drifts per day since install, as a share of the metric's
            typical value (the seed's 0.001 per day).
        business_hours_start: first local hour of business hours (power is high).
        business_hours_end: local hour at which business hours end.
        maintenance_windows: weekly windows in local time (the seed's Sundays 02:00-06:00); inside
            one a reading has no value and says the device is in maintenance.
    """

    temperature_seasonal_amplitude: float = 15.0
    temperature_daily_amplitude: float = 5.0
    noise_level: float = 1.0
    drift_per_day: float = 0.001
    business_hours_start: int = 8
    business_hours_end: int = 18
    maintenance_windows: tuple[MaintenanceWindow, ...] = (MaintenanceWindow(),)

    def __post_init__(self) -> None:
        windows = self.maintenance_windows
        if not isinstance(windows, (list, tuple)):
            raise InvalidConfigError("patterns.maintenance_windows",
                                     'must be a list of {"day", "start_hour", "end_hour"} windows')
        built = []
        for w in windows:
            if isinstance(w, Mapping):
                w = _build(MaintenanceWindow, w, "patterns.maintenance_windows.")
            if not isinstance(w, MaintenanceWindow):
                raise InvalidConfigError("patterns.maintenance_windows",
                                         f'each window must be {{"day", "start_hour", "end_hour"}}, got {w!r}')
            built.append(w)
        object.__setattr__(self, "maintenance_windows", tuple(built))
        _check_range("patterns.temperature_seasonal_amplitude", self.temperature_seasonal_amplitude, 0, 40)
        _check_range("patterns.temperature_daily_amplitude", self.temperature_daily_amplitude, 0, 20)
        _check_range("patterns.noise_level", self.noise_level, 0, 10)
        _check_range("patterns.drift_per_day", self.drift_per_day, 0, 0.05)
        _check_range("patterns.business_hours_start", self.business_hours_start, 0, 23, integer=True)
        _check_range("patterns.business_hours_end", self.business_hours_end, 1, 24, integer=True)
        if self.business_hours_end <= self.business_hours_start:
            raise InvalidConfigError(
                "patterns.business_hours_end",
                f"must be after business_hours_start ({self.business_hours_start}), "
                f"got {self.business_hours_end}",
            )


ANOMALY_TYPES = ("spike", "dropout", "drift", "stuck")
_LONGEST_DRIFT = 100_000  # readings
QUALITY_ISSUES = ("null_value", "duplicate", "out_of_range", "sentinel_value", "unit_mixup", "clock_reset",
                  "late_arrival")
# quality problems that last a run of readings, and the share of an anomaly slot (S readings) their
# lengths span: a unit mix-up S/4 to S readings, a clock reset 1 to S/4 (uniform)
_EPISODE_ISSUES = {"unit_mixup": (0.25, 1.0), "clock_reset": (0.0, 0.25)}
SEVERITIES = ("Critical", "Warning", "Info")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidConfigError(name, f"must be true or false, got {value!r}")


def _pair(name: str, value: Any, low: float, high: float, *, integer: bool = False) -> tuple[Any, Any]:
    """A ``[low, high]`` pair from a tuple or a JSON list, checked: ``low <= first <= second <= high``."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InvalidConfigError(name, f"must be a pair [shortest, longest], got {value!r}")
    _check_range(name, value[0], low, high, integer=integer)
    _check_range(name, value[1], value[0], high, integer=integer)
    return (value[0], value[1])


@dataclass(frozen=True)
class AnomalyConfig:
    """Anomaly episodes injected into ``sensor_readings`` and labeled in ``anomaly_labels``.

    An episode has a type, a start and a length in readings of one device and metric. Rates are
    the share of all readings that lie in an episode of the type (the seed's per-reading rates);
    set a rate to 0 to turn a type off.

    Attributes:
        spike_rate: share of readings in spikes (a sudden jump, up or, by metric, down).
        dropout_rate: share of readings in dropouts (no value; the device reports Offline).
        drift_rate: share of readings in calibration drifts (an offset from the true value that
            grows until a calibration fixes it).
        stuck_rate: share of readings in stuck episodes (the last good value, repeated).
        spike_readings: shortest and longest spike, in readings.
        dropout_readings: shortest and longest dropout, in readings.
        drift_readings: shortest and longest drift, in readings (log-uniform: the others are
            uniform).
        stuck_readings: shortest and longest stuck episode, in readings.
        spike_magnitude: height of a spike, in typical deviations of the metric (the seed's x3).
        drift_magnitude: offset a drift reaches at its end, in typical deviations of the metric.

    Example:
        >>> AnomalyConfig(spike_rate=0.01).slot_readings
        64
    """

    spike_rate: float = 0.005
    dropout_rate: float = 0.003
    drift_rate: float = 0.002
    stuck_rate: float = 0.002
    spike_readings: tuple[int, int] = (1, 3)
    dropout_readings: tuple[int, int] = (3, 12)
    drift_readings: tuple[int, int] = (12, 576)
    stuck_readings: tuple[int, int] = (4, 16)
    spike_magnitude: float = 3.0
    drift_magnitude: float = 4.0

    def __post_init__(self) -> None:
        for kind in ANOMALY_TYPES:
            _check_range(f"anomalies.{kind}_rate", getattr(self, f"{kind}_rate"), 0, 0.2)
            name = f"{kind}_readings"
            longest = _LONGEST_DRIFT if kind == "drift" else 1000
            object.__setattr__(self, name, _pair(f"anomalies.{name}", getattr(self, name), 1, longest, integer=True))
        _check_range("anomalies.spike_magnitude", self.spike_magnitude, 0, 100)
        _check_range("anomalies.drift_magnitude", self.drift_magnitude, 0, 100)
        total = sum(p for k, p in zip(ANOMALY_TYPES, self.episode_probabilities()) if k != "drift")
        if total > 1:
            raise InvalidConfigError(
                "anomalies", f"rates too high for the episode lengths: {total:.2f} episodes per "
                             f"{self.slot_readings} readings of a channel, at most 1 fits; lower the rates")
        if self.drift_probability > 1:
            raise InvalidConfigError(
                "anomalies.drift_rate", f"too high for the drift lengths: {self.drift_probability:.2f} drifts per "
                                        f"{self.drift_slot_readings} readings of a channel, at most 1 fits; lower "
                                        "it or lengthen the drifts")

    def lengths(self, kind: str) -> tuple[int, int]:
        """Shortest and longest episode of a type, in readings."""
        return getattr(self, f"{kind}_readings")  # type: ignore[no-any-return]

    @property
    def slot_readings(self) -> int:
        """Readings per slot: each device and metric has at most one spike, dropout or stuck
        episode per slot (a power of 2 at least twice the longest of them, and at least 64, so a
        reading finds its slot by a shift)."""
        longest = max(self.lengths(k)[1] for k in ANOMALY_TYPES if k != "drift")
        return max(64, 1 << (2 * longest - 1).bit_length())

    @property
    def drift_slot_readings(self) -> int:
        """Readings per drift slot: each device and metric has at most one drift per drift slot (a
        power of 2, at least the longest drift and ``slot_readings``: whole slots)."""
        return max(self.slot_readings, 1 << (self.lengths("drift")[1] - 1).bit_length())

    def mean_length(self, kind: str) -> float:
        """Mean length of an episode of a type, in readings (drifts: log-uniform; the others uniform).

        Example:
            >>> AnomalyConfig().mean_length("spike")
            2.0
        """
        lo, hi = self.lengths(kind)
        if kind != "drift":
            return (lo + hi) / 2
        # the whole part of a log-uniform length from lo to hi + 1
        return (hi + 1 - lo) / math.log((hi + 1) / lo) - 0.5

    def episode_probabilities(self) -> list[float]:
        """Probability that a slot holds an episode of each type (in ``ANOMALY_TYPES`` order; a
        drift's, of its drift slot)."""
        return [self.drift_probability if k == "drift" else
                getattr(self, f"{k}_rate") * self.slot_readings / self.mean_length(k) for k in ANOMALY_TYPES]

    @property
    def drift_probability(self) -> float:
        """Probability that a drift slot holds a drift."""
        return self.drift_rate * self.drift_slot_readings / self.mean_length("drift")


@dataclass(frozen=True)
class QualityConfig:
    """Data-quality problems of ``sensor_readings``, each labeled in its ``quality_issue`` column.

    A reading has at most one problem. Nulls, out-of-range, sentinel and mixed-up values only hit
    readings that have a value (not in maintenance, not in an anomaly episode); a clock reset any
    but those in an anomaly episode; duplicates and late arrival hit any.

    Attributes:
        clean: turn every problem off (a clean dataset, for a silver layer's expected output).
        null_rate: share of readings whose value is missing (the seed's sensor dropout nulls, 2%).
        duplicate_rate: share of readings sent twice (the seed's retransmissions, 1%): an exact
            copy with the same reading_id.
        out_of_range_rate: share of readings from a malfunction (the seed's 0.5%).
        out_of_range_factor: a malfunction multiplies the value by this (the seed's x10); the
            value is at least twice the top of the metric's range, so it is always out of range.
        sentinel_rate: share of readings whose sensor sent its error code instead of a value: a
            1-Wire thermometer (DS18B20) reads 85.0 when it lost power before a conversion and
            -127.0 when its bus fails; a logger writes -999 for "no reading", a Modbus or I2C read
            that failed gives the register's 65535 (0xFFFF).
        unit_mixup_rate: share of readings in the wrong unit (the `unit` column still says the
            fleet's): a run of a quarter to a whole anomaly slot of one channel's readings, from a
            replaced or reconfigured sensor, until it is fixed: Fahrenheit in a Celsius fleet, Pa
            for hPa, W for kW, a fraction for a percentage, in/s for mm/s.
        clock_reset_rate: share of readings whose timestamp comes from a reset clock: a device
            that rebooted without its real-time clock (a dead coin cell) starts counting from
            1970-01-01 or from its firmware's build date, and its timestamps run on from there
            (all its metrics, but one in an anomaly episode) until it syncs its time again: 1 reading to a quarter of an
            anomaly slot. Its readings arrive on time (``ingest_timestamp`` is right), even in
            an outage.
        late_rate: share of readings that arrive late: a device loses its link now and then
            (a connectivity outage), keeps its readings, and sends them all when it reconnects.
        late_seconds: shortest and longest outage (log-uniform: a long tail); a reading of an
            outage arrives at its end, so its delay is anything up to the outage's length.
        retransmit_seconds: shortest and longest delay of a retransmitted copy after its original
            (log-uniform).

    Example:
        >>> QualityConfig(clean=True).rate("null_value")
        0.0
    """

    clean: bool = False
    null_rate: float = 0.02
    duplicate_rate: float = 0.01
    out_of_range_rate: float = 0.005
    out_of_range_factor: float = 10.0
    sentinel_rate: float = 0.0005
    unit_mixup_rate: float = 0.001
    clock_reset_rate: float = 0.0005
    late_rate: float = 0.01
    late_seconds: tuple[float, float] = (120.0, 43_200.0)
    retransmit_seconds: tuple[float, float] = (2.0, 600.0)

    def __post_init__(self) -> None:
        _check_bool("quality.clean", self.clean)
        for issue in ("null", "duplicate", "out_of_range", "late"):
            _check_range(f"quality.{issue}_rate", getattr(self, f"{issue}_rate"), 0, 0.25)
        _check_range("quality.sentinel_rate", self.sentinel_rate, 0, 0.25)
        # at most one run a slot: a unit mix-up's chance is 1.6 times its rate, a clock reset's under 8
        _check_range("quality.unit_mixup_rate", self.unit_mixup_rate, 0, 0.25)
        _check_range("quality.clock_reset_rate", self.clock_reset_rate, 0, 0.1)
        _check_range("quality.out_of_range_factor", self.out_of_range_factor, 2, 1000)
        object.__setattr__(self, "late_seconds", _pair("quality.late_seconds", self.late_seconds, 10, 7 * 86400))
        object.__setattr__(self, "retransmit_seconds",
                           _pair("quality.retransmit_seconds", self.retransmit_seconds, 0.01, 86400))
        slot, chance = self.outages()
        if chance > 1:
            raise InvalidConfigError(
                "quality.late_rate", f"must be at most {self.late_rate / chance:.3f} with quality.late_seconds "
                                     f"{list(self.late_seconds)} (one outage per device in {slot} s), got "
                                     f"{self.late_rate}; lower it or lengthen the outages")

    def outages(self) -> tuple[int, float]:
        """Connectivity outages of a device: the length of their slots in seconds (the longest
        outage; each slot of a device holds at most one outage, inside it) and the chance that a
        slot holds one, so that ``late_rate`` of the readings fall in outages.

        Example:
            >>> slot, chance = QualityConfig().outages()
            >>> slot, round(chance, 3)
            (43200, 0.059)
        """
        lo, hi = self.late_seconds
        mean = (hi - lo) / math.log(hi / lo) if hi > lo else lo  # of the log-uniform length
        slot = math.ceil(hi)
        return slot, self.rate("late_arrival") * slot / mean

    def episode(self, issue: str, slot: int) -> tuple[int, int, float]:
        """A run-long problem (``unit_mixup``, ``clock_reset``) in slots of ``slot`` readings:
        its shortest and longest run in readings, and the chance that a slot holds one.

        Example:
            >>> QualityConfig().episode("unit_mixup", 64)
            (16, 64, 0.0016)
        """
        lo_share, hi_share = _EPISODE_ISSUES[issue]
        lo, hi = max(1, int(slot * lo_share)), int(slot * hi_share)
        return lo, hi, self.rate(issue) * slot / ((lo + hi) / 2)

    def rate(self, issue: str) -> float:
        """The effective share of readings with an issue of ``QUALITY_ISSUES`` (0 when clean)."""
        if self.clean:
            return 0.0
        field_name = {"null_value": "null_rate", "late_arrival": "late_rate",
                      "sentinel_value": "sentinel_rate"}.get(issue, f"{issue}_rate")
        return float(getattr(self, field_name))


@dataclass(frozen=True)
class EventConfig:
    """Device events and the alerts they raise.

    Events caused by readings (a spike, a dropout, drift, a stuck sensor, a maintenance window)
    follow from the data; background events (firmware updates, calibration due, low battery)
    fill in at the seed's severity weights.

    Attributes:
        background_per_device_day: chance that a device has one background event on a given day.
        severity_weights: weights of Critical, Warning and Info among background events (the seed's).
        acknowledged_rate: share of events acknowledged by operations (the seed's 70%).
        resolved_rate: share of acknowledged events also resolved (the seed's 80%).

    Example:
        >>> EventConfig().severity_weights
        (10.0, 30.0, 60.0)
    """

    background_per_device_day: float = 0.05
    severity_weights: tuple[float, float, float] = (10.0, 30.0, 60.0)
    acknowledged_rate: float = 0.7
    resolved_rate: float = 0.8

    def __post_init__(self) -> None:
        _check_range("events.background_per_device_day", self.background_per_device_day, 0, 1)
        object.__setattr__(self, "severity_weights",
                           _check_weights("events.severity_weights", self.severity_weights, SEVERITIES))
        _check_range("events.acknowledged_rate", self.acknowledged_rate, 0, 1)
        _check_range("events.resolved_rate", self.resolved_rate, 0, 1)


CDC_OPERATIONS = ("UPDATE", "INSERT", "DELETE")


@dataclass(frozen=True)
class CdcConfig:
    """The device lifecycle: change batches of the registry (``devices_cdc``), which the readings,
    telemetry and events follow (a device reports nothing before its insert or after its delete).

    Batch 0 inserts the initial registry at the data's start; batches 1 to ``batches`` each fall
    on one day inside the data's range (spread over it; on a range shorter than ``batches + 1``
    days, on equal shares of it) and change ``changes_per_batch`` of the devices: firmware rollouts
    and status changes (UPDATE), new devices (INSERT) and decommissions (DELETE) at the seed's
    operation weights 70/20/10.

    Attributes:
        batches: change batches after the initial one (0: a fixed fleet).
        changes_per_batch: changes per batch, as a share of ``n_devices`` (the seed's 10%).
        operation_weights: weights of UPDATE, INSERT and DELETE among the changes.
        firmware_share: share of the updates that roll out firmware (the rest change the status).

    Example:
        >>> CdcConfig(batches=3).operation_weights
        (70.0, 20.0, 10.0)
    """

    batches: int = 5
    changes_per_batch: float = 0.1
    operation_weights: tuple[float, float, float] = (70.0, 20.0, 10.0)
    firmware_share: float = 0.5

    def __post_init__(self) -> None:
        _check_range("cdc.batches", self.batches, 0, 50, integer=True)
        _check_range("cdc.changes_per_batch", self.changes_per_batch, 0, 0.5)
        object.__setattr__(self, "operation_weights",
                           _check_weights("cdc.operation_weights", self.operation_weights, CDC_OPERATIONS))
        _check_range("cdc.firmware_share", self.firmware_share, 0, 1)

    def changes(self, n_devices: int) -> tuple[int, int, int]:
        """(updates, inserts, deletes) expected in each batch for a fleet of ``n_devices``; inserts
        and deletes are exact, updates are drawn per device."""
        total = round(self.changes_per_batch * n_devices)
        w_update, w_insert, w_delete = self.operation_weights
        weight = w_update + w_insert + w_delete
        inserts, deletes = round(total * w_insert / weight), round(total * w_delete / weight)
        return max(0, total - inserts - deletes), inserts, deletes


PLANT_TIERS = ("high", "medium", "low")


@dataclass(frozen=True)
class PlantConfig:
    """The factory plant profile (``plant_sensors``), the seed's QuestDB simulator rule by rule.

    Sensors fall in three frequency tiers (20/30/50% high/medium/low) with rate weights 1, 0.1 and
    0.01, scaled so that the sensors together send ``rate_per_second`` events; 80% report numbers,
    20% text. At each event a sensor goes down with ``downtime_probability``: that event says
    ``stopping``, the sensor is silent for ``downtime_seconds``, and its next event says
    ``starting``. The batch table covers ``minutes`` from the config's ``start``.

    Attributes:
        n_sensors: sensors in the plant (the seed's 18,000).
        rate_per_second: events per second of all sensors together (the seed's 2,000).
        minutes: minutes of data in the batch table.
        downtime_probability: chance that a sensor goes down at an event (the seed's 0.01).
        downtime_seconds: how long a sensor stays down (the seed's 60).

    Example:
        >>> PlantConfig().tier_rates()[0] > PlantConfig().tier_rates()[1]
        True
    """

    n_sensors: int = 18_000
    rate_per_second: float = 2_000.0
    minutes: float = 10.0
    downtime_probability: float = 0.01
    downtime_seconds: float = 60.0

    def __post_init__(self) -> None:
        _check_range("plant.n_sensors", self.n_sensors, 10, 26**3 * 16**4, integer=True)
        _check_range("plant.rate_per_second", self.rate_per_second, 0.01, 10_000_000)
        _check_range("plant.minutes", self.minutes, 1 / 60, 60 * 24 * 31)
        _check_range("plant.downtime_probability", self.downtime_probability, 0, 0.2)
        _check_range("plant.downtime_seconds", self.downtime_seconds, 1, 86_400)

    def tier_counts(self) -> tuple[int, int, int]:
        """Sensors in the high, medium and low tiers (the seed's int(20%), int(30%), the rest)."""
        high, medium = int(self.n_sensors * 0.2), int(self.n_sensors * 0.3)
        return high, medium, self.n_sensors - high - medium

    def tier_rates(self) -> tuple[float, float, float]:
        """Events per second of one sensor of each tier: weights 1, 0.1, 0.01 of a base rate chosen so
        that all sensors together send ``rate_per_second``."""
        high, medium, low = self.tier_counts()
        base = self.rate_per_second / (high + medium * 0.1 + low * 0.01)
        return base, base * 0.1, base * 0.01


@dataclass(frozen=True)
class EnvironmentConfig:
    """Environmental sensors (``environment_readings``): the Ruuvi tags of seed 004.

    Each tag sits at a site (home, cottage, office, farm) in a location (bedroom, freezer,
    greenhouse, outdoor, ...) and measures every ``cadence_seconds`` over the config's range.

    Attributes:
        n_sensors: Ruuvi tags.
        cadence_seconds: seconds between two measurements of a tag.

    Example:
        >>> EnvironmentConfig().cadence_seconds
        60
    """

    n_sensors: int = 50
    cadence_seconds: int = 60

    def __post_init__(self) -> None:
        _check_range("environment.n_sensors", self.n_sensors, 1, 1_000_000, integer=True)
        _check_range("environment.cadence_seconds", self.cadence_seconds, 1, 86_400, integer=True)


def _utc(value: datetime | str, name: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidConfigError(
                name, f"must be an ISO-8601 date or time such as 2024-01-01T00:00:00, got {value!r}"
            ) from None
    if not isinstance(value, datetime):
        raise InvalidConfigError(name, f"must be a datetime or an ISO-8601 string, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class IoTConfig:
    """Everything that decides a generated dataset. Same config, same rows.

    Attributes:
        seed: the seed every random value derives from.
        start: first instant of the data (UTC).
        end: end of the data (UTC, excluded).
        n_locations: facilities in ``locations``.
        n_devices: devices in ``devices`` (ids from 1000).
        reading_cadence_seconds: seconds between two readings of one device and metric.
        reading_jitter_seconds: largest delay of a reading after its tick.
        telemetry_cadence_seconds: seconds between two GPS points of a vehicle.
        telemetry_hours: hours of telemetry from ``start`` (capped at ``end``).
        device_type_weights: share of each device type in the fleet.
        partitions: partitions of the large tables; ``None`` picks them from the row count.
        scale: the preset the config came from (informational).
        patterns: amplitudes and windows of the realism patterns.
        anomalies: anomaly episodes (spike, dropout, drift, stuck) and their rates.
        quality: data-quality problems (nulls, duplicates, out-of-range, sentinel values, unit
            mix-ups, clock resets, late arrival), or clean.
        events: background events, severities, acknowledgement of events and alerts.
        cdc: the device lifecycle: change batches of the registry.
        plant: the factory plant profile (``plant_sensors``).
        environment: the Ruuvi environmental sensors (``environment_readings``).

    Example:
        >>> IoTConfig(n_devices=10)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dbx_iot_gen.errors.InvalidConfigError: n_devices: must be from 20 to 1,000,000, got 10
    """

    seed: int = 42
    start: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc)
    end: datetime = datetime(2024, 1, 8, tzinfo=timezone.utc)
    n_locations: int = 50
    n_devices: int = 1_000
    reading_cadence_seconds: int = 300
    reading_jitter_seconds: float = 2.0
    telemetry_cadence_seconds: int = 5
    telemetry_hours: float = 6.0
    device_type_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_DEVICE_TYPE_WEIGHTS)
    )
    partitions: int | None = None
    scale: str = "small"
    patterns: PatternConfig = field(default_factory=PatternConfig)
    anomalies: AnomalyConfig = field(default_factory=AnomalyConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    events: EventConfig = field(default_factory=EventConfig)
    cdc: CdcConfig = field(default_factory=CdcConfig)
    plant: PlantConfig = field(default_factory=PlantConfig)
    environment: EnvironmentConfig = field(default_factory=EnvironmentConfig)

    def __post_init__(self) -> None:
        _check_range("seed", self.seed, 0, 2**31 - 1, integer=True)
        object.__setattr__(self, "start", _utc(self.start, "start"))
        object.__setattr__(self, "end", _utc(self.end, "end"))
        days = (self.end - self.start).total_seconds() / 86400
        if days <= 0:
            raise InvalidConfigError("end", f"must be after start ({self.start.isoformat()}), got "
                                            f"{self.end.isoformat()}")
        if days > _MAX_DAYS:
            raise InvalidConfigError("end", f"must be at most {_MAX_DAYS} days after start, got {days:.0f}")
        if self.start.year < 1971 or self.end.year > 2200:
            raise InvalidConfigError("start", "must lie between the years 1971 and 2200")
        _check_range("n_locations", self.n_locations, 1, 100_000, integer=True)
        _check_range("n_devices", self.n_devices, 20, 1_000_000, integer=True)
        _check_range("reading_cadence_seconds", self.reading_cadence_seconds, 1, 86_400, integer=True)
        if self.reading_cadence_seconds > days * 86400:
            raise InvalidConfigError("reading_cadence_seconds",
                                     f"must not exceed the time range ({days * 86400:.0f} s)")
        _check_range("reading_jitter_seconds", self.reading_jitter_seconds, 0,
                     self.reading_cadence_seconds / 2)
        _check_range("telemetry_cadence_seconds", self.telemetry_cadence_seconds, 1, 3_600, integer=True)
        _check_range("telemetry_hours", self.telemetry_hours, self.telemetry_cadence_seconds / 3600, 24 * 31)
        if self.partitions is not None:
            _check_range("partitions", self.partitions, 1, 100_000, integer=True)
        if self.scale not in SCALES and self.scale != "custom":
            raise InvalidConfigError("scale", f"must be one of {', '.join(SCALES)} or custom, got {self.scale!r}")
        self._check_weights()
        for name, cls in (("patterns", PatternConfig), ("anomalies", AnomalyConfig), ("quality", QualityConfig),
                          ("events", EventConfig), ("cdc", CdcConfig),
                          ("plant", PlantConfig), ("environment", EnvironmentConfig)):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, _build(cls, value, f"{name}."))
            elif not isinstance(value, cls):
                raise InvalidConfigError(name, f"must be a {cls.__name__} or a mapping of its fields")
        self._check_cdc()

    def _check_cdc(self) -> None:
        _, inserts, deletes = self.cdc.changes(self.n_devices)
        if self.cdc.batches * (inserts + deletes) > self.n_devices // 2:
            raise InvalidConfigError(
                "cdc.changes_per_batch",
                f"inserts and deletes of {self.cdc.batches} batches ({self.cdc.batches * (inserts + deletes)}) must "
                f"leave at least half of the {self.n_devices} devices registered from start to end; "
                "lower cdc.changes_per_batch, cdc.batches or the INSERT and DELETE weights")
        if self.duration_seconds // (self.cdc.batches + 1) < 60:
            raise InvalidConfigError(
                "cdc.batches", f"must leave each batch at least a minute of the time range, got {self.cdc.batches} "
                               f"batches in {self.duration_seconds} s")

    def _check_weights(self) -> None:
        weights = self.device_type_weights
        if not isinstance(weights, Mapping):
            raise InvalidConfigError("device_type_weights", "must map device types to weights")
        unknown = sorted(set(weights) - set(_TYPE_NAMES))
        if unknown:
            raise InvalidConfigError(
                "device_type_weights", f"unknown device type {unknown[0]!r}; accepted: {', '.join(_TYPE_NAMES)}"
            )
        for name, weight in weights.items():
            _check_range(f"device_type_weights[{name!r}]", weight, 0, 1e6)
        if sum(weights.values()) <= 0:
            raise InvalidConfigError("device_type_weights", "at least one weight must be above 0")
        # store every type, with 0 for the ones left out, in the catalog's order
        object.__setattr__(self, "device_type_weights", {n: float(weights.get(n, 0.0)) for n in _TYPE_NAMES})

    # ------------------------------------------------------------------ construction

    @classmethod
    def preset(cls, scale: str = "small", **overrides: Any) -> IoTConfig:
        """The config of a scale preset (tiny, small, medium, large), with fields overridden.

        Example:
            >>> IoTConfig.preset("medium").n_devices
            10000
        """
        if scale not in SCALES:
            raise InvalidConfigError("scale", f"must be one of {', '.join(SCALES)}, got {scale!r}")
        values: dict[str, Any] = {**SCALES[scale], "scale": scale}
        for name, value in overrides.items():
            # a section given as a mapping refines the preset's section rather than replacing it
            preset_section = values.get(name)
            if isinstance(preset_section, Mapping) and isinstance(value, Mapping):
                value = {**preset_section, **value}
            values[name] = value
        return _build(cls, values, "")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> IoTConfig:
        """A config from a mapping (a parsed JSON file, say); ``scale`` picks the preset it starts from.

        Example:
            >>> IoTConfig.from_dict({"scale": "tiny", "seed": 3, "patterns": {"noise_level": 0.5}}).seed
            3
        """
        if not isinstance(values, Mapping):
            raise InvalidConfigError("config", "must be a JSON object of config fields")
        values = dict(values)
        scale = values.pop("scale", "small")
        return cls.preset(scale, **values)

    @classmethod
    def from_file(cls, path: str | Path) -> IoTConfig:
        """A config from a JSON file of fields (see :meth:`from_dict`)."""
        return cls.from_dict(cls.file_fields(path))

    @staticmethod
    def file_fields(path: str | Path) -> dict[str, Any]:
        """The fields a JSON config file names, as written (not yet on a preset): to put them on
        the preset of another scale, ``IoTConfig.preset(scale, **fields)``.

        Example:
            >>> import json, tempfile
            >>> with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            ...     json.dump({"seed": 3}, f)
            >>> IoTConfig.preset("tiny", **IoTConfig.file_fields(f.name)).n_devices
            60
        """
        p = Path(path)
        try:
            values = json.loads(p.read_text())
        except FileNotFoundError:
            raise InvalidConfigError("config", f"file not found: {p}") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidConfigError("config", f"cannot read {p} as JSON: {exc}") from None
        if not isinstance(values, Mapping):
            raise InvalidConfigError("config", "must be a JSON object of config fields")
        return dict(values)

    def replace(self, **changes: Any) -> IoTConfig:
        """A copy with some fields changed, validated again."""
        return _build(type(self), {**self._fields(), **changes}, "")

    def _fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (for the manifest)."""
        out = self._fields()
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        out["device_type_weights"] = dict(self.device_type_weights)
        out["patterns"] = dataclasses.asdict(self.patterns)
        out["patterns"]["maintenance_windows"] = list(out["patterns"]["maintenance_windows"])
        for name in ("anomalies", "quality", "events", "cdc", "plant", "environment"):
            out[name] = {k: list(v) if isinstance(v, tuple) else v
                         for k, v in dataclasses.asdict(getattr(self, name)).items()}
        return out

    # ------------------------------------------------------------------ derived values

    @property
    def duration_seconds(self) -> int:
        """Length of the time range in whole seconds."""
        return int((self.end - self.start).total_seconds())

    @property
    def start_micros(self) -> int:
        """``start`` as microseconds since the epoch."""
        return int(self.start.timestamp()) * 1_000_000

    @property
    def reading_block_seconds(self) -> int:
        """Seconds that the readings of one block (a slot of anomaly episodes of one device and
        metric, computed together) span, jitter included."""
        return (self.reading_cadence_seconds * self.anomalies.slot_readings
                + math.ceil(self.reading_jitter_seconds) + 1)

    @property
    def reading_ticks(self) -> int:
        """Ticks of one device and metric in the time range."""
        return self.duration_seconds // self.reading_cadence_seconds

    @property
    def telemetry_ticks(self) -> int:
        """GPS points of one vehicle."""
        seconds = min(self.telemetry_hours * 3600, self.duration_seconds)
        return max(1, int(seconds // self.telemetry_cadence_seconds))


def _build(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InvalidConfigError(f"{prefix}{unknown[0]}", f"unknown field; accepted: {', '.join(sorted(names))}")
    try:
        return cls(**values)
    except TypeError as exc:  # a value of the wrong kind deep in a comparison
        raise InvalidConfigError(prefix.rstrip(".") or "config", str(exc)) from None


# Scale presets. medium is the seed's size: 10,000 devices, about 50 million readings.
SCALES: dict[str, dict[str, Any]] = {
    "tiny": {
        "n_locations": 8, "n_devices": 60, "start": "2024-03-01T00:00:00", "end": "2024-03-03T00:00:00",
        "reading_cadence_seconds": 600, "telemetry_hours": 1.0, "partitions": 2,
        # two days hold few drifts of hours to days: shorter and more of them
        "anomalies": {"drift_rate": 0.01, "drift_readings": [6, 144]},
        # and few of the rare problems: more of them
        "quality": {"sentinel_rate": 0.002, "unit_mixup_rate": 0.01, "clock_reset_rate": 0.005},
        "plant": {"n_sensors": 500, "rate_per_second": 50.0, "minutes": 10.0},
        "environment": {"n_sensors": 10},
    },
    "small": {
        "n_locations": 50, "n_devices": 1_000, "start": "2024-01-01T00:00:00", "end": "2024-01-08T00:00:00",
        "reading_cadence_seconds": 300, "telemetry_hours": 6.0,
    },
    "medium": {
        "n_locations": 500, "n_devices": 10_000, "start": "2024-01-01T00:00:00",
        "end": "2024-01-19T12:00:00", "reading_cadence_seconds": 300, "telemetry_hours": 14.0,
        "plant": {"minutes": 60.0}, "environment": {"n_sensors": 200},
    },
    "large": {
        "n_locations": 2_000, "n_devices": 100_000, "start": "2024-01-01T00:00:00",
        "end": "2024-03-01T00:00:00", "reading_cadence_seconds": 300, "telemetry_hours": 24.0,
        "plant": {"rate_per_second": 20_000.0, "minutes": 60.0}, "environment": {"n_sensors": 1_000},
    },
}
