"""Feeds into a real Kafka broker (KRaft, started on loopback by this module): records shaped as
documented, a restart with no gap, a batch table published, and a clear end for a broker that is
down or goes down. Records are read back with confluent-kafka, a client that is not Spark's."""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from dbx_iot_gen.cli import main
from dbx_iot_gen.errors import InvalidConfigError, OutputError
from dbx_iot_gen.kafka import KafkaSink
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.stream import STREAM_TABLES, start_stream
from tests.conftest import show
from tests.servers import consume, free_port, run_until_committed

JSON_TIME = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"  # the landing format, as the README documents it


def _topic() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


def parsed(spark, records: list[dict], table: str):
    """The records' values as rows of the table (read as a consumer would: JSON with a schema)."""
    values = spark.createDataFrame([(r["value"],) for r in records], "value string")
    schema = ", ".join(f"`{c.name}` {c.type}" for c in TABLES[table].columns)
    return values.select(F.from_json("value", schema, {"timestampFormat": JSON_TIME}).alias("r")).select("r.*")


def _batch_rows(spark, config, table: str, ids: int):
    spec = STREAM_TABLES[table](spark, config).withIdOutput()
    return spec.build().where(F.col("id") < ids).drop("id")


def assert_a_prefix_of_the_feed(spark, config, table: str, records: list[dict], rate: int, committed: int) -> None:
    """The records hold every row of the feed's committed micro-batches (no gap), and nothing but
    rows of those and of the one micro-batch after them (cut short by a stop: at-least-once)."""
    rows = parsed(spark, records, table).distinct()
    missing = _batch_rows(spark, config, table, committed * rate).subtract(rows)
    foreign = rows.subtract(_batch_rows(spark, config, table, (committed + 1) * rate))
    assert missing.count() == 0, show(missing)
    assert foreign.count() == 0, show(foreign)


@pytest.mark.compat
def test_a_feed_into_kafka_goes_on_after_a_restart_with_no_gap(spark, tiny, kafka, tmp_path):
    table, rate, topic = "sensor_readings", 300, _topic()
    sink = KafkaSink(kafka.bootstrap, topic)
    for _ in range(2):
        query = start_stream(spark, tiny, table, str(tmp_path), rows_per_second=rate, sink=sink)
        committed = run_until_committed(query, tmp_path / "_checkpoint", batches=2)
    assert committed >= 4
    records = consume(kafka.bootstrap, topic)
    # at-least-once: every committed micro-batch is there; a batch cut short may be written twice
    assert_a_prefix_of_the_feed(spark, tiny, table, records, rate, committed)
    values = [json.loads(r["value"]) for r in records]
    assert all(r["key"] == str(v["device_id"]) for r, v in zip(records, values)), records[:3]
    assert all(r["headers"] == {"table": table, "event_time": v["timestamp"]} for r, v in zip(records, values))
    # one device's records in one partition (the topic has two)
    partitions: dict[str, set] = {}
    for r in records:
        partitions.setdefault(r["key"], set()).add(r["partition"])
    assert all(len(p) == 1 for p in partitions.values()), partitions
    assert {p for ps in partitions.values() for p in ps} == {0, 1}
    # nulls are written, not left out (the landing format)
    assert all(len(v) == len(TABLES[table].columns) for v in values)


def test_the_cli_publishes_a_demo_table_a_record_per_row(spark, demo, kafka):
    topic = _topic()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["publish", "--table", "plant_sensors", "--out", str(demo.root),
                     "--bootstrap-servers", kafka.bootstrap, "--topic", topic])
    assert code == 0, buf.getvalue()
    table = demo.delta("plant_sensors")
    records = consume(kafka.bootstrap, topic)
    assert f"done: {table.count():,} records" in buf.getvalue()
    assert len(records) == table.count()
    assert_df_equality(parsed(spark, records, "plant_sensors"), table, ignore_row_order=True, ignore_nullable=True)
    assert all(json.loads(r["value"])["address"] == r["key"] for r in records)


def test_the_cli_streams_a_feed_into_a_topic(spark, kafka, tmp_path, capsys):
    topic = _topic()
    code = main(["stream", "--table", "environment_readings", "--scale", "tiny", "--sink", "kafka",
                 "--bootstrap-servers", kafka.bootstrap, "--topic", topic, "--rows-per-second", "40",
                 "--duration", "2", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"to Kafka topic {topic} at {kafka.bootstrap}" in out
    records = consume(kafka.bootstrap, topic)
    assert len(records) >= 20 and all(r["headers"]["table"] == "environment_readings" for r in records)
    assert all(json.loads(r["value"])["device_id"] == r["key"] for r in records)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_checkpoint", "_dbx_iot_gen_stream.json"]


def test_a_broker_that_is_down_ends_the_feed_at_once_with_nothing_written(spark, tiny, tmp_path, capsys):
    down = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(OutputError, match=r"bootstrap_servers: no Kafka broker answers \(127\.0\.0\.1:\d+: "):
        start_stream(spark, tiny, "plant_sensors", str(tmp_path / "feed"), sink=KafkaSink(down, "plant"))
    assert not (tmp_path / "feed").exists()
    code = main(["stream", "--table", "plant_sensors", "--sink", "kafka", "--bootstrap-servers", down,
                 "--topic", "plant", "--out", str(tmp_path / "cli"), "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("dbx-iot-gen: error: --bootstrap-servers: no Kafka broker answers"), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "cli").exists()
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sink", "kafka", "--topic", "t"], "--bootstrap-servers: a Kafka feed needs"),
        (["--sink", "kafka", "--bootstrap-servers", "h:1"], "--topic: a Kafka feed needs"),
        (["--topic", "t"], "--topic: is for a Kafka sink: add --sink kafka"),
        (["--sink", "kafka", "--bootstrap-servers", "nohost", "--topic", "t"],
         "--bootstrap-servers: must be HOST:PORT[,HOST:PORT...], got 'nohost'"),
        (["--sink", "kafka", "--bootstrap-servers", "h:99999", "--topic", "t"], "--bootstrap-servers: must be"),
        (["--sink", "kafka", "--bootstrap-servers", "h:1", "--topic", "a/b"], "--topic: must be 1 to 249"),
    ],
)
def test_wrong_kafka_arguments_end_with_one_message(tmp_path, capsys, args, message):
    code = main(["stream", "--out", str(tmp_path / "feed"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"dbx-iot-gen: error: {message}"), err
    assert not (tmp_path / "feed").exists()


def test_a_restart_must_name_the_same_topic(spark, tiny, kafka, tmp_path):
    sink = KafkaSink(kafka.bootstrap, _topic())
    query = start_stream(spark, tiny, "plant_sensors", str(tmp_path), rows_per_second=50, sink=sink)
    run_until_committed(query, tmp_path / "_checkpoint", batches=1)
    with pytest.raises(OutputError, match="holds another feed"):
        start_stream(spark, tiny, "plant_sensors", str(tmp_path), rows_per_second=50,
                     sink=KafkaSink(kafka.bootstrap, "another"))
    with pytest.raises(InvalidConfigError, match="topic"):
        KafkaSink(kafka.bootstrap, "..")


def test_a_broker_restarted_mid_feed_loses_no_row(spark, tiny, kafka, tmp_path):
    table, rate, topic = "plant_sensors", 200, _topic()
    sink = KafkaSink(kafka.bootstrap, topic)
    query = start_stream(spark, tiny, table, str(tmp_path), rows_per_second=rate, sink=sink)
    try:
        deadline = time.monotonic() + 90
        while len([p for p in query.recentProgress if p.get("numInputRows")]) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        kafka.stop()
        time.sleep(3)
        kafka.start()
        last = max(p["batchId"] for p in query.recentProgress)
        deadline = time.monotonic() + 90

        def after_restart() -> list:
            return [p for p in query.recentProgress if p["batchId"] > last + 1 and p.get("numInputRows")]

        # the producer retries through a short outage: the feed goes on writing new micro-batches
        while query.isActive and len(after_restart()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        went_on = after_restart()
    finally:
        query.stop()
    assert query.exception() is None and len(went_on) >= 2, query.exception()
    query = start_stream(spark, tiny, table, str(tmp_path), rows_per_second=rate, sink=sink)
    committed = run_until_committed(query, tmp_path / "_checkpoint", batches=1)
    assert_a_prefix_of_the_feed(spark, tiny, table, consume(kafka.bootstrap, topic), rate, committed)
