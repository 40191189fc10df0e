"""What the sinks that write from the driver share: a table's rows in pieces of a bounded size.

QuestDB and Timestream take a batch table in requests of a bounded size; each piece is read from
``df`` on its own (pass a stored table, not an expensive plan), by a hash of the table's key, so
the pieces are the same for any partitioning.

Example:
    for piece in chunks(spark.read.format("delta").load("iot_demo/delta/plant_sensors"), "plant_sensors", 100_000):
        piece.toPandas()
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dbx_iot_gen.schemas import TABLES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["chunks"]


def chunks(df: DataFrame, table: str, rows: int) -> Iterator[DataFrame]:
    """``df`` in about ``ceil(count / rows)`` pieces, split by a hash of the table's key."""
    from pyspark.sql import functions as F

    count = df.count()
    pieces = max(1, math.ceil(count / rows))
    if pieces == 1:
        yield df
        return
    keys = [F.col(k.strip()) for k in TABLES[table].key.split(",")]
    for piece in range(pieces):
        yield df.where(F.pmod(F.xxhash64(*keys), F.lit(pieces)) == piece)
