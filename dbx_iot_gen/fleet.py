"""The fleet's layout: which device has which type, which channels and vehicles exist.

Device attributes are pure functions of ``device_id`` and the seed, so the large tables compute
them inline with arithmetic instead of joining (SPEC, design notes "grids, not loops" and
"attributes as functions of the key").

Types are dealt by exact quotas: the ``n`` devices are put on ``n`` slots by an affine permutation
``slot = (a * k + b) mod n`` (``k = device_id - 1000``); slots ``[s_t, s_t + c_t)`` hold type ``t``.
The permutation is invertible in SQL, so a channel index of ``sensor_readings`` or a vehicle index
of ``telemetry`` maps to its device by arithmetic alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from dbx_iot_gen.catalog import CITIES, DEVICE_TYPES, DeviceType
from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.errors import InvalidConfigError
from dbx_iot_gen.rand import Randomness, salt

__all__ = ["FIRST_DEVICE_ID", "PROFILES", "ChannelBlock", "FleetLayout", "coprime_multiplier"]

FIRST_DEVICE_ID = 1000

# (device type, metric) of every kind of readings channel, in catalog order.
PROFILES: tuple[tuple[str, str], ...] = tuple((t.name, m) for t in DEVICE_TYPES for m in t.metrics)
# Slots hold the one-metric types first, then the two-metric types, then those without readings,
# so that a channel maps to its slot with one comparison.
SLOT_ORDER: tuple[DeviceType, ...] = tuple(sorted(DEVICE_TYPES, key=lambda t: {1: 0, 2: 1, 0: 2}[len(t.metrics)]))
assert all(len(t.metrics) <= 2 for t in DEVICE_TYPES), "channel arithmetic handles one or two metrics"


def coprime_multiplier(n: int, seed: int, table: str, what: str, *, ratio: float = 0.6180339887,
                       spread: int = 7) -> int:
    """A multiplier coprime with ``n`` near ``n * ratio`` (by default ``n / golden ratio``) plus a
    seeded shift below ``n / spread``, so that neighbours land far apart in a permutation.

    Example:
        >>> import math
        >>> math.gcd(coprime_multiplier(1000, 42, "fleet", "device_slot"), 1000)
        1
    """
    if n <= 2:
        return 1
    a = max(1, int(n * ratio) + salt(seed, table, what) % max(1, n // spread))
    while math.gcd(a, n) != 1:
        a += 1
    return a % n or 1


def _quotas(weights: list[float], n: int) -> list[int]:
    """Largest-remainder apportionment of ``n`` items by ``weights``."""
    total = sum(weights)
    exact = [w / total * n for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (exact[i] - counts[i], weights[i]), reverse=True)
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


@dataclass(frozen=True)
class ChannelBlock:
    """The readings channels of one device type: ``count`` devices times ``len(metrics)`` metrics."""

    device_type: DeviceType
    first_slot: int
    count: int
    first_channel: int

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.device_type.metrics

    @property
    def n_channels(self) -> int:
        return self.count * len(self.metrics)


class FleetLayout:
    """Counts and SQL expressions that place every device, channel and vehicle.

    Args:
        config: the dataset config.

    Example:
        >>> layout = FleetLayout(IoTConfig.preset("tiny"))
        >>> sum(layout.type_counts.values()) == layout.config.n_devices
        True
    """

    def __init__(self, config: IoTConfig) -> None:
        self.config = config
        n = config.n_devices
        weights = [config.device_type_weights[t.name] for t in DEVICE_TYPES]
        counts = _quotas(weights, n)
        self.type_counts: dict[str, int] = {t.name: c for t, c in zip(DEVICE_TYPES, counts)}
        self._first_slot: dict[str, int] = {}
        slot = 0
        for t in SLOT_ORDER:
            self._first_slot[t.name] = slot
            slot += self.type_counts[t.name]
        self.n_single_channels = sum(self.type_counts[t.name] for t in SLOT_ORDER if len(t.metrics) == 1)
        self.mult = coprime_multiplier(n, config.seed, "fleet", "device_slot")
        self.offset = salt(config.seed, "fleet", "device_offset") % n
        self.mult_inverse = pow(self.mult, -1, n) if n > 1 else 0
        blocks, channel = [], 0
        for t in SLOT_ORDER:
            c = self.type_counts[t.name]
            if t.metrics and c:
                blocks.append(ChannelBlock(t, self._first_slot[t.name], c, channel))
                channel += c * len(t.metrics)
        self.channel_blocks: tuple[ChannelBlock, ...] = tuple(blocks)
        self.n_channels = channel
        if not channel:
            raise InvalidConfigError(
                "device_type_weights",
                "must give at least one device a type with readings: "
                + ", ".join(t.name for t in DEVICE_TYPES if t.metrics),
            )
        self.n_vehicles = self.type_counts["GPS Tracker"]
        self.city_mult = coprime_multiplier(len(CITIES), config.seed, "fleet", "city")
        self.city_offset = salt(config.seed, "fleet", "city_offset") % len(CITIES)

    # ------------------------------------------------------------------ counts

    @cached_property
    def reading_rows(self) -> int:
        """Rows of ``sensor_readings``: one per channel and tick."""
        return self.n_channels * self.config.reading_ticks

    @cached_property
    def telemetry_rows(self) -> int:
        """Rows of ``telemetry``: one per vehicle and GPS tick."""
        return self.n_vehicles * self.config.telemetry_ticks

    # ------------------------------------------------------------------ SQL: devices

    def slot_of(self, device_id: str) -> str:
        """Slot of a device id expression."""
        n = self.config.n_devices
        return f"coalesce(pmod({self.mult}L * ({device_id} - {FIRST_DEVICE_ID}L) + {self.offset}L, {n}L), 0L)"

    def device_of_slot(self, slot: str) -> str:
        """Device id of a slot expression (the inverse permutation)."""
        n = self.config.n_devices
        return f"({FIRST_DEVICE_ID}L + coalesce(pmod({self.mult_inverse}L * (({slot}) - {self.offset}L), {n}L), 0L))"

    def type_index_of_slot(self, slot: str) -> str:
        """Index into ``DEVICE_TYPES`` of a slot expression."""
        present = [t for t in SLOT_ORDER if self.type_counts[t.name]]
        branches = []
        bound = 0
        for t in present[:-1]:
            bound += self.type_counts[t.name]
            branches.append(f"WHEN {slot} < {bound}L THEN {DEVICE_TYPES.index(t)}")
        last = DEVICE_TYPES.index(present[-1])
        return f"(CASE {' '.join(branches)} ELSE {last} END)" if branches else str(last)

    def device_hash(self, device_id: str) -> str:
        """The device's hash: its location (low 32 bits) and install date (high 32 bits) come from it."""
        return Randomness(self.config.seed, "devices").hash("location_install", device_id)

    def location_of(self, device_id: str, device_hash: str | None = None) -> str:
        """``location_id`` (from 1) of a device id expression (or of its :meth:`device_hash`)."""
        h = device_hash or self.device_hash(device_id)
        return f"(1L + coalesce(pmod({h} & 4294967295L, {self.config.n_locations}L), 0L))"

    def city_of_location(self, location_id: str) -> str:
        """Index into ``CITIES`` of a location id expression; the first locations get distinct cities."""
        return (f"cast(coalesce(pmod({self.city_mult}L * ({location_id} - 1L) + {self.city_offset}L, "
                f"{len(CITIES)}L), 0L) as int)")

    def install_days_before_start(self, device_id: str, device_hash: str | None = None) -> str:
        """Days between a device's install date and the data's start: 1 day to 4 years."""
        h = device_hash or self.device_hash(device_id)
        return f"(1L + coalesce(pmod(shiftrightunsigned({h}, 32), {4 * 365}L), 0L))"

    # ------------------------------------------------------------------ SQL: channels and vehicles

    def channel_parts(self, channel: str) -> tuple[str, str]:
        """(device_id, profile) SQL expressions of a channel index expression.

        The profile is an index into :data:`PROFILES`: the device type and metric of the channel.
        One-metric channels come first (channel = slot); two-metric channels follow in pairs.
        """
        n1 = self.n_single_channels
        slot = f"IF({channel} < {n1}L, {channel}, {n1}L + shiftright({channel} - {n1}L, 1))"
        branches, bound = [], 0
        for blk in self.channel_blocks:
            codes = [PROFILES.index((blk.device_type.name, m)) for m in blk.metrics]
            if len(codes) == 1:
                bound += blk.count
                branches.append(f"WHEN {channel} < {bound}L THEN {codes[0]}")
            else:
                branches.append(f"ELSE {codes[0]} + cast(({channel} - {n1}L) & 1L as int) * {codes[1] - codes[0]}")
        if not branches[-1].startswith("ELSE"):
            branches[-1] = "ELSE " + branches[-1].split(" THEN ")[1]
        profile = f"(CASE {' '.join(branches)} END)" if len(branches) > 1 else f"({branches[0][5:]})"
        return self.device_of_slot(slot), profile

    def vehicle_device(self, vehicle: str) -> str:
        """Device id of a vehicle index expression (GPS trackers in slot order)."""
        first = self._first_slot["GPS Tracker"]
        return self.device_of_slot(f"({first}L + {vehicle})")

    def devices_of_type(self, name: str) -> list[int]:
        """Device ids of one type, in slot order (Python side; for tests and small lookups)."""
        n = self.config.n_devices
        first = self._first_slot[name]
        return [FIRST_DEVICE_ID + (self.mult_inverse * (s - self.offset)) % n
                for s in range(first, first + self.type_counts[name])]
