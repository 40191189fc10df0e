"""Shared fixtures: one local Spark session with Delta for the whole run, and one tiny demo output."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.cli import main
from dbx_iot_gen.config import ANOMALY_TYPES
from dbx_iot_gen.spark import get_spark


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
