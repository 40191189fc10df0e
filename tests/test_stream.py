"""Streaming feeds (SPEC section 6): historical rows equal batch rows, restarts go on without a gap
or a duplicate, realtime is now, and no Python in the plans. Runs are short and bounded."""

from __future__ import annotations

import contextlib
import io
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from dbx_iot_gen.cli import main
from dbx_iot_gen.fleet import FleetLayout
from dbx_iot_gen.output import read_landing
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.stream import (
    STREAM_TABLES,
    natural_rows_per_second,
    rows_per_second_for_speedup,
    start_stream,
    stream,
)

PYTHON_NODES = ("ArrowEvalPython", "BatchEvalPython", "PythonUDF", "MapInPandas")


def _run(query, batches: int = 2, timeout: float = 60.0) -> None:
    """Let a query commit at least ``batches`` micro-batches, then stop it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in query.recentProgress if p.get("numInputRows")]
        if len(done) >= batches:
            break
        time.sleep(0.5)
    query.stop()


def _batches_written(path: Path, fmt: str, spark) -> int:
    """Micro-batches the sink holds (a batch stopped before its sink commit is not in it)."""
    if fmt == "json":  # the sink's log: 0, 1, ..., 9.compact, 10, ... (a file per batch from 0)
        return 1 + max(int(p.name.split(".")[0]) for p in (path / "_spark_metadata").iterdir()
                       if p.name.split(".")[0].isdigit())
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").where("operation = 'STREAMING UPDATE'")
    return history.count()


def _batch_rows(spark, config, table: str, ids: int):
    """The batch table's rows with ids below ``ids``."""
    spec = STREAM_TABLES[table](spark, config).withIdOutput()
    return spec.build().where(F.col("id") < ids).drop("id")


@pytest.mark.compat
@pytest.mark.parametrize("table", list(STREAM_TABLES))
def test_historical_rows_equal_the_batch_rows_with_the_same_ids(spark, tiny, tmp_path, table):
    rate = 300
    query = start_stream(spark, tiny, table, str(tmp_path), rows_per_second=rate)
    _run(query, batches=2)
    written = _batches_written(tmp_path / table, "delta", spark)
    assert written >= 2
    streamed = spark.read.format("delta").load(str(tmp_path / table))
    expected = _batch_rows(spark, tiny, table, written * rate)
    assert_df_equality(streamed, expected, ignore_row_order=True, ignore_nullable=True)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        query.explain()  # the physical plan of its last micro-batch
    plan = buf.getvalue()
    assert "MicroBatchScan" in plan and "RatePerMicroBatch" in plan, plan
    assert not [n for n in PYTHON_NODES if n in plan], plan


@pytest.mark.compat
def test_a_restart_goes_on_without_gap_or_duplicate(spark, tiny, tmp_path):
    table, rate = "sensor_readings", 400
    for _ in range(2):
        _run(start_stream(spark, tiny, table, str(tmp_path), rows_per_second=rate), batches=2)
    written = _batches_written(tmp_path / table, "delta", spark)
    assert written >= 4
    streamed = spark.read.format("delta").load(str(tmp_path / table))
    # exactly the batch rows of ids 0 .. written * rate - 1: none missing, none twice
    assert_df_equality(streamed, _batch_rows(spark, tiny, table, written * rate), ignore_row_order=True,
                       ignore_nullable=True)
    history = spark.sql(f"DESCRIBE HISTORY delta.`{tmp_path / table}`").count()
    assert history == written


@pytest.mark.parametrize("table", list(STREAM_TABLES))
def test_realtime_event_time_is_now(spark, tiny, tmp_path, table):
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    _run(start_stream(spark, tiny, table, str(tmp_path), mode="realtime", rows_per_second=200), batches=2)
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = spark.read.format("delta").load(str(tmp_path / table))
    lo, hi, n = rows.agg(F.min("timestamp"), F.max("timestamp"), F.count(F.lit(1))).first()
    assert n > 0
    assert (lo - before).total_seconds() > -1 and (after - hi).total_seconds() > -2, (before, lo, hi, after)
    # within a micro-batch the rows spread over its second
    spread = rows.groupBy(F.date_trunc("second", "timestamp")).count()
    assert spread.count() >= 2


def test_cli_stream_writes_json_and_restarts(spark, tiny, tmp_path):
    out = tmp_path / "feed"
    args = ["stream", "--table", "environment_readings", "--scale", "tiny", "--rows-per-second", "20",
            "--duration", "0.1", "--format", "json", "--out", str(out)]
    folder = out / "environment_readings"
    written = []
    for _ in range(2):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(args) == 0
        # 0.1 s is shorter than any first micro-batch: the run still waits for one to finish
        assert "micro-batches" in buf.getvalue() and "stopped: 0 micro-batches" not in buf.getvalue()
        written.append(_batches_written(folder, "json", spark))
    # the second run went on: it wrote micro-batches of its own, and (below) the landing holds
    # exactly the batch table's first rows, so its rows continue the first run's (no gap, no repeat)
    assert written[1] > written[0] > 0, written
    written = written[1]
    landing = read_landing(spark, str(folder), TABLES["environment_readings"].ddl)
    expected = _batch_rows(spark, tiny, "environment_readings", written * 20)
    assert_df_equality(landing, expected, ignore_row_order=True, ignore_nullable=True)
    marker = json.loads((out / "_dbx_iot_gen_stream.json").read_text())
    assert marker["table"] == "environment_readings" and marker["rows_per_second"] == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table", "telemetry"], "--table: must be one of sensor_readings, plant_sensors, environment_readings"),
        (["--mode", "live"], "--mode: must be one of historical, realtime"),
        (["--rows-per-second", "0"], "--rows-per-second: must be a whole number from 1"),
        (["--sink", "parquet"], "--sink: must be one of delta, json, kafka, questdb"),
        (["--duration", "-3"], "--duration: "),
        (["--speedup", "2", "--rows-per-second", "5"], "--speedup: give --speedup or --rows-per-second, not both"),
    ],
)
def test_cli_stream_rejects_bad_arguments_before_writing(tmp_path, capsys, args, message):
    out = tmp_path / "feed"
    assert main(["stream", "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_stream_refuses_a_folder_of_another_feed(tmp_path, capsys):
    out = tmp_path / "feed"
    out.mkdir()
    (out / "_dbx_iot_gen_stream.json").write_text(json.dumps({"table": "plant_sensors"}))
    assert main(["stream", "--out", str(out), "--scale", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "holds another feed" in err and "table" in err


def test_natural_rates_and_the_streaming_dataframe(spark, tiny):
    assert natural_rows_per_second(tiny, "sensor_readings") == FleetLayout(tiny).n_channels / 600
    # the plant's natural rate is the seed's rate_per_second: its tiers add up to it
    assert natural_rows_per_second(tiny, "plant_sensors") == pytest.approx(tiny.plant.rate_per_second)
    assert natural_rows_per_second(tiny, "environment_readings") == 10 / 60
    assert rows_per_second_for_speedup(tiny, "sensor_readings", 60.0) == round(FleetLayout(tiny).n_channels / 10)
    feed = stream(spark, tiny, "sensor_readings", rows_per_second=10)
    assert feed.isStreaming and feed.columns == list(TABLES["sensor_readings"].column_names)


class _SlowFirstBatch:
    """A query whose first micro-batch finishes after ``batch_seconds`` (as on a busy machine)."""

    def __init__(self, batch_seconds: float):
        self.done_at = time.monotonic() + batch_seconds
        self.stopped_at: float | None = None

    @property
    def isActive(self) -> bool:  # noqa: N802 (Spark's name)
        return self.stopped_at is None

    @property
    def lastProgress(self) -> dict | None:  # noqa: N802
        return {"numInputRows": 5} if time.monotonic() >= self.done_at else None

    @property
    def recentProgress(self) -> list:  # noqa: N802
        return [self.lastProgress] if self.lastProgress else []

    def awaitTermination(self, seconds: float) -> None:  # noqa: N802
        time.sleep(seconds)

    def stop(self) -> None:
        self.stopped_at = time.monotonic()


def test_cli_stream_stops_only_after_its_first_micro_batch(monkeypatch, tmp_path, capsys):
    import dbx_iot_gen.stream as stream

    query = _SlowFirstBatch(batch_seconds=2.5)
    monkeypatch.setattr(stream, "start_stream", lambda *a, **k: query)
    monkeypatch.setattr("dbx_iot_gen.cli._spark", lambda args, **kw: None)
    assert main(["stream", "--table", "plant_sensors", "--scale", "tiny", "--duration", "0.5",
                 "--out", str(tmp_path / "feed")]) == 0
    assert query.stopped_at is not None and query.stopped_at >= query.done_at
    assert "stopped: 1 micro-batches, 5 ids" in capsys.readouterr().out
