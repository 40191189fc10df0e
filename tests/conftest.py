"""Shared fixtures: one local Spark session with Delta for the whole run, and one tiny demo output."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.cli import main
from dbx_iot_gen.config import ANOMALY_TYPES
from dbx_iot_gen.kafka import kafka_package
from dbx_iot_gen.pipelines import POSTGRES_JDBC
from dbx_iot_gen.spark import get_spark
from tests import connect_workload
from tests.servers import LocalKafka

# The tests run in two processes (pytest-xdist, ``-n 2`` in pyproject.toml), each module's tests
# in one of them. The Spark Connect workload (tests/connect_workload.py) runs in a third, started
# by the first worker as the session begins, in a folder both workers know: test_connect.py,
# wherever it runs, waits for it there.


def pytest_configure(config: pytest.Config) -> None:
    # the controller of an xdist run names the run, so that it knows the workers' shared folder
    if not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None):
        config.option.testrunuid = config.option.testrunuid or uuid.uuid4().hex


def shared_root(config: pytest.Config, name: str) -> Path | None:
    """A folder ``name`` shared by an xdist run's workers (``None`` without xdist); the
    controller removes it when the run ends."""
    uid = (config.workerinput["testrunuid"] if hasattr(config, "workerinput")
           else getattr(config.option, "testrunuid", None))
    return Path(tempfile.gettempdir()) / f"dbx_iot_gen_{name}_{uid}" if uid else None


def connect_root(config: pytest.Config) -> Path | None:
    """The Connect workload's folder shared by an xdist run's workers (``None`` without xdist)."""
    return shared_root(config, "connect")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Connect workload now, when test_connect.py is to run: it runs alongside the
    other tests, and test_connect.py waits for it."""
    if session.config.option.collectonly or not any(
            item.nodeid.startswith("tests/test_connect.py") for item in session.items):
        return
    worker = getattr(session.config, "workerinput", {}).get("workerid")
    if worker is None:
        root = Path(tempfile.mkdtemp(prefix="dbx_iot_gen_connect_"))
    elif worker == "gw0":
        root = connect_root(session.config)
        root.mkdir()
    else:
        return
    CONNECT_RUNS.append((root, connect_workload.start(root)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    shared = connect_root(session.config)
    for root, proc in CONNECT_RUNS:
        if shared is not None:  # the other worker may still need it: let it end first
            with contextlib.suppress(TimeoutError):
                connect_workload.wait(root, timeout=1500)
        connect_workload.stop(proc)
        if shared is None:
            shutil.rmtree(root, ignore_errors=True)
    if shared is not None and not hasattr(session.config, "workerinput"):  # the controller, last
        shutil.rmtree(shared, ignore_errors=True)
        shutil.rmtree(shared_root(session.config, "demo"), ignore_errors=True)


# (folder, process) of the Connect workload this process started
CONNECT_RUNS: list = []


@pytest.fixture(scope="session")
def spark() -> SparkSession:
    # beside Delta, the sink tests' connectors: Spark's Kafka connector, PostgreSQL's JDBC driver
    return get_spark("dbx-iot-gen-tests", packages=[kafka_package(pyspark.__version__), POSTGRES_JDBC])


@pytest.fixture(scope="module")
def kafka() -> Iterator[LocalKafka]:
    """A Kafka broker on loopback for the module's tests (tests/servers.py)."""
    with LocalKafka() as broker:
        yield broker


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
def demo(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> DemoOutput:
    """The tiny demo, built once for the run: the first worker to need it builds it in the
    workers' shared folder (under a lock) and the other reads it there. Tests only read it."""
    shared = shared_root(request.config, "demo")
    if shared is None:
        root = tmp_path_factory.mktemp("demo") / "out"
        stdout, code = _run_demo(root)
        return DemoOutput(spark, root, stdout, code)
    shared.mkdir(parents=True, exist_ok=True)
    built = shared / "built.json"
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process ends
        if not built.exists():
            try:
                stdout, code = _run_demo(shared / "out")
            except BaseException as exc:  # the other worker fails the same way, not on half a build
                built.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
                raise
            built.write_text(json.dumps({"stdout": stdout, "exit_code": code}))
    run = json.loads(built.read_text())
    if "error" in run:
        pytest.fail(f"the shared tiny demo failed to build in the other worker: {run['error']}")
    return DemoOutput(spark, shared / "out", run["stdout"], run["exit_code"])


def _run_demo(root: Path) -> tuple[str, int]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["demo", "--scale", "tiny", "--out", str(root)])
    return buf.getvalue(), code


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
