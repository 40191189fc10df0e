"""dbx_iot_gen over Spark Connect (serverless, shared clusters, Databricks Connect), proved locally.

``tests/connect_workload.py`` runs in a subprocess with ``DBX_IOT_GEN_SPARK_CONNECT=1`` (started
by conftest when the session begins, so it runs alongside the other tests): the library's helper
starts a local Connect server (pyspark's, in that process, with Delta) and a Connect client
session; the py4j gateway is then closed. It runs the tiny demo to folders and into a schema of
the catalog, a historical stream with a restart, a realtime stream, the queries, the CDC replay
with MERGE and the quick start notebook. Here, on the classic session, every output is compared
with the classic run's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.cli import main
from dbx_iot_gen.demo import TABLES_IN_ORDER
from dbx_iot_gen.errors import InvalidConfigError
from dbx_iot_gen.merge import merge_scd2, read_cdc_batches
from dbx_iot_gen.queries import QUERIES, query, register_demo_tables
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.spark import CONNECT_ENV, get_spark
from dbx_iot_gen.stream import STREAM_TABLES
from dbx_iot_gen.tables.cdc import final_registry
from tests import connect_workload
from tests.conftest import CONNECT_RUNS, connect_root
from tests.test_notebooks import run_notebook

pytestmark = pytest.mark.compat  # all of it, on each Spark 4 line (README, "Spark versions")


class ConnectRun:
    def __init__(self, root: Path, result: dict, started: float, ended: float) -> None:
        self.root, self.result, self.started, self.ended = root, result, started, ended

    def delta(self, spark, *parts: str):
        return spark.read.format("delta").load(str(self.root.joinpath(*parts)))


@pytest.fixture(scope="module")
def connect_run(request, tmp_path_factory) -> ConnectRun:
    # started by conftest when the session began (it runs alongside the other tests), by this
    # process or the first xdist worker; or now
    shared = connect_root(request.config)
    if CONNECT_RUNS:
        root = CONNECT_RUNS[0][0]
    elif shared is not None and shared.is_dir():
        root = shared
    else:
        root = tmp_path_factory.mktemp("connect")
        CONNECT_RUNS.append((root, connect_workload.start(root)))
    code = connect_workload.wait(root, timeout=1500)
    assert code == 0, (root / "stdout.txt").read_text()[-4000:] + (root / "stderr.txt").read_text()[-8000:]
    result = json.loads((root / "result.json").read_text())
    return ConnectRun(root, result, result["started"], result["ended"])


def test_the_workload_ran_over_connect_without_the_jvm_gateway(connect_run):
    r = connect_run.result
    assert r["connect"] and r["session"] == "pyspark.sql.connect.session.SparkSession", r["session"]
    assert r["gateway_calls"] == [], r["gateway_calls"][0]
    assert r["views_left"] == []
    runs = [r["demo"], r["catalog_demo"], *r["stream"], r["realtime"], r["queries"]]
    assert [code for code, _ in runs] == [0] * len(runs), runs
    for _, stdout in [*r["stream"], r["realtime"]]:  # each run wrote something and said so
        assert "stopped: 0 micro-batches" not in stdout and "stopped: " in stdout, stdout
    assert len([ln for ln in r["queries"][1].splitlines() if " rows " in ln]) == len(QUERIES)


def test_demo_over_connect_equals_the_classic_demo(spark, demo, connect_run):
    assert demo.exit_code == 0
    for table in TABLES_IN_ORDER:
        assert_df_equality(connect_run.delta(spark, "demo", "delta", table), demo.delta(table), ignore_row_order=True)
        # the landing JSON, line for line (every value as written)
        landing = (connect_run.root / "demo" / "landing" / table, demo.root / "landing" / table)
        lines = [spark.read.option("recursiveFileLookup", "true").text(str(p)).where("value != ''") for p in landing]
        assert lines[0].count() > 0
        assert_df_equality(lines[0], lines[1], ignore_row_order=True)
    manifests = [json.loads(p.read_text()) for p in (connect_run.root / "demo" / "manifest.json",
                                                      demo.root / "manifest.json")]
    for m in manifests:  # the run's own times and paths differ; the rest must not
        m.pop("created_at"), m.pop("seconds")
        for entry in m["tables"].values():
            entry.pop("seconds"), entry.pop("delta"), entry.pop("landing")
    assert manifests[0] == manifests[1]


def test_catalog_demo_over_connect_has_the_comments_and_the_classic_rows(spark, demo, connect_run):
    catalog = connect_run.result["catalog"]
    assert set(catalog) == set(TABLES)
    for name, published in TABLES.items():
        assert catalog[name]["comment"] == published.comment, name
        assert catalog[name]["columns"] == {c.name: c.comment for c in published.columns}, name
        written = spark.read.format("delta").load(catalog[name]["location"])
        assert_df_equality(written, demo.delta(name), ignore_row_order=True, ignore_nullable=True,
                           ignore_metadata=True)
    manifest = json.loads((connect_run.root / "uc" / "manifest.json").read_text())
    assert manifest["tables"]["devices"]["table"] == "spark_catalog.dbx_iot_gen_connect.devices"


def test_historical_stream_over_connect_restarts_without_gap_or_duplicate(spark, tiny, connect_run):
    path = str(connect_run.root / "stream" / "sensor_readings")
    batches = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").where("operation = 'STREAMING UPDATE'")
    runs = [int(re.search(r"stopped: (\d+) micro-batches", out).group(1)) for _, out in connect_run.result["stream"]]
    # (a batch that commits while the query stops may go unreported)
    assert runs[0] > 0 and runs[1] > 0 and sum(runs) <= batches.count(), (runs, batches.count())
    epochs = sorted(int(r[0]) for r in batches.select("operationParameters.epochId").collect())
    assert epochs == list(range(len(epochs))), "the second run goes on from the first one's last batch"
    streamed = spark.read.format("delta").load(path)
    ids = 300 * batches.count()  # rate-micro-batch: batch n holds ids [300 n, 300 (n + 1))
    expected = STREAM_TABLES["sensor_readings"](spark, tiny).withIdOutput().build().where(F.col("id") < ids)
    assert_df_equality(streamed, expected.drop("id"), ignore_row_order=True, ignore_nullable=True)


def test_realtime_stream_over_connect_is_stamped_with_the_wall_clock(spark, connect_run):
    rows = spark.read.json(str(connect_run.root / "realtime" / "plant_sensors")).selectExpr(
        "count(*) AS n", "min(unix_micros(to_timestamp(timestamp))) / 1e6 AS first",
        "max(unix_micros(to_timestamp(timestamp))) / 1e6 AS last").first()
    assert rows["n"] > 0
    assert connect_run.started - 1 <= rows["first"] <= rows["last"] <= connect_run.ended + 1, rows


def test_cdc_replay_over_connect_yields_the_classic_registry_and_history(spark, demo, connect_run, tmp_path):
    scd1 = connect_run.delta(spark, "scd1")
    registry = final_registry(spark, IoTConfig.preset("tiny"), demo.delta("devices"))
    assert_df_equality(scd1, registry, ignore_row_order=True, ignore_nullable=True)
    target = str(tmp_path / "history")
    for batch in read_cdc_batches(spark, str(demo.root / "landing" / "devices_cdc")):
        merge_scd2(spark, batch, target)
    classic = spark.read.format("delta").load(target)
    assert_df_equality(connect_run.delta(spark, "scd2"), classic, ignore_row_order=True)


def test_queries_over_connect_equal_the_classic_results(spark, demo, connect_run):
    register_demo_tables(spark, str(demo.root))
    for name in QUERIES:
        over_connect = connect_run.delta(spark, "queries", name)
        assert over_connect.count() > 0, name
        # an average of doubles depends on the order of its partial sums (which rows a task met
        # first), so it may differ in its last bits between two runs of one query
        assert_approx_df_equality(over_connect, query(spark, name), 1e-9, ignore_row_order=True,
                                  ignore_nullable=True)


def test_quick_start_notebook_over_connect_shows_what_the_classic_one_shows(spark, connect_run):
    _, shown = run_notebook(spark, "01_quick_start.py", {"scale": "tiny"})
    classic = [[json.loads(json.dumps(r.asDict(), default=str)) for r in rows] for rows in shown]
    assert connect_run.result["quick_start"] == classic


def test_a_bad_connect_setting_is_refused_by_name(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(CONNECT_ENV, "maybe")
    with pytest.raises(InvalidConfigError, match=rf"{CONNECT_ENV}: 'maybe' is not accepted: 1, true, yes"):
        get_spark()
    assert main(["demo", "--scale", "tiny", "--out", str(tmp_path / "out")]) == 2
    assert CONNECT_ENV in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
