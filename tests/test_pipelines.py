"""The seeds' reference pipelines on real servers (started here on loopback): a readings topic into
15-minute windows upserted into PostgreSQL (seed 002) and plant events into 10-second windows
(seed 003), each equal to its gold query on the same rows; a replayed micro-batch adds nothing."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from dbx_iot_gen.cli import main
from dbx_iot_gen.errors import OutputError
from dbx_iot_gen.kafka import KafkaSink, publish
from dbx_iot_gen.pipelines import PostgresTarget, start_message_log, start_plant_windows, start_temperature_windows
from tests.servers import LocalKafka, LocalPostgres, committed_batches, consume, free_port

# the gold queries, written out here (not read from the package): seed 002's and seed 003's
TEMPERATURE_15_MINUTES = """
    SELECT device_id AS sensor_id, window.start AS window_start, window.end AS window_end,
           CAST(AVG(metric_value) AS DECIMAL(5, 2)) AS avg_temperature,
           CAST(MIN(metric_value) AS DECIMAL(5, 2)) AS min_temperature,
           CAST(MAX(metric_value) AS DECIMAL(5, 2)) AS max_temperature
    FROM {rows} WHERE metric_name = 'temperature' AND metric_value BETWEEN -40 AND 60
    GROUP BY device_id, window(timestamp, '15 minutes')"""
PLANT_10_SECONDS = """
    SELECT address, window.end AS time, COUNT(*) AS count, MIN(value) AS min, MAX(value) AS max, AVG(value) AS mean
    FROM {rows} WHERE value IS NOT NULL GROUP BY address, window(timestamp, '10 seconds')"""


@pytest.fixture(scope="module")
def postgres():
    with LocalPostgres() as pg:
        yield pg


def _publish_in_time_order(demo, table: str, kafka: LocalKafka) -> str:
    """The demo's table on a new topic in event-time order (one writer), the order of a historical
    feed: the watermark then drops no reading of the feed's own time (late arrivals, by
    ``ingest_timestamp``, are a silver layer's concern)."""
    topic = f"{table}_{uuid.uuid4().hex[:8]}"
    rows = demo.delta(table).orderBy("timestamp", *(["reading_id"] if table == "sensor_readings" else ["address"]))
    publish(rows.coalesce(1), table, KafkaSink(kafka.bootstrap, topic))
    return topic


def _postgres_rows(spark, pg: LocalPostgres, table: str):
    with psycopg.connect(pg.dsn) as conn:
        rows = conn.execute(f"SELECT sensor_id, window_start, window_end, avg_temperature, min_temperature, "
                            f"max_temperature FROM {table}").fetchall()
    return spark.createDataFrame(rows, "sensor_id bigint, window_start timestamp, window_end timestamp, "
                                       "avg_temperature decimal(5,2), min_temperature decimal(5,2), "
                                       "max_temperature decimal(5,2)")


def test_seed_002_readings_into_15_minute_windows_in_postgres(spark, demo, kafka, postgres, tmp_path):
    topic = _publish_in_time_order(demo, "sensor_readings", kafka)
    target = PostgresTarget(f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres", "temperature_windows")
    source = KafkaSink(kafka.bootstrap, topic)
    out = tmp_path / "pipeline"
    query = start_temperature_windows(spark, source, target, str(out), available_now=True,
                                      max_records_per_batch=4000)
    query.awaitTermination(600)
    assert query.exception() is None, query.exception()
    assert len(committed_batches(out / "_checkpoint")) >= 3  # windows spanning micro-batches: upserted again

    # the gold query on the same rows, each reading once (its duplicate copy dropped)
    # (the rows as a DataFrame argument of the query: no temporary view left in the session)
    expected = spark.sql(TEMPERATURE_15_MINUTES, rows=demo.delta("sensor_readings").dropDuplicates(["reading_id"]))
    got = _postgres_rows(spark, postgres, "temperature_windows")
    # a reset clock's readings (1970) are 56 years behind the watermark: dropped as late after the
    # first micro-batch; every window of the feed's own time is exact
    since = F.col("window_start") >= F.lit("2000-01-01").cast("timestamp")
    assert got.where(since).count() > 500
    assert_df_equality(got.where(since), expected.where(since), ignore_row_order=True, ignore_nullable=True)

    # a replayed micro-batch (its commit lost) rewrites its windows, it adds nothing
    last = committed_batches(out / "_checkpoint")[-1]
    for lost in (str(last), f".{last}.crc"):  # the commit and its checksum file
        (out / "_checkpoint" / "commits" / lost).unlink(missing_ok=True)
    replay = start_temperature_windows(spark, source, target, str(out), available_now=True,
                                       max_records_per_batch=4000)
    replay.awaitTermination(600)
    assert replay.exception() is None, replay.exception()
    assert [p for p in replay.recentProgress if p["batchId"] == last], "no micro-batch was replayed"
    assert_df_equality(_postgres_rows(spark, postgres, "temperature_windows"), got, ignore_row_order=True)
    # the folder is this pipeline's: another one there would resume from these offsets
    with pytest.raises(OutputError, match="holds another feed"):
        start_message_log(spark, source, str(out))


def test_seed_002_log_consumer_stores_every_message(spark, demo, kafka, tmp_path):
    topic = _publish_in_time_order(demo, "plant_sensors", kafka)
    query = start_message_log(spark, KafkaSink(kafka.bootstrap, topic), str(tmp_path), available_now=True)
    query.awaitTermination(300)
    stored = spark.read.format("delta").load(str(tmp_path / "messages"))
    records = consume(kafka.bootstrap, topic)
    assert stored.count() == len(records) == demo.delta("plant_sensors").count()
    expected = spark.createDataFrame([(r["partition"], r["offset"], r["key"], r["value"]) for r in records],
                                     "partition int, offset long, key string, value string")
    assert_df_equality(stored.select("partition", "offset", "key", "value"), expected, ignore_row_order=True,
                       ignore_nullable=True)


def test_seed_003_plant_events_into_10_second_windows(spark, demo, kafka, tmp_path):
    topic = _publish_in_time_order(demo, "plant_sensors", kafka)
    source = KafkaSink(kafka.bootstrap, topic)
    query = start_plant_windows(spark, source, str(tmp_path / "delta"), available_now=True,
                                max_records_per_batch=3000)
    query.awaitTermination(600)
    assert query.exception() is None, query.exception()
    got = spark.read.format("delta").load(str(tmp_path / "delta" / "plant_windows"))

    last = demo.delta("plant_sensors").agg(F.max("timestamp")).first()[0]
    # append mode writes a window once it has closed: its end at or before the last watermark
    closed = F.col("time") <= F.lit(last) - F.expr("INTERVAL 10 SECONDS")
    expected = spark.sql(PLANT_10_SECONDS, rows=demo.delta("plant_sensors")).where(closed)
    assert expected.count() > 1000
    # count, min and max exact; the mean to 1e-9 (a window summed across micro-batches adds in
    # another order)
    assert_approx_df_equality(got.where(closed), expected, 1e-9, ignore_row_order=True, ignore_nullable=True)
    assert got.where(~closed).count() == 0

    # the same windows as JSON records on an output topic (as the seed's Quix service did)
    out = KafkaSink(kafka.bootstrap, f"{topic}_windows")
    start_plant_windows(spark, source, str(tmp_path / "kafka"), output=out, available_now=True,
                        max_records_per_batch=3000).awaitTermination(600)
    records = consume(kafka.bootstrap, out.topic)
    assert all(json.loads(r["value"])["address"] == r["key"] for r in records)
    values = spark.createDataFrame([(r["value"],) for r in records], "value string").select(F.from_json(
        "value", "address string, time timestamp, count bigint, min double, max double, mean double",
        {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"}).alias("w")).select("w.*")
    assert_approx_df_equality(values, got, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_an_unreachable_database_ends_at_once_with_nothing_written(spark, kafka, tmp_path):
    target = PostgresTarget(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    started = time.monotonic()
    with pytest.raises(OutputError, match="postgres_url: PostgreSQL refused: connection"):
        start_temperature_windows(spark, KafkaSink(kafka.bootstrap, "readings"), target, str(tmp_path / "p"))
    assert time.monotonic() - started < 15
    assert not Path(tmp_path / "p").exists()


def test_the_cli_runs_a_pipeline_over_what_the_topic_holds(spark, demo, kafka, tmp_path, capsys):
    topic = _publish_in_time_order(demo, "plant_sensors", kafka)
    code = main(["pipeline", "message-log", "--bootstrap-servers", kafka.bootstrap, "--topic", topic,
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    rows = demo.delta("plant_sensors").count()
    assert code == 0 and f"stopped: {rows:,} records read" in out, out
    assert spark.read.format("delta").load(str(tmp_path / "messages")).count() == rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["temperature-windows"], "--postgres-url: temperature-windows writes to PostgreSQL"),
        (["temperature-windows", "--postgres-url", "mysql://h/db"], "--postgres-url: must be postgresql://"),
        (["temperature-windows", "--postgres-url", "postgresql://postgres@127.0.0.1:{port}/postgres"],
         "--postgres-url: PostgreSQL refused: connection"),
        (["plant-windows", "--bootstrap-servers", "127.0.0.1:{port}"], "--bootstrap-servers: no Kafka broker answers"),
    ],
)
def test_wrong_pipeline_arguments_end_with_one_message(kafka, tmp_path, capsys, args, message):
    args = [a.format(port=free_port()) for a in args]
    if "--bootstrap-servers" not in args:
        args += ["--bootstrap-servers", kafka.bootstrap]
    code = main(["pipeline", *args, "--topic", "t", "--out", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"dbx-iot-gen: error: {message}"), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "p").exists()
