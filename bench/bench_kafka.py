"""Benchmark: rows a second into a real Kafka broker, the library's feed against Spark's own Kafka sink.

In one process, with a one-node Kafka broker (KRaft) started on loopback (tests/servers.py, the
jars of servers/install.sh), for N rows (default 1 million) it times batch writes to a new topic of
  (a) the library's ``sensor_readings`` as Kafka records (:func:`dbx_iot_gen.kafka.kafka_records`:
      key, landing-format JSON value, headers), what ``publish`` and a Kafka feed write,
  (b) the same schema as plain hash expressions on ``spark.range`` (bench_readings.py's baseline),
      as JSON values keyed by device: Spark's Kafka sink with rows of the same shape,
  (b0) ``spark.range`` alone: key and value the id as text (the sink's own ceiling),
each ``--warmup`` times untimed, then ``--repeat`` interleaved rounds, and prints rows per second
and MB a second of values (medians) and a/b, a/b0 (medians of each round's ratio).

    python bench/bench_kafka.py --rows 1000000 --repeat 3

Not a test: numbers on shared 2-core machines are noisy (the broker shares the cores with Spark);
quote medians and ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyspark

from bench.bench_readings import baseline_readings, library_readings
from dbx_iot_gen.kafka import KafkaSink, kafka_package, kafka_records
from dbx_iot_gen.spark import get_spark
from tests.servers import LocalKafka


def cases(spark: SparkSession, rows: int, partitions: int) -> dict[str, DataFrame]:
    base = baseline_readings(spark, rows, partitions)
    return {
        "a library": kafka_records(library_readings(spark, rows, partitions), "sensor_readings"),
        "b baseline": base.selectExpr("cast(device_id as string) AS key", "to_json(struct(*)) AS value"),
        "b0 range": spark.range(0, rows, 1, partitions).selectExpr("cast(id as string) AS key",
                                                                    "cast(id as string) AS value"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=2)
    args = parser.parse_args(argv)
    spark = get_spark("bench-kafka", packages=[kafka_package(pyspark.__version__)])
    with LocalKafka() as kafka:
        dfs = cases(spark, args.rows, args.partitions)
        counts = {n: df.count() for n, df in dfs.items()}
        value_bytes = {n: df.selectExpr("avg(length(value))").first()[0] for n, df in dfs.items()}

        def write(df: DataFrame) -> float:
            sink = KafkaSink(kafka.bootstrap, f"bench_{uuid.uuid4().hex[:8]}", {"linger.ms": "5"})
            started = time.perf_counter()
            df.write.format("kafka").options(**sink.writer_options()).save()
            return time.perf_counter() - started

        for _ in range(args.warmup):
            for df in dfs.values():
                write(df)
        rounds: list[dict[str, float]] = []
        for _ in range(args.repeat):
            rounds.append({n: counts[n] / write(df) for n, df in dfs.items()})
    print(f"pyspark {pyspark.__version__}, {args.rows:,} rows asked, {args.partitions} partitions, "
          f"{args.repeat} rounds after {args.warmup} warm-up")
    print("| case | rows | value bytes | rows/s (median) | MB/s of values |")
    print("|---|---|---|---|---|")
    for n in dfs:
        rate = statistics.median(r[n] for r in rounds)
        print(f"| {n} | {counts[n]:,} | {value_bytes[n]:.0f} | {rate:,.0f} | {rate * value_bytes[n] / 1e6:.1f} |")
    for x, y in (("a library", "b baseline"), ("a library", "b0 range")):
        ratio = statistics.median(r[x] / r[y] for r in rounds)
        print(f"{x.split()[0]}/{y.split()[0]}: {ratio:.2f}")


if __name__ == "__main__":
    main()
