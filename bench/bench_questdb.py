"""Benchmark: rows a second into a real QuestDB, the library's sink against the plain client.

In one process, with QuestDB started on loopback (tests/servers.py, the jar of
servers/install.sh), for N plant-sensor rows (default 500,000, stored first as a Delta table) it
times, into a new table each time, until QuestDB has applied the rows (WAL):
  (a) the library: ``dbx_iot_gen.questdb.publish`` of the Delta table (Spark reads it, converts it
      to pandas, the official client sends it in requests of ``CHUNK_ROWS``),
  (b) the plain client: the same rows, already in a pandas frame in memory, sent by
      ``Sender.dataframe`` in requests of the same size (the client's and server's own ceiling),
each ``--warmup`` times untimed, then ``--repeat`` interleaved rounds, and prints rows a second
(medians) and a/b (the median of each round's ratio).

    python bench/bench_questdb.py --rows 500000 --repeat 3

Not a test: numbers on shared 2-core machines are noisy (the server shares the cores with Spark);
quote medians and ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyspark
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.questdb import CHUNK_ROWS, SYMBOLS, QuestDBSink, publish, questdb_frame, wait_visible
from dbx_iot_gen.spark import get_spark
from dbx_iot_gen.stream import STREAM_TABLES
from tests.servers import LocalQuestDB


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args(argv)
    from questdb import Sender

    table = "plant_sensors"
    spark = get_spark("bench-questdb")
    folder = Path(tempfile.mkdtemp(prefix="bench_questdb_"))
    spec = STREAM_TABLES[table](spark, IoTConfig.preset("small")).withIdOutput()
    spec.build().where(F.col("id") < args.rows).drop("id").write.format("delta").save(str(folder / table))
    stored = spark.read.format("delta").load(str(folder / table))
    rows = stored.count()
    frame = questdb_frame(stored, table)
    with LocalQuestDB() as server:

        def library() -> float:
            sink = QuestDBSink(server.address, f"a_{uuid.uuid4().hex[:8]}")
            started = time.perf_counter()
            publish(stored, table, sink)
            wait_visible(sink, table, timeout=600)
            return time.perf_counter() - started

        def plain() -> float:
            sink = QuestDBSink(server.address, f"b_{uuid.uuid4().hex[:8]}")
            sink.prepare(table)  # the same table: designated timestamp, symbols, deduplication
            started = time.perf_counter()
            with Sender.from_conf(sink.conf()) as sender:
                for start in range(0, len(frame), CHUNK_ROWS):
                    sender.dataframe(frame.iloc[start:start + CHUNK_ROWS], table_name=sink.table,
                                     symbols=list(SYMBOLS[table]), at="timestamp")
                    sender.flush()
            wait_visible(sink, table, timeout=600)
            return time.perf_counter() - started

        cases = {"a library publish": library, "b plain client": plain}
        for _ in range(args.warmup):
            for run in cases.values():
                run()
        rounds = [{name: rows / run() for name, run in cases.items()} for _ in range(args.repeat)]
    print(f"pyspark {pyspark.__version__}, {rows:,} plant_sensors rows, {args.repeat} rounds after "
          f"{args.warmup} warm-up, requests of {CHUNK_ROWS:,} rows")
    print("| case | rows/s (median) |")
    print("|---|---|")
    for name in cases:
        print(f"| {name} | {statistics.median(r[name] for r in rounds):,.0f} |")
    ratio = statistics.median(r["a library publish"] / r["b plain client"] for r in rounds)
    print(f"a/b: {ratio:.2f}")


if __name__ == "__main__":
    main()
