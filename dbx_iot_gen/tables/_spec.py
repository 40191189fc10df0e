"""A thin builder over ``dbldatagen.DataGenerator`` for expression columns.

Every column is a SQL expression; the builder finds which earlier columns an expression reads
and passes them as ``baseColumn``, so dbldatagen builds the columns in a valid order.
"""

from __future__ import annotations

import math
import re

import dbldatagen as dg
from pyspark.sql import SparkSession

from dbx_iot_gen.config import IoTConfig

ROWS_PER_PARTITION = 4_000_000


def partitions_for(config: IoTConfig, rows: int) -> int:
    """The config's partitions, or enough partitions for the rows (at least 2)."""
    if config.partitions is not None:
        return config.partitions
    return max(2, math.ceil(rows / ROWS_PER_PARTITION))


class SpecBuilder:
    """Adds SQL-expression columns to a fresh DataGenerator whose ``id`` runs from 0 to rows - 1."""

    def __init__(self, spark: SparkSession, name: str, rows: int, partitions: int, seed: int) -> None:
        self.spec = dg.DataGenerator(
            sparkSession=spark, name=name, rows=rows, partitions=partitions,
            randomSeedMethod="fixed", randomSeed=seed,
        )
        self._names: list[str] = ["id"]

    def col(self, name: str, dtype: str, expr: str, *, omit: bool = False) -> SpecBuilder:
        """Add column ``name`` of SQL type ``dtype`` computed by ``expr``."""
        bases = [c for c in self._names if re.search(rf"(?<![\w.']){re.escape(c)}(?![\w'])", expr)]
        self.spec = self.spec.withColumn(name, dtype, expr=expr, baseColumn=bases or "id", omit=omit)
        self._names.append(name)
        return self

    def tmp(self, name: str, dtype: str, expr: str) -> SpecBuilder:
        """Add an intermediate column that is not in the output."""
        return self.col(name, dtype, expr, omit=True)
