"""Ruuvi readings into Timestream's write API, on moto's server (started on loopback by this
module): every stored record matches its source row, calls hold at most 100 records, the limits
moto does not check are enforced by the library, and a missing table, an endpoint that is down or
a wrong flag ends with one message. Records are read back from moto's state, not the library."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import boto3
import pandas as pd
import pytest
from pyspark.sql import functions as F

from dbx_iot_gen.cli import main
from dbx_iot_gen.errors import InvalidConfigError, OutputError
from dbx_iot_gen.stream import STREAM_TABLES, start_stream
from dbx_iot_gen.timestream import TimestreamSink, check_record, write_rows
from tests.servers import FaultProxy, LocalMoto, free_port, run_until_committed

REGION = "us-east-1"
# the Ruuvi measures and the Timestream type each should have, written out here (README, seed 004)
DOUBLES = ("temperature", "humidity")
BIGINTS = ("pressure", "acceleration_x", "acceleration_y", "acceleration_z", "battery", "tx_power",
           "movement_counter", "measurement_sequence_number", "rssi")


@pytest.fixture(scope="module")
def aws(monkeypatch_module):
    with LocalMoto() as server:
        yield server


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        yield mp


def make_table(aws: LocalMoto, database: str, table: str, magnetic: bool = True) -> None:
    client = boto3.client("timestream-write", endpoint_url=aws.endpoint_url, region_name=REGION)
    if database not in [d["DatabaseName"] for d in client.list_databases()["Databases"]]:
        client.create_database(DatabaseName=database)
    client.create_table(DatabaseName=database, TableName=table,
                        RetentionProperties={"MemoryStoreRetentionPeriodInHours": 24,
                                             "MagneticStoreRetentionPeriodInDays": 73000},
                        MagneticStoreWriteProperties={"EnableMagneticStoreWrites": magnetic})


def as_rows(records: list[dict]) -> set[tuple]:
    """Stored multi-measure records as (device, site, location, time ms, {measure: value}) tuples."""
    out = set()
    for r in records:
        dims = {d["Name"]: d["Value"] for d in r["Dimensions"]}
        values = tuple(sorted((m["Name"], m["Type"], m["Value"]) for m in r["MeasureValues"]))
        out.add((dims["device_id"], dims["site"], dims["location"], int(r["Time"]), values))
    return out


def expected(df) -> set[tuple]:
    """The same tuples from source rows, computed here: times in ms (Spark's unix_millis), doubles
    by repr, nulls left out."""
    out = set()
    for row in df.withColumn("ms", F.unix_millis("timestamp")).collect():
        values = [(m, "DOUBLE", repr(float(row[m]))) for m in DOUBLES if row[m] is not None]
        values += [(m, "BIGINT", str(int(row[m]))) for m in BIGINTS if row[m] is not None]
        out.add((row["device_id"], row["site"], row["location"], row["ms"], tuple(sorted(values))))
    return out


def test_a_feed_into_timestream_writes_every_row_in_calls_of_at_most_100(spark, tiny, aws, tmp_path):
    table, rate = "environment_readings", 250
    make_table(aws, "iot", "feed")
    sink = TimestreamSink("iot", "feed", endpoint_url=aws.endpoint_url, region=REGION)
    aws.start_recording()
    checkpoint = tmp_path / "_checkpoint"
    for _ in range(2):
        query = start_stream(spark, tiny, table, str(tmp_path), rows_per_second=rate, sink=sink)
        committed = run_until_committed(query, checkpoint, batches=2)
    assert committed >= 4
    stored = aws.records("iot", "feed")
    batch = STREAM_TABLES[table](spark, tiny).withIdOutput().build()
    got = as_rows(stored)
    # every row of the committed micro-batches; nothing but those and the one begun after them;
    # a record written twice (a micro-batch replayed) is an exact copy, which Timestream ignores
    assert expected(batch.where(F.col("id") < committed * rate)) <= got
    assert got <= expected(batch.where(F.col("id") < (committed + 1) * rate))
    calls = aws.recorded("WriteRecords")
    assert calls and max(len(c["Records"]) for c in calls) <= 100
    assert sum(len(c["Records"]) for c in calls) == len(stored)
    # the measure name, type and time unit go once per call (moto keeps the records without them)
    assert all(c["CommonAttributes"] == {"MeasureName": "ruuvi", "MeasureValueType": "MULTI",
                                         "TimeUnit": "MILLISECONDS"} for c in calls)
    assert all(set(r) == {"Dimensions", "MeasureValues", "Time"} for c in calls for r in c["Records"])
    assert not (tmp_path / "_rejected").exists()


def _frame(spark, tiny, n: int) -> tuple[pd.DataFrame, list]:
    """n rows of the feed as a pandas frame (times as UTC instants) and as Spark rows with ``ms``."""
    rows = (STREAM_TABLES["environment_readings"](spark, tiny).build().limit(n)
            .withColumn("ms", F.unix_millis("timestamp")).collect())
    frame = pd.DataFrame([r.asDict() for r in rows]).drop(columns=["ms"])
    frame["timestamp"] = pd.to_datetime([r["ms"] for r in rows], unit="ms", utc=True)
    return frame.astype(object).where(frame.notna(), None), rows


def test_the_long_layout_writes_a_record_per_measure(spark, tiny, aws):
    make_table(aws, "iot", "long")
    frame, rows = _frame(spark, tiny, 30)
    result = write_rows(TimestreamSink("iot", "long", endpoint_url=aws.endpoint_url, region=REGION, layout="long"),
                        frame)
    stored = aws.records("iot", "long")
    measures = [(m, row[m]) for row in rows for m in (*DOUBLES, *BIGINTS) if row[m] is not None]
    assert result.written == len(stored) == len(measures) and not result.rejected
    # a row's records are never split between calls: as many calls as rows packed whole into 100s
    calls, room = 0, 0
    for row in rows:
        n = sum(1 for m in (*DOUBLES, *BIGINTS) if row[m] is not None)
        if n > room:
            calls, room = calls + 1, 100
        room -= n
    assert result.calls == calls
    assert {r["MeasureName"] for r in stored} == set(DOUBLES + BIGINTS)
    by_key = {({d["Name"]: d["Value"] for d in r["Dimensions"]}["device_id"], int(r["Time"]), r["MeasureName"]): r
              for r in stored}
    for row in rows:
        for m in DOUBLES:
            if row[m] is not None:
                r = by_key[(row["device_id"], row["ms"], m)]
                assert (r["MeasureValueType"], float(r["MeasureValue"])) == ("DOUBLE", row[m])


def test_times_the_table_would_reject_are_refused_with_their_reason_and_not_sent(spark, tiny, aws):
    """The table keeps 24 hours in its memory store and takes no magnetic store writes: the
    tiny config's 2024 readings would be rejected by Timestream, so none is sent."""
    make_table(aws, "iot", "recent", magnetic=False)
    frame, _ = _frame(spark, tiny, 20)
    now = pd.Timestamp.now(tz="UTC").floor("s")
    frame.loc[:9, "timestamp"] = [now - pd.Timedelta(minutes=i) for i in range(10)]  # 10 recent rows
    frame.loc[10, "timestamp"] = now + pd.Timedelta(hours=1)  # one from the future
    result = write_rows(TimestreamSink("iot", "recent", endpoint_url=aws.endpoint_url, region=REGION), frame)
    reasons = {r.row: r.reason for r in result.rejected}
    assert result.written == 10 == len(aws.records("iot", "recent"))
    assert sorted(reasons) == list(range(10, 20))
    assert "more than 15 minutes ahead" in reasons[10]
    assert all("older than the table's retention" in reasons[i] for i in range(11, 20))
    assert reasons and all(r.values["device_id"] == frame.loc[r.row, "device_id"] for r in result.rejected)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r["Dimensions"].append({"Name": "ts_gateway", "Value": "g"}), "reserved prefix"),
        (lambda r: r["Dimensions"].append({"Name": "x" * 61, "Value": "g"}), "must be 1 to 60 bytes"),
        (lambda r: r["Dimensions"].append({"Name": "time", "Value": "g"}), "is reserved"),
        (lambda r: r["Dimensions"][0].update(Value=""), "must have a value of 1 to 2048"),
        (lambda r: r["MeasureValues"][0].update(Value="nan"), "does not store"),
        (lambda r: r["MeasureValues"][1].update(Value="1.5"), "is BIGINT but its value is '1.5'"),
        (lambda r: r["MeasureValues"][0].update(Type="FLOAT"), "not one of DOUBLE, BIGINT"),
        (lambda r: r["MeasureValues"].extend({"Name": f"m{i:03d}", "Value": "1", "Type": "BIGINT"}
                                              for i in range(256)), "at most 256 measures"),
        (lambda r: r["MeasureValues"].append({"Name": "site", "Value": "1", "Type": "BIGINT"}),
         "has the name of a dimension"),
        (lambda r: r["MeasureValues"].append({"Name": "note", "Value": "x" * 2000, "Type": "VARCHAR"}),
         "over 2048 bytes"),
        (lambda r: r["MeasureValues"].clear(), "no measure value"),
    ],
)
def test_each_limit_moto_does_not_check_is_enforced(change, reason):
    record = {"Dimensions": [{"Name": "site", "Value": "home"}, {"Name": "device_id", "Value": "c4:01"}],
              "MeasureName": "ruuvi", "MeasureValueType": "MULTI", "Time": "1709251201000",
              "MeasureValues": [{"Name": "temperature", "Value": "21.5", "Type": "DOUBLE"},
                                {"Name": "pressure", "Value": "100012", "Type": "BIGINT"}]}
    assert check_record(record, now_ms=1709251201000, oldest_ms=None) is None
    change(record)
    assert reason in (check_record(record, now_ms=1709251201000, oldest_ms=None) or "")


def test_a_missing_table_or_an_endpoint_that_is_down_ends_at_once(spark, tiny, aws, tmp_path, capsys):
    with pytest.raises(OutputError, match=r"table: Timestream has no table iot\.nope"):
        start_stream(spark, tiny, "environment_readings", str(tmp_path / "a"),
                     sink=TimestreamSink("iot", "nope", endpoint_url=aws.endpoint_url, region=REGION))
    down = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code = main(["stream", "--table", "environment_readings", "--scale", "tiny", "--sink", "timestream",
                 "--database", "iot", "--timestream-table", "feed", "--endpoint-url", down, "--region", REGION,
                 "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"dbx-iot-gen: error: --endpoint-url: no Timestream endpoint answers at {down}")
    assert time.monotonic() - started < 20 and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_historical_feed_into_a_table_that_keeps_only_recent_times_ends_before_it_starts(spark, tiny, aws,
                                                                                          tmp_path, capsys):
    """The tiny config's feed starts in 2024; a table with 24 hours of memory store and no
    magnetic store writes would refuse every micro-batch: the feed ends at once, naming the table,
    and a realtime feed (times of now) is taken."""
    make_table(aws, "iot", "memoryonly", magnetic=False)
    args = ["stream", "--table", "environment_readings", "--scale", "tiny", "--sink", "timestream",
            "--database", "iot", "--timestream-table", "memoryonly", "--endpoint-url", aws.endpoint_url,
            "--region", REGION]
    assert main([*args, "--out", str(tmp_path / "historical")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dbx-iot-gen: error: --timestream-table: iot.memoryonly takes times from ")
    assert f"but the feed starts at {tiny.start:%Y-%m-%d %H:%M} UTC" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "historical").exists() and aws.records("iot", "memoryonly") == []
    with pytest.raises(OutputError, match="memoryonly takes times from"):
        start_stream(spark, tiny, "environment_readings", str(tmp_path / "library"),
                     sink=TimestreamSink("iot", "memoryonly", endpoint_url=aws.endpoint_url, region=REGION))
    assert not (tmp_path / "library").exists()
    TimestreamSink("iot", "memoryonly", endpoint_url=aws.endpoint_url, region=REGION).prepare(
        "environment_readings", datetime.now(timezone.utc))  # a realtime feed's first time: taken


def test_the_cli_publishes_a_demo_table_and_reports_refused_rows(spark, demo, aws, capsys):
    make_table(aws, "iot", "demo")
    make_table(aws, "iot", "short", magnetic=False)
    args = ["publish", "--table", "environment_readings", "--out", str(demo.root), "--sink", "timestream",
            "--database", "iot", "--endpoint-url", aws.endpoint_url, "--region", REGION]
    assert main([*args, "--timestream-table", "demo"]) == 0, capsys.readouterr()
    delta = demo.delta("environment_readings")
    # the demo's dirty rows: a duplicate broadcast is the same record again (Timestream keeps one)
    assert as_rows(aws.records("iot", "demo")) == expected(delta)
    assert len(aws.records("iot", "demo")) == delta.count()  # each row once: none lost, none sent twice
    assert main([*args, "--timestream-table", "short"]) == 1
    out = capsys.readouterr().out
    assert f"rejected: {delta.count():,} rows: its time is older than the table's retention" in out
    assert aws.records("iot", "short") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sink", "timestream", "--timestream-table", "t"], "--database: a Timestream sink needs"),
        (["--sink", "timestream", "--database", "iot"], "--timestream-table: a Timestream sink needs"),
        (["--sink", "timestream", "--database", "iot", "--timestream-table", "tab", "--layout", "wide"],
         "--layout: must be multi or long, got 'wide'"),
        (["--sink", "timestream", "--database", "i", "--timestream-table", "tab"], "--database: must be 3 to 256"),
        (["--sink", "timestream", "--database", "iot", "--timestream-table", "tab", "--endpoint-url", "ftp://x"],
         "--endpoint-url: must be http(s)://HOST[:PORT]"),
        (["--database", "iot"], "--database: is for a Timestream sink: add --sink timestream"),
        (["--table", "plant_sensors", "--sink", "timestream", "--database", "iot", "--timestream-table", "tab"],
         "--table: Timestream takes environment_readings"),
    ],
)
def test_wrong_timestream_arguments_end_with_one_message(tmp_path, capsys, args, message):
    code = main(["stream", "--out", str(tmp_path / "feed"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"dbx-iot-gen: error: {message}"), err
    assert not (tmp_path / "feed").exists()


def test_refused_credentials_end_with_one_message(monkeypatch_module, tmp_path, capsys):
    with LocalMoto(check_credentials=True) as guarded:
        code = main(["stream", "--table", "environment_readings", "--sink", "timestream", "--database", "iot",
                     "--timestream-table", "ruuvi", "--endpoint-url", guarded.endpoint_url, "--region", REGION,
                     "--out", str(tmp_path / "feed")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("dbx-iot-gen: error: timestream: Timestream refused the credentials"), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "feed").exists()


def test_the_sink_checks_its_arguments():
    with pytest.raises(InvalidConfigError, match="max_attempts: must be 1 to 20"):
        TimestreamSink("iot", "ruuvi", max_attempts=0)
    with pytest.raises(InvalidConfigError, match="table: must be 3 to 256"):
        TimestreamSink("iot", "a b")


def _recent_frame(rows: int) -> pd.DataFrame:
    """Ruuvi rows of the last minutes (any table takes them), written out here: device ``tag-<i>``."""
    now = pd.Timestamp.now(tz="UTC").floor("s")
    frame = pd.DataFrame({
        "device_id": [f"tag-{i:02d}" for i in range(rows)], "site": "home", "location": "kitchen",
        "timestamp": [now - pd.Timedelta(seconds=i) for i in range(rows)],
        "temperature": [20.0 + i / 8 for i in range(rows)], "humidity": [40.5] * rows,
        **{m: list(range(rows)) for m in BIGINTS}})
    return frame.astype(object)


def test_throttling_is_retried_with_backoff_and_ends_with_one_message_when_it_lasts(monkeypatch_module, aws):
    make_table(aws, "iot", "throttled")
    with FaultProxy(aws.endpoint_url) as proxy:
        proxy.throttle(2)  # the next two calls answer ThrottlingException (describe_table is not throttled)
        sink = TimestreamSink("iot", "throttled", endpoint_url=proxy.endpoint_url, region=REGION)
        result = write_rows(sink, _recent_frame(10))
        assert result.written == 10 and result.calls == 1 and not result.rejected
        assert proxy.calls == 3  # two throttled attempts, then the one that went through
        assert len(aws.records("iot", "throttled")) == 10
        proxy.throttle(100)
        started = time.monotonic()
        with pytest.raises(OutputError, match=r"timestream: Timestream refused the call \(ThrottlingException\)"):
            write_rows(TimestreamSink("iot", "throttled", endpoint_url=proxy.endpoint_url, region=REGION,
                                      max_attempts=3), _recent_frame(10))
        assert time.monotonic() - started < 30
    assert len(aws.records("iot", "throttled")) == 10  # nothing more


def test_records_timestream_rejects_are_reported_with_their_row_and_reason(monkeypatch_module, aws):
    """The long layout makes 11 records a row, so 30 rows take 4 calls: a rejected record's
    RecordIndex (its place in its call) must lead back to its row in every call."""
    make_table(aws, "iot", "rejecting")
    frame = _recent_frame(30)
    bad = {"tag-04", "tag-13", "tag-29"}
    with FaultProxy(aws.endpoint_url) as proxy:
        proxy.reject(lambda r: {d["Name"]: d["Value"] for d in r["Dimensions"]}["device_id"] in bad
                     and r["MeasureName"] == "rssi")
        sink = TimestreamSink("iot", "rejecting", endpoint_url=proxy.endpoint_url, region=REGION, layout="long")
        result = write_rows(sink, frame)
    assert sorted(r.values["device_id"] for r in result.rejected) == sorted(bad)
    assert all(r.reason == "Timestream rejected 1 of its 11 records (the others were written): "
               "The value is not valid for its measure." for r in result.rejected)
    assert result.calls == 4 and result.written == 30 * 11 - 3
    stored = aws.records("iot", "rejecting")
    assert len(stored) == result.written
    assert not any(r["MeasureName"] == "rssi" and r["Dimensions"][-1]["Value"] in bad for r in stored)


def test_values_the_frame_cannot_hold_whole_are_refused_not_rounded(monkeypatch_module, aws):
    """A BIGINT measure that is not whole, a missing dimension, and a time older than the magnetic
    store keeps (1 day here) are each refused with their reason; the other rows are written."""
    make_table(aws, "iot", "unused")  # the database, as the other tests make it
    client = boto3.client("timestream-write", endpoint_url=aws.endpoint_url, region_name=REGION)
    client.create_table(DatabaseName="iot", TableName="oneday",
                        RetentionProperties={"MemoryStoreRetentionPeriodInHours": 1,
                                             "MagneticStoreRetentionPeriodInDays": 1},
                        MagneticStoreWriteProperties={"EnableMagneticStoreWrites": True})
    frame = _recent_frame(5)
    frame.loc[0, "pressure"] = 100012.5
    frame.loc[1, "site"] = float("nan")
    frame.loc[2, "timestamp"] = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=2)
    frame.loc[3, "timestamp"] = pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=12)  # magnetic store: taken
    result = write_rows(TimestreamSink("iot", "oneday", endpoint_url=aws.endpoint_url, region=REGION), frame)
    reasons = {r.row: r.reason for r in result.rejected}
    assert sorted(reasons) == [0, 1, 2] and result.written == 2
    assert "pressure is BIGINT but its value is '100012.5'" in reasons[0]
    assert "dimension site must have a value" in reasons[1]
    assert "older than the table's retention" in reasons[2]


def test_no_region_ends_with_one_message_naming_the_flag(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code = main(["stream", "--table", "environment_readings", "--sink", "timestream", "--database", "iot",
                 "--timestream-table", "ruuvi", "--endpoint-url", "http://127.0.0.1:9", "--out", str(tmp_path / "f")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("dbx-iot-gen: error: --region: no AWS region"), err
