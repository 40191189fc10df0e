"""Largest generated method of each large table, in bytes of JVM bytecode.

HotSpot does not compile methods over 8,000 bytes of bytecode (DontCompileHugeMethods): a
whole-stage-codegen stage above that runs interpreted, 30-60 times slower (measured here on
sensor_readings). Run this before and after changing a large table's expressions.

    python bench/codegen_size.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyspark.sql import DataFrame

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.demo import TABLE_SPECS
from dbx_iot_gen.spark import get_spark

JIT_LIMIT = 8000


def max_method_bytes(df: DataFrame) -> int:
    """The largest method of the DataFrame's whole-stage-codegen stages (classic Spark only)."""
    jvm = df.sparkSession.sparkContext._jvm
    compile_ = jvm.org.apache.spark.sql.catalyst.expressions.codegen.CodeGenerator.compile
    sizes = []

    def walk(plan):  # type: ignore[no-untyped-def]
        if plan.getClass().getSimpleName() == "WholeStageCodegenExec":
            sizes.append(compile_(plan.doCodeGen()._2())._2().maxMethodCodeSize())
        children = plan.children().iterator()
        while children.hasNext():
            walk(children.next())

    # planned without adaptive execution: its plan shows its stages only once they have run
    spark, key = df.sparkSession, "spark.sql.adaptive.enabled"
    previous = spark.conf.get(key)
    spark.conf.set(key, "false")
    try:
        walk(df.select("*")._jdf.queryExecution().executedPlan())
    finally:
        spark.conf.set(key, previous)
    return max(sizes, default=0)


def main() -> None:
    spark = get_spark("dbx-iot-gen-codegen")
    config = IoTConfig.preset("tiny")
    for table in ("sensor_readings", "telemetry", "plant_sensors", "environment_readings"):
        size = max_method_bytes(TABLE_SPECS[table](spark, config).build())
        print(f"{table:<16} {size:>6,} bytes  ({size / JIT_LIMIT:.0%} of the JIT limit)")


if __name__ == "__main__":
    main()
