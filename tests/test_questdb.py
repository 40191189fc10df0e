"""Feeds into a real QuestDB server (started on loopback by this module, from the Maven Central jar):
rows land as the library made them, a restarted feed has no gap and no duplicate, a replayed
micro-batch is deduplicated, a demo table is published, the shipped SQL runs, and a server that is
down, refuses the credentials or holds a table of another shape ends with one message. Rows are
read back over QuestDB's HTTP /exec, not through the library's sink."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen.cli import main
from dbx_iot_gen.errors import OutputError
from dbx_iot_gen.questdb import QuestDBSink, publish, questdb_frame
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.stream import STREAM_TABLES, start_stream
from tests.conftest import show
from tests.servers import LocalQuestDB, committed_batches, free_port, run_until_committed

SQL = Path(__file__).resolve().parents[1] / "dbx_iot_gen" / "sql" / "questdb"


@pytest.fixture(scope="module")
def questdb():
    with LocalQuestDB() as server:
        yield server


def exec_sql(address: str, query: str, auth: tuple[str, str] | None = None) -> dict:
    """A query over QuestDB's HTTP /exec (its JSON answer: columns and dataset), with HTTP basic
    authentication as (user, password)."""
    request = urllib.request.Request(f"http://{address}/exec?{urllib.parse.urlencode({'query': query})}")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def wait_applied(address: str, table: str) -> None:
    """QuestDB applies a WAL table's writes after the request returns: wait until it has."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = exec_sql(address, f"SELECT sequencerTxn, writerTxn FROM wal_tables() WHERE name = '{table}'")["dataset"]
        if rows and rows[0][0] == rows[0][1]:
            return
        time.sleep(0.2)
    raise AssertionError(f"{table}: writes not applied after 60 s")


def questdb_rows(spark, address: str, name: str, table: str):
    """A QuestDB table's rows as a DataFrame with the library table's schema."""
    wait_applied(address, name)
    answer = exec_sql(address, f'SELECT * FROM "{name}"')
    columns = [c["name"] for c in answer["columns"]]
    as_text = spark.createDataFrame([[None if v is None else str(v) for v in row] for row in answer["dataset"]],
                                    ", ".join(f"`{c}` string" for c in columns))
    return as_text.select(*[
        F.to_timestamp(c.name, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX").alias(c.name) if c.type == "TIMESTAMP"
        else (F.col(c.name) == "True").alias(c.name) if c.type == "BOOLEAN"
        else F.col(c.name).cast(c.type).alias(c.name) for c in TABLES[table].columns])


def test_a_feed_into_questdb_restarts_with_no_gap_and_a_replayed_batch_is_not_doubled(spark, tiny, questdb, tmp_path):
    table, rate, name = "plant_sensors", 200, "plant_feed"
    sink = QuestDBSink(questdb.address, name)
    checkpoint = tmp_path / "_checkpoint"
    for _ in range(2):
        query = start_stream(spark, tiny, table, str(tmp_path), rows_per_second=rate, sink=sink)
        committed = run_until_committed(query, checkpoint, batches=2)
    # the last committed micro-batch is replayed: its commit (and the offsets of any batch begun after
    # it) are removed, so the restart writes it again from its recorded offsets
    last = max(committed_batches(checkpoint))
    for log, batch in [("commits", last), *(("offsets", b) for b in range(last + 1, last + 3))]:
        for file in (str(batch), f".{batch}.crc"):  # the log file and Hadoop's checksum beside it
            (checkpoint / log / file).unlink(missing_ok=True)
    run_until_committed(start_stream(spark, tiny, table, str(tmp_path), rows_per_second=rate, sink=sink), checkpoint, 1)
    committed = len(committed_batches(checkpoint))
    assert committed >= 4  # two runs of two micro-batches; the third run wrote the replayed one again
    rows = questdb_rows(spark, questdb.address, name, table)
    batch = STREAM_TABLES[table](spark, tiny).withIdOutput().build()
    # each row once (the replayed micro-batch replaced its rows), every row of the committed
    # micro-batches, and nothing but those and the one begun after them (sent, then stopped); a
    # micro-batch is `rate` ids, and some plant ids make no row
    assert rows.count() == rows.dropDuplicates(["timestamp", "address"]).count()
    missing = batch.where(F.col("id") < committed * rate).drop("id").subtract(rows)
    foreign = rows.subtract(batch.where(F.col("id") < (committed + 1) * rate).drop("id"))
    assert missing.count() == 0, show(missing)
    assert foreign.count() == 0, show(foreign)
    symbols = {c["name"]: c["type"] for c in exec_sql(questdb.address, f"SELECT * FROM {name} LIMIT 1")["columns"]}
    assert symbols == {"timestamp": "TIMESTAMP", "system": "SYMBOL", "address": "SYMBOL", "value": "DOUBLE",
                       "text": "VARCHAR", "status": "SYMBOL"}
    made = exec_sql(questdb.address, f"SELECT designatedTimestamp, dedup FROM tables() WHERE table_name = '{name}'")
    assert made["dataset"] == [["timestamp", True]]


def test_the_cli_publishes_a_demo_table_and_the_seed_queries_run_on_it(spark, demo, questdb, capsys):
    table = "plant_sensors"
    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/Chicago")  # times must still land as UTC instants
    try:
        code = main(["publish", "--table", table, "--out", str(demo.root), "--sink", "questdb",
                     "--questdb", questdb.address])
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
    out = capsys.readouterr().out
    assert code == 0, out
    delta = demo.delta(table)
    assert f"done: {delta.count():,} rows" in out
    rows = questdb_rows(spark, questdb.address, table, table)
    assert_approx_df_equality(rows, delta, 1e-9, ignore_row_order=True, ignore_nullable=True)
    # publishing again replaces the same rows (deduplication on timestamp and address)
    assert main(["publish", "--table", table, "--out", str(demo.root), "--sink", "questdb",
                 "--questdb", questdb.address]) == 0
    wait_applied(questdb.address, table)
    assert exec_sql(questdb.address, f"SELECT count() FROM {table}")["dataset"] == [[delta.count()]]

    # the shipped SQL, against the same answers computed here with Spark from the Delta table
    latest = exec_sql(questdb.address, (SQL / "plant_latest.sql").read_text())
    newest = delta.withColumn("n", F.row_number().over(Window.partitionBy("address").orderBy(F.desc("timestamp"))))
    want = newest.where("n = 1").orderBy("address").select("address", "value", "text", "status").collect()
    got = [(r[2], r[3], r[4], r[5]) for r in latest["dataset"]]
    assert got == [tuple(r) for r in want]
    averages = exec_sql(questdb.address, (SQL / "plant_1_minute_averages.sql").read_text())
    minutes = (delta.where("value IS NOT NULL").groupBy(F.date_trunc("minute", "timestamp").alias("minute"), "address")
               .agg(F.count("*").alias("n"), F.avg("value").alias("avg"), F.min("value").alias("min"),
                    F.max("value").alias("max")))
    got = spark.createDataFrame([(r[0], r[1], int(r[2]), float(r[3]), float(r[4]), float(r[5]))
                                 for r in averages["dataset"]], "minute string, address string, n long, avg double, "
                                                                "min double, max double")
    got = got.withColumn("minute", F.to_timestamp("minute", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"))
    assert got.count() > 100
    assert_approx_df_equality(got, minutes, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_a_server_that_is_down_ends_at_once_with_nothing_written(spark, tiny, tmp_path, capsys):
    down = f"127.0.0.1:{free_port()}"
    with pytest.raises(OutputError, match=f"questdb: no QuestDB answers at {down}"):
        start_stream(spark, tiny, "plant_sensors", str(tmp_path / "feed"), sink=QuestDBSink(down))
    assert not (tmp_path / "feed").exists()
    code = main(["stream", "--table", "plant_sensors", "--scale", "tiny", "--sink", "questdb", "--questdb", down,
                 "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("dbx-iot-gen: error: --questdb: no QuestDB answers"), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "cli").exists()


def test_wrong_credentials_and_a_table_of_another_shape_end_with_one_message(spark, demo, questdb, tmp_path, capsys,
                                                                             monkeypatch):
    with LocalQuestDB(password="right") as guarded:
        monkeypatch.setenv("QUESTDB_PASSWORD", "wrong")
        code = main(["publish", "--table", "plant_sensors", "--out", str(demo.root), "--sink", "questdb",
                     "--questdb", guarded.address, "--questdb-user", "admin"])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith(f"dbx-iot-gen: error: --questdb-user: QuestDB at {guarded.address} "
                                            "refused the credentials"), err
        assert len(err.strip().splitlines()) == 1
        assert exec_sql(guarded.address, "SELECT count() FROM tables()", ("admin", "right"))["dataset"] == [[0]]
        # the right password, with a ';' (the client's config string escapes it): the table is made
        with LocalQuestDB(password="ri;ght") as semicolon:
            sink = QuestDBSink(semicolon.address, "guarded", "admin", "ri;ght")
            sink.prepare("plant_sensors")  # over /exec
            tables = exec_sql(semicolon.address, "SELECT table_name FROM tables()", ("admin", "ri;ght"))
            assert tables["dataset"] == [["guarded"]]
            # and rows through the client, whose config string carries the password
            sink.send(questdb_frame(demo.delta("plant_sensors").limit(5), "plant_sensors"), "plant_sensors")
            deadline, count = time.monotonic() + 60, None
            while time.monotonic() < deadline and count != [[5]]:
                count = exec_sql(semicolon.address, "SELECT count() FROM guarded", ("admin", "ri;ght"))["dataset"]
                time.sleep(0.2)
            assert count == [[5]]
    # a table of the same name made by someone else, with value as text: QuestDB refuses the rows
    exec_sql(questdb.address, "CREATE TABLE other_shape (timestamp TIMESTAMP, address SYMBOL, value VARCHAR) "
                              "TIMESTAMP(timestamp) PARTITION BY DAY WAL")
    code = main(["publish", "--table", "plant_sensors", "--out", str(demo.root), "--sink", "questdb",
                 "--questdb", questdb.address, "--questdb-table", "other_shape"])
    err = capsys.readouterr().err
    assert code == 2 and "refused the rows of other_shape" in err and "value" in err, err
    assert len(err.strip().splitlines()) == 1
    wait_applied(questdb.address, "other_shape")
    assert exec_sql(questdb.address, "SELECT count() FROM other_shape")["dataset"] == [[0]]


def test_readings_and_events_keep_nulls_booleans_and_retransmitted_duplicates(spark, demo, questdb):
    """Nullable integers and booleans, text and times of two more tables land as in Delta; a
    reading's retransmitted duplicate (same reading_id and time, later arrival) is kept."""
    for table in ("sensor_readings", "events"):
        delta = demo.delta(table)
        publish(delta, table, QuestDBSink(questdb.address))
        rows = questdb_rows(spark, questdb.address, table, table)
        assert_approx_df_equality(rows, delta, 1e-9, ignore_row_order=True, ignore_nullable=True)
    assert demo.delta("sensor_readings").where("quality_issue = 'duplicate'").count() > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sink", "questdb"], "--questdb: a QuestDB sink needs --questdb HOST:PORT"),
        (["--sink", "questdb", "--questdb", "nohost"], "--questdb: must be HOST:PORT, got 'nohost'"),
        (["--questdb", "h:1"], "--questdb: is for a QuestDB sink: add --sink questdb"),
        (["--sink", "questdb", "--questdb", "h:1", "--questdb-table", "a-b"], "--questdb-table: must be a letter"),
        (["--sink", "questdb", "--questdb", "h:1", "--questdb-user", "u"], "--questdb-user: needs the password"),
        (["--sink", "kafka", "--bootstrap-servers", "h:1", "--topic", "t", "--questdb", "h:2"],
         "--questdb: is for a QuestDB sink"),
    ],
)
def test_wrong_questdb_arguments_end_with_one_message(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.delenv("QUESTDB_PASSWORD", raising=False)
    code = main(["stream", "--out", str(tmp_path / "feed"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"dbx-iot-gen: error: {message}"), err
    assert not (tmp_path / "feed").exists()


def test_a_table_without_event_time_is_refused_before_anything_is_sent(demo, questdb, capsys):
    code = main(["publish", "--table", "devices", "--out", str(demo.root), "--sink", "questdb",
                 "--questdb", questdb.address])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("dbx-iot-gen: error: --table: QuestDB takes tables with an event time: "
                                        "sensor_readings, events, telemetry, plant_sensors, environment_readings;"), err
    assert "devices" not in json.dumps(exec_sql(questdb.address, "SELECT table_name FROM tables()"))


def test_a_feed_folder_names_the_questdb_table_it_writes_whether_named_or_by_default(tiny):
    from dbx_iot_gen.stream import stream_identity

    def sink_of(questdb_table):
        return stream_identity(tiny, "plant_sensors", "historical", 100, "delta",
                               QuestDBSink("127.0.0.1:9000", questdb_table))["sink"]

    # a restart that names the default table is the same feed; another table is another feed
    assert sink_of(None) == sink_of("plant_sensors") == {"sink": "questdb", "address": "127.0.0.1:9000",
                                                          "table": "plant_sensors"}
    assert sink_of("plant")["table"] == "plant"
