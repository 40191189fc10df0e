"""Device lifecycle CDC (SPEC section 2, ``devices_cdc``): consistent batches, MERGE replays, and a
lifecycle the readings, telemetry and events agree with."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta, timezone

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


@pytest.mark.compat
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


@pytest.mark.compat
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


def test_readings_telemetry_and_events_only_while_the_device_is_registered(spark, status_week):
    cfg, _, tables = status_week
    lifetimes = devices(spark, cfg).select("device_id", "registered_at", "decommissioned_at").cache()
    changed = lifetimes.where(f"registered_at > '{cfg.start.isoformat()}' or decommissioned_at is not null")
    always_online = (devices_cdc(spark, cfg).groupBy("device_id")
                     .agg(F.expr("bool_and(status IN ('Online', 'Decommissioned')) AS online")).where("online")
                     .select("device_id"))
    outside = ("timestamp < registered_at"
               " or timestamp >= coalesce(decommissioned_at, timestamp_micros(9000000000000000L))")
    # each table's cadence and end (telemetry covers the range's first telemetry_hours)
    tracked_until = min(cfg.end, cfg.start + timedelta(hours=cfg.telemetry_hours))
    # and how many changed devices, Online all along, the check below needs at least
    cadences = {"sensor_readings": (cfg.reading_cadence_seconds, cfg.end, 4),
                "telemetry": (cfg.telemetry_cadence_seconds, tracked_until, 1), "events": (None, None, 0)}
    for name, (cadence, until, least) in cadences.items():
        joined = tables[name].join(lifetimes, "device_id").cache()
        wrong = joined.where(outside)
        assert wrong.count() == 0, name + show(wrong)
        if cadence is None:
            continue
        # and they do report for the rest of their lifetime: from the first tick after the insert
        # to the last tick before the delete (devices Online all along)
        span = (joined.join(changed.select("device_id"), "device_id").join(always_online, "device_id")
                .groupBy("device_id", "registered_at", "decommissioned_at")
                .agg(F.min("timestamp").alias("first"), F.max("timestamp").alias("last")))
        late = span.where(f"unix_seconds(first) - unix_seconds(registered_at) > {cadence} + 2"
                          f" or unix_seconds(least(coalesce(decommissioned_at, timestamp'{until.isoformat()}'),"
                          f" timestamp'{until.isoformat()}'))"
                          f" - unix_seconds(last) > {cadence} + 2")
        assert span.count() >= least and late.count() == 0, name + show(late)


def test_a_fixed_fleet_has_no_changes(spark, tiny):
    cfg = tiny.replace(cdc={"batches": 0})
    cdc = devices_cdc(spark, cfg)
    assert cdc.where("operation != 'INSERT' or batch_id != 0").count() == 0
    assert cdc.count() == cfg.n_devices
    readings = readings_spec(spark, cfg).build()
    # every channel, every tick, but for the devices registered Offline (they send nothing)
    metrics = {"HVAC Controller": 2, "Camera": 0, "GPS Tracker": 0}
    offline = devices(spark, cfg).where("status = 'Offline'").groupBy("device_type").count().collect()
    silent = sum(metrics.get(r.device_type, 1) * r["count"] for r in offline) * cfg.reading_ticks
    assert readings.dropDuplicates(["reading_id"]).count() == FleetLayout(cfg).reading_rows - silent
    assert silent > 0


@pytest.fixture(scope="module")
def status_week(spark, tiny):
    """400 devices over a week, with their CDC (about 40 status changes), their readings,
    telemetry and events."""
    cfg = tiny.replace(n_devices=400, end="2024-03-08T00:00:00", telemetry_hours=48.0, telemetry_cadence_seconds=60)
    cdc = devices_cdc(spark, cfg).select("device_id", "operation", "operation_date", "sequence_num", "status")
    # (a reading stamped by a reset clock says nothing of when it was taken: left out)
    readings = readings_spec(spark, cfg).build().where("quality_issue IS DISTINCT FROM 'clock_reset'")
    tables = {"sensor_readings": readings.cache(),
              "telemetry": telemetry_spec(spark, cfg).build().cache(), "events": events(spark, cfg).cache()}
    return cfg, cdc.cache(), tables


def _with_registry(df, cdc, key):
    """``df`` (device_id, timestamp, and the columns ``key``) with ``registry``: its device's status
    in the CDC at the row's time, the status of its latest change by then (null: not registered)."""
    x, c = df.alias("x"), cdc.alias("c")
    on = (F.col("x.device_id") == F.col("c.device_id")) & (F.col("c.operation_date") <= F.col("x.timestamp"))
    joined = x.join(c, on, "left")
    return joined.groupBy(*[F.col(f"x.{k}").alias(k) for k in key]).agg(
        F.max_by("c.status", "c.sequence_num").alias("registry"))


def test_readings_follow_the_registry_status(spark, status_week):
    cfg, cdc, tables = status_week
    readings = tables["sensor_readings"].dropDuplicates(["reading_id"])
    key = ["reading_id", "device_id", "timestamp", "device_status", "metric_value"]
    rows = _with_registry(readings, cdc, key).cache()
    # Offline, Decommissioned or not registered: no row at all
    silent = rows.where("registry IS NULL OR registry NOT IN ('Online', 'Maintenance')")
    assert silent.count() == 0, show(silent)
    # Maintenance: maintenance rows, no value
    maintenance = rows.where("registry = 'Maintenance'")
    wrong = maintenance.where("device_status != 'Maintenance' OR metric_value IS NOT NULL")
    assert wrong.count() == 0, show(wrong)
    assert maintenance.select("device_id").distinct().count() >= 10
    # and no reading says Online with a value unless the registry does
    assert rows.where("device_status = 'Online' AND metric_value IS NOT NULL AND registry != 'Online'").count() == 0

    # The data changes at the very second the registry does: a device that goes Offline reports up
    # to that second (its last reading less than a tick before) and from the second it is back
    cadence, slack = cfg.reading_cadence_seconds, cfg.reading_jitter_seconds + 1
    history = defaultdict(list)  # device: its (second, status) changes, in order
    for r in cdc.orderBy("device_id", "sequence_num").collect():
        history[r.device_id].append((int(r.operation_date.replace(tzinfo=timezone.utc).timestamp()), r.status))
    times = {r.device_id: r.times for r in readings.groupBy("device_id")
             .agg(F.collect_list(F.unix_micros("timestamp")).alias("times")).collect()}
    end_s, checked = int(cfg.end.timestamp()), 0
    for device, changes in history.items():
        for (_, before), (off_s, status), later in zip(changes, changes[1:], range(2, len(changes) + 1)):
            if status != "Offline" or before == "Offline" or device not in times:
                continue
            back_s, back = next(((t, s) for t, s in changes[later:] if s != "Offline"), (end_s, None))
            t_us = times[device]
            assert not [t for t in t_us if off_s * 10**6 <= t < back_s * 10**6], (device, "reports while Offline")
            if before == "Online":  # reports up to the change, values included
                last = max(t for t in t_us if t < off_s * 10**6)
                assert off_s * 10**6 - last <= (cadence + slack) * 10**6, (device, off_s, last)
                checked += 1
            if back == "Online" and back_s + cadence + slack < end_s:  # and from the second it is back
                first = min(t for t in t_us if t >= back_s * 10**6)
                assert first - back_s * 10**6 <= (cadence + slack) * 10**6, (device, back_s, first)
                checked += 1
    assert checked >= 5, "a week of 400 devices takes some reporting devices Offline and back"


def test_telemetry_and_events_only_while_online_in_the_registry(spark, status_week):
    _, cdc, tables = status_week
    tracks = tables["telemetry"]
    rows = _with_registry(tracks, cdc, ["telemetry_id", "device_id", "timestamp"])
    wrong = rows.where("registry IS NULL OR registry != 'Online'")
    assert wrong.count() == 0, show(wrong)
    # some trackers do go away in that week: the rule is at work
    away = cdc.join(tracks.select("device_id").distinct(), "device_id").where("status IN ('Offline', 'Maintenance')")
    assert away.count() > 0
    ev = _with_registry(tables["events"], cdc, ["event_id", "device_id", "timestamp", "event_type"])
    wrong = ev.where("registry IS NULL OR registry != 'Online'")
    assert wrong.count() == 0, show(wrong)
    assert ev.count() > 100
