"""``dbx-iot-gen``: the command line. Bad input ends with one clear message and exit code 2,
before Spark starts or anything is written."""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbx_iot_gen.config import SCALES, IoTConfig
from dbx_iot_gen.errors import DbxIotGenError, InvalidConfigError
from dbx_iot_gen.output import CatalogTarget, OutputLayout
from dbx_iot_gen.schemas import TABLES, describe
from dbx_iot_gen.spark import on_databricks

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from dbx_iot_gen.kafka import KafkaSink
    from dbx_iot_gen.questdb import QuestDBSink
    from dbx_iot_gen.timestream import TimestreamSink

__all__ = ["main"]

PROG = "dbx-iot-gen"
FIRST_BATCH_SECONDS = 600.0  # how long a stream waits past --duration for its first micro-batch
PIPELINES = ("temperature-windows", "plant-windows", "message-log")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Synthetic, labeled, reproducible IoT datasets on Spark and Databricks."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="generate the demo dataset: landing JSON, Delta tables, manifest")
    demo.add_argument("--scale", choices=list(SCALES), default=None,
                      help="size preset (default: small, or the config file's scale)")
    demo.add_argument("--out", default="iot_demo", help="output folder (default: ./iot_demo)")
    demo.add_argument("--seed", type=_positive_int, default=None, help="seed (default: 42)")
    demo.add_argument("--partitions", type=_positive_int, default=None,
                      help="partitions of the large tables (default: from the row count)")
    demo.add_argument("--config", metavar="FILE", default=None, help="JSON file of config fields")
    demo.add_argument("--clean", action="store_true",
                      help="no data-quality problems (nulls, duplicates, out-of-range, late arrival)")
    demo.add_argument("--catalog", default=None, help="write the tables to CATALOG.SCHEMA.<table> (with --schema)")
    demo.add_argument("--schema", default=None, help="the schema of the tables (created when missing)")
    demo.add_argument("--volume", default=None,
                      help="Unity Catalog volume for the landing JSON and manifest: /Volumes/CATALOG/SCHEMA/VOLUME/OUT")
    feed = sub.add_parser("stream", help="write a live feed (sensor_readings, plant_sensors, environment_readings)")
    feed.add_argument("--table", default="sensor_readings", help="sensor_readings, plant_sensors or "
                                                                "environment_readings (default: sensor_readings)")
    feed.add_argument("--mode", default="historical",
                      help="historical (event time from the config's start) or realtime (now)")
    feed.add_argument("--rows-per-second", type=_positive_int, default=None, help="rows a second (default: 1000)")
    feed.add_argument("--speedup", type=_positive_float, default=None,
                      help="instead of --rows-per-second: event time runs this many times as fast as the clock")
    feed.add_argument("--duration", type=_positive_float, default=60.0,
                      help="seconds to run, then stop once a micro-batch has finished (default: 60); "
                      "run again to go on")
    feed.add_argument("--out", default="iot_stream",
                      help="output folder: the table and the checkpoint (a Kafka feed: the checkpoint) "
                      "(default: ./iot_stream)")
    feed.add_argument("--sink", "--format", dest="sink", default="delta",
                      help="delta (a Delta table), json (a landing folder), kafka (a topic: with "
                      "--bootstrap-servers and --topic), questdb (a table: with --questdb) or timestream "
                      "(environment_readings: with --database and --timestream-table) (default: delta)")
    _kafka_arguments(feed)
    _questdb_arguments(feed)
    _timestream_arguments(feed)
    feed.add_argument("--scale", choices=list(SCALES), default=None, help="size preset (default: small)")
    feed.add_argument("--seed", type=_positive_int, default=None, help="seed (default: 42)")
    feed.add_argument("--config", metavar="FILE", default=None, help="JSON file of config fields")
    publish = sub.add_parser("publish", help="write a demo output's table to a Kafka topic (a record per row) "
                             "or a QuestDB table")
    publish.add_argument("--table", default="sensor_readings", help="Kafka: sensor_readings, plant_sensors or "
                         "environment_readings; QuestDB: also telemetry and events (default: sensor_readings)")
    publish.add_argument("--out", default="iot_demo", help="the demo output folder (default: ./iot_demo)")
    publish.add_argument("--sink", default="kafka", help="kafka (with --bootstrap-servers and --topic), "
                         "questdb (with --questdb) or timestream (with --database and --timestream-table) "
                         "(default: kafka)")
    _kafka_arguments(publish)
    _questdb_arguments(publish)
    _timestream_arguments(publish)
    pipe = sub.add_parser("pipeline", help="run a seed's reference consumer of a Kafka feed (dbx_iot_gen.pipelines)")
    pipe.add_argument("name", choices=PIPELINES, help="temperature-windows (seed 002: 15-minute windows into "
                      "PostgreSQL), plant-windows (seed 003: 10-second windows into Delta or a topic), "
                      "message-log (seed 002's log consumer: every message into Delta)")
    _kafka_arguments(pipe)
    pipe.add_argument("--out", default="iot_pipeline",
                      help="folder of the checkpoint and the Delta output (default: ./iot_pipeline)")
    pipe.add_argument("--postgres-url", default=None, metavar="URL",
                      help="temperature-windows: postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE")
    pipe.add_argument("--postgres-table", default="temperature_15_minutes",
                      help="temperature-windows: the table (default: temperature_15_minutes)")
    pipe.add_argument("--output-topic", default=None, help="plant-windows: write the windows to this topic, not Delta")
    pipe.add_argument("--duration", type=_positive_float, default=None,
                      help="seconds to run, then stop (default: process what the topic holds, then stop)")
    queries = sub.add_parser("queries", help="run the demo and gold queries on a demo output")
    queries.add_argument("--out", default="iot_demo", help="the demo output folder (default: ./iot_demo)")
    page = sub.add_parser("report", help="write one HTML page that shows a demo output at a glance")
    page.add_argument("--demo", default="iot_demo", help="the demo output folder (default: ./iot_demo)")
    page.add_argument("--out", default=None, help="the HTML file to write (default: DEMO/report.html)")
    page.add_argument("--devices", type=_positive_int, default=3,
                      help="devices per metric in the week of readings, 1-10 (default: 3)")
    for command in (demo, feed, publish, pipe, queries, page):
        command.add_argument("--verbose", action="store_true",
                             help="show Spark's own output (else a local Spark's goes to a log file)")
    sub.add_parser("tables", help="list the tables and their columns")
    return parser


def _kafka_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--bootstrap-servers", default=None, metavar="HOST:PORT",
                         help="Kafka brokers, HOST:PORT[,HOST:PORT...] (with --sink kafka)")
    command.add_argument("--topic", default=None, help="the Kafka topic (with --sink kafka)")


def _questdb_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--questdb", default=None, metavar="HOST:PORT",
                         help="QuestDB's HTTP address, e.g. 127.0.0.1:9000 (with --sink questdb)")
    command.add_argument("--questdb-table", default=None,
                         help="the QuestDB table (default: the table's name; created when missing)")
    command.add_argument("--questdb-user", default=None,
                         help="HTTP basic authentication user; the password comes from $QUESTDB_PASSWORD")


def _timestream_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--database", default=None, help="the Timestream database (with --sink timestream)")
    command.add_argument("--timestream-table", default=None, help="the Timestream table (with --sink timestream)")
    command.add_argument("--endpoint-url", default=None, metavar="URL",
                         help="Timestream's write endpoint, e.g. an emulator's http://127.0.0.1:5000 "
                         "(default: AWS's, by endpoint discovery)")
    command.add_argument("--region", default=None, help="the AWS region (default: the SDK's configuration)")
    command.add_argument("--layout", default=None,
                         help="multi (a multi-measure record 'ruuvi' per row) or long (a record per measure: "
                         "the seed's environment_long) (default: multi)")


def kafka_sink(args: argparse.Namespace) -> KafkaSink | None:
    """The Kafka sink a command line names, if any (``pipeline`` reads from one)."""
    sink = sink_from_args(args)
    return sink if sink is None or sink.kind == "kafka" else None  # type: ignore[return-value]


def sink_from_args(args: argparse.Namespace,
                   accepted: Sequence[str] = ("delta", "json", "kafka", "questdb", "timestream"),
                   ) -> KafkaSink | QuestDBSink | TimestreamSink | None:
    """The sink a ``stream``, ``publish`` or ``pipeline`` command line names (None: a folder)."""
    import os

    from dbx_iot_gen.kafka import KafkaSink
    from dbx_iot_gen.questdb import QuestDBSink
    from dbx_iot_gen.timestream import TimestreamSink

    sink = getattr(args, "sink", "kafka")
    if sink not in accepted:
        raise InvalidConfigError("--sink", f"must be one of {', '.join(accepted)}, got {sink!r}")
    flags = {"kafka": (("--bootstrap-servers", args.bootstrap_servers), ("--topic", args.topic)),
             "questdb": (("--questdb", getattr(args, "questdb", None)),
                         ("--questdb-table", getattr(args, "questdb_table", None)),
                         ("--questdb-user", getattr(args, "questdb_user", None))),
             "timestream": tuple((f"--{name.replace('_', '-')}", getattr(args, name, None)) for name in
                                 ("database", "timestream_table", "endpoint_url", "region", "layout"))}
    names = {"kafka": "Kafka", "questdb": "QuestDB", "timestream": "Timestream"}
    for kind, given in flags.items():
        named = [flag for flag, value in given if value]
        if named and sink != kind:
            raise InvalidConfigError(named[0], f"is for a {names[kind]} sink: add --sink {kind}")
    if sink == "kafka":
        for flag, value in flags["kafka"]:
            if not value:
                raise InvalidConfigError(flag, "a Kafka feed needs --bootstrap-servers HOST:PORT and --topic NAME")
        return KafkaSink(args.bootstrap_servers, args.topic)
    if sink == "questdb":
        if not args.questdb:
            raise InvalidConfigError("--questdb", "a QuestDB sink needs --questdb HOST:PORT (its HTTP port, 9000)")
        password = os.environ.get("QUESTDB_PASSWORD") if args.questdb_user else None
        if args.questdb_user and password is None:
            raise InvalidConfigError("--questdb-user", "needs the password in $QUESTDB_PASSWORD")
        return QuestDBSink(args.questdb, args.questdb_table, args.questdb_user, password)
    if sink == "timestream":
        for flag, value in flags["timestream"][:2]:
            if not value:
                raise InvalidConfigError(flag, "a Timestream sink needs --database NAME and --timestream-table NAME")
        return TimestreamSink(args.database, args.timestream_table, args.endpoint_url, args.region,
                              args.layout or "multi")
    return None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def config_from_args(args: argparse.Namespace) -> IoTConfig:
    """The config a command line asks for: the preset of ``--scale`` (else the file's ``scale``,
    else small), then only the fields the ``--config`` file names, then the flags."""
    values: dict[str, Any] = IoTConfig.file_fields(args.config) if args.config else {}
    scale = args.scale or values.get("scale", "small")
    values.pop("scale", None)
    if args.seed is not None:
        values["seed"] = args.seed
    if getattr(args, "partitions", None) is not None:
        values["partitions"] = args.partitions
    if getattr(args, "clean", False):
        values["quality"] = {**values.get("quality", {}), "clean": True}
    return IoTConfig.preset(scale, **values)


# the library's errors name its parameters; this command line's flags for them
FLAGS = {"out_dir": "--out", "table": "--table", "mode": "--mode", "rows_per_second": "--rows-per-second",
         "fmt": "--sink", "bootstrap_servers": "--bootstrap-servers", "topic": "--topic", "speedup": "--speedup",
         "catalog": "--catalog", "schema": "--schema", "volume": "--volume", "postgres_url": "--postgres-url",
         "postgres_table": "--postgres-table", "questdb": "--questdb", "questdb_table": "--questdb-table",
         "questdb_user": "--questdb-user", "questdb_password": "$QUESTDB_PASSWORD", "database": "--database",
         "timestream_table": "--timestream-table", "endpoint_url": "--endpoint-url", "layout": "--layout",
         "region": "--region", "demo_dir": "--demo", "out": "--out", "devices": "--devices"}


def error_message(exc: DbxIotGenError) -> str:
    """The error as this command line says it: a parameter's name becomes its flag.

    Example:
        >>> error_message(InvalidConfigError("rows_per_second", "must be at least 1"))
        '--rows-per-second: must be at least 1'
    """
    if exc.field in FLAGS:
        return f"{FLAGS[exc.field]}: {exc.message}"
    return str(exc)


def catalog_target(args: argparse.Namespace) -> CatalogTarget | None:
    """The catalog a ``demo`` command line writes its tables to, if any."""
    if args.catalog is None and args.schema is None and args.volume is None:
        return None
    if args.catalog is None or args.schema is None:
        missing = "--catalog" if args.catalog is None else "--schema"
        raise InvalidConfigError(missing, "give --catalog and --schema together (and --volume for the landing JSON)")
    return CatalogTarget(args.catalog, args.schema, args.volume)


def _need_spark() -> None:
    """Stop with one message where the Spark packages are not installed (the config commands run
    without them)."""
    import importlib.util

    missing = [m for m in ("pyspark", "dbldatagen", "delta") if importlib.util.find_spec(m) is None]
    if missing and not on_databricks():
        raise DbxIotGenError(f"this command runs Spark, and {', '.join(missing)} is not installed: "
                             "pip install 'dbx-iot-gen[local]' (pyspark, delta-spark, dbldatagen)")


def _spark(args: argparse.Namespace, *, kafka: bool = False, packages: Sequence[str] = ()) -> SparkSession:
    """The session; a local Spark started here writes its own output to a log file, not the console,
    unless ``--verbose``. With ``kafka``, a new local session has Spark's Kafka connector; with
    ``packages``, those too."""
    import pyspark

    from dbx_iot_gen.kafka import kafka_package
    from dbx_iot_gen.spark import get_spark, spark_log_path

    extra = [*([kafka_package(pyspark.__version__)] if kafka else []), *packages]
    return get_spark(log=None if args.verbose else spark_log_path(), packages=extra)


def _spark_failure(exc: BaseException) -> str | None:
    """One clear message for an error raised by Spark (pyspark, py4j), or None for any other."""
    if not type(exc).__module__.startswith(("pyspark", "py4j")):
        return None
    from dbx_iot_gen.spark import spark_log_path

    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    log = spark_log_path()
    where = f"; Spark's own output is in {log}" if log.is_file() else ""
    return f"Spark failed: {first[:500]}{where}"


def _demo(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    target = catalog_target(args)
    out = args.out
    if target is not None and target.landing_root and not Path(out).is_absolute():
        out = f"{target.landing_root}/{out}"
    if target is None or not target.volume or not on_databricks():
        OutputLayout.local(out).check_usable()  # a volume's folder exists once the volume does
    _need_spark()
    started = time.perf_counter()
    from dbx_iot_gen.demo import generate_iot_demo

    where = f"tables in {target.catalog}.{target.schema}, files in {out}" if target else f"writing to {out}"
    print(f"{PROG} demo: scale {config.scale}, seed {config.seed}, {where}", flush=True)
    spark = _spark(args)
    if target is not None and target.volume and on_databricks():  # pragma: no cover - needs a workspace
        target.create(spark, volume=True)
    result = generate_iot_demo(spark, config, out, target=target, progress=lambda line: print(line, flush=True))
    manifest = OutputLayout.local(out).manifest_path
    total = sum(t["rows"] for t in result.manifest["tables"].values())
    print(f"done: {total:,} rows in {time.perf_counter() - started:.1f} s (Spark start included); manifest {manifest}")
    return 0


def _stream(args: argparse.Namespace) -> int:
    _need_spark()
    from dbx_iot_gen.stream import (
        STREAM_TABLES,
        StreamLayout,
        check_stream_args,
        rows_per_second_for_speedup,
        stream_identity,
    )

    config = config_from_args(args)
    if args.speedup is not None:
        if args.rows_per_second is not None:
            raise InvalidConfigError("--speedup", "give --speedup or --rows-per-second, not both")
        if args.table in STREAM_TABLES:
            args.rows_per_second = rows_per_second_for_speedup(config, args.table, args.speedup)
    elif args.rows_per_second is None:
        args.rows_per_second = 1000
    sink = sink_from_args(args)
    fmt = "delta" if sink else args.sink
    check_stream_args(args.table, args.mode, args.rows_per_second, fmt)
    layout = StreamLayout(args.out)
    layout.check(stream_identity(config, args.table, args.mode, args.rows_per_second, fmt, sink))
    if sink is not None:
        sink.prepare(args.table, config.start if args.mode == "historical" else None)
    from dbx_iot_gen.stream import start_stream

    where = (f"{_sink_name(sink, args.table)}, checkpoint in {layout.checkpoint}" if sink
             else f"to {layout.data_path(args.table)} ({fmt})")
    print(f"{PROG} stream: {args.table}, {args.mode}, {args.rows_per_second:,} rows/s for {args.duration:g} s, "
          f"{where}", flush=True)
    spark = _spark(args, kafka=sink is not None and sink.kind == "kafka")
    rejected_dir = layout.root / "_rejected"
    before = {p: p.stat().st_mtime_ns for p in rejected_dir.glob("batch-*.json")}  # an earlier run's
    query = start_stream(spark, config, args.table, args.out, mode=args.mode, rows_per_second=args.rows_per_second,
                         fmt=fmt, sink=sink)
    try:
        query.awaitTermination(args.duration)
        _await_first_batch(query)
    finally:
        query.stop()
    rows = [_input_rows(p) for p in query.recentProgress]
    progress = [n for n in rows if n]
    ids = sum(progress)
    print(f"stopped: {len(progress)} micro-batches, {ids:,} ids; run the same command again to go on")
    rejected = [p for p in sorted(rejected_dir.glob("batch-*.json")) if before.get(p) != p.stat().st_mtime_ns]
    if rejected:  # this run's
        rows = sum(len(p.read_text().splitlines()) for p in rejected)
        print(f"rejected: {rows:,} rows, with their reasons in {rejected_dir}")
    return 0


def _await_first_batch(query: Any, limit: float = FIRST_BATCH_SECONDS) -> None:
    """Wait (at most ``limit`` seconds) until the query has finished a micro-batch.

    A short ``--duration`` on a busy machine can end while the first micro-batch (the one that
    compiles the plan) still runs; stopping then would throw that work away and write nothing.
    """
    deadline = time.monotonic() + limit
    while query.isActive and query.lastProgress is None and time.monotonic() < deadline:
        query.awaitTermination(1)


def _input_rows(progress: object) -> int:
    """A micro-batch's input rows: classic sessions report progress as dicts, Connect as objects."""
    rows = getattr(progress, "numInputRows", None)
    if rows is None and isinstance(progress, dict):
        rows = progress.get("numInputRows")
    return int(rows or 0)


def _sink_name(sink: KafkaSink | QuestDBSink | TimestreamSink, table: str) -> str:
    if sink.kind == "kafka":
        return f"to Kafka topic {sink.topic} at {sink.bootstrap_servers}"
    if sink.kind == "timestream":
        return f"to Timestream table {sink.database}.{sink.table} at {sink.endpoint_url or 'AWS'}"
    return f"to QuestDB table {sink.table_for(table)} at {sink.address}"


def _publish(args: argparse.Namespace) -> int:
    from dbx_iot_gen import kafka, questdb, timestream
    from dbx_iot_gen.queries import demo_output

    sink = sink_from_args(args, accepted=("kafka", "questdb", "timestream"))
    try:
        sink.check_table(args.table)
    except InvalidConfigError as e:
        raise InvalidConfigError("--table", e.message) from None
    layout = demo_output(args.out)  # before Spark starts: a wrong folder or server fails at once
    _need_spark()
    sink.prepare(args.table)
    started = time.perf_counter()
    print(f"{PROG} publish: {args.table} of {layout.root} {_sink_name(sink, args.table)}", flush=True)
    spark = _spark(args, kafka=sink.kind == "kafka")
    rows = spark.read.format("delta").load(layout.delta_path(args.table))
    if sink.kind == "timestream":
        result = timestream.publish(rows, args.table, sink)
        print(f"done: {result.written:,} records in {result.calls:,} calls in {time.perf_counter() - started:.1f} s "
              "(Spark start included)")
        if result.rejected:
            reasons = collections.Counter(r.reason for r in result.rejected)
            for reason, n in reasons.most_common():
                print(f"rejected: {n:,} rows: {reason}")
            return 1
        return 0
    count = (kafka if sink.kind == "kafka" else questdb).publish(rows, args.table, sink)
    what = "records" if sink.kind == "kafka" else "rows"
    print(f"done: {count:,} {what} in {time.perf_counter() - started:.1f} s (Spark start included)")
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    import importlib.util

    from dbx_iot_gen.kafka import KafkaSink

    source = kafka_sink(args)
    postgres = args.name == "temperature-windows"
    for flag, value, applies in (("--postgres-url", args.postgres_url, postgres),
                                 ("--output-topic", args.output_topic, args.name == "plant-windows")):
        if value and not applies:
            raise InvalidConfigError(flag, f"does not apply to {args.name}")
    if postgres and not args.postgres_url:
        raise InvalidConfigError("--postgres-url", "temperature-windows writes to PostgreSQL: give "
                                                   "--postgres-url postgresql://USER@HOST:PORT/DATABASE")
    try:
        output = KafkaSink(args.bootstrap_servers, args.output_topic) if args.output_topic else None
    except InvalidConfigError as e:
        raise InvalidConfigError("--output-topic", e.message) from None
    _need_spark()
    if postgres and importlib.util.find_spec("psycopg") is None:
        raise DbxIotGenError("temperature-windows upserts with psycopg, which is not installed: "
                             "pip install 'dbx-iot-gen[postgres]'")
    from dbx_iot_gen import pipelines

    target = pipelines.PostgresTarget(args.postgres_url, args.postgres_table) if postgres else None
    if target is not None:
        target.execute("SELECT 1")  # before Spark starts: a wrong address fails at once
    print(f"{PROG} pipeline {args.name}: topic {source.topic} at {source.bootstrap_servers}", flush=True)
    spark = _spark(args, kafka=True, packages=[pipelines.POSTGRES_JDBC] if target else [])
    once = args.duration is None
    out = Path(args.out).expanduser().absolute()
    if target is not None:
        query = pipelines.start_temperature_windows(spark, source, target, args.out, available_now=once)
        where = f"PostgreSQL table {target.table}"
    elif args.name == "plant-windows":
        query = pipelines.start_plant_windows(spark, source, args.out, output=output, available_now=once)
        where = f"topic {output.topic}" if output else f"{out / 'plant_windows'}"
    else:
        query = pipelines.start_message_log(spark, source, args.out, available_now=once)
        where = f"{out / 'messages'}"
    try:
        query.awaitTermination(args.duration)
    finally:
        query.stop()
    if query.exception() is not None:
        raise query.exception()
    progress = query.recentProgress
    read = f"{sum(_input_rows(p) for p in progress):,} records read" if len(progress) < 100 else "done"
    print(f"stopped: {read}, written to {where}; run again to go on from the checkpoint")
    return 0


def _queries(args: argparse.Namespace) -> int:
    from dbx_iot_gen.queries import QUERIES, demo_output, query, register_demo_tables

    demo_output(args.out)  # before Spark starts: a wrong folder fails at once
    _need_spark()

    spark = _spark(args)
    register_demo_tables(spark, args.out)
    for name in QUERIES:
        started = time.perf_counter()
        rows = query(spark, name).count()
        print(f"{name:<26} {rows:>10,} rows  {time.perf_counter() - started:6.1f} s", flush=True)
    return 0


def _report(args: argparse.Namespace) -> int:
    from dbx_iot_gen import reporting

    # before Spark starts: a wrong folder, file or number fails at once
    reporting.check_arguments(args.demo, args.out, args.devices)
    _need_spark()
    started = time.perf_counter()
    print(f"{PROG} report: {Path(args.demo).expanduser()}", flush=True)
    spark = _spark(args)
    path = reporting.report(spark, args.demo, args.out, devices=args.devices)
    print(f"done: {path} in {time.perf_counter() - started:.1f} s (Spark start included)")
    return 0


def _tables() -> int:
    for name in TABLES:
        print(describe(name))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failure, 2 bad input).

    Example:
        >>> main(["demo", "--scale", "huge"])  # the message goes to stderr
        2
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed its message
        return int(exc.code or 0)
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "stream":
            return _stream(args)
        if args.command == "publish":
            return _publish(args)
        if args.command == "pipeline":
            return _pipeline(args)
        if args.command == "queries":
            return _queries(args)
        if args.command == "report":
            return _report(args)
        return _tables()
    except DbxIotGenError as exc:
        print(f"{PROG}: error: {error_message(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if (message := _spark_failure(exc)) is None:
            raise
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1


def entry_point() -> None:  # pragma: no cover - console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry_point()
