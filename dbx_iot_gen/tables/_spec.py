"""A thin builder over ``dbldatagen.DataGenerator`` for expression columns.

Every column is a SQL expression; the builder finds which earlier columns an expression reads
and passes them as ``baseColumn``, so dbldatagen builds the columns in a valid order. It also
records the columns, so that the same rows can be computed for any DataFrame of ids
(:func:`replay`): a table derived from readings (labels, events) computes exactly the readings it
refers to, without generating the whole table.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import dbldatagen as dg
from pyspark.sql import DataFrame, SparkSession

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.spark import analysis_barrier, is_connect, unchecked_arithmetic

__all__ = ["CONNECT_ROUNDS", "ROWS_PER_PARTITION", "SOURCE_TIMESTAMP", "Blocking", "ColumnDef", "IoTDataGenerator",
           "SpecBuilder", "partitions_for", "replay"]

ROWS_PER_PARTITION = 4_000_000
# Over Spark Connect, a spec's build is analyzed in parts of this many rounds of columns (Spark
# 3.5's analyzer gives up on the readings' deepest part at 40; 4.0's passes at 40)
CONNECT_ROUNDS = 20
# In a stream, the time the rate source made the row (our tables have their own ``timestamp``).
SOURCE_TIMESTAMP = "_source_timestamp"


class IoTDataGenerator(dg.DataGenerator):
    """A ``DataGenerator`` whose streaming build suits the tables' ids and event times.

    * With the option ``rowsPerBatch`` the ids come from Spark's ``rate-micro-batch`` source:
      micro-batch ``n`` holds ids ``[n * rowsPerBatch, (n + 1) * rowsPerBatch)`` whatever the
      timing, so a stream stopped and restarted from its checkpoint goes on without a gap or a
      burst. Otherwise they come from the ``rate`` source, as in dbldatagen.
    * The source's own time is kept as ``_source_timestamp`` (the tables have a ``timestamp``
      column of their own; two columns of one name make every reference ambiguous). Realtime
      specs take their event time from it: with ``rate-micro-batch``, the micro-batch's time plus
      the row's place in the batch spread over ``secondsPerBatch`` (an option, default 1).
    * With ``blocking`` (see :class:`Blocking`), a batch build computes the columns that depend
      only on a channel and a block of its ticks once per block; a stream computes them for each
      row from its id. Both give the same rows.
    """

    blocking: Blocking | None = None
    # the columns a SpecBuilder added: they name every column they read (``baseColumn``)
    own_columns: frozenset[str] = frozenset()

    def build(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # unchecked integer arithmetic: the same rows, 15 % faster (see unchecked_arithmetic)
        with unchecked_arithmetic(self.sparkSession):
            return super().build(*args, **kwargs)

    def _adjustBuildOrderForSqlDependencies(self, buildOrder, columnSpecsByName):  # type: ignore[no-untyped-def] # noqa: N802, N803
        # dbldatagen parses every column's SQL (pyparsing) to find references its dependencies
        # miss: 2 of a readings build's 7 seconds. Our columns name theirs; only the columns
        # others add (without baseColumn, as the README's example) are parsed.
        others = {n: cs for n, cs in columnSpecsByName.items() if n not in self.own_columns}
        return super()._adjustBuildOrderForSqlDependencies(buildOrder, others)

    def _getBaseDataFrame(self, startId=0, streaming=False, options=None):  # type: ignore[no-untyped-def] # noqa: N802, N803
        blocking = self.blocking
        if blocking is not None and not streaming and startId == 0:
            return blocking.batch_base(self.sparkSession, self.partitions or 4)
        df = self._source(startId, streaming, options)
        return df if blocking is None else blocking.row_base(df)

    def _buildColumnExpressionsWithSelects(self, df1):  # type: ignore[no-untyped-def] # noqa: N802
        # dbldatagen's rounds of selects; over Spark Connect, a deep spec is analyzed in parts (see
        # analysis_barrier): the server resolves about one round per analyzer iteration, and gives
        # up at 100
        if not is_connect(self.sparkSession):
            return super()._buildColumnExpressionsWithSelects(df1)
        order = self._buildOrder
        rounds = [r for r in order if r != [self._seedColumnName]]
        try:
            for first in range(0, len(rounds), CONNECT_ROUNDS):
                self._buildOrder = rounds[first:first + CONNECT_ROUNDS]
                df1 = super()._buildColumnExpressionsWithSelects(df1)
                if first + CONNECT_ROUNDS < len(rounds):
                    df1 = analysis_barrier(df1)
        finally:
            self._buildOrder = order
        return df1

    def _source(self, startId, streaming, options):  # type: ignore[no-untyped-def] # noqa: N803
        if not streaming or not options or "rowsPerBatch" not in options:
            df = super()._getBaseDataFrame(startId, streaming=streaming, options=options)
            return df.withColumnRenamed("timestamp", SOURCE_TIMESTAMP) if streaming else df
        per_batch = int(options["rowsPerBatch"])
        seconds = float(options.get("secondsPerBatch", 1.0))
        reader = (self.sparkSession.readStream.format("rate-micro-batch")
                  .option("rowsPerBatch", per_batch)
                  .option("numPartitions", int(options.get("numPartitions", self.partitions or 2))))
        spread_us = seconds * 1e6 / per_batch
        return reader.load().selectExpr(
            f"value AS {self._seedColumnName}",
            f"timestamp_micros(unix_micros(current_timestamp()) + cast(pmod(value, {per_batch}L) * {spread_us!r}D"
            f" as long)) AS {SOURCE_TIMESTAMP}")


class Blocking:
    """Rows of a grid of channels and ticks (``id = tick * channels + channel``), computed in blocks.

    A block is ``block_ticks`` consecutive ticks of one channel. Columns that depend only on the
    channel and the block (a device's id, profile and location, an anomaly episode's kind and
    length, ...) are :attr:`defs`, SQL expressions of ``channel``, ``slot`` (the block's index in
    time) and earlier block columns. A batch build computes them once per block and then explodes
    the block into its rows (:meth:`batch_base`): per-row work is what it costs, so this makes a
    table like the readings much faster. A stream or a replay computes them for each row from its
    ``id`` (:meth:`row_base`): the same values, so the same rows. Either base has the columns
    ``id``, ``_blk_tick``, ``_blk_channel`` and ``_blk_<name>`` for every block column.

    Example:
        >>> blk = Blocking(channels=3, ticks=10, block_ticks=4)
        >>> blk.slots
        3
    """

    def __init__(self, channels: int, ticks: int, block_ticks: int) -> None:
        if block_ticks < 1 or block_ticks & (block_ticks - 1):
            raise ValueError(f"block_ticks must be a power of 2, got {block_ticks}")
        self.channels, self.ticks, self.block_ticks = channels, ticks, block_ticks
        self.defs: list[ColumnDef] = []

    @property
    def slots(self) -> int:
        """Blocks per channel."""
        return -(-self.ticks // self.block_ticks)

    def _outputs(self) -> list[str]:
        return ["_blk_tick", "_blk_channel", *[f"{d.name} AS _blk_{d.name}" for d in self.defs]]

    def batch_base(self, spark: SparkSession, partitions: int) -> DataFrame:
        """The base of a batch build: block columns once per block, then one row per tick.

        Blocks are numbered slot by slot (``block = slot * channels + channel``), so rows come
        roughly in time order; the ids of a partition are not contiguous.
        """
        c, s = self.channels, self.block_ticks
        last = self.ticks - (self.slots - 1) * s  # ticks of the last slot
        df = spark.range(0, self.slots * c, 1, partitions).selectExpr(f"coalesce(id div {c}L, 0L) AS slot", "id")
        df = _stage_split(_select_rounds(df.selectExpr("slot", f"id - slot * {c}L AS channel"), self.defs))
        ticks = (f"sequence(0L, {s - 1}L)" if last == s else
                 f"IF(slot = {self.slots - 1}L, sequence(0L, {last - 1}L), sequence(0L, {s - 1}L))")
        df = df.selectExpr("*", f"explode({ticks}) AS _k")
        df = df.selectExpr("*", f"slot * {s}L + _k + _stage AS _blk_tick", "channel AS _blk_channel")
        # the block columns are as deep a plan as the rows' own: analyzed apart over Spark Connect
        return analysis_barrier(df.selectExpr(f"_blk_tick * {c}L + _blk_channel AS id", *self._outputs()))

    def row_base(self, df: DataFrame) -> DataFrame:
        """``df`` (with a bigint ``id``) and the block columns of each row's block, computed per row."""
        c, shift = self.channels, self.block_ticks.bit_length() - 1
        base = list(df.columns)
        df = df.selectExpr("*", f"coalesce(id div {c}L, 0L) AS _tick")
        df = df.selectExpr("*", f"id - _tick * {c}L AS _blk_channel", f"shiftright(_tick, {shift}) AS slot")
        df = _stage_split(_select_rounds(df.selectExpr("*", "_blk_channel AS channel"), self.defs))
        # the tick comes out of a one-row Generate, as in a batch build: a filter on what a row
        # computes from its time stops there, above the block columns (pushed further, it would
        # repeat every block expression it reads, and planning it can take minutes)
        df = df.selectExpr("*", "explode(array(_tick + _stage)) AS _blk_tick")
        return analysis_barrier(df.selectExpr(*[f"`{b}`" for b in base], *self._outputs()))


def _stage_split(df: DataFrame) -> DataFrame:
    """``df`` and a column ``_stage`` (0, a bigint) computed by an expression Spark does not compile
    into whole-stage code (a higher-order function): whole-stage codegen ends below it and starts
    anew above it, with no shuffle. So the block columns and the rows' own columns compile into
    two generated classes: one of over about 1 M characters of code nests classes, and Spark's
    nested classes fail (IllegalAccessError on BufferedRowIterator.partitionIndex) when an
    aggregation shares the stage. The price: the columns crossing it are copied once a block."""
    return df.selectExpr("*", "element_at(transform(array(slot), x -> x), 1) - slot AS _stage")


def reads(expr: str, name: str) -> bool:
    """Whether the SQL expression ``expr`` reads the column ``name`` (not a field or a string)."""
    return re.search(rf"(?<![\w.']){re.escape(name)}(?![\w'])", expr) is not None


def partitions_for(config: IoTConfig, rows: int) -> int:
    """The config's partitions, or enough partitions for the rows (at least 2)."""
    if config.partitions is not None:
        return config.partitions
    return max(2, math.ceil(rows / ROWS_PER_PARTITION))


@dataclass(frozen=True)
class ColumnDef:
    """One column of a spec: a SQL expression of earlier columns and ``id``."""

    name: str
    dtype: str | None  # None: the type Spark infers (no cast: keeps non-null struct fields non-null)
    expr: str
    omit: bool
    is_generator: bool = False


class SpecBuilder:
    """Adds SQL-expression columns to a fresh DataGenerator whose ``id`` runs from 0 to rows - 1."""

    def __init__(self, spark: SparkSession, name: str, rows: int, partitions: int, seed: int, *,
                 blocking: Blocking | None = None) -> None:
        with warnings.catch_warnings():
            # dbldatagen turns on a legacy Arrow config, which Spark Connect refuses with a warning
            warnings.filterwarnings("ignore", message=".*spark.sql.execution.arrow.enabled")
            self.spec: dg.DataGenerator = IoTDataGenerator(
                sparkSession=spark, name=name, rows=rows, partitions=partitions,
                randomSeedMethod="fixed", randomSeed=seed,
            )
        self.spec.blocking = self.blocking = blocking
        self._names: list[str] = ["id"]
        self._barrier: str | None = None
        self.defs: list[ColumnDef] = []

    def col(self, name: str, dtype: str | None, expr: str, *, omit: bool = False) -> SpecBuilder:
        """Add column ``name`` of SQL type ``dtype`` (``None``: as Spark infers it) computed by ``expr``."""
        return self._add(ColumnDef(name, dtype, expr, omit))

    def tmp(self, name: str, dtype: str | None, expr: str) -> SpecBuilder:
        """Add an intermediate column that is not in the output."""
        return self.col(name, dtype, expr, omit=True)

    def block(self, name: str, dtype: str | None, expr: str, *, alias: bool = True) -> SpecBuilder:
        """Add an intermediate column computed once per block (see :class:`Blocking`): ``expr``
        reads only ``channel``, ``slot`` and earlier block columns. Later columns read it by its
        name, or as ``_blk_<name>`` with ``alias=False`` (to output it in its place).
        """
        if self.blocking is None:
            raise ValueError("block columns need a SpecBuilder with blocking")
        self.blocking.defs.append(ColumnDef(name, dtype, expr, True))
        return self.tmp(name, None, f"_blk_{name}") if alias else self

    def block_barrier(self) -> SpecBuilder:
        """Split the generated code of the block columns here: the block columns before and after
        go into separate methods (a one-row Generate; see :meth:`explode`)."""
        if self.blocking is None:
            raise ValueError("block columns need a SpecBuilder with blocking")
        n = sum(d.is_generator for d in self.blocking.defs)
        self.blocking.defs.append(ColumnDef(f"split{n}", None, "explode(array(0))", True, is_generator=True))
        return self

    def explode(self, name: str, array_expr: str) -> SpecBuilder:
        """Repeat each row once per element of ``array_expr`` (an intermediate column).

        Every later column is computed after it. That is also a code-size barrier: whole-stage
        codegen puts the columns before and after a Generate into separate methods, and the JVM
        only compiles methods under 8 KB of bytecode.
        """
        self._add(ColumnDef(name, None, f"explode({array_expr})", True, is_generator=True))
        self._barrier = name
        return self

    def _add(self, d: ColumnDef) -> SpecBuilder:
        bases = [c for c in self._names if reads(d.expr, c)]
        if self._barrier and self._barrier not in bases:
            bases.append(self._barrier)
        dtype = dg.INFER_DATATYPE if d.dtype is None else d.dtype
        self.spec = self.spec.withColumn(d.name, dtype, expr=d.expr, baseColumn=bases or "id", omit=d.omit)
        self.spec.own_columns = self.spec.own_columns | {d.name}
        self._names.append(d.name)
        self.defs.append(d)
        return self


def _select_rounds(df: DataFrame, defs: list[ColumnDef]) -> DataFrame:
    """``df`` with the columns ``defs`` added, one select per round of columns that do not read
    each other (as dbldatagen builds a spec); a generator is 0, in a round of its own."""
    # The plan stays as shallow as the spec's: Spark Connect analyzes a whole plan at once, one
    # level per analyzer iteration, and gives up at 100 levels.
    rounds: list[list[ColumnDef]] = []
    for d in defs:
        last = rounds[-1] if rounds else None
        if (d.is_generator or last is None or last[0].is_generator
                or any(reads(d.expr, g.name) for g in last)):
            rounds.append([d])
        else:
            last.append(d)
    for i, columns in enumerate(rounds):
        if i and i % CONNECT_ROUNDS == 0:  # (over Spark Connect: analyzed in parts)
            df = analysis_barrier(df)
        if columns[0].is_generator:
            # one row, but the same code-size barrier as in the spec: without it the optimizer
            # merges every column into one projection, and filters repeat whole expressions
            df = df.selectExpr("*", f"explode(array(0)) AS {columns[0].name}")
        else:
            df = df.selectExpr("*", *[f"CAST(({c.expr}) AS {c.dtype}) AS {c.name}" if c.dtype
                                      else f"({c.expr}) AS {c.name}" for c in columns])
    return df


def replay(df: DataFrame, defs: list[ColumnDef], *, keep: tuple[str, ...] = (), where: str | None = None,
           blocking: Blocking | None = None) -> DataFrame:
    """The columns ``defs`` computed for the ids of ``df`` (a column ``id``), one row per id: a
    generator column is 0 (no duplicates, no dropped rows).

    Returns the output columns of the spec, then the intermediate columns named in ``keep``; the
    other columns of ``df`` stay in front. ``where`` (a SQL boolean of the columns) keeps only the
    rows where it holds. It is applied by a Generate, not a Filter: the optimizer would push a
    filter down to the ids, rewriting every column it reads as one expression of ``id`` (over the
    JVM's 64 KB method limit for the readings). ``blocking``: the spec's (its block columns are
    computed for each id).

    Example:
        b = SpecBuilder(spark, "t", 10, 2, 1).tmp("x", "long", "id * 2").col("y", "long", "x + 1")
        replay(spark.range(3), b.defs).columns  # ['id', 'y']
    """
    base = list(df.columns)
    with unchecked_arithmetic(df.sparkSession):
        if blocking is not None:
            df = blocking.row_base(df)
        df = _select_rounds(df, defs)
        if where is not None:
            df = df.selectExpr("*", f"explode(IF({where}, array(0), array())) AS _replay_where")
        out = [d.name for d in defs if not d.omit and not d.is_generator]
        return analysis_barrier(df.select(*base, *out, *[k for k in keep if k not in out]))
