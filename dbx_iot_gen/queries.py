"""The demo queries of seed 001 and the gold queries of seeds 002 and 003, as SQL files.

The files in ``dbx_iot_gen/sql/`` name tables without a catalog or schema: run them after ``USE``
on Databricks, or on a local demo output with :func:`register_demo_tables`, which makes a
temporary view of each Delta table. Every query takes its "as of" time from the data (its last
timestamp), not from ``current_date()``: the demo data lies in the past.

Example:
    >>> sorted(QUERIES)[:2]
    ['anomaly_detection', 'device_health_dashboard']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dbx_iot_gen.errors import OutputError
from dbx_iot_gen.output import OutputLayout

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["QUERIES", "SQL_DIR", "demo_output", "query", "register_demo_tables", "run_queries"]

SQL_DIR = Path(__file__).resolve().parent / "sql"
# the queries in the order the seeds give them: the demo queries, then gold
_ORDER = ("device_health_dashboard", "anomaly_detection", "fleet_tracking", "time_series_aggregation",
          "geospatial_analysis", "temperature_15_minutes", "plant_10_second_windows")
QUERIES: dict[str, str] = {name: (SQL_DIR / f"{name}.sql").read_text() for name in _ORDER}


def demo_output(out_dir: str) -> OutputLayout:
    """The layout of a complete local demo output.

    Raises:
        OutputError: the folder holds no complete demo output (no manifest).
    """
    layout = OutputLayout.local(out_dir)
    if not Path(layout.manifest_path).is_file():
        raise OutputError("out_dir", f"{layout.root} holds no complete dbx-iot-gen demo output (no manifest.json); "
                          "run `dbx-iot-gen demo --out DIR` first")
    return layout


def register_demo_tables(spark: SparkSession, out_dir: str) -> list[str]:
    """Make a temporary view of every Delta table of a local demo output, named like the table.

    Raises:
        OutputError: the folder holds no complete demo output (no manifest).
    """
    layout = demo_output(out_dir)
    names = sorted(p.name for p in (Path(layout.root) / "delta").iterdir() if p.is_dir())
    for name in names:
        spark.read.format("delta").load(layout.delta_path(name)).createOrReplaceTempView(name)
    return names


def query(spark: SparkSession, name: str) -> DataFrame:
    """One query as a DataFrame, on the tables the session sees.

    Example:
        query(spark, "fleet_tracking").show()
    """
    if name not in QUERIES:
        raise OutputError("name", f"unknown query {name!r}; known: {', '.join(QUERIES)}")
    return spark.sql(QUERIES[name])


def run_queries(spark: SparkSession) -> dict[str, int]:
    """Run every query; returns its row count by name."""
    return {name: query(spark, name).count() for name in QUERIES}
