"""Every entry point of dbx_iot_gen over Spark Connect, for ``tests/test_connect.py``.

Run as ``DBX_IOT_GEN_SPARK_CONNECT=1 python tests/connect_workload.py OUT`` in the folder OUT:
the library's own helper builds a local Spark Connect session (pyspark starts the Connect server
in this process, with Delta), then the py4j gateway to the server's JVM is closed, so that any
call through it fails, as it would on serverless compute. Then it runs, as a user would, with the
CLI: the tiny ``demo``, the same into ``spark_catalog.dbx_iot_gen_connect`` (managed tables in
OUT/spark-warehouse), a historical stream stopped and restarted, a short realtime one and the
``queries``; then the CDC replay with MERGE (SCD1 and SCD2), each query's result written to
Delta, and the quick start notebook. Everything goes under OUT, for the test to compare with a
classic run; ``OUT/result.json`` says what happened.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

EXIT_CODE = "exit_code"  # written in OUT when the workload's process ends, whatever its end


def start(root: Path) -> subprocess.Popen:
    """Run this workload in a subprocess, in ``root`` (output and logs there); when it ends, its
    exit code is written to ``root/exit_code`` (so that another process can wait for it: see
    :func:`wait`). The subprocess leads a process group of its own (:func:`stop`)."""
    from dbx_iot_gen.spark import CONNECT_ENV

    env = {**os.environ, CONNECT_ENV: "1"}
    run = f'"$0" "$1" "$2"; echo $? > "$2/{EXIT_CODE}"'
    with open(root / "stdout.txt", "w") as out, open(root / "stderr.txt", "w") as err:
        # in root: the catalog demo's managed tables go to root/spark-warehouse
        return subprocess.Popen(["sh", "-c", run, sys.executable, __file__, str(root)], env=env, stdout=out,
                                stderr=err, cwd=root, start_new_session=True)


def wait(root: Path, timeout: float) -> int:
    """Wait for the workload started in ``root`` (by this process or another) to end; its exit code."""
    deadline = time.monotonic() + timeout
    while not (root / EXIT_CODE).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Connect workload in {root} did not end in {timeout} s")
        time.sleep(1)
    time.sleep(0.2)  # the shell has written the line
    return int((root / EXIT_CODE).read_text().strip())


def stop(proc: subprocess.Popen) -> None:
    """Kill the workload's process group, if it still runs."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()


def close_the_gateway() -> list[str]:
    """Make every py4j call fail; returns the list where the offending stacks are recorded."""
    from pyspark import SparkContext

    calls: list[str] = []
    client = SparkContext._gateway._gateway_client  # type: ignore[union-attr]
    send = client.send_command

    def refuse(*args: object, **kwargs: object) -> object:
        stack = "".join(traceback.format_stack(limit=12))
        if "garbage_collect_object" in stack:  # py4j's own thread, freeing the session's objects
            return send(*args, **kwargs)
        calls.append(stack)
        raise RuntimeError("dbx_iot_gen used the JVM gateway, which Spark Connect does not have")

    client.send_command = refuse
    return calls


def reopen_the_gateway() -> None:
    from pyspark import SparkContext

    client = SparkContext._gateway._gateway_client  # type: ignore[union-attr]
    del client.send_command  # the class's method again, so that pyspark can stop at exit


def cli(args: list[str]) -> tuple[int, str]:
    from dbx_iot_gen.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(args)
    print(buf.getvalue(), flush=True)
    return code, buf.getvalue()


def main(out: Path) -> dict:
    from dbx_iot_gen import IoTConfig
    from dbx_iot_gen.merge import merge_scd1, merge_scd2, read_cdc_batches
    from dbx_iot_gen.queries import QUERIES, query, register_demo_tables
    from dbx_iot_gen.spark import BARRIER_PREFIX, get_spark, is_connect

    spark = get_spark()
    result: dict = {"session": type(spark).__module__ + "." + type(spark).__name__, "connect": is_connect(spark)}
    calls = close_the_gateway()
    try:
        demo = out / "demo"
        result["demo"] = cli(["demo", "--scale", "tiny", "--out", str(demo)])
        # the bundle job's path: tables in catalog.schema with comments (the local catalog here)
        schema = "spark_catalog.dbx_iot_gen_connect"
        result["catalog_demo"] = cli(["demo", "--scale", "tiny", "--catalog", "spark_catalog", "--schema",
                                      schema.split(".")[1], "--out", str(out / "uc")])
        result["catalog"] = {
            t.name: {
                "comment": spark.catalog.getTable(f"{schema}.{t.name}").description,
                "columns": {c.name: c.description for c in spark.catalog.listColumns(f"{schema}.{t.name}")},
                "location": spark.sql(f"DESCRIBE DETAIL {schema}.{t.name}").first()["location"],
            }
            for t in spark.catalog.listTables(schema)
            if not t.isTemporary
        }
        # the demo dropped the temporary views it made (analysis barriers)
        result["views_left"] = [t.name for t in spark.catalog.listTables() if t.name.startswith(BARRIER_PREFIX)]
        stream = ["stream", "--table", "sensor_readings", "--mode", "historical", "--scale", "tiny",
                  "--rows-per-second", "300", "--duration", "12", "--out", str(out / "stream")]
        result["stream"] = [cli(stream), cli(stream)]  # the second run goes on from the checkpoint
        result["started"] = time.time()  # the realtime rows are stamped between started and ended
        result["realtime"] = cli(["stream", "--table", "plant_sensors", "--mode", "realtime", "--scale", "tiny",
                                  "--rows-per-second", "100", "--duration", "10", "--format", "json",
                                  "--out", str(out / "realtime")])
        result["ended"] = time.time()
        result["queries"] = cli(["queries", "--out", str(demo)])
        for batch in read_cdc_batches(spark, str(demo / "landing" / "devices_cdc")):
            merge_scd1(spark, batch, str(out / "scd1"))
            merge_scd2(spark, batch, str(out / "scd2"))
        register_demo_tables(spark, str(demo))
        for name in QUERIES:
            query(spark, name).write.format("delta").save(str(out / "queries" / name))
        sys.path.insert(0, str(Path(__file__).parent))
        from test_notebooks import run_notebook

        _, shown = run_notebook(spark, "01_quick_start.py", {"scale": "tiny"})
        result["quick_start"] = [[r.asDict() for r in rows] for rows in shown]
        result["config"] = IoTConfig.preset("tiny").to_dict()
    finally:
        result["gateway_calls"] = calls
        reopen_the_gateway()
    return result


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    result = main(out)
    (out / "result.json").write_text(json.dumps(result, indent=1, default=str))
