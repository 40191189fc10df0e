"""Shared fixtures: one local Spark session with Delta for the whole run, and one tiny demo output."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.cli import main
from dbx_iot_gen.config import ANOMALY_TYPES
from dbx_iot_gen.spark import get_spark
from tests import connect_workload


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Spark Connect workload (tests/connect_workload.py) now, when test_connect.py is
    to run: it runs in its own process alongside the other tests, and test_connect.py waits for
    it."""
    if any(item.nodeid.startswith("tests/test_connect.py") for item in session.items):
        root = Path(tempfile.mkdtemp(prefix="dbx_iot_gen_connect_"))
        CONNECT_RUNS.append((root, connect_workload.start(root)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    for root, proc in CONNECT_RUNS:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


# (folder, process) of the Connect workloads started
CONNECT_RUNS: list = []


@pytest.fixture(scope="session")
def spark() -> SparkSession:
    return get_spark("dbx-iot-gen-tests")


@pytest.fixture(scope="session")
def tiny() -> IoTConfig:
    return IoTConfig.preset("tiny")


def clean(config: IoTConfig) -> IoTConfig:
    """The config without anomalies and data-quality problems: the true values."""
    return config.replace(quality={"clean": True}, anomalies={f"{k}_rate": 0.0 for k in ANOMALY_TYPES})


@pytest.fixture(scope="session")
def tiny_clean(tiny: IoTConfig) -> IoTConfig:
    return clean(tiny)


class DemoOutput:
    """A tiny demo written by the CLI, as a user would run it."""

    def __init__(self, spark: SparkSession, root: Path, stdout: str, exit_code: int) -> None:
        self.spark, self.root, self.stdout, self.exit_code = spark, root, stdout, exit_code

    def delta(self, table: str) -> DataFrame:
        return self.spark.read.format("delta").load(str(self.root / "delta" / table))


@pytest.fixture(scope="session")
def demo(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> DemoOutput:
    root = tmp_path_factory.mktemp("demo") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["demo", "--scale", "tiny", "--out", str(root)])
    return DemoOutput(spark, root, buf.getvalue(), code)


def show(df: DataFrame, n: int = 10) -> str:
    """Offending rows, for assertion messages."""
    return "\n" + "\n".join(str(r) for r in df.limit(n).collect())


def online_all_along(spark: SparkSession, config: IoTConfig) -> DataFrame:
    """Ids of the devices the registry never has Offline or in Maintenance (``devices_cdc``): their
    readings follow only the schedules, windows and faults under test."""
    from dbx_iot_gen.tables.cdc import devices_cdc

    return (devices_cdc(spark, config).groupBy("device_id")
            .agg(F.expr("bool_and(status IN ('Online', 'Decommissioned')) AS steady"))
            .where("steady").select("device_id"))
