"""The orchestrator: build every table, write landing JSON and Delta, then the manifest."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dbldatagen as dg
from pyspark.sql import DataFrame, SparkSession

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.output import OutputLayout, write_delta, write_landing
from dbx_iot_gen.tables import devices_spec, locations_spec, readings_spec, telemetry_spec

__all__ = ["TABLE_SPECS", "DemoResult", "build_tables", "generate_iot_demo"]

SpecFunction = Callable[[SparkSession, IoTConfig], dg.DataGenerator]

# Every table of the demo, in the order it is written, with the function returning its spec.
TABLE_SPECS: dict[str, SpecFunction] = {
    "locations": locations_spec,
    "devices": devices_spec,
    "sensor_readings": readings_spec,
    "telemetry": telemetry_spec,
}


@dataclass(frozen=True)
class DemoResult:
    """What :func:`generate_iot_demo` made: the DataFrames (read back from Delta) and the manifest."""

    tables: dict[str, DataFrame]
    manifest: dict[str, Any]


def build_tables(spark: SparkSession, config: IoTConfig) -> dict[str, DataFrame]:
    """Every demo table as a DataFrame, without writing anything.

    Example:
        >>> tables = build_tables(spark, IoTConfig.preset("tiny"))  # doctest: +SKIP
        >>> tables["devices"].count()  # doctest: +SKIP
        60
    """
    return {name: spec(spark, config).build() for name, spec in TABLE_SPECS.items()}


def generate_iot_demo(
    spark: SparkSession,
    config: IoTConfig,
    out_dir: str,
    *,
    progress: Callable[[str], None] | None = print,
) -> DemoResult:
    """Write the demo dataset under ``out_dir``: landing JSON, Delta tables, then ``manifest.json``.

    A re-run replaces the previous output completely; the manifest is written last, so a failed
    run never leaves a manifest that claims success.

    Args:
        spark: the session (see :func:`dbx_iot_gen.spark.get_spark`).
        config: the dataset config.
        out_dir: the output folder (new, empty, or an earlier output).
        progress: called with one line per table (rows and seconds); ``None`` for silence.

    Returns:
        The tables read back from Delta, and the manifest.

    Example:
        >>> result = generate_iot_demo(spark, IoTConfig.preset("tiny"), "/tmp/iot")  # doctest: +SKIP
        >>> result.manifest["tables"]["devices"]["rows"]  # doctest: +SKIP
        60
    """
    from dbx_iot_gen import __version__

    layout = OutputLayout.local(out_dir)
    layout.check_usable()
    layout.reset()
    started = time.perf_counter()
    tables: dict[str, DataFrame] = {}
    entries: dict[str, Any] = {}
    for name, spec in TABLE_SPECS.items():
        t0 = time.perf_counter()
        df = spec(spark, config).build()
        write_delta(df, layout.delta_path(name))
        write_landing(df, layout.landing_path(name))
        tables[name] = spark.read.format("delta").load(layout.delta_path(name))
        rows = tables[name].count()
        seconds = time.perf_counter() - t0
        entries[name] = {
            "rows": rows,
            "delta": layout.delta_path(name),
            "landing": layout.landing_path(name),
            "seconds": round(seconds, 2),
        }
        if progress is not None:
            progress(f"{name:<16} {rows:>12,} rows  {seconds:7.1f} s")
    manifest = {
        "library": "dbx-iot-gen",
        "version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": config.seed,
        "config": config.to_dict(),
        "tables": entries,
        "problems": {},
        "seconds": round(time.perf_counter() - started, 2),
    }
    layout.write_manifest(manifest)
    return DemoResult(tables, manifest)
