"""The main job end to end: ``dbx-iot-gen demo`` output, manifest, landing JSON, re-runs."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

from chispa import assert_df_equality
from pyspark.sql import functions as F

from dbx_iot_gen import __version__, readings_spec
from dbx_iot_gen.cli import main
from dbx_iot_gen.demo import TABLES_IN_ORDER
from dbx_iot_gen.output import read_landing
from dbx_iot_gen.schemas import TABLES

from .conftest import clean, show


def test_demo_prints_a_progress_line_per_table(demo):
    assert demo.exit_code == 0
    lines = demo.stdout.splitlines()
    for table in TABLES_IN_ORDER:
        line = next((ln for ln in lines if ln.startswith(table + " ")), None)
        assert line is not None and " rows " in line and line.rstrip().endswith(" s"), demo.stdout


def test_manifest_counts_match_the_tables(demo, tiny):
    manifest = json.loads((demo.root / "manifest.json").read_text())
    assert manifest["version"] == __version__
    assert manifest["seed"] == tiny.seed and manifest["config"] == tiny.to_dict()
    assert list(manifest["tables"]) == list(TABLES_IN_ORDER)
    for name, entry in manifest["tables"].items():
        assert entry["rows"] == demo.delta(name).count() > 0, name
        assert entry["delta"] == str(demo.root / "delta" / name)
        assert entry["landing"] == str(demo.root / "landing" / name)


def test_delta_tables_have_the_published_schemas(demo):
    for name, schema in TABLES.items():
        df = demo.delta(name)
        found = [(f.name, f.dataType.simpleString().upper()) for f in df.schema.fields]
        assert found == [(c.name, c.type) for c in schema.columns], name


def test_landing_json_reads_back_equal_to_delta(demo):
    for name, schema in TABLES.items():
        folder = demo.root / "landing" / name
        landing = read_landing(demo.spark, str(folder / "batch_*" if name == "devices_cdc" else folder), schema.ddl)
        assert_df_equality(landing, demo.delta(name), ignore_row_order=True, ignore_nullable=True)
    line = next((demo.root / "landing" / "sensor_readings").glob("part-*.json")).open().readline()
    record = json.loads(line)
    assert record["timestamp"].endswith("Z") and "T" in record["timestamp"], record  # ISO-8601 UTC
    assert "anomaly_type" in record, "null fields are written, so every line has every column"


def test_foreign_keys_resolve(demo):
    devices, locations = demo.delta("devices"), demo.delta("locations")
    readings = demo.delta("sensor_readings").select("reading_id").distinct()
    for table, key, parent in (("sensor_readings", "device_id", devices), ("telemetry", "device_id", devices),
                               ("devices", "location_id", locations), ("anomaly_labels", "device_id", devices),
                               ("events", "device_id", devices), ("alerts", "device_id", devices),
                               ("alerts", "event_id", demo.delta("events")),
                               ("events", "reading_id", readings)):
        orphans = demo.delta(table).where(F.col(key).isNotNull()).join(parent, key, "left_anti")
        assert orphans.count() == 0, f"{table}.{key} not found:" + show(orphans)
    not_gps = demo.delta("telemetry").join(devices.where("device_type != 'GPS Tracker'"), "device_id")
    assert not_gps.count() == 0, show(not_gps)


def test_rerun_replaces_the_output_completely(spark, demo, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(demo.root, out)  # an earlier run's output (seed 42), and a stray file in it
    stray = out / "landing" / "devices" / "stray.json"
    stray.write_text('{"device_id": -1}\n')
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["demo", "--scale", "tiny", "--out", str(out), "--partitions", "3", "--seed", "2"]) == 0
    assert not stray.exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 2
    devices = spark.read.format("delta").load(str(out / "delta" / "devices"))
    assert devices.count() == manifest["tables"]["devices"]["rows"]
    assert devices.agg(F.min("device_id")).first()[0] == 1000
    serials = devices.select("device_serial")
    assert serials.intersect(demo.delta("devices").select("device_serial")).count() == 0, "seed 2's devices"
    # Delta keeps history, but the current version holds only this run's rows
    history = spark.sql(f"DESCRIBE HISTORY delta.`{out / 'delta' / 'devices'}`").count()
    assert history == 1, "a re-run starts the table afresh"


def test_manifest_counts_every_problem_as_found_in_the_tables(demo, tiny):
    """The manifest's problem counts, against predicates on the data itself (not on the labels alone)."""
    problems = json.loads((demo.root / "manifest.json").read_text())["problems"]
    readings = demo.delta("sensor_readings")
    distinct = readings.dropDuplicates(["reading_id"])
    start = f"timestamp'{tiny.start:%Y-%m-%d %H:%M:%S}'"
    # the true values, to tell a value in the wrong unit (Fahrenheit, Pa, W, a fraction, in/s)
    truth = readings_spec(demo.spark, clean(tiny)).build().selectExpr("reading_id", "metric_value AS truth")
    wrong_unit = ("CASE metric_name WHEN 'temperature' THEN truth * 1.8D + 32D WHEN 'humidity' THEN truth * 0.01D"
                  " WHEN 'pressure' THEN truth * 100D WHEN 'vibration' THEN truth / 25.4D ELSE truth * 1000D END")
    valued = (distinct.join(truth, "reading_id").join(_ranges(demo.spark), "metric_name")
              .selectExpr("*", "metric_value IN (85D, -127D, -999D, 65535D) AS sentinel",
                          f"abs(metric_value - {wrong_unit}) <= 1e-9D * abs(metric_value) AND metric_value != truth"
                          " AS mixed"))
    expected_quality = {
        "null_value": distinct.where("metric_value is null and device_status = 'Online'").count(),
        "duplicate": readings.count() - distinct.count(),
        "out_of_range": valued.where("(metric_value < low or metric_value > high) and not sentinel and not mixed")
        .count(),
        "sentinel_value": valued.where("sentinel").count(),
        "unit_mixup": valued.where("mixed").count(),
        # stamped by a clock reset to 1970 or to a firmware's build date, before the data's start
        "clock_reset": distinct.where(f"timestamp < {start}").count(),
        # first copies more than 4 s after their time (on time: 0.2-3 s; late: 5 s after reconnecting)
        "late_arrival": readings.groupBy("reading_id").agg(F.min(F.unix_micros("ingest_timestamp")).alias("ingest"),
                                                           F.min(F.unix_micros("timestamp")).alias("at"))
        .where(f"ingest > at + 4000000 and at >= unix_micros({start})").count(),
    }
    assert problems["quality"] == expected_quality
    assert all(n > 0 for n in expected_quality.values()), expected_quality
    # an episode: a label whose span on its channel holds readings of its kind (counted by a join
    # of the labels with the readings, not by the manifest's group-by of the labels)
    labels = demo.delta("anomaly_labels").alias("l")
    found = (labels.join(distinct.alias("r"), F.expr(
        "r.device_id = l.device_id AND r.metric_name = l.metric_name AND r.anomaly_type = l.anomaly_type"
        " AND r.timestamp BETWEEN l.start_ts AND l.end_ts"))
        .groupBy("l.anomaly_type").agg(F.countDistinct("l.anomaly_id").alias("n")).collect())
    episodes = {r["anomaly_type"]: r["n"] for r in found}
    for kind, counts in problems["anomalies"].items():
        assert counts["episodes"] == episodes.get(kind, 0) > 0, kind
        assert counts["readings"] == distinct.where(F.col("anomaly_type") == kind).count() > 0, kind
    assert problems["maintenance"]["readings"] == distinct.where("device_status = 'Maintenance'").count() > 0
    events = {r["event_type"]: r["count"] for r in demo.delta("events").groupBy("event_type").count().collect()}
    assert problems["events"] == events
    assert sum(problems["alerts"].values()) == demo.delta("alerts").count()


def _ranges(spark):
    from dbx_iot_gen.catalog import METRICS

    return spark.createDataFrame([(m.name, m.low, m.high) for m in METRICS.values()],
                                 "metric_name string, low double, high double")


def test_manifest_counts_the_cdc_changes_of_each_batch(demo, tiny):
    cdc = json.loads((demo.root / "manifest.json").read_text())["cdc"]["batches"]
    # counted in the landing files of each batch, line by line (not from the Delta table)
    found: dict = {}
    for folder in (demo.root / "landing" / "devices_cdc").iterdir():
        for part in folder.glob("*.json"):
            for line in part.read_text().splitlines():
                op = json.loads(line)["operation"]
                found.setdefault(folder.name, {})[op] = found.get(folder.name, {}).get(op, 0) + 1
    assert cdc == found
    assert sum(n for ops in cdc.values() for n in ops.values()) == demo.delta("devices_cdc").count()
    assert sorted(cdc) == [f"batch_{b:03d}" for b in range(tiny.cdc.batches + 1)]
    folders = sorted(p.name for p in (demo.root / "landing" / "devices_cdc").iterdir() if p.is_dir())
    assert folders == sorted(cdc)
