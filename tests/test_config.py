"""The config: presets, validation with messages naming the field, serialisation."""

from __future__ import annotations

import json

import pytest

from dbx_iot_gen import SCALES, InvalidConfigError, IoTConfig
from dbx_iot_gen.fleet import FleetLayout


def test_every_preset_is_valid_and_grows():
    rows = [FleetLayout(IoTConfig.preset(s)).reading_rows for s in SCALES]
    assert rows == sorted(rows) and len(set(rows)) == len(rows)


def test_medium_is_the_seed_size():
    cfg = IoTConfig.preset("medium")
    layout = FleetLayout(cfg)
    assert cfg.n_devices == 10_000
    assert 45_000_000 <= layout.reading_rows <= 55_000_000
    assert 9_000_000 <= layout.telemetry_rows <= 11_000_000  # the seed's 10 M telemetry rows


@pytest.mark.parametrize(
    ("changes", "field", "accepted"),
    [
        ({"n_devices": 5}, "n_devices", "from 20 to 1,000,000"),
        ({"n_devices": "many"}, "n_devices", "whole number"),
        ({"seed": -1}, "seed", "from 0"),
        ({"reading_cadence_seconds": 0}, "reading_cadence_seconds", "from 1"),
        ({"end": "2023-01-01"}, "end", "after start"),
        ({"start": "yesterday"}, "start", "ISO-8601"),
        ({"partitions": 0}, "partitions", "from 1"),
        ({"device_type_weights": {"Toaster": 1.0}}, "device_type_weights", "Temperature Sensor"),
        ({"device_type_weights": {"Camera": 1.0}}, "device_type_weights", "with readings"),
        ({"patterns": {"noise_level": -2}}, "patterns.noise_level", "from 0 to 10"),
        ({"patterns": {"business_hours_start": 19}}, "patterns.business_hours_end", "after"),
        ({"telemetry_hours": 0}, "telemetry_hours", "from"),
        ({"patterns": {"maintenance_windows": [{"day": "Caturday"}]}}, "patterns.maintenance_windows.day",
         "Monday, Tuesday"),
        ({"patterns": {"maintenance_windows": [{"start_hour": 5, "end_hour": 5}]}},
         "patterns.maintenance_windows.end_hour", "from 6 to 24"),
        ({"patterns": {"maintenance_windows": [{"hour": 5}]}}, "patterns.maintenance_windows.hour", "accepted"),
        ({"colour": "blue"}, "colour", "accepted: anomalies, cdc, device_type_weights"),
        ({"anomalies": {"spike_rate": 0.5}}, "anomalies.spike_rate", "from 0 to 0.2"),
        ({"anomalies": {"drift_readings": [10, 5]}}, "anomalies.drift_readings", "from 10 to 100,000"),
        ({"anomalies": {"dropout_readings": [10, 5]}}, "anomalies.dropout_readings", "from 10 to 1,000"),
        ({"anomalies": {"drift_rate": 0.2, "drift_readings": [1, 1]}}, "anomalies.drift_rate", "at most 1 fits"),
        ({"anomalies": {"stuck_readings": 4}}, "anomalies.stuck_readings", "pair [shortest, longest]"),
        ({"anomalies": {"spike_rate": 0.2, "spike_readings": [1, 1]}}, "anomalies", "rates too high"),
        ({"quality": {"clean": "yes"}}, "quality.clean", "true or false"),
        ({"quality": {"null_rate": 0.3}}, "quality.null_rate", "from 0 to 0.25"),
        ({"quality": {"late_seconds": [5, 60]}}, "quality.late_seconds", "from 10"),
        # outages of 2 minutes to 12 hours (7,319 s on average) one a device in 12 hours at most
        ({"quality": {"late_rate": 0.2}}, "quality.late_rate", "at most 0.169"),
        ({"quality": {"retransmit_seconds": [5, 1]}}, "quality.retransmit_seconds", "from 5"),
        ({"events": {"severity_weights": [1, 2]}}, "events.severity_weights", "Critical, Warning, Info"),
        ({"events": {"acknowledged_rate": 2}}, "events.acknowledged_rate", "from 0 to 1"),
        ({"quality": {"noise": 1}}, "quality.noise", "accepted: clean"),
        ({"cdc": {"batches": -1}}, "cdc.batches", "from 0 to 50"),
        ({"cdc": {"batches": 2.5}}, "cdc.batches", "whole number"),
        ({"cdc": {"operation_weights": [1, 2]}}, "cdc.operation_weights", "UPDATE, INSERT, DELETE"),
        ({"cdc": {"operation_weights": [0, 0, 0]}}, "cdc.operation_weights", "above 0"),
        ({"cdc": {"changes_per_batch": 0.5, "batches": 20}}, "cdc.changes_per_batch", "at least half"),
        ({"cdc": {"batches": 50, "changes_per_batch": 0.01}, "end": "2024-03-01T00:40:00"}, "cdc.batches",
         "at least a minute"),
        ({"cdc": {"firmware_share": 1.5}}, "cdc.firmware_share", "from 0 to 1"),
    ],
)
def test_bad_values_name_the_field_and_what_is_accepted(changes, field, accepted):
    with pytest.raises(InvalidConfigError) as err:
        cfg = IoTConfig.preset("tiny", **changes)
        FleetLayout(cfg)
    assert str(err.value).startswith(f"{field}:"), str(err.value)
    assert accepted in str(err.value)


def test_unknown_scale():
    with pytest.raises(InvalidConfigError, match="scale: must be one of tiny, small, medium, large"):
        IoTConfig.preset("huge")


def test_config_file_round_trip(tmp_path):
    cfg = IoTConfig.preset("tiny", seed=9, patterns={"noise_level": 0.5})
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert IoTConfig.from_file(path) == cfg


def test_config_file_errors(tmp_path):
    with pytest.raises(InvalidConfigError, match=r"^config: file not found"):
        IoTConfig.from_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidConfigError, match=r"^config: cannot read"):
        IoTConfig.from_file(bad)


def test_config_is_frozen_and_replace_validates():
    cfg = IoTConfig.preset("tiny")
    with pytest.raises(AttributeError):
        cfg.seed = 3  # type: ignore[misc]
    with pytest.raises(InvalidConfigError, match=r"^n_devices"):
        cfg.replace(n_devices=1)
    assert cfg.replace(seed=3).seed == 3


def test_type_quotas_are_exact():
    layout = FleetLayout(IoTConfig.preset("small"))
    weights = IoTConfig.preset("small").device_type_weights
    total = sum(weights.values())
    for name, count in layout.type_counts.items():
        assert abs(count - weights[name] / total * 1000) < 1, name
