"""Device lifecycle CDC (SPEC section 2, ``devices_cdc``): consistent batches, MERGE replays, and a
lifecycle the readings, telemetry and events agree with."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from chispa import assert_df_equality
from pyspark.sql import Window
from pyspark.sql import functions as F

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.fleet import FleetLayout
from dbx_iot_gen.lifecycle import BASE_RELEASES, Lifecycle, firmware_releases
from dbx_iot_gen.merge import merge_scd1, merge_scd2, read_cdc_batches
from dbx_iot_gen.output import write_landing
from dbx_iot_gen.schemas import DEVICE_COLUMNS
from dbx_iot_gen.tables import cdc_batch, devices, devices_cdc, events, final_registry, readings_spec, telemetry_spec

from .conftest import show


@pytest.fixture(scope="module")
def medium_cdc(spark, tiny):
    """A fleet of 400 over a week: 40 changes a batch, enough to see every rule at work."""
    cfg = tiny.replace(n_devices=400, end="2024-03-08T00:00:00")
    return cfg, devices_cdc(spark, cfg).cache()


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def test_every_change_applies_to_a_device_in_the_right_state(medium_cdc):
    """Replayed in order, in Python: no UPDATE or DELETE of an unknown device, no INSERT of a known
    one, nothing after a DELETE, firmware only forward, the device's fixed attributes never change."""
    cfg, cdc = medium_cdc
    rows = sorted(cdc.collect(), key=lambda r: (r["device_id"], r["sequence_num"]))
    by_device: dict[int, list] = defaultdict(list)
    for r in rows:
        by_device[r["device_id"]].append(r)
    fixed = [c for c in DEVICE_COLUMNS if c not in ("firmware_version", "status")]
    firmware_updates = status_updates = 0
    for device, changes in by_device.items():
        assert [c["sequence_num"] for c in changes] == list(range(1, len(changes) + 1)), device
        dates = [(c["batch_id"], c["operation_date"]) for c in changes]
        assert dates == sorted(dates) and len(set(dates)) == len(dates), f"sequence_num and time disagree: {device}"
        registered = False
        previous = None
        for c in changes:
            if c["operation"] == "INSERT":
                assert not registered, f"INSERT of a registered device: {c}"
                assert previous is None, f"INSERT after a DELETE: {c}"
                registered = True
            else:
                assert registered, f"{c['operation']} of a device that is not registered: {c}"
                assert all(c[k] == previous[k] for k in fixed), (previous, c)
                assert _version(c["firmware_version"]) >= _version(previous["firmware_version"]), (previous, c)
                if c["operation"] == "DELETE":
                    registered = False
                    assert c["status"] == "Decommissioned"
                else:
                    changed = [k for k in ("firmware_version", "status") if c[k] != previous[k]]
                    assert len(changed) == 1, f"an UPDATE changes firmware or status: {previous} -> {c}"
                    firmware_updates += changed == ["firmware_version"]
                    status_updates += changed == ["status"]
            previous = c
        assert changes[-1]["operation"] != "DELETE" or not registered
    assert firmware_updates > 0 and status_updates > 0
    assert len(by_device) == cfg.n_devices, "every device of the period has changes"


def test_firmware_stays_on_the_models_train_and_moves_forward(medium_cdc):
    """Every image's firmware is a release of its model's train; each firmware UPDATE moves the
    device 1 or 2 releases later on that same train."""
    cfg, cdc = medium_cdc
    length = BASE_RELEASES + 2 * cfg.cdc.batches + 1
    rows = sorted(cdc.select("device_id", "sequence_num", "model", "firmware_version", "operation").collect())
    positions = {}
    for r in rows:
        train = firmware_releases(cfg.seed, r["model"], length)
        assert r["firmware_version"] in train, f"firmware off its model's train: {r}"
        positions[r["device_id"], r["sequence_num"]] = train.index(r["firmware_version"])
    moves = [(r, positions[r["device_id"], r["sequence_num"]] - positions[r["device_id"], r["sequence_num"] - 1])
             for r in rows if r["sequence_num"] > 1]
    wrong = [(r, step) for r, step in moves if step not in (0, 1, 2) or (step and r["operation"] != "UPDATE")]
    assert not wrong, f"firmware moved backwards, too far or outside an UPDATE: {wrong[:10]}"
    assert sum(step > 0 for _, step in moves) > 20, "rollouts happen"


def test_batches_follow_the_operation_weights_and_their_windows(medium_cdc):
    cfg, cdc = medium_cdc
    life = Lifecycle(cfg)
    grouped = cdc.groupBy("batch_id", "operation").count().collect()
    counts = {(r["batch_id"], r["operation"]): r["count"] for r in grouped}
    assert counts == {**{(0, "INSERT"): life.initial_devices},
                      **{k: v for k, v in counts.items() if k[0] > 0}}, "batch 0 holds only the initial INSERTs"
    updates = sum(v for (b, op), v in counts.items() if op == "UPDATE")
    for batch in range(1, cfg.cdc.batches + 1):
        assert counts[(batch, "INSERT")] == 8 and counts[(batch, "DELETE")] == 4  # 20% and 10% of 40
    assert abs(updates / cfg.cdc.batches - 28) < 4 * 28 ** 0.5, updates  # 70% of 40, drawn per device
    for batch in range(cfg.cdc.batches + 1):
        lo, hi = life.window(batch)
        dates = cdc_batch(cdc, batch).agg(F.min("operation_date"), F.max("operation_date")).first()
        assert lo.replace(tzinfo=None) <= dates[0] and dates[1] < hi.replace(tzinfo=None), (batch, dates)
        assert hi <= cfg.end
        if batch:  # the seed's daily batches: one day each, inside the week
            assert (hi - lo).total_seconds() == 86400
    assert cdc_batch(cdc, 0).where(f"operation_date != '{cfg.start.isoformat()}'").count() == 0


def test_devices_table_holds_every_device_as_last_known(spark, medium_cdc):
    cfg, cdc = medium_cdc
    table = devices(spark, cfg, cdc)
    assert table.count() == table.select("device_id").distinct().count() == cfg.n_devices
    last = (cdc.groupBy("device_id").agg(F.max_by(F.struct(*DEVICE_COLUMNS), "sequence_num").alias("l"))
            .select("l.*"))
    assert_df_equality(table.select(*DEVICE_COLUMNS), last, ignore_row_order=True, ignore_nullable=True)
    joined = table.join(cdc.where("operation != 'UPDATE'").groupBy("device_id").pivot("operation", ["INSERT", "DELETE"])
                        .agg(F.first("operation_date")), "device_id")
    wrong = joined.where("registered_at != INSERT or not (decommissioned_at <=> DELETE)"
                         " or (status = 'Decommissioned') != (decommissioned_at is not null)")
    assert wrong.count() == 0, show(wrong)
    assert table.where(f"install_date > '{cfg.start.date().isoformat()}'").count() == 0


def test_scd1_replay_of_the_landing_json_yields_the_final_registry(spark, demo, tmp_path):
    target = str(tmp_path / "registry")
    batches = read_cdc_batches(spark, str(demo.root / "landing" / "devices_cdc"))
    assert len(batches) == 6
    for batch in batches:
        merge_scd1(spark, batch, target)
    replayed = spark.read.format("delta").load(target)
    reported = final_registry(spark, IoTConfig.preset("tiny"), demo.delta("devices"))
    assert_df_equality(replayed, reported, ignore_row_order=True, ignore_nullable=True)
    assert reported.count() < demo.delta("devices").count()  # some were decommissioned
    manifest = json.loads((demo.root / "manifest.json").read_text())
    assert sum(manifest["cdc"]["batches"]["batch_000"].values()) == batches[0].count()


def test_scd1_replay_of_the_small_scale_batches(spark, tmp_path):
    """The small preset's batches (1,000 devices, daily batches), written as landing JSON and replayed."""
    cfg = IoTConfig.preset("small")
    cdc = devices_cdc(spark, cfg).cache()
    for batch in range(cfg.cdc.batches + 1):
        write_landing(cdc_batch(cdc, batch), str(tmp_path / "landing" / f"batch_{batch:03d}"))
    target = str(tmp_path / "registry")
    for batch in read_cdc_batches(spark, str(tmp_path / "landing")):
        merge_scd1(spark, batch, target)
    replayed = spark.read.format("delta").load(target)
    assert_df_equality(replayed, final_registry(spark, cfg, devices(spark, cfg, cdc)), ignore_row_order=True,
                       ignore_nullable=True)
    assert replayed.count() == 1000 - 5 * 10  # 100 inserts replace nothing: ids 1000-1999 are every device


def test_scd2_history_has_one_current_version_per_device_and_no_overlaps(spark, demo, tmp_path):
    target = str(tmp_path / "history")
    for batch in read_cdc_batches(spark, str(demo.root / "landing" / "devices_cdc")):
        merge_scd2(spark, batch, target)
    history = spark.read.format("delta").load(target).cache()
    current = history.where("is_current").select(*DEVICE_COLUMNS)
    reported = final_registry(spark, IoTConfig.preset("tiny"), demo.delta("devices"))
    assert_df_equality(current, reported, ignore_row_order=True, ignore_nullable=True)
    cdc = demo.delta("devices_cdc")
    assert history.count() == cdc.where("operation != 'DELETE'").count(), "one version per INSERT or UPDATE"
    following = F.lead("valid_from").over(Window.partitionBy("device_id").orderBy("valid_from"))
    ordered = history.withColumn("next_from", following)
    wrong = ordered.where("valid_to <= valid_from or (next_from is not null and valid_to != next_from)"
                          " or (valid_to is null) != is_current")
    assert wrong.count() == 0, show(wrong)
    deleted = demo.delta("devices").where("decommissioned_at is not null").select("device_id", "decommissioned_at")
    closed = history.join(deleted, "device_id").groupBy("device_id", "decommissioned_at").agg(F.max("valid_to"))
    assert closed.where("`max(valid_to)` != decommissioned_at").count() == 0
    assert closed.count() == deleted.count() > 0


def test_readings_telemetry_and_events_only_while_the_device_is_registered(spark, tiny):
    cfg = tiny.replace(n_devices=400, telemetry_hours=48.0, telemetry_cadence_seconds=60)
    lifetimes = devices(spark, cfg).select("device_id", "registered_at", "decommissioned_at").cache()
    changed = lifetimes.where(f"registered_at > '{cfg.start.isoformat()}' or decommissioned_at is not null")
    outside = ("timestamp < registered_at"
               " or timestamp >= coalesce(decommissioned_at, timestamp_micros(9000000000000000L))")
    tables = {
        "sensor_readings": (readings_spec(spark, cfg).build(), cfg.reading_cadence_seconds),
        "telemetry": (telemetry_spec(spark, cfg).build(), cfg.telemetry_cadence_seconds),
        "events": (events(spark, cfg), None),
    }
    for name, (df, cadence) in tables.items():
        joined = df.join(lifetimes, "device_id").cache()
        wrong = joined.where(outside)
        assert wrong.count() == 0, name + show(wrong)
        if cadence is None:
            continue
        # and they do report for the rest of their lifetime: from the first tick after the insert
        # to the last tick before the delete
        span = (joined.join(changed.select("device_id"), "device_id")
                .groupBy("device_id", "registered_at", "decommissioned_at")
                .agg(F.min("timestamp").alias("first"), F.max("timestamp").alias("last")))
        late = span.where(f"unix_seconds(first) - unix_seconds(registered_at) > {cadence} + 2"
                          f" or unix_seconds(coalesce(decommissioned_at, timestamp'{cfg.end.isoformat()}'))"
                          f" - unix_seconds(last) > {cadence} + 2")
        assert span.count() > 3 and late.count() == 0, name + show(late)


def test_a_fixed_fleet_has_no_changes(spark, tiny):
    cfg = tiny.replace(cdc={"batches": 0})
    cdc = devices_cdc(spark, cfg)
    assert cdc.where("operation != 'INSERT' or batch_id != 0").count() == 0
    assert cdc.count() == cfg.n_devices
    readings = readings_spec(spark, cfg).build()
    every = FleetLayout(cfg).reading_rows  # every channel, every tick
    assert readings.dropDuplicates(["reading_id"]).count() == every
