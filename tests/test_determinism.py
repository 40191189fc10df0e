"""Principles 2 and 3: the same table with any partitioning, and no Python in the large tables' plans."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from dbx_iot_gen.demo import DERIVED_TABLES, TABLE_SPECS

PYTHON_NODES = ("ArrowEvalPython", "BatchEvalPython", "PythonUDF", "MapInPandas", "FlatMapGroupsInPandas")


# the compatibility subset (other Spark lines): the tables made by Generate and window stages
COMPAT_SPECS = ("sensor_readings", "telemetry", "environment_readings")


@pytest.mark.parametrize("table", [pytest.param(t, marks=pytest.mark.compat) if t in COMPAT_SPECS else t
                                   for t in TABLE_SPECS])
def test_one_and_seven_partitions_give_the_same_table(spark, tiny, table):
    spec = TABLE_SPECS[table]
    one = spec(spark, tiny.replace(partitions=1)).build()
    seven = spec(spark, tiny.replace(partitions=7)).build()
    assert one.rdd.getNumPartitions() == 1 and seven.rdd.getNumPartitions() == 7
    assert_no_python_evaluation(seven, table)
    assert_df_equality(one, seven, ignore_row_order=True)


# the compatibility subset takes the registry's tables; labels, events and alerts (built on the
# readings, which it does take) cost 1-4 minutes each there, and CI's 90 minutes are the limit
@pytest.mark.parametrize("table", [pytest.param(t, marks=pytest.mark.compat) if t in ("devices", "devices_cdc")
                                   else t for t in DERIVED_TABLES])
def test_derived_tables_do_not_depend_on_partitioning(spark, tiny, table):
    """Labels, events and alerts with other readings partitions and other shuffle partitions."""
    build = DERIVED_TABLES[table]
    one = build(spark, tiny.replace(partitions=1))
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    try:
        seven = build(spark, tiny.replace(partitions=7)).cache()
        seven.count()
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous)
    assert seven.count() > 0
    assert_no_python_evaluation(one, table)
    assert_df_equality(one, seven, ignore_row_order=True)


def assert_no_python_evaluation(df, table: str) -> None:
    """Every table is native SQL: its physical plan evaluates no Python (a UDF would make the big
    tables slow and Spark Connect's rows depend on the client's Python)."""
    plan = df._jdf.queryExecution().executedPlan().toString()
    found = [node for node in PYTHON_NODES if node in plan]
    assert not found, f"{table} plan evaluates Python: {found}"


def test_the_python_evaluation_check_finds_a_udf(spark):
    """The check above can fail: a Python UDF in a plan is found."""
    from pyspark.sql.functions import udf

    with pytest.raises(AssertionError, match="evaluates Python"):
        assert_no_python_evaluation(spark.range(3).select(udf(lambda x: x + 1, "long")("id")), "t")


def test_same_seed_same_rows_other_seed_other_rows(spark, tiny):
    spec = TABLE_SPECS["sensor_readings"]
    a = spec(spark, tiny).build()
    b = spec(spark, tiny).build()
    c = spec(spark, tiny.replace(seed=7)).build()
    assert_df_equality(a, b, ignore_row_order=True)
    assert a.exceptAll(c).count() > 0.9 * a.count()


@pytest.mark.parametrize("table", ["sensor_readings", "telemetry", "plant_sensors", "environment_readings"])
def test_generated_code_stays_under_the_jit_limit(spark, tiny, table):
    """Over 8,000 bytes of bytecode HotSpot stops compiling a method: readings ran 60x slower."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from codegen_size import JIT_LIMIT, max_method_bytes

    size = max_method_bytes(TABLE_SPECS[table](spark, tiny).build())
    assert 0 < size < JIT_LIMIT, f"{table}: largest generated method is {size} bytes"


ANSI = "spark.sql.ansi.enabled"


@pytest.fixture
def ansi_session(spark):
    """The session in ANSI mode (Spark 4's default; not 3.5's), as it was afterwards."""
    before = spark.conf.get(ANSI, None)
    spark.conf.set(ANSI, "true")
    yield spark
    if before is None:
        spark.conf.unset(ANSI)
    else:
        spark.conf.set(ANSI, before)


def test_unchecked_arithmetic_stays_in_the_plan_and_the_session_keeps_its_mode(ansi_session):
    """What makes the specs faster: a DataFrame built inside keeps unchecked bigint arithmetic
    (an overflow wraps instead of failing) while the session stays in ANSI mode."""
    from dbx_iot_gen.spark import unchecked_arithmetic

    spark = ansi_session
    with unchecked_arithmetic(spark):
        wraps = spark.range(1).selectExpr("9223372036854775807L + id + 1L AS x")
    assert spark.conf.get(ANSI) == "true"
    assert wraps.first().x == -(2**63)
    with pytest.raises(Exception, match="ARITHMETIC_OVERFLOW"):
        spark.range(1).selectExpr("9223372036854775807L + id + 1L AS x").collect()


@pytest.mark.parametrize("table", ["sensor_readings", "environment_readings"])
def test_checked_and_unchecked_arithmetic_give_the_same_rows(ansi_session, tiny, table):
    """The specs build with unchecked arithmetic; dbldatagen's own build of the same spec, in
    the session's ANSI mode, gives the same rows."""
    import dbldatagen as dg

    spec = TABLE_SPECS[table](ansi_session, tiny)
    checked = dg.DataGenerator.build(spec)
    assert_df_equality(spec.build(), checked, ignore_row_order=True, ignore_nullable=True)
