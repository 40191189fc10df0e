"""Deterministic randomness as native Spark SQL expressions: the only source of randomness.

Every random value is a pure function of ``(seed, table, column, row key)``: the seed, table and
column are folded in Python into a 63-bit salt, and the row key is hashed with it by Spark's
native ``xxhash64``. No ``rand()``/``randn()`` (their values depend on the partition index), no
Python UDF. The same config therefore gives the same rows whatever the partitioning, in batch and
in streaming.

Example:
    >>> rnd = Randomness(seed=42, table="sensor_readings")
    >>> rnd.uniform("jitter", "id")  # doctest: +ELLIPSIS
    '((xxhash64(...L, id) & 9007199254740991L) * 1.1102230246251565E-16D)'
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Randomness", "dbl", "hash_fields", "salt", "split_uniform", "sql_str", "weighted_case"]

_MASK53 = 9007199254740991  # 2**53 - 1: a double holds 53 bits exactly
_FIELD_BITS = 21  # three independent uniforms of 21 bits from one 64-bit hash
_SCALE53 = "1.1102230246251565E-16D"  # 2**-53, exact


def salt(seed: int, table: str, column: str) -> int:
    """A stable 63-bit salt for ``(seed, table, column)``; independent of Python's hash seed."""
    digest = hashlib.blake2b(f"{seed}|{table}|{column}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def dbl(value: float) -> str:
    """A double literal for Spark SQL (``1.5D``): never a decimal literal in arithmetic."""
    if math.isnan(value):
        return "CAST('NaN' AS DOUBLE)"
    return f"{float(value)!r}D"


def sql_str(value: str) -> str:
    """A single-quoted Spark SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def split_uniform(hash_expr: str, part: int, bits: int = _FIELD_BITS) -> str:
    """Uniform in [0, 1) from ``bits`` bits of a 64-bit hash expression; the ``64 // bits`` parts
    are independent.

    One hash feeding several uniforms keeps the per-row cost low on the large tables.
    """
    if not 1 <= bits <= 32 or not 0 <= part < 64 // bits:
        raise ValueError(f"part must be from 0 to {64 // bits - 1} for {bits} bits, got {part}")
    shift = f"shiftrightunsigned({hash_expr}, {part * bits})" if part else f"({hash_expr})"
    # multiply by the exact reciprocal: a division is nullable in Spark, and null checks bloat the code
    return f"(({shift} & {(1 << bits) - 1}L) * {float(2.0 ** -bits)!r}D)"


def hash_fields(hash_expr: str, *bits: int) -> tuple[str, ...]:
    """Independent uniforms in [0, 1) from consecutive bit fields of one 64-bit hash expression,
    of the given widths (at most 64 bits in all).

    Example:
        >>> len(hash_fields("h", 12, 12, 8, 16, 16))
        5
    """
    if sum(bits) > 64 or any(not 1 <= b <= 32 for b in bits):
        raise ValueError(f"fields of 1 to 32 bits, 64 in all, got {bits}")
    out, shift = [], 0
    for b in bits:
        shifted = f"shiftrightunsigned({hash_expr}, {shift})" if shift else f"({hash_expr})"
        out.append(f"(({shifted} & {(1 << b) - 1}L) * {float(2.0 ** -b)!r}D)")
        shift += b
    return tuple(out)


def weighted_case(u_expr: str, values: Sequence[str], weights: Sequence[float]) -> str:
    """``CASE`` picking ``values[i]`` (SQL expressions) with probability ``weights[i] / sum``."""
    if len(values) != len(weights) or not values:
        raise ValueError("values and weights must be non-empty and of the same length")
    total = float(sum(weights))
    branches, cumulative = [], 0.0
    for value, weight in zip(values[:-1], weights[:-1]):
        cumulative += weight / total
        branches.append(f"WHEN {u_expr} < {dbl(cumulative)} THEN {value}")
    return f"(CASE {' '.join(branches)} ELSE {values[-1]} END)"


@dataclass(frozen=True)
class Randomness:
    """Random SQL expressions for one table of one seed.

    Args:
        seed: the dataset seed.
        table: the table name; columns of different tables draw independent values.

    Example:
        >>> rnd = Randomness(7, "devices")
        >>> expr = rnd.int_range("firmware_major", "device_id", low=1, high=3)
    """

    seed: int
    table: str

    def hash(self, column: str, *keys: str) -> str:
        """The 64-bit hash of the keys (SQL expressions) for this column."""
        if not keys:
            raise ValueError("at least one key expression is needed")
        return f"xxhash64({salt(self.seed, self.table, column)}L, {', '.join(keys)})"

    def uniform(self, column: str, *keys: str) -> str:
        """Uniform double in [0, 1) with 53 bits of resolution."""
        return f"(({self.hash(column, *keys)} & {_MASK53}L) * {_SCALE53})"

    def uniforms(self, column: str, *keys: str) -> tuple[str, str, str]:
        """Three independent 21-bit uniforms in [0, 1) from a single hash (cheap)."""
        h = self.hash(column, *keys)
        return split_uniform(h, 0), split_uniform(h, 1), split_uniform(h, 2)

    def permutation(self, column: str, key: str, *, digits: int = 8, rounds: int = 4) -> str:
        """A hashed bijection of the whole numbers ``[0, 10**digits)`` onto themselves (SQL bigint):
        distinct keys in that range give distinct values, and consecutive keys look unrelated.

        A balanced Feistel network on the two halves of the digits: each round adds a hash of
        one half to the other, modulo ``10**(digits // 2)``; any round function gives a bijection,
        and no intermediate value exceeds ``2 * 10**(digits // 2)`` (no overflow, ANSI mode or not).

        Args:
            column: what the values are for (folded into the hash with the seed and table).
            key: SQL expression of a whole number in ``[0, 10**digits)``.
            digits: an even number of decimal digits, from 2 to 18.
            rounds: Feistel rounds (4 mix well).

        Example:
            >>> serial = Randomness(7, "devices").permutation("serial", "device_id - 1000L")
        """
        if digits % 2 or not 2 <= digits <= 18 or rounds < 1:
            raise ValueError(f"digits must be even, from 2 to 18, and rounds at least 1; got {digits}, {rounds}")
        half = 10 ** (digits // 2)
        mix = f"pmod(xxhash64({salt(self.seed, self.table, column)}L, i, s.r), {half}L)"
        start = f"named_struct('l', ({key}) div {half}L, 'r', pmod({key}, {half}L))"
        step = f"named_struct('l', s.r, 'r', pmod(s.l + {mix}, {half}L))"
        return f"aggregate(sequence(1, {rounds}), {start}, (s, i) -> {step}, s -> s.l * {half}L + s.r)"

    def between(self, column: str, *keys: str, low: float, high: float) -> str:
        """Uniform double in [low, high)."""
        return f"({dbl(low)} + {self.uniform(column, *keys)} * {dbl(high - low)})"

    def int_range(self, column: str, *keys: str, low: int, high: int) -> str:
        """Uniform whole number in [low, high] (both included), as a bigint."""
        if high < low:
            raise ValueError(f"high ({high}) must be >= low ({low})")
        # coalesce: pmod is nullable in Spark's eyes, and null checks bloat the generated code
        return f"({low}L + coalesce(pmod({self.hash(column, *keys)}, {high - low + 1}L), 0L))"

    def choice(self, column: str, *keys: str, values: Sequence[str], weights: Sequence[float]) -> str:
        """One of ``values`` (plain strings) with the given weights, as a SQL string expression."""
        return weighted_case(self.uniform(column, *keys), [sql_str(v) for v in values], weights)

    def normal(self, column: str, *keys: str, mean: float = 0.0, stddev: float = 1.0) -> str:
        """Normal value by Box-Muller from two 32-bit halves of one hash."""
        h = self.hash(column, *keys)
        u1 = f"(((({h}) & 4294967295L) + 1D) * 2.3283064365386963E-10D)"  # in (0, 1]: ln() is finite
        u2 = f"(shiftrightunsigned({h}, 32) * 2.3283064365386963E-10D)"  # 2**-32
        z = f"(sqrt(-2D * ln({u1})) * cos(6.283185307179586D * {u2}))"
        return f"({dbl(mean)} + {dbl(stddev)} * {z})"
