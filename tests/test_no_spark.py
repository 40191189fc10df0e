"""Without pyspark: a config can be built, validated and listed, and argument errors are clear
(issue 15, item 4). Runs the package from this checkout in a fresh virtualenv that has none of the
Spark packages."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """A virtualenv's python without pyspark, dbldatagen or delta-spark."""
    root = tmp_path_factory.mktemp("bare")
    venv.EnvBuilder(with_pip=False).create(root)
    python = str(root / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    probe = subprocess.run([python, "-c", "import pyspark"], capture_output=True)
    assert probe.returncode != 0  # the fixture's premise
    return python


def run(python: str, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def cli(python: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(python, f"import sys; from dbx_iot_gen.cli import main; sys.exit(main({args!r}))", cwd)


def test_a_config_is_built_validated_and_written_without_spark(bare_python, tmp_path):
    done = run(bare_python, "from dbx_iot_gen import IoTConfig; import sys\n"
                            "c = IoTConfig.preset('tiny', seed=3)\n"
                            "print(c.n_devices, c.seed)\n"
                            "print('pyspark' in sys.modules)", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["60", "3", "False"]
    bad = run(bare_python, "from dbx_iot_gen import IoTConfig; IoTConfig.preset('tiny', seed=-1)", tmp_path)
    assert bad.returncode != 0 and "seed" in bad.stderr and "pyspark" not in bad.stderr


def test_cli_lists_tables_and_rejects_bad_arguments_without_spark(bare_python, tmp_path):
    tables = cli(bare_python, ["tables"], tmp_path)
    assert tables.returncode == 0, tables.stderr
    assert "sensor_readings" in tables.stdout and "location_id" in tables.stdout
    scale = cli(bare_python, ["demo", "--scale", "huge"], tmp_path)
    assert scale.returncode == 2 and "--scale" in scale.stderr
    (tmp_path / "bad.json").write_text(json.dumps({"seed": "x"}))
    config = cli(bare_python, ["demo", "--config", str(tmp_path / "bad.json")], tmp_path)
    assert config.returncode == 2 and "seed" in config.stderr and "Traceback" not in config.stderr


def test_a_spark_command_without_spark_says_what_to_install(bare_python, tmp_path):
    done = cli(bare_python, ["demo", "--scale", "tiny", "--out", str(tmp_path / "out")], tmp_path)
    assert done.returncode != 0
    assert "pyspark" in done.stderr and "dbx-iot-gen[local]" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_a_notebook_reads_what_a_table_holds_without_spark(bare_python, tmp_path):
    done = run(bare_python, "import dbx_iot_gen as d, sys\n"
                            "print(d.describe('devices_cdc').splitlines()[0].split()[0], len(d.TABLES))\n"
                            "print('pyspark' in sys.modules)", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["devices_cdc", "10", "False"]
    bad = run(bare_python, "import dbx_iot_gen as d; d.describe('readings')", tmp_path)
    assert bad.returncode != 0 and "table: must be one of locations," in bad.stderr
