"""The demo queries of seed 001 and the gold queries of seeds 002 and 003 on the tiny demo."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sysconfig

import pytest
from pyspark.sql import functions as F

from dbx_iot_gen.cli import main
from dbx_iot_gen.queries import QUERIES, SQL_DIR, query, register_demo_tables

from .conftest import show


@pytest.fixture(scope="module")
def views(spark, demo):
    names = register_demo_tables(spark, str(demo.root))
    yield names
    for name in names:
        spark.catalog.dropTempView(name)


def test_every_query_returns_rows_on_the_tiny_demo(spark, views):
    assert {"devices", "sensor_readings", "telemetry", "events", "plant_sensors"} <= set(views)
    counts = {name: query(spark, name).count() for name in QUERIES}
    empty = [name for name, n in counts.items() if n == 0]
    assert not empty, counts
    assert len(QUERIES) == 7 and sorted(p.stem for p in SQL_DIR.glob("*.sql")) == sorted(QUERIES)


def test_queries_take_their_as_of_time_from_the_data():
    for name, sql in QUERIES.items():
        assert "current_date" not in sql.lower() and "current_timestamp" not in sql.lower(), name


def test_fleet_tracking_reports_the_position_at_last_seen(spark, views, demo):
    fleet = query(spark, "fleet_tracking").alias("f")
    telemetry = demo.delta("telemetry").alias("t")
    joined = fleet.join(telemetry, (F.col("f.device_id") == F.col("t.device_id"))
                        & (F.col("f.last_seen") == F.col("t.timestamp")))
    wrong = joined.where("f.last_lat != t.latitude or f.last_lon != t.longitude")
    assert joined.count() == fleet.count() > 0 and wrong.count() == 0, show(wrong)


def test_gold_windows_are_tumbling(spark, views):
    fifteen = query(spark, "temperature_15_minutes")
    bad = fifteen.where("unix_seconds(window_end) - unix_seconds(window_start) != 900"
                        " or minute(window_start) % 15 != 0 or min_temperature > avg_temperature"
                        " or avg_temperature > max_temperature")
    assert bad.count() == 0, show(bad)
    ten = query(spark, "plant_10_second_windows")
    assert ten.where("second(time) % 10 != 0 or count < 1 or min > mean or mean > max").count() == 0


def test_cli_queries_prints_each_query_and_its_rows(demo):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["queries", "--out", str(demo.root)]) == 0
    lines = buf.getvalue().splitlines()
    assert [ln.split()[0] for ln in lines] == list(QUERIES)
    assert all(int(ln.split()[1].replace(",", "")) > 0 for ln in lines)


def test_cli_queries_needs_a_demo_output(tmp_path, capsys):
    assert main(["queries", "--out", str(tmp_path)]) == 2
    assert "no complete dbx-iot-gen demo output" in capsys.readouterr().err


def test_cli_is_quiet_and_spark_s_own_output_goes_to_a_log(demo, tmp_path):
    # a new user's run: its own process, its own local Spark (with the Delta jars to resolve), its
    # own temporary folder (where the log goes)
    exe = shutil.which("dbx-iot-gen", path=sysconfig.get_path("scripts"))
    assert exe, "pip install puts the dbx-iot-gen console script beside the interpreter"
    done = subprocess.run([exe, "queries", "--out", str(demo.root)], cwd=tmp_path, text=True, capture_output=True,
                          env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no Ivy report, no log4j lines, no JVM warnings
    lines = done.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == list(QUERIES)
    assert all(re.fullmatch(r"\w+ +[\d,]+ rows +[\d.]+ s", ln) for ln in lines), done.stdout
    logs = list(tmp_path.glob("dbx-iot-gen-spark-*.log"))
    assert len(logs) == 1 and "log4j" in logs[0].read_text(), "Spark's own output is kept in the log file"


def test_a_spark_error_is_one_clear_message(demo, tmp_path, capsys):
    broken = tmp_path / "out"
    (broken / "delta" / "devices").mkdir(parents=True)  # a table folder that is no Delta table
    shutil.copy(demo.root / "manifest.json", broken / "manifest.json")
    assert main(["queries", "--out", str(broken)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dbx-iot-gen: error: Spark failed: ") and "devices" in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_spark_error_names_the_log_of_the_spark_it_started():
    from pyspark.errors import PySparkRuntimeError

    from dbx_iot_gen.cli import _spark_failure
    from dbx_iot_gen.spark import spark_log_path

    exc = PySparkRuntimeError(errorClass="JAVA_GATEWAY_EXITED", messageParameters={})
    log = spark_log_path()
    assert not log.exists()  # this test process started no Spark from the command line
    assert _spark_failure(exc) == f"Spark failed: {str(exc).splitlines()[0]}"
    log.write_text("Error: JAVA_HOME is not set\n")
    try:
        assert _spark_failure(exc).endswith(f"; Spark's own output is in {log}")
    finally:
        log.unlink()
    assert _spark_failure(ValueError("not Spark's")) is None
