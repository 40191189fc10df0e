"""The orchestrator: build every table, write landing JSON and Delta, then the manifest."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dbldatagen as dg
from pyspark.sql import DataFrame, SparkSession

from dbx_iot_gen.config import ANOMALY_TYPES, QUALITY_ISSUES, IoTConfig
from dbx_iot_gen.output import CatalogTarget, OutputLayout, read_table, write_landing, write_table
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.spark import dropping_barrier_views
from dbx_iot_gen.tables import alerts, anomaly_episodes, anomaly_labels, cdc_batch, devices, events

__all__ = ["DERIVED_TABLES", "TABLES_IN_ORDER", "TABLE_SPECS", "DemoResult", "build_table", "build_tables",
           "generate_iot_demo"]

SpecFunction = Callable[[SparkSession, IoTConfig], dg.DataGenerator]
TableFunction = Callable[[SparkSession, IoTConfig], DataFrame]

# Views of the one registry (schemas.TABLES): the tables made by a dbldatagen spec, with the
# function returning the spec; the tables derived from small grids (the device lifecycle, the
# readings' expressions), with the function returning the DataFrame; all, in the order written.
TABLE_SPECS: dict[str, SpecFunction] = {n: t.build_function() for n, t in TABLES.items() if t.kind == "spec"}
DERIVED_TABLES: dict[str, TableFunction] = {n: t.build_function() for n, t in TABLES.items() if t.kind == "derived"}
TABLES_IN_ORDER = tuple(TABLES)

def build_table(spark: SparkSession, config: IoTConfig, name: str) -> DataFrame:
    """One demo table as a DataFrame, without writing anything.

    Example:
        build_table(spark, IoTConfig.preset("tiny"), "events").count() > 0  # True
    """
    if name in TABLE_SPECS:
        return TABLE_SPECS[name](spark, config).build()
    return DERIVED_TABLES[name](spark, config)


@dataclass(frozen=True)
class DemoResult:
    """What :func:`generate_iot_demo` made: the DataFrames (read back from Delta) and the manifest."""

    tables: dict[str, DataFrame]
    manifest: dict[str, Any]


def build_tables(spark: SparkSession, config: IoTConfig) -> dict[str, DataFrame]:
    """Every demo table as a DataFrame, without writing anything.

    Example:
        tables = build_tables(spark, IoTConfig.preset("tiny"))
        tables["devices"].count()  # 60
    """
    return {name: build_table(spark, config, name) for name in TABLES_IN_ORDER}


def generate_iot_demo(
    spark: SparkSession,
    config: IoTConfig,
    out_dir: str,
    *,
    target: CatalogTarget | None = None,
    progress: Callable[[str], None] | None = print,
) -> DemoResult:
    """Write the demo dataset under ``out_dir``: landing JSON, Delta tables, then ``manifest.json``.

    A re-run replaces the previous output completely; the manifest is written last, so a failed
    run never leaves a manifest that claims success.

    Args:
        spark: the session (see :func:`dbx_iot_gen.spark.get_spark`).
        config: the dataset config.
        out_dir: the output folder (new, empty, or an earlier output): landing JSON, the manifest
            and, without ``target``, the Delta tables.
        target: write the tables to ``catalog.schema.<table>`` with table and column comments
            (the schema is created when missing) instead of Delta folders.
        progress: called with one line per table (rows and seconds); ``None`` for silence.

    Returns:
        The tables read back from Delta, and the manifest.

    Example:
        result = generate_iot_demo(spark, IoTConfig.preset("tiny"), "/tmp/iot")
        result.manifest["tables"]["devices"]["rows"]  # 60
    """
    from dbx_iot_gen import __version__

    layout = OutputLayout.local(out_dir)
    layout.check_usable()
    if target is not None:
        target.create(spark, volume=False)
    layout.reset()
    # over Spark Connect the derived tables make temporary views (analysis barriers); what is
    # returned is read back from Delta, so they can go when the demo is written
    with dropping_barrier_views(spark):
        started = time.perf_counter()
        tables: dict[str, DataFrame] = {}
        entries: dict[str, Any] = {}
        # labels and events both start from the anomaly episodes: computed once
        episodes = anomaly_episodes(spark, config).cache()
        derived = {
            # the devices table is each device's last change in the CDC just written
            "devices": lambda: devices(spark, config, tables["devices_cdc"]),
            "anomaly_labels": lambda: anomaly_labels(spark, config, episodes),
            # firmware updates name the release after the device's current one in the CDC just written
            "events": lambda: events(spark, config, episodes, tables["devices_cdc"]),
            # alerts come from the events just written, not from a second computation of them
            "alerts": lambda: alerts(spark, config, tables["events"], episodes),
        }
        for name in TABLES_IN_ORDER:
            t0 = time.perf_counter()
            df = derived[name]() if name in derived else build_table(spark, config, name)
            write_table(spark, df, name, target, layout)
            tables[name] = read_table(spark, name, target, layout)
            if name == "devices_cdc":  # one landing folder per batch: batch_000, batch_001, ...
                for batch in range(config.cdc.batches + 1):
                    write_landing(cdc_batch(tables[name], batch), layout.cdc_batch_path(batch))
            else:
                write_landing(tables[name], layout.landing_path(name))
            rows = tables[name].count()
            seconds = time.perf_counter() - t0
            entries[name] = {
                "rows": rows,
                **({"delta": layout.delta_path(name)} if target is None
                   else {"table": target.table(name).replace("`", "")}),
                "landing": layout.landing_path(name),
                "seconds": round(seconds, 2),
            }
            if progress is not None:
                progress(f"{name:<20} {rows:>10,} rows  {seconds:7.1f} s")
        manifest = {
            "library": "dbx-iot-gen",
            "version": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": config.seed,
            "config": config.to_dict(),
            "tables": entries,
            "problems": problem_counts(tables),
            "cdc": cdc_counts(tables["devices_cdc"]),
            "seconds": round(time.perf_counter() - started, 2),
        }
        episodes.unpersist()
        layout.write_manifest(manifest)
        return DemoResult(tables, manifest)


def cdc_counts(cdc: DataFrame) -> dict[str, Any]:
    """Changes per batch and operation, for the manifest."""
    out: dict[str, dict[str, int]] = {}
    for r in cdc.groupBy("batch_id", "operation").count().orderBy("batch_id", "operation").collect():
        out.setdefault(f"batch_{r['batch_id']:03d}", {})[r["operation"]] = r["count"]
    return {"batches": out}


def problem_counts(tables: dict[str, DataFrame]) -> dict[str, Any]:
    """Counts of every injected problem by type, from the written tables (for the manifest).

    ``anomalies``: episodes and distinct readings per type; ``quality``: readings per problem (for
    duplicates, the extra rows); ``maintenance``: readings in a window; ``events`` by type and
    ``alerts`` by level.
    """
    readings = tables["sensor_readings"]
    rows = readings.groupBy("anomaly_type", "quality_issue", "device_status").count().collect()
    per_anomaly = dict.fromkeys(ANOMALY_TYPES, 0)
    per_issue = dict.fromkeys(QUALITY_ISSUES, 0)
    maintenance = 0
    for r in rows:
        # a duplicated reading is two rows in its group
        n = r["count"] // 2 if r["quality_issue"] == "duplicate" else r["count"]
        if r["anomaly_type"]:
            per_anomaly[r["anomaly_type"]] += n
        if r["quality_issue"]:
            per_issue[r["quality_issue"]] += n
        if r["device_status"] == "Maintenance":
            maintenance += n
    def by(table: str, column: str) -> dict[str, int]:
        return {r[column]: r["count"] for r in tables[table].groupBy(column).count().collect()}

    episodes = by("anomaly_labels", "anomaly_type")
    return {
        "anomalies": {k: {"episodes": episodes.get(k, 0), "readings": per_anomaly[k]} for k in ANOMALY_TYPES},
        "quality": per_issue,
        "maintenance": {"readings": maintenance},
        "events": by("events", "event_type"),
        "alerts": by("alerts", "alert_level"),
    }
