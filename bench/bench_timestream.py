"""Benchmark: records a second into Timestream's write API (moto's server on loopback), the
library against the plain client.

In one process, for N Ruuvi rows (default 20,000, stored first as a Delta table, their times moved
to the last hour so that any table takes them) it times, into a new table each time:
  (a) the library: ``dbx_iot_gen.timestream.publish`` of the Delta table (Spark reads it, converts
      it to pandas, the rows become checked records, sent in calls of 100),
  (b) the plain client: the same records, built beforehand, sent by boto3's ``write_records`` in
      calls of 100 (the API's and the emulator's own ceiling),
each ``--warmup`` times untimed, then ``--repeat`` interleaved rounds, and prints records a second
(medians) and a/b (the median of each round's ratio).

    python bench/bench_timestream.py --rows 20000 --repeat 3

Not a test: moto is not Timestream (its speed is the emulator's), and numbers on shared 2-core
machines are noisy; quote medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import pyspark
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.spark import get_spark
from dbx_iot_gen.stream import STREAM_TABLES
from dbx_iot_gen.timestream import MAX_RECORDS, TimestreamSink, publish, records, timestream_frame
from tests.servers import LocalMoto

REGION = "us-east-1"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args(argv)
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)
    table = "environment_readings"
    spark = get_spark("bench-timestream")
    folder = Path(tempfile.mkdtemp(prefix="bench_timestream_"))
    rows = STREAM_TABLES[table](spark, IoTConfig.preset("small")).withIdOutput().build().where(F.col("id") < args.rows)
    # the times of the last hour, one millisecond apart (the table's memory store takes them)
    now_ms = int(time.time() * 1000) - 3_600_000
    rows = rows.withColumn("timestamp", F.timestamp_millis(F.lit(now_ms) + F.col("id"))).drop("id")
    rows.write.format("delta").save(str(folder / table))
    stored = spark.read.format("delta").load(str(folder / table))
    count = stored.count()
    common = {"MeasureName": "ruuvi", "MeasureValueType": "MULTI", "TimeUnit": "MILLISECONDS"}
    prebuilt = [{k: v for k, v in record.items() if k not in common} for _, record in records(timestream_frame(stored))]
    with LocalMoto() as aws:
        client = boto3.client("timestream-write", endpoint_url=aws.endpoint_url, region_name=REGION)
        client.create_database(DatabaseName="bench")

        def new_table() -> str:
            name = f"t_{uuid.uuid4().hex[:8]}"
            client.create_table(DatabaseName="bench", TableName=name,
                                MagneticStoreWriteProperties={"EnableMagneticStoreWrites": True})
            return name

        def library() -> float:
            sink = TimestreamSink("bench", new_table(), endpoint_url=aws.endpoint_url, region=REGION)
            started = time.perf_counter()
            result = publish(stored, table, sink)
            assert result.written == len(prebuilt) and not result.rejected
            return time.perf_counter() - started

        def plain() -> float:
            name = new_table()
            started = time.perf_counter()
            for start in range(0, len(prebuilt), MAX_RECORDS):
                client.write_records(DatabaseName="bench", TableName=name, CommonAttributes=common,
                                     Records=prebuilt[start:start + MAX_RECORDS])
            return time.perf_counter() - started

        cases = {"a library publish": library, "b plain client": plain}
        for _ in range(args.warmup):
            for run in cases.values():
                run()
        rounds = [{name: len(prebuilt) / run() for name, run in cases.items()} for _ in range(args.repeat)]
    print(f"pyspark {pyspark.__version__}, {count:,} environment_readings rows ({len(prebuilt):,} records), "
          f"{args.repeat} rounds after {args.warmup} warm-up, moto's server")
    print("| case | records/s (median) |")
    print("|---|---|")
    for name in cases:
        print(f"| {name} | {statistics.median(r[name] for r in rounds):,.0f} |")
    print(f"a/b: {statistics.median(r['a library publish'] / r['b plain client'] for r in rounds):.2f}")


if __name__ == "__main__":
    main()
