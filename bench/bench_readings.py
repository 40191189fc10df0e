"""Benchmark: the library's ``sensor_readings`` against what Spark itself can do and against the seed.

In one process, for N rows (default 10 million), it times
  (a) the library's ``sensor_readings`` spec, with anomalies and data-quality problems on (the default),
  (a0) the same, clean: no anomalies, no data-quality problems (what they cost),
  (b) the same schema as plain hash expressions on ``spark.range`` (the baseline),
  (c) the seed's readings spec (001_ee5f8fcb3a0763fd.txt) as written,
  (t) the library's ``telemetry`` (GPS vehicles driving their rounds), about N rows,
once with a no-op sink and once writing Delta, and prints rows per second (medians) and a/b, a0/b,
a/c and t/a (medians of each round's ratio).

Each case first runs ``--warmup`` times untimed: the JVM compiles the generated code, then
recompiles it as rare branches (an anomaly, a late reading, a block at the table's end) are first
taken; the library's readings need about three runs to settle (here 3.4, 1.07, 1.00, then 0.80 s),
the baseline one. Then ``--repeat`` rounds each run every case once, interleaved, so that a change
in a shared machine's speed hits all cases alike.

    python bench/bench_readings.py --rows 10000000 --repeat 5 --warmup 3

Not a test: numbers on shared 2-core machines are noisy; quote medians and ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import dbldatagen as dg
from pyspark.sql import DataFrame, SparkSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbx_iot_gen import IoTConfig, readings_spec
from dbx_iot_gen.config import ANOMALY_TYPES
from dbx_iot_gen.fleet import FleetLayout
from dbx_iot_gen.spark import get_spark
from dbx_iot_gen.tables import telemetry_spec


def library_readings(spark: SparkSession, rows: int, partitions: int, **overrides: object) -> DataFrame:
    """(a) the library's readings, with a time range sized to about ``rows`` rows."""
    cfg = IoTConfig.preset("medium", partitions=partitions, **overrides)
    per_tick = FleetLayout(cfg).n_channels
    seconds = max(1, rows // per_tick) * cfg.reading_cadence_seconds
    cfg = cfg.replace(end=cfg.start + timedelta(seconds=seconds))
    return readings_spec(spark, cfg).build()


def library_telemetry(spark: SparkSession, rows: int, partitions: int) -> DataFrame:
    """(t) the library's telemetry: the medium fleet's vehicles for about ``rows`` rows."""
    cfg = IoTConfig.preset("medium", partitions=partitions)
    ticks = max(1, rows // max(1, FleetLayout(cfg).n_vehicles))
    return telemetry_spec(spark, cfg.replace(telemetry_hours=ticks * cfg.telemetry_cadence_seconds / 3600)).build()


def baseline_readings(spark: SparkSession, rows: int, partitions: int) -> DataFrame:
    """(b) the same schema as plain hash expressions on spark.range: what Spark itself can do."""
    return spark.range(0, rows, 1, partitions).selectExpr(
        "id + 1L AS reading_id",
        "1000L + pmod(xxhash64(1L, id), 10000L) AS device_id",
        "timestamp_micros(1704067200000000L + id * 6000L) AS timestamp",
        "element_at(array('temperature', 'humidity', 'pressure', 'vibration', 'power'), "
        "cast(pmod(xxhash64(2L, id), 5L) as int) + 1) AS metric_name",
        "(xxhash64(3L, id) & 9007199254740991L) / 9007199254740992D * 100D AS metric_value",
        "element_at(array('celsius', 'percent', 'hPa', 'mm/s', 'kWh'), "
        "cast(pmod(xxhash64(4L, id), 5L) as int) + 1) AS unit",
        "cast(80L + pmod(xxhash64(5L, id), 21L) as int) AS quality_score",
        "pmod(xxhash64(6L, id), 100L) < 2L AS is_anomaly",
        "cast(null as string) AS anomaly_type",
        "cast(null as string) AS quality_issue",
        "timestamp_micros(1704067200000000L + id * 6000L + pmod(xxhash64(7L, id), 3000000L)) AS ingest_timestamp",
    )


def seed_readings(spark: SparkSession, rows: int, partitions: int) -> DataFrame:
    """(c) the seed's readings spec, as written in 001_ee5f8fcb3a0763fd.txt (rows and partitions aside)."""
    return (
        dg.DataGenerator(spark, rows=rows, partitions=partitions)
        .withColumn("reading_id", "long", minValue=1, uniqueValues=rows)
        .withColumn("device_id", "long", minValue=1000, maxValue=10_999)
        .withColumn("timestamp", "timestamp", begin="2024-01-01 00:00:00", end="2024-12-31 00:00:00",
                    interval="1 minute")
        .withColumn("metric_name", "string", values=["temperature", "humidity", "pressure", "power", "vibration"])
        .withColumn("base_value", "double", minValue=0, maxValue=100, random=True, omit=True)
        .withColumn("noise", "double", expr="rand() * 5 - 2.5", omit=True)
        .withColumn("metric_value", "double", expr="base_value + noise")
        .withColumn("unit", "string", expr="""case metric_name
            when 'temperature' then 'celsius'
            when 'humidity' then 'percent'
            when 'pressure' then 'hPa'
            when 'power' then 'kWh'
            when 'vibration' then 'mm/s'
            else 'unknown'
        end""")
        .withColumn("quality_score", "integer", minValue=80, maxValue=100, random=True)
        .withColumn("is_anomaly", "boolean", expr="rand() < 0.02")
        .build()
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seconds(write: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    write()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=_positive, default=10_000_000)
    parser.add_argument("--repeat", type=_positive, default=5, help="timed rounds; each round runs every case once")
    parser.add_argument("--warmup", type=_positive, default=3, help="untimed runs of each case first (JIT)")
    parser.add_argument("--partitions", type=_positive, default=4)
    parser.add_argument("--skip-seed", action="store_true", help="leave out (c), the slow seed spec")
    parser.add_argument("--sinks", default="noop,delta", help="comma-separated: noop, delta")
    args = parser.parse_args(argv)
    sinks = args.sinks.split(",")
    if unknown := [s for s in sinks if s not in ("noop", "delta")]:
        parser.error(f"argument --sinks: unknown sink {unknown[0]!r}; accepted: noop, delta")
    spark = get_spark("dbx-iot-gen-bench")
    clean = {"quality": {"clean": True}, "anomalies": {f"{k}_rate": 0.0 for k in ANOMALY_TYPES}}
    cases = {
        "a library": lambda: library_readings(spark, args.rows, args.partitions),
        "a0 clean": lambda: library_readings(spark, args.rows, args.partitions, **clean),
        "b baseline": lambda: baseline_readings(spark, args.rows, args.partitions),
        "t telemetry": lambda: library_telemetry(spark, args.rows, args.partitions),
    }
    if not args.skip_seed:
        cases["c seed"] = lambda: seed_readings(spark, args.rows, args.partitions)
    counts = {name: make().count() for name, make in cases.items()}
    rates: dict[tuple[str, str], list[float]] = {}  # rows per second of each timed run
    with tempfile.TemporaryDirectory() as tmp:
        for sink in sinks:
            writers: dict[str, Callable[[], None]] = {}
            for name, make in cases.items():
                df = make()
                if sink == "noop":
                    def write(df: DataFrame = df) -> None:
                        df.write.format("noop").mode("overwrite").save()
                else:
                    path = str(Path(tmp) / name.replace(" ", "_"))

                    def write(df: DataFrame = df, path: str = path) -> None:
                        df.write.format("delta").mode("overwrite").save(path)
                writers[name] = write
                for _ in range(args.warmup):
                    write()
            # interleaved rounds: a drift of a shared machine's speed hits every case alike
            for _ in range(args.repeat):
                for name, write in writers.items():
                    rates.setdefault((sink, name), []).append(counts[name] / _seconds(write))
            for name in cases:
                rate = statistics.median(rates[(sink, name)])
                print(f"{sink:5s}  {name:11s}  {counts[name]:>11,d} rows  {counts[name] / rate:7.2f} s (median)  "
                      f"{rate / 1e6:6.2f} M rows/s", flush=True)

    def ratio(sink: str, x: str, y: str) -> float:  # median of the rounds' ratios
        return statistics.median(p / q for p, q in zip(rates[(sink, x)], rates[(sink, y)], strict=True))

    print()
    print("| sink | a library (M rows/s) | a0 clean | b baseline | c seed | t telemetry | a/b | a0/b | a/c | t/a |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for sink in sinks:
        a, a0, b = (statistics.median(rates[(sink, k)]) for k in ("a library", "a0 clean", "b baseline"))
        seed = (sink, "c seed") in rates
        c_txt = f"{statistics.median(rates[(sink, 'c seed')]) / 1e6:.2f}" if seed else "-"
        ac = f"{ratio(sink, 'a library', 'c seed'):.1f}" if seed else "-"
        t = statistics.median(rates[(sink, "t telemetry")])
        print(f"| {sink} | {a / 1e6:.2f} | {a0 / 1e6:.2f} | {b / 1e6:.2f} | {c_txt} | {t / 1e6:.2f} "
              f"| {ratio(sink, 'a library', 'b baseline'):.2f} | {ratio(sink, 'a0 clean', 'b baseline'):.2f} | {ac} "
              f"| {ratio(sink, 't telemetry', 'a library'):.2f} |")


if __name__ == "__main__":
    main()
