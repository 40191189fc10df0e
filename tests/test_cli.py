"""Bad input: one clear message naming the field, a non-zero exit, and nothing written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from dbx_iot_gen.cli import error_message, main
from dbx_iot_gen.errors import DbxIotGenError
from dbx_iot_gen.merge import read_cdc_batches
from dbx_iot_gen.output import CatalogTarget, OutputLayout
from dbx_iot_gen.queries import demo_output
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.stream import check_stream_args


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "huge"], "invalid choice: 'huge'"),
        (["--seed", "-4"], "--seed: must be 0 or more"),
        (["--partitions", "many"], "--partitions: must be a whole number"),
        (["--config", "{missing}"], "config: file not found"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    args = [a.replace("{missing}", str(tmp_path / "nope.json")) for a in args]
    assert main(["demo", "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_bad_config_field_names_the_field(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"scale": "tiny", "n_devices": 3}))
    assert main(["demo", "--config", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "n_devices: must be from 20 to 1,000,000, got 3" in err
    assert not (tmp_path / "out").exists()


def test_unusable_out_dir(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(["demo", "--scale", "tiny", "--out", str(a_file)]) == 2
    assert "--out:" in capsys.readouterr().err and a_file.read_text() == "x"
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_text("meow")
    assert main(["demo", "--scale", "tiny", "--out", str(foreign)]) == 2
    assert "holds no dbx-iot-gen output" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["cat.jpg"]


def test_tables_lists_every_table_and_column(capsys):
    assert main(["tables"]) == 0
    out = capsys.readouterr().out
    for table in TABLES.values():
        assert table.name in out and all(c.name in out for c in table.columns)


def test_console_script_is_installed():
    exe = shutil.which("dbx-iot-gen", path=sysconfig.get_path("scripts"))
    assert exe, "pip install puts the dbx-iot-gen console script beside the interpreter"
    done = subprocess.run([exe, "demo", "--scale", "nope"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--scale" in done.stderr


def test_clean_flag_turns_quality_problems_off_and_keeps_the_file_s_fields(tmp_path):
    from dbx_iot_gen.cli import _parser, config_from_args

    cfg_file = tmp_path / "c.json"
    cfg_file.write_text('{"scale": "tiny", "quality": {"null_rate": 0.1}}')
    args = _parser().parse_args(["demo", "--config", str(cfg_file), "--clean"])
    config = config_from_args(args)
    assert config.quality.clean and config.quality.null_rate == 0.1 and config.quality.rate("null_value") == 0.0
    assert not config_from_args(_parser().parse_args(["demo"])).quality.clean


def _config_of(argv: list[str]):
    from dbx_iot_gen.cli import _parser, config_from_args

    return config_from_args(_parser().parse_args(argv))


@pytest.mark.parametrize("command", ["demo", "stream"])
def test_scale_flag_with_a_file_that_names_only_the_seed(tmp_path, command):
    """--scale picks the preset; the file changes only what it names (not the whole small preset)."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"seed": 3}))
    extra = ["--table", "sensor_readings"] if command == "stream" else []
    config = _config_of([command, "--scale", "tiny", "--config", str(cfg), *extra])
    assert (config.scale, config.seed, config.n_devices, config.n_locations) == ("tiny", 3, 60, 8)
    assert config.end.isoformat() == "2024-03-03T00:00:00+00:00"


def test_a_file_that_names_its_scale_and_the_flags_on_top(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"scale": "tiny", "seed": 3, "n_devices": 100, "quality": {"null_rate": 0.05}}))
    config = _config_of(["demo", "--config", str(cfg)])
    assert (config.scale, config.seed, config.n_devices, config.n_locations) == ("tiny", 3, 100, 8)
    flagged = _config_of(["demo", "--config", str(cfg), "--seed", "9", "--clean"])
    assert (flagged.seed, flagged.n_devices, flagged.quality.null_rate, flagged.quality.clean) == (9, 100, 0.05, True)
    # what the manifest records (config.to_dict()) is what was asked for, field by field
    asked = {"scale": "tiny", "seed": 9, "n_devices": 100, "n_locations": 8, "reading_cadence_seconds": 600}
    recorded = flagged.to_dict()
    assert {k: recorded[k] for k in asked} == asked
    assert recorded["quality"]["null_rate"] == 0.05 and recorded["quality"]["clean"] is True
    # a --scale flag wins over the file's scale, and the file's other fields still apply
    other = _config_of(["demo", "--scale", "small", "--config", str(cfg)])
    assert (other.scale, other.n_devices, other.n_locations, other.reading_cadence_seconds) == ("small", 100, 50, 300)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write into: permission bits for a user; for root (whom they do not
    stop), a read-only tmpfs mount."""
    import os

    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only folder here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize("where", ["proc", "file", "read_only"])
def test_unusable_out_exits_2_with_one_message_and_writes_nothing(tmp_path, capsys, request, where):
    if where == "proc":
        out = "/proc/dbx-iot-gen-out"
    elif where == "file":
        (tmp_path / "afile").write_text("x")
        out = str(tmp_path / "afile")
    else:
        out = str(request.getfixturevalue("read_only_folder") / "out")
    assert main(["demo", "--scale", "tiny", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "--out:" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    if where == "file":
        assert (tmp_path / "afile").read_text() == "x"
    else:
        assert not Path(out).exists()



def _out_dir_is_a_file(tmp: Path) -> None:
    (tmp / "a_file").write_text("x")
    OutputLayout.local(str(tmp / "a_file")).check_usable()


@pytest.mark.parametrize(
    ("call", "field", "flag"),
    [
        (_out_dir_is_a_file, "out_dir", "--out"),
        (lambda tmp: demo_output(str(tmp)), "out_dir", "--out"),
        (lambda tmp: check_stream_args("telemetry", "historical", 1), "table", "--table"),
        (lambda tmp: check_stream_args("sensor_readings", "historical", 0), "rows_per_second", "--rows-per-second"),
        (lambda tmp: check_stream_args("sensor_readings", "historical", 1, "parquet"), "fmt", "--sink"),
        (lambda tmp: CatalogTarget("main", "iot; DROP"), "schema", "--schema"),
        (lambda tmp: read_cdc_batches(None, str(tmp)), "folder", "folder"),
    ],
)
def test_library_errors_name_the_parameter_not_a_flag(tmp_path, call, field, flag):
    """From Python an error names the function's parameter; the command line says its flag."""
    with pytest.raises(DbxIotGenError) as err:
        call(tmp_path)
    assert str(err.value).startswith(f"{field}: ") and err.value.field == field
    assert error_message(err.value).startswith(f"{flag}: ")


def test_the_package_front_has_what_a_notebook_needs():
    import dbx_iot_gen
    from dbx_iot_gen import demo, output, queries, schemas, spark

    front = {"generate_iot_demo": demo.generate_iot_demo, "build_tables": demo.build_tables,
             "build_table": demo.build_table, "get_spark": spark.get_spark, "CatalogTarget": output.CatalogTarget,
             "TABLES": schemas.TABLES, "query": queries.query, "describe": schemas.describe}
    for name, value in front.items():
        assert getattr(dbx_iot_gen, name) is value and name in dbx_iot_gen.__all__, name


def test_one_registry_says_how_each_table_is_made():
    """schemas.TABLES: every table's builder resolves; the demo's and the stream's lists are its views."""
    from dbx_iot_gen.demo import DERIVED_TABLES, TABLE_SPECS, TABLES_IN_ORDER
    from dbx_iot_gen.stream import STREAM_TABLES

    for name, table in TABLES.items():
        function = table.build_function()
        assert callable(function) and function.__name__ == table.builder.split(":")[1], name
        assert table.kind in ("spec", "derived") and (not table.streams or table.kind == "spec"), name
        assert function.__annotations__["return"] in (("dg.DataGenerator",) if table.kind == "spec" else
                                                      ("DataFrame",)), name
    assert set(TABLE_SPECS) | set(DERIVED_TABLES) == set(TABLES) == set(TABLES_IN_ORDER)
    assert list(STREAM_TABLES) == ["sensor_readings", "plant_sensors", "environment_readings"]
    assert TABLES_IN_ORDER.index("devices_cdc") < TABLES_IN_ORDER.index("devices")  # derived after its source
