"""The README cannot rot: its Python example runs, and its tables list every column."""

from __future__ import annotations

import re
from pathlib import Path

from chispa import assert_df_equality

from dbx_iot_gen.schemas import DEVICE_COLUMNS, TABLES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_lists_every_table_and_column():
    for table in TABLES.values():
        row = next((ln for ln in README.splitlines() if ln.startswith(f"| `{table.name}` |")), None)
        assert row is not None, table.name
        for column in table.columns:
            assert column.name in row, (table.name, column.name)


def test_readme_python_example_adds_a_column_and_builds(spark, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    example = next(b for b in blocks if "readings_spec" in b)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    readings = namespace["readings"]
    row = readings.where("unit = 'celsius'").select("metric_value", "value_fahrenheit").first()
    assert abs(row["value_fahrenheit"] - (row["metric_value"] * 1.8 + 32)) < 1e-9
    assert "value_fahrenheit" in capsys.readouterr().out


def test_readme_quick_start_is_two_commands():
    quick = README.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert quick.strip().splitlines() == ['pip install ".[local]"', "dbx-iot-gen demo"]


def test_readme_ground_truth_example_runs(spark, capsys):
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "readings_spec" in b
              or "anomaly_labels" in b]
    namespace: dict = {}
    for block in blocks[:2]:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["labels"].count() > 0
    truth = namespace["truth"]
    assert truth.where("is_anomaly or quality_issue is not null").count() == 0
    assert truth.count() == namespace["readings"].select("reading_id").distinct().count()


def test_readme_merge_example_replays_the_cdc_into_the_final_registry(spark, demo, tmp_path):
    block = next(b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "merge_scd1" in b)
    # the example's demo folder is the tiny demo's; its silver tables go to a fresh folder
    root = tmp_path / "iot_demo"
    root.mkdir()
    (root / "landing").symlink_to(demo.root / "landing")
    namespace: dict = {"spark": spark}
    exec(compile(block.replace('"iot_demo/', f'"{root}/'), "README.md", "exec"), namespace)
    reported = demo.delta("devices").where("decommissioned_at is null").select(*DEVICE_COLUMNS)
    assert_df_equality(namespace["registry"], reported, ignore_row_order=True, ignore_nullable=True)
    history = spark.read.format("delta").load(str(root / "silver" / "devices_history"))
    assert history.where("is_current").count() == reported.count()


def test_readme_stream_example_writes_a_feed(spark, tmp_path, monkeypatch):
    block = next(b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "start_stream" in b)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"spark": spark}
    exec(compile(block, "README.md", "exec"), namespace)
    assert not namespace["query"].isActive
    feed = spark.read.format("delta").load(str(tmp_path / "iot_stream" / "sensor_readings"))
    assert feed.count() > 0
    assert feed.agg({"reading_id": "min"}).first()[0] <= 500  # from the first micro-batch on
