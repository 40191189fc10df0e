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

from dataclasses import dataclass
from datetime import datetime, timedelta

from dbx_iot_gen.catalog import DEVICE_STATUS_WEIGHTS, DEVICE_STATUSES
from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.fleet import FIRST_DEVICE_ID, coprime_multiplier
from dbx_iot_gen.rand import Randomness, dbl, hash_fields, salt, sql_str, weighted_case

__all__ = ["BASE_RELEASES", "INITIAL_STATUSES", "STATUS_CODES", "Lifecycle", "Update", "firmware_releases"]

# Firmware releases a device can start on (the first ones of its model's train); each rollout
# moves it 1 or 2 releases forward on the same train.
BASE_RELEASES = 40


_FOREVER = 2**63 - 1  # the largest bigint

# A registered device starts Online, Offline or in Maintenance (the seed's 85/8/5); Decommissioned
# is the status of a device the CDC deletes.
INITIAL_STATUSES = DEVICE_STATUSES[:3]
# Codes of the registered statuses, for tables that compute a status per row
STATUS_CODES = {status: i for i, status in enumerate(INITIAL_STATUSES)}
# An Online device that changes status goes Offline or to Maintenance at these weights
_AWAY_WEIGHTS = (8.0, 5.0)


@dataclass(frozen=True)
class Update:
    """SQL of the UPDATE a device may get in a CDC batch (see :meth:`Lifecycle.update`)."""

    lo: str  # bigint: the first second it can happen (its window's start, after the insert)
    hi: str  # bigint: the second before which it happens (its window's end, or the delete)
    exists: str  # boolean: the device gets an UPDATE in the batch
    at_s: str  # bigint: its epoch second
    is_status: str  # boolean: it changes the status (else it rolls out firmware)
    steps: str  # int: releases a firmware rollout moves forward (1 or 2)


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

    def initial_code(self, device_id: str) -> str:
        """SQL int: the :data:`STATUS_CODES` code of the status the device is registered with."""
        u = Randomness(self.config.seed, "devices").uniform("status", device_id)
        return weighted_case(u, [str(STATUS_CODES[s]) for s in INITIAL_STATUSES], DEVICE_STATUS_WEIGHTS[:3])

    def initial_status(self, device_id: str) -> str:
        """SQL string: the status the device is registered with (Online, Offline or Maintenance)."""
        return self.status_name(self.initial_code(device_id))

    def update_hash(self, device_id: str, batch: str | int) -> str:
        """SQL bigint: the hash of (device, batch) that draws the device's UPDATE in the batch."""
        return self._rnd.hash("update", device_id, f"cast({batch} as int)")

    def update(self, device_id: str, batch: str | int, ins_s: str, del_s: str, *, hashed: str | None = None,
               bounds: tuple[str, str] | None = None) -> Update:
        """The UPDATE the device may get in a batch (an int, or a SQL int): whether it gets one,
        when, and what it changes. ``ins_s`` and ``del_s`` are the device's :meth:`inserted_s` and
        :meth:`deleted_s` (SQL bigints; NULL: never deleted): an update falls in the batch's window,
        after the device's insert and before its delete, at a second drawn from the hash of
        (device, batch): :meth:`update_hash`, or ``hashed`` (a column holding it). ``bounds``:
        columns holding the update's ``lo`` and ``hi`` (computed once: smaller generated code).

        Example:
            >>> life = Lifecycle(IoTConfig.preset("tiny"))
            >>> u = life.update("device_id", 2, "ins_s", "del_s")
        """
        b = f"cast({batch} as int)"
        h = hashed or self.update_hash(device_id, batch)
        u_pick, u_kind, u_time, u_step = hash_fields(h, 16, 16, 16, 16)
        if isinstance(batch, int):
            chance = dbl(self.update_probability(batch))
        else:
            chances = ", ".join(dbl(self.update_probability(k)) for k in range(self.batches + 1))
            chance = f"element_at(array({chances}), {b} + 1)"
        window_s = f"({self.start_s}L + {b} * {self.step_s}L)"
        own_lo = f"greatest({window_s}, {ins_s} + 1L)"
        own_hi = f"least({window_s} + {self.width_s}L, coalesce({del_s}, {window_s} + {self.width_s}L))"
        lo, hi = bounds or (own_lo, own_hi)  # what the conditions read: the columns, if given
        return Update(lo=own_lo, hi=own_hi, exists=f"({b} > 0 AND {u_pick} < {chance} AND {hi} > {lo})",
                      at_s=f"({lo} + cast({u_time} * ({hi} - {lo}) as long))",
                      is_status=f"({u_kind} >= {dbl(self.config.cdc.firmware_share)})",
                      steps=f"(1 + cast({u_step} * 2D as int))")

    def status_change_s(self, device_id: str, batch: int, ins_s: str, del_s: str, *, hashed: str | None = None,
                        bounds: tuple[str, str] | None = None) -> str:
        """SQL bigint: the epoch second at which batch ``batch`` changes the device's status, or the
        largest bigint when it does not (``hashed``, ``bounds``: see :meth:`update`)."""
        u = self.update(device_id, batch, ins_s, del_s, hashed=hashed, bounds=bounds)
        return f"IF({u.exists} AND {u.is_status}, {u.at_s}, {_FOREVER}L)"

    def status_after(self, device_id: str, initial: str, changes: str) -> str:
        """SQL int: the :data:`STATUS_CODES` code of the status of a device registered with status
        code ``initial`` after ``changes`` (a SQL whole number) status changes: an Online device
        goes away (Offline or Maintenance, drawn per change) and comes back Online at the next."""
        away = weighted_case(self._rnd.uniform("away_status", device_id, f"cast({changes} as long)"),
                             [str(STATUS_CODES["Offline"]), str(STATUS_CODES["Maintenance"])], list(_AWAY_WEIGHTS))
        online = STATUS_CODES["Online"]
        return (f"(CASE WHEN {changes} = 0 THEN {initial}"
                f" WHEN ({initial} = {online}) = ({changes} % 2 = 0) THEN {online} ELSE {away} END)")

    def is_online(self, device_id: str, changes: str) -> str:
        """SQL boolean: the device is Online after ``changes`` (a SQL whole number, e.g. a column
        holding :meth:`status_changes`) status changes."""
        status = self.status_after(device_id, self.initial_code(device_id), changes)
        return f"({status} = {STATUS_CODES['Online']})"

    @staticmethod
    def status_code(status: str) -> str:
        """SQL int: the :data:`STATUS_CODES` code of a SQL status string."""
        *first, last = INITIAL_STATUSES
        whens = " ".join(f"WHEN {sql_str(name)} THEN {STATUS_CODES[name]}" for name in first)
        return f"(CASE {status} {whens} ELSE {STATUS_CODES[last]} END)"

    @staticmethod
    def status_name(code: str) -> str:
        """SQL string: the status of a :data:`STATUS_CODES` code."""
        return f"element_at(array({', '.join(sql_str(s) for s in INITIAL_STATUSES)}), {code} + 1)"

    def status_changes(self, device_id: str, t_s: str, ins_s: str, del_s: str) -> str:
        """SQL int: how many times the device's status has changed in ``devices_cdc`` by epoch
        second ``t_s`` (included); one hash per batch, row by row. Its status then is
        :meth:`status_after` of that count. ``ins_s`` and ``del_s``: columns holding
        :meth:`inserted_s` and :meth:`deleted_s`.

        Example:
            >>> life = Lifecycle(IoTConfig.preset("tiny"))
            >>> status = life.status_after("device_id", life.initial_code("device_id"), "changes")
            >>> changes = life.status_changes("device_id", "t_s", "ins_s", "del_s")
        """
        return " + ".join(f"IF({t_s} >= {self.status_change_s(device_id, k, ins_s, del_s)}, 1, 0)"
                          for k in range(1, self.batches + 1)) or "0"

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
