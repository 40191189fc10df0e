"""Randomness: native hash expressions with the right distributions, a function of the seed and key."""

from __future__ import annotations

from pyspark.sql import functions as F

from dbx_iot_gen.rand import Randomness


def test_uniform_int_range_choice_normal_distributions(spark):
    rnd = Randomness(42, "t")
    n = 200_000
    df = spark.range(n).selectExpr(
        f"{rnd.uniform('u', 'id')} AS u",
        f"{rnd.uniforms('v', 'id')[2]} AS v",
        f"{rnd.int_range('i', 'id', low=3, high=7)} AS i",
        f"{rnd.choice('c', 'id', values=['a', 'b', 'c'], weights=[70, 20, 10])} AS c",
        f"{rnd.normal('z', 'id', mean=10, stddev=2)} AS z",
    )
    s = df.agg(F.min("u"), F.max("u"), F.avg("u"), F.avg("v"), F.min("i"), F.max("i"),
               F.avg("z"), F.stddev("z"), F.corr("u", "v")).first()
    assert 0 <= s[0] and s[1] < 1 and abs(s[2] - 0.5) < 0.01 and abs(s[3] - 0.5) < 0.01
    assert (s[4], s[5]) == (3, 7)
    assert abs(s[6] - 10) < 0.05 and abs(s[7] - 2) < 0.05
    assert abs(s[8]) < 0.01, "columns must be independent (the seed's shared rand(42) stream was not)"
    shares = {r["c"]: r["count"] / n for r in df.groupBy("c").count().collect()}
    assert abs(shares["a"] - 0.7) < 0.01 and abs(shares["c"] - 0.1) < 0.01


def test_values_depend_on_seed_table_column_and_key_only(spark):
    def values(seed, table, column):
        expr = Randomness(seed, table).uniform(column, "id")
        return [r[0] for r in spark.range(5).selectExpr(expr).collect()]

    assert values(1, "t", "c") == values(1, "t", "c")
    assert values(1, "t", "c") != values(2, "t", "c")
    assert values(1, "t", "c") != values(1, "u", "c")
    assert values(1, "t", "c") != values(1, "t", "d")
    # the same key in another partitioning gives the same value
    expr = Randomness(1, "t").uniform("c", "id")
    one = spark.range(0, 1000, 1, 1).selectExpr("id", f"{expr} AS u")
    many = spark.range(0, 1000, 1, 13).selectExpr("id", f"{expr} AS u")
    assert one.exceptAll(many).count() == 0


def test_sql_str_is_read_back_by_spark_as_the_same_text(spark):
    """The one SQL string literal helper (city names, comments): quotes and backslashes survive."""
    from dbx_iot_gen.rand import sql_str

    texts = ["Kraków", "O'Brien", "back\\slash", "both \\' and '' and \\\\", "tab\there"]
    row = spark.sql("SELECT " + ", ".join(f"{sql_str(t)} AS t{i}" for i, t in enumerate(texts))).first()
    assert list(row) == texts
