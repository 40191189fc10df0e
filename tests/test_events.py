"""``events`` follow from what happened; ``alerts`` from Critical and Warning events (SPEC 2, principle 4)."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from dbx_iot_gen import alerts, anomaly_labels, events, readings_spec
from dbx_iot_gen.config import SEVERITIES
from dbx_iot_gen.tables.events import EVENT_TYPES, OFFLINE_READINGS, maintenance_starts

from .conftest import show


@pytest.fixture(scope="module")
def tiny_tables(spark, tiny):
    readings = readings_spec(spark, tiny).build().dropDuplicates(["reading_id"]).cache()
    ev = events(spark, tiny).cache()
    return readings, anomaly_labels(spark, tiny).cache(), ev, alerts(spark, tiny, ev).cache()


def test_event_types_severities_and_handling(tiny_tables):
    _, _, ev, _ = tiny_tables
    assert {r[0] for r in ev.select("event_type").distinct().collect()} == set(EVENT_TYPES)
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
    expected = ("CASE l.anomaly_type WHEN 'spike' THEN e.event_type = 'Threshold Exceeded'"
                f" WHEN 'dropout' THEN e.event_type = IF(l.readings >= {OFFLINE_READINGS}, 'Device Offline',"
                " 'Connection Lost') ELSE e.event_type = 'Calibration Required' END")
    wrong = per_label.where(f"e.event_id is null or not ({expected}) or e.device_id != l.device_id")
    assert wrong.count() == 0, show(wrong)


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
    windows_seen = (readings.where("device_status = 'Maintenance'")
                    .groupBy("device_id").agg(F.min("timestamp").alias("first")))
    assert due.select("device_id").distinct().count() == windows_seen.count() > 0
    assert due.count() == due.select("device_id", F.to_date("timestamp")).distinct().count()


def test_background_events_follow_the_severity_weights(spark, tiny):
    cfg = tiny.replace(n_devices=300, end="2024-03-08T00:00:00", events={"background_per_device_day": 1.0},
                       anomalies={"spike_rate": 0.0, "dropout_rate": 0.0, "drift_rate": 0.0, "stuck_rate": 0.0},
                       patterns={"maintenance_windows": []}, cdc={"batches": 0})  # every device, every day
    ev = events(spark, cfg)
    total = ev.count()
    assert 0.95 * 300 * 7 < total <= 300 * 7
    shares = {r["severity"]: r["count"] / total for r in ev.groupBy("severity").count().collect()}
    for severity, weight in zip(SEVERITIES, (0.1, 0.3, 0.6)):
        assert abs(shares[severity] - weight) < 0.035, shares
    outside = ev.where(f"timestamp < '{cfg.start.isoformat()}' or timestamp >= '{cfg.end.isoformat()}'")
    assert outside.count() == 0, show(outside)


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
