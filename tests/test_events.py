"""``events`` follow from what happened; ``alerts`` from Critical and Warning events (SPEC 2, principle 4)."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from pyspark.sql import functions as F

from dbx_iot_gen import alerts, anomaly_labels, devices_cdc, devices_spec, events, readings_spec
from dbx_iot_gen.catalog import DEVICE_TYPES
from dbx_iot_gen.config import SEVERITIES
from dbx_iot_gen.lifecycle import BASE_RELEASES, firmware_releases
from dbx_iot_gen.tables.anomalies import anomaly_episodes
from dbx_iot_gen.tables.events import EVENT_TYPES, maintenance_starts

from .conftest import online_all_along, show

# The types that run on a battery (the others are mains powered: HVAC Controller, Smart Meter, Camera).
BATTERY_POWERED = {"Temperature Sensor", "Humidity Sensor", "Pressure Sensor", "Motion Detector", "GPS Tracker"}

@pytest.fixture(scope="module")
def background_week(spark, tiny):
    """400 devices over a week with daily CDC batches; background events only, on half the device-days."""
    cfg = tiny.replace(n_devices=400, end="2024-03-08T00:00:00", events={"background_per_device_day": 0.5},
                       anomalies={"spike_rate": 0.0, "dropout_rate": 0.0, "drift_rate": 0.0, "stuck_rate": 0.0},
                       patterns={"maintenance_windows": []})
    cdc = devices_cdc(spark, cfg).cache()
    return cfg, events(spark, cfg, cdc=cdc).cache(), cdc


@pytest.fixture(scope="module")
def firmware_offers(background_week):
    """Each Firmware Update event with the position on its model's train (from 0) of the release it
    names, of the device's firmware at its time (the last CDC image by then), and of the newest
    release any device of the model has in the CDC."""
    cfg, ev, cdc = background_week
    length = BASE_RELEASES + 2 * cfg.cdc.batches + 1
    trains = {m: firmware_releases(cfg.seed, m, length) for t in DEVICE_TYPES for m in t.models}
    images = defaultdict(list)
    newest: dict[str, int] = defaultdict(int)
    for r in cdc.select("device_id", "operation_date", "model", "firmware_version").collect():
        position = trains[r["model"]].index(r["firmware_version"])
        images[r["device_id"]].append((r["operation_date"], r["model"], position))
        newest[r["model"]] = max(newest[r["model"]], position)
    offers = []
    for e in ev.where("event_type = 'Firmware Update'").select("device_id", "timestamp", "description").collect():
        _, model, current = max(i for i in images[e["device_id"]] if i[0] <= e["timestamp"])
        named = re.fullmatch(rf"Firmware update (\S+) available for device {e['device_id']} \(.+\)", e["description"])
        version = named.group(1) if named else None
        offers.append({"event": e, "model": model, "current": current, "newest": newest[model],
                       "named": trains[model].index(version) if version in trains[model] else None,
                       "installed": min(images[e["device_id"]])[2]})
    return offers


@pytest.fixture(scope="module")
def tiny_tables(spark, tiny):
    readings = readings_spec(spark, tiny).build().dropDuplicates(["reading_id"]).cache()
    episodes = anomaly_episodes(spark, tiny).cache()
    ev = events(spark, tiny, episodes).cache()
    return readings, anomaly_labels(spark, tiny, episodes), ev, alerts(spark, tiny, ev, episodes).cache()


def test_event_types_severities_and_handling(tiny_tables, background_week):
    _, _, ev, _ = tiny_tables
    # a Firmware Update needs a device behind the newest release of its model in the data; tiny's
    # 60 devices spread over 37 models, most alone on theirs, so it may have none: the week has many
    assert {r[0] for r in ev.select("event_type").distinct().collect()} | {"Firmware Update"} == set(EVENT_TYPES)
    assert background_week[1].where("event_type = 'Firmware Update'").count() > 0
    assert {r[0] for r in ev.select("severity").distinct().collect()} <= set(SEVERITIES)
    wrong = ev.where("resolved and not acknowledged")
    assert wrong.count() == 0, show(wrong)
    assert ev.select("event_id").distinct().count() == ev.count()


def test_events_caused_by_readings_point_at_them_and_share_their_time(tiny_tables):
    readings, _, ev, _ = tiny_tables
    caused = ev.where("reading_id is not null").alias("e").join(readings.alias("r"), "reading_id", "left")
    expected = ("CASE e.event_type WHEN 'Threshold Exceeded' THEN r.anomaly_type = 'spike'"
                " WHEN 'Connection Lost' THEN r.anomaly_type = 'dropout'"
                " WHEN 'Device Offline' THEN r.anomaly_type = 'dropout'"
                " WHEN 'Calibration Required' THEN r.anomaly_type IN ('drift', 'stuck')"
                " WHEN 'Maintenance Due' THEN r.device_status = 'Maintenance' ELSE false END")
    wrong = caused.where(f"r.device_id is null or e.device_id != r.device_id or e.timestamp != r.timestamp "
                         f"or not ({expected})")
    assert caused.count() > 0 and wrong.count() == 0, show(wrong)
    background = ev.where("reading_id is null")
    assert {r[0] for r in background.select("event_type").distinct().collect()} <= {
        "Firmware Update", "Calibration Required", "Battery Low"}


def test_one_event_per_anomaly_episode(tiny_tables):
    _, labels, ev, _ = tiny_tables
    per_label = labels.alias("l").join(ev.alias("e"), F.col("l.anomaly_id") == F.col("e.event_id"), "left")
    # the README: "Connection Lost, or Device Offline from 6 readings"
    expected = ("CASE l.anomaly_type WHEN 'spike' THEN e.event_type = 'Threshold Exceeded'"
                " WHEN 'dropout' THEN e.event_type = IF(l.readings >= 6, 'Device Offline',"
                " 'Connection Lost') ELSE e.event_type = 'Calibration Required' END")
    wrong = per_label.where(f"e.event_id is null or not ({expected}) or e.device_id != l.device_id")
    assert wrong.count() == 0, show(wrong)


def test_a_drift_s_event_is_resolved_when_its_calibration_lands(tiny_tables):
    readings, labels, ev, al = tiny_tables
    drifts = labels.where("anomaly_type = 'drift'").alias("l")
    # a drift whose label ends after its last drifting reading was fixed then
    last = (drifts.join(readings.alias("r"), (F.col("r.device_id") == F.col("l.device_id"))
                        & (F.col("r.metric_name") == F.col("l.metric_name"))
                        & F.col("r.timestamp").between(F.col("l.start_ts"), F.col("l.end_ts"))
                        & (F.col("r.anomaly_type") == "drift"))
            .groupBy("l.anomaly_id").agg(F.max("r.timestamp").alias("last_drifting")))
    joined = (drifts.join(last, "anomaly_id").join(ev.alias("e"), F.col("l.anomaly_id") == F.col("e.event_id"))
              .join(al.alias("a"), "event_id", "left"))
    fixed = joined.where("l.end_ts > last_drifting")
    # raised once the drift has grown (its second half), closed when the fix lands (or when raised,
    # if that came later)
    wrong = fixed.where(
        "e.event_type != 'Calibration Required' or not e.resolved or a.alert_id is null"
        " or not (a.status <=> 'closed') or unix_seconds(e.timestamp) < unix_seconds(l.start_ts)"
        " + 0.3 * (unix_seconds(l.end_ts) - unix_seconds(l.start_ts)) or e.timestamp >= l.end_ts"
        " or not (a.closed_at <=> CASE WHEN l.end_ts >= a.raised_at THEN l.end_ts ELSE a.raised_at END)")
    assert fixed.count() > 0 and wrong.count() == 0, show(wrong)
    # other alerts close 5 minutes to a day after they are raised
    others = al.join(fixed.select("event_id"), "event_id", "left_anti").where("status = 'closed'").selectExpr(
        "unix_seconds(closed_at) - unix_seconds(raised_at) AS s")
    assert others.count() > 0 and others.where("s < 300 or s > 86400").count() == 0


def test_descriptions_name_the_device_metric_and_value(tiny_tables):
    readings, _, ev, _ = tiny_tables
    spikes = (ev.where("event_type = 'Threshold Exceeded'").alias("e")
              .join(readings.alias("r"), "reading_id").select("e.description", "r.device_id", "r.metric_name",
                                                              "r.metric_value", "r.unit").collect())
    assert spikes
    for s in spikes:
        for part in (str(s.device_id), s.metric_name, f"{s.metric_value:.2f}", s.unit):
            assert part in s.description, (part, s.description)
    for row in ev.select("device_id", "description").collect():
        assert str(row.device_id) in row.description, row


def test_a_maintenance_due_event_per_device_and_window(spark, tiny, tiny_tables):
    readings, _, ev, _ = tiny_tables
    due = ev.where("event_type = 'Maintenance Due'")
    assert due.where("severity != 'Info'").count() == 0
    # windows that began inside the data, per city, from zoneinfo; each device with readings has one each
    starts = maintenance_starts(tiny)
    assert sum(map(len, starts)) > 0
    # (of the devices the registry has Online all along: the others may be away at a window's start)
    steady = online_all_along(spark, tiny)
    windows_seen = (readings.join(steady, "device_id").where("device_status = 'Maintenance'")
                    .groupBy("device_id").agg(F.min("timestamp").alias("first")))
    assert due.join(steady, "device_id").select("device_id").distinct().count() == windows_seen.count() > 0
    assert due.count() == due.select("device_id", F.to_date("timestamp")).distinct().count()


def test_background_events_follow_the_severity_weights(spark, tiny):
    cfg = tiny.replace(n_devices=300, end="2024-03-08T00:00:00", events={"background_per_device_day": 1.0},
                       anomalies={"spike_rate": 0.0, "dropout_rate": 0.0, "drift_rate": 0.0, "stuck_rate": 0.0},
                       patterns={"maintenance_windows": []}, cdc={"batches": 0})  # every device, every day
    ev = events(spark, cfg)
    total = ev.count()
    online = devices_cdc(spark, cfg).where("status = 'Online'").count()  # the others send nothing
    assert 0.95 * online * 7 < total <= online * 7
    shares = {r["severity"]: r["count"] / total for r in ev.groupBy("severity").count().collect()}
    for severity, weight in zip(SEVERITIES, (0.1, 0.3, 0.6)):
        assert abs(shares[severity] - weight) < 0.035, shares
    outside = ev.where(f"timestamp < '{cfg.start.isoformat()}' or timestamp >= '{cfg.end.isoformat()}'")
    assert outside.count() == 0, show(outside)


def test_firmware_updates_name_the_release_after_the_devices_current_one(firmware_offers):
    wrong = [o for o in firmware_offers if o["named"] is None or o["named"] != o["current"] + 1]
    assert not wrong, f"not the next release of the device's train: {wrong[:5]}"
    assert len(firmware_offers) > 200
    # the device's firmware at the event's time, not as first registered: rollouts came before some
    assert sum(o["current"] != o["installed"] for o in firmware_offers) > 10


def test_firmware_updates_name_no_release_newer_than_the_data_shows(firmware_offers):
    wrong = [o for o in firmware_offers if o["named"] is None or o["named"] > o["newest"]]
    assert not wrong, f"a release no device of the model has in the data: {wrong[:5]}"


def test_battery_low_only_on_battery_powered_types(spark, background_week):
    cfg, ev, _ = background_week
    assert {t.name for t in DEVICE_TYPES if t.battery_powered} == BATTERY_POWERED
    types = devices_spec(spark, cfg).build().select("device_id", "device_type")
    low = ev.where("event_type = 'Battery Low'").join(types, "device_id")
    mains = low.where(~F.col("device_type").isin(*BATTERY_POWERED))
    assert mains.count() == 0, "Battery Low on a mains-powered device:" + show(mains)
    counts = {r["device_type"]: r["count"] for r in low.groupBy("device_type").count().collect()}
    assert set(counts) == BATTERY_POWERED and min(counts.values()) > 10, counts


def test_mains_powered_devices_keep_their_background_event_rate(spark, background_week):
    cfg, ev, _ = background_week
    types = devices_spec(spark, cfg).build().selectExpr(
        "device_id", f"device_type IN ({', '.join(repr(t) for t in sorted(BATTERY_POWERED))}) AS on_battery")
    per_device = {r["on_battery"]: r["events"] / r["devices"] for r in (
        types.join(ev.groupBy("device_id").count(), "device_id", "left").groupBy("on_battery")
        .agg(F.count("*").alias("devices"), F.sum(F.coalesce("count", F.lit(0))).alias("events")).collect())}
    assert abs(per_device[False] / per_device[True] - 1) < 0.15, per_device


def test_alerts_come_from_critical_and_warning_events(tiny_tables):
    _, _, ev, al = tiny_tables
    raising = ev.where("severity IN ('Critical', 'Warning')")
    assert al.count() == raising.count() > 0
    joined = al.alias("a").join(ev.alias("e"), "event_id", "left")
    status = "CASE WHEN e.resolved THEN 'closed' WHEN e.acknowledged THEN 'acknowledged' ELSE 'open' END"
    wrong = joined.where(
        "e.event_id is null or e.severity = 'Info' or a.raised_at < e.timestamp or a.device_id != e.device_id"
        f" or a.alert_level != lower(e.severity) or a.status != {status}"
        " or (a.closed_at is null) != (a.status != 'closed') or a.closed_at < a.raised_at")
    assert wrong.count() == 0, show(wrong)
    assert {r[0] for r in al.select("status").distinct().collect()} == {"open", "acknowledged", "closed"}
