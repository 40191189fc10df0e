"""The notebooks in notebooks/ (Databricks source format) run locally, cell by cell, with small
stand-ins for ``dbutils`` and ``display``, so they cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure
from pyspark.sql import DataFrame

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
HEADER = "# Databricks notebook source\n"
SEPARATOR = "\n# COMMAND ----------\n"


class Widgets:
    """``dbutils.widgets``: defaults from the notebook, values from the test."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values, self.defaults = values, {}

    def text(self, name: str, default: str, label: str | None = None) -> None:
        self.defaults[name] = default

    def dropdown(self, name: str, default: str, choices: list[str], label: str | None = None) -> None:
        assert default in choices, (name, default, choices)
        assert self.values.get(name, default) in choices, (name, self.values[name])
        self.defaults[name] = default

    def get(self, name: str) -> str:
        assert name in self.defaults, f"widget {name} read before it is defined"
        return self.values.get(name, self.defaults[name])


class DBUtils:
    def __init__(self, values: dict[str, str]) -> None:
        self.widgets = Widgets(values)


def run_notebook(spark, name: str, widgets: dict[str, str]) -> tuple[dict, list]:
    """Run a notebook's Python cells in order (magic cells, %md and %pip, are skipped); returns
    its namespace and what it displayed (as collected rows)."""
    text = (NOTEBOOKS / name).read_text()
    assert text.startswith(HEADER), name
    shown: list = []

    def display(df: DataFrame | Figure) -> None:
        shown.append(df if isinstance(df, Figure) else df.collect())

    namespace = {"spark": spark, "dbutils": DBUtils(widgets), "display": display}
    for i, cell in enumerate(text[len(HEADER):].split(SEPARATOR)):
        lines = [ln for ln in cell.strip().splitlines() if ln.strip()]
        if all(ln.startswith("# MAGIC") for ln in lines):
            continue
        exec(compile(cell, f"{name}[cell {i}]", "exec"), namespace)
    return namespace, shown


def test_every_notebook_is_in_databricks_source_format():
    names = sorted(p.name for p in NOTEBOOKS.glob("*.py"))
    assert names == ["01_quick_start.py", "02_generate_demo.py", "03_stream_feed.py", "04_demo_queries.py"]
    for name in names:
        text = (NOTEBOOKS / name).read_text()
        assert text.startswith(HEADER) and SEPARATOR in text
        assert "# MAGIC %md" in text


def test_quick_start_runs(spark, tmp_path, capsys):
    # without a demo output at the widget's folder, the notebook says so and shows no figures
    _, shown = run_notebook(spark, "01_quick_start.py", {"scale": "tiny", "demo": str(tmp_path / "none")})
    assert len(shown) == 3 and all(shown)
    assert {r["anomaly_type"] for r in shown[2]} == {"spike", "dropout", "drift", "stuck"}
    assert "no figures: " in capsys.readouterr().out


@pytest.fixture(scope="module")
def local_schema(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("notebooks")
    schema = "dbx_iot_gen_notebooks"
    spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{schema} CASCADE")
    spark.sql(f"CREATE SCHEMA spark_catalog.{schema} LOCATION '{root / 'warehouse'}'")
    yield {"catalog": "spark_catalog", "schema": schema, "volume": "landing", "scale": "tiny",
           "landing_root": str(root / "landing")}
    spark.sql("USE spark_catalog.default")
    spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{schema} CASCADE")


def test_generate_demo_then_queries(spark, local_schema):
    namespace, shown = run_notebook(spark, "02_generate_demo.py", local_schema)
    tables = {r["table"]: r["rows"] for r in shown[0]}
    assert len(tables) == 10 and all(tables.values())
    assert spark.table(f"spark_catalog.{local_schema['schema']}.devices").count() == tables["devices"]
    assert (Path(local_schema["landing_root"]) / "iot_demo" / "manifest.json").is_file()
    namespace, shown = run_notebook(spark, "04_demo_queries.py", local_schema)
    assert namespace["counts"] and all(namespace["counts"].values()), namespace["counts"]
    assert len(shown) == len(namespace["counts"]) + 1
    # the quick start's figures of that output: its tables are in the catalog, not Delta folders
    demo_dir = str(Path(local_schema["landing_root"]) / "iot_demo")
    namespace, shown = run_notebook(spark, "01_quick_start.py", {"scale": "tiny", "demo": demo_dir})
    figures = [f for f in shown if isinstance(f, Figure)]
    sections = [f.section for f in namespace["figures"]]
    assert len(figures) == len(sections) and sections[-7:] == ["profiles", "map", "vehicles", "ruuvi", "plant",
                                                               "events", "quality"], sections
    assert sections[:-7] == ["readings"] * 5


def test_stream_feed_runs(spark, tmp_path):
    widgets = {"scale": "tiny", "table": "plant_sensors", "mode": "historical", "rows_per_second": "200",
               "seconds": "6", "landing_root": str(tmp_path)}
    _, shown = run_notebook(spark, "03_stream_feed.py", widgets)
    assert shown[0][0]["rows"] > 0
