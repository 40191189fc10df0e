"""The device lifecycle: when each device joins and leaves the registry, as arithmetic on its id.

Every device of ``devices`` exists for part of the data's range at least. Most are in the initial
registry (CDC batch 0, at the data's start); a few are inserted by a later batch, a few others
deleted (decommissioned) by one. Which, and when, is a pure function of ``device_id`` and the
seed, so the readings, telemetry and events compute "is this device registered now?" inline, row
by row, and agree with the CDC batches by construction:

* devices are ranked by an affine permutation ``rank = (a * k + b) mod n`` of ``k = device_id -
  1000`` (exact counts, no shuffle);
* ranks ``[0, B * I)`` are inserted late: ``I`` per batch, batch ``1 + rank div I``;
* ranks ``[B * I, B * I + B * D)`` are deleted: ``D`` per batch, batch ``1 + (rank - B * I) div D``;
* the others live from start to end. Inside its batch's window, a change happens at the device's
  own hashed second.

Batch windows: batch 0 is the data's start; batches 1 to ``B`` fall on whole days spread over the
range (the seed's daily batches), or on equal shares of it when it is shorter than ``B + 1`` days.

Example:
    >>> from dbx_iot_gen.config import IoTConfig
    >>> life = Lifecycle(IoTConfig.preset("tiny"))
    >>> life.inserts_per_batch, life.deletes_per_batch, life.initial_devices
    (1, 1, 55)
    >>> [w.isoformat() for w in life.window(1)]
    ['2024-03-01T08:00:00+00:00', '2024-03-01T16:00:00+00:00']
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.fleet import FIRST_DEVICE_ID, coprime_multiplier
from dbx_iot_gen.rand import Randomness, dbl, salt

__all__ = ["BASE_RELEASES", "Lifecycle", "firmware_releases"]

# Firmware releases a device can start on (the first ones of its model's train); each rollout
# moves it 1 or 2 releases forward on the same train.
BASE_RELEASES = 40


_FOREVER = 2**63 - 1  # the largest bigint


def firmware_releases(seed: int, model: str, count: int) -> list[str]:
    """The release train of a model: ``count`` firmware versions ``M.m.p`` in strictly rising
    order, mostly patches, some minor and a few major releases (a pure function of the seed and
    the model).

    Each model starts at a version of its own hash (major 1 to 4, minor 0 to 9) and draws its own
    steps, so no two models share a train.

    Example:
        >>> firmware_releases(42, "SC-T100", 3)
        ['1.4.0', '1.4.1', '1.4.2']
    """
    first = salt(seed, "firmware", model)
    major, minor, patch = 1 + first % 4, (first >> 8) % 10, 0
    out = []
    for i in range(count):
        out.append(f"{major}.{minor}.{patch}")
        u = salt(seed, "firmware", f"{model}|{i}") / 2**63
        if u < 0.05:
            major, minor, patch = major + 1, 0, 0
        elif u < 0.3:
            minor, patch = minor + 1, 0
        else:
            patch += 1
    return out


class Lifecycle:
    """Counts, batch windows and SQL expressions of the device lifecycle of a config.

    Args:
        config: the dataset config (its ``cdc`` section, ``n_devices``, ``start``, ``end``, ``seed``).
    """

    def __init__(self, config: IoTConfig) -> None:
        self.config = config
        n, cdc = config.n_devices, config.cdc
        self.batches = cdc.batches
        updates, inserts, deletes = cdc.changes(n) if self.batches else (0, 0, 0)
        self.updates_per_batch = updates
        self.inserts_per_batch = inserts
        self.deletes_per_batch = deletes
        self.late_inserts = self.batches * inserts  # ranks [0, late_inserts)
        self.decommissions = self.batches * deletes  # ranks [late_inserts, late_inserts + decommissions)
        self.initial_devices = n - self.late_inserts
        # consecutive ranks lie about 0.38 n ids apart: the changed devices spread over the fleet
        c = coprime_multiplier(n, config.seed, "lifecycle", "rank", ratio=0.3819660113, spread=11)
        self.mult = pow(c, -1, n) if n > 1 else 1
        self.offset = salt(config.seed, "lifecycle", "rank_offset") % n
        duration, slots = config.duration_seconds, self.batches + 1
        if duration >= slots * 86400:
            self.step_s, self.width_s = duration // 86400 // slots * 86400, 86400
        else:
            self.step_s = self.width_s = duration // slots
        self._rnd = Randomness(config.seed, "devices_cdc")
        self.start_s = int(config.start.timestamp())

    # ------------------------------------------------------------------ Python side

    def window(self, batch: int) -> tuple[datetime, datetime]:
        """[start, end) of a batch's window (UTC); batch 0's changes all happen at its start."""
        if not 0 <= batch <= self.batches:
            raise ValueError(f"batch must be from 0 to {self.batches}, got {batch}")
        first = self.config.start + timedelta(seconds=batch * self.step_s)
        return first, first + timedelta(seconds=self.width_s)

    def update_probability(self, batch: int) -> float:
        """Chance that a device registered during batch ``batch`` gets an UPDATE in it."""
        if batch == 0 or not self.updates_per_batch:
            return 0.0
        registered = (self.initial_devices + batch * self.inserts_per_batch
                      - (batch - 1) * self.deletes_per_batch)
        return min(1.0, self.updates_per_batch / max(1, registered))

    # ------------------------------------------------------------------ SQL

    def rank(self, device_id: str) -> str:
        """The device's rank in the lifecycle permutation (SQL bigint)."""
        n = self.config.n_devices
        return f"coalesce(pmod({self.mult}L * ({device_id} - {FIRST_DEVICE_ID}L) + {self.offset}L, {n}L), 0L)"

    def change_second(self, device_id: str) -> str:
        """Seconds into its batch's window at which the device is inserted or deleted."""
        return f"cast({self._rnd.uniform('lifetime', device_id)} * {dbl(self.width_s)} as long)"

    def insert_batch(self, rank: str) -> str:
        """Batch that inserts the device of a rank expression (0: the initial registry)."""
        if not self.late_inserts:
            return "0"
        return f"IF({rank} < {self.late_inserts}L, cast({rank} div {self.inserts_per_batch}L as int) + 1, 0)"

    def delete_batch(self, rank: str) -> str:
        """Batch that deletes the device of a rank expression (NULL: never)."""
        if not self.decommissions:
            return "CAST(NULL AS INT)"
        lo, hi = self.late_inserts, self.late_inserts + self.decommissions
        return (f"IF({rank} >= {lo}L AND {rank} < {hi}L, "
                f"cast(({rank} - {lo}L) div {self.deletes_per_batch}L as int) + 1, CAST(NULL AS INT))")

    def _late_insert_s(self, device_id: str, r: str) -> str:
        return (f"({self.start_s}L + ({r} div {self.inserts_per_batch}L + 1L) * {self.step_s}L"
                f" + {self.change_second(device_id)})")

    def _delete_s(self, device_id: str, r: str) -> str:
        return (f"({self.start_s}L + (({r} - {self.late_inserts}L) div {self.deletes_per_batch}L + 1L)"
                f" * {self.step_s}L + {self.change_second(device_id)})")

    def inserted_s(self, device_id: str, rank: str | None = None) -> str:
        """Epoch second at which the device is inserted (the data's start for the initial registry)."""
        r = rank or f"({self.rank(device_id)})"
        if not self.late_inserts:
            return f"{self.start_s}L"
        return f"IF({r} < {self.late_inserts}L, {self._late_insert_s(device_id, r)}, {self.start_s}L)"

    def deleted_s(self, device_id: str, rank: str | None = None) -> str:
        """Epoch second at which the device is deleted (NULL: still registered at the end)."""
        r = rank or f"({self.rank(device_id)})"
        if not self.decommissions:
            return "CAST(NULL AS BIGINT)"
        lo, hi = self.late_inserts, self.late_inserts + self.decommissions
        return f"IF({r} >= {lo}L AND {r} < {hi}L, {self._delete_s(device_id, r)}, CAST(NULL AS BIGINT))"

    def registered_span(self, device_id: str, rank: str | None = None) -> tuple[str, str]:
        """SQL bigints ``(from_us, until_us)``: the device is registered at ``t_us`` (epoch
        microseconds, positive) when ``from_us <= t_us < until_us``, as :meth:`registered` says;
        for a table that computes them once per device.

        Example:
            >>> first, until = Lifecycle(IoTConfig.preset("tiny")).registered_span("device_id")
        """
        r = rank or f"({self.rank(device_id)})"
        lo, hi = self.late_inserts, self.late_inserts + self.decommissions
        first = f"IF({r} < {lo}L, {self._late_insert_s(device_id, r)} * 1000000L, 0L)" if lo else "0L"
        until = (f"IF({r} >= {lo}L AND {r} < {hi}L, {self._delete_s(device_id, r)} * 1000000L, {_FOREVER}L)"
                 if hi > lo else f"{_FOREVER}L")
        return first, until

    def registered(self, device_id: str, t_us: str, rank: str | None = None) -> str:
        """SQL boolean: is the device registered at ``t_us`` (epoch microseconds)? From its insert
        (included) to its delete (excluded). Most devices never change: one comparison of the rank.

        Pass ``rank`` (a column holding :meth:`rank`) to compute the rank once.
        """
        if not self.late_inserts and not self.decommissions:
            return "true"
        r = rank or f"({self.rank(device_id)})"
        lo, hi = self.late_inserts, self.late_inserts + self.decommissions
        # never null: a null here would keep a row it should drop
        ins = f"{self._late_insert_s(device_id, r)} * 1000000L" if lo else "0L"
        dele = f"{self._delete_s(device_id, r)} * 1000000L" if hi > lo else "0L"
        return (f"(CASE WHEN {r} >= {hi}L THEN true WHEN {r} < {lo}L THEN {t_us} >= {ins}"
                f" ELSE {t_us} < {dele} END)")
