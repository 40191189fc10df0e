"""The Unity Catalog output path (issue: tables as catalog.schema.table with comments), run on the
local catalog (spark_catalog) with a folder as the landing root."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from chispa import assert_df_equality

from dbx_iot_gen.cli import main
from dbx_iot_gen.schemas import TABLES


@pytest.fixture(scope="module")
def catalog_demo(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("catalog")
    schema = "dbx_iot_gen_catalog_test"
    spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{schema} CASCADE")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["demo", "--scale", "tiny", "--catalog", "spark_catalog", "--schema", schema,
                     "--out", str(root / "landing")])
    yield schema, root / "landing", code, buf.getvalue()
    spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{schema} CASCADE")


def test_tables_land_in_the_schema_it_creates_with_comments(spark, catalog_demo):
    schema, _, code, out = catalog_demo
    assert code == 0, out
    assert f"tables in spark_catalog.{schema}" in out
    found = {t.name for t in spark.catalog.listTables(f"spark_catalog.{schema}")}
    assert found == set(TABLES)
    for name, published in TABLES.items():
        table = spark.catalog.getTable(f"spark_catalog.{schema}.{name}")
        assert table.description == published.comment, name
        columns = {c.name: c.description for c in spark.catalog.listColumns(f"spark_catalog.{schema}.{name}")}
        assert columns == {c.name: c.comment for c in published.columns}, name


def test_catalog_tables_equal_the_folder_output(spark, catalog_demo, demo):
    schema, landing, _, _ = catalog_demo
    for name in ("devices_cdc", "sensor_readings", "events", "plant_sensors"):
        assert_df_equality(spark.table(f"spark_catalog.{schema}.{name}"), demo.delta(name), ignore_row_order=True,
                           ignore_nullable=True, ignore_metadata=True)
    manifest = json.loads((landing / "manifest.json").read_text())
    assert manifest["tables"]["devices"]["table"] == f"spark_catalog.{schema}.devices"
    assert (landing / "landing" / "devices_cdc" / "batch_000").is_dir()
    assert not (landing / "delta").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--catalog", "main"], "--schema: give --catalog and --schema together"),
        (["--schema", "iot"], "--catalog: give --catalog and --schema together"),
        (["--catalog", "main", "--schema", "iot; DROP"], "--schema: must be a name of letters, digits, _ and -"),
    ],
)
def test_bad_catalog_arguments_name_the_field(tmp_path, capsys, args, message):
    assert main(["demo", "--scale", "tiny", "--out", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
