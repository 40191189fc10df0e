"""The Databricks Asset Bundle: every file valid against the official bundle schema, and every
reference it makes (files, variables, entry points, CLI arguments) resolves."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import jsonschema
import pytest
import regex
import tomllib
import yaml

from dbx_iot_gen.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
# the official schema of bundle files, from the Databricks CLI source (bundle/schema/jsonschema.json,
# commit 7bbe285 of 2026-08-21), compressed
SCHEMA = Path(__file__).parent / "data" / "databricks-bundle-schema.json.gz"
BUNDLE_FILES = [ROOT / "databricks.yml", *sorted((ROOT / "resources").glob("*.yml"))]


def _validator():
    """The schema's validator, its ``pattern`` keyword on the ``regex`` module: the schema's
    patterns use ``\\p{L}`` and ``\\p{N}``, which Python's ``re`` rejects."""
    schema = json.loads(gzip.decompress(SCHEMA.read_bytes()))
    base = jsonschema.validators.validator_for(schema)

    def pattern(validator, patrn, instance, schema):
        if validator.is_type(instance, "string") and not regex.search(patrn, instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    return jsonschema.validators.extend(base, {"pattern": pattern})(schema)


@pytest.fixture(scope="module")
def bundle() -> dict[Path, dict]:
    return {p: yaml.safe_load(p.read_text()) for p in BUNDLE_FILES}


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda p: p.name)
def test_bundle_file_is_valid_against_the_official_schema(path):
    validator = _validator()
    errors = sorted(validator.iter_errors(yaml.safe_load(path.read_text())), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_validator_catches_a_wrong_bundle():
    """The check is real: a misspelled key, a wrong type and a bad pattern are reported."""
    validator = _validator()
    good = yaml.safe_load((ROOT / "resources" / "iot_demo.job.yml").read_text())
    assert not list(validator.iter_errors(good))
    no_entry_point = json.loads(json.dumps(good))
    del no_entry_point["resources"]["jobs"]["iot_demo"]["tasks"][0]["python_wheel_task"]["entry_point"]
    wrong_type = json.loads(json.dumps(good))
    wrong_type["resources"]["jobs"]["iot_demo"]["max_concurrent_runs"] = "many"
    misspelled = json.loads(json.dumps(good))
    misspelled["resources"]["jobs"]["iot_demo"]["taskz"] = misspelled["resources"]["jobs"]["iot_demo"].pop("tasks")
    for doc in (no_entry_point, wrong_type, misspelled):
        assert list(validator.iter_errors(doc)), doc


def test_includes_variables_and_artifact_resolve(bundle):
    root = bundle[ROOT / "databricks.yml"]
    included = {p for pattern in root["include"] for p in ROOT.glob(pattern)}
    assert included == set(BUNDLE_FILES[1:])
    assert set(root["variables"]) == {"catalog", "schema", "volume", "scale", "seed"}
    text = "\n".join(p.read_text() for p in BUNDLE_FILES)
    used = set(re.findall(r"\$\{var\.(\w+)\}", text))
    assert used <= set(root["variables"]), used - set(root["variables"])
    for ref in re.findall(r"\$\{resources\.(\w+)\.(\w+)\.", text):
        assert any(ref[1] in (doc.get("resources", {}).get(ref[0]) or {}) for doc in bundle.values()), ref
    artifact = root["artifacts"]["dbx_iot_gen_wheel"]
    assert artifact["type"] == "whl" and (ROOT / artifact["path"] / "pyproject.toml").is_file()
    assert root["targets"]["dev"] == {"mode": "development", "default": True}
    assert root["targets"]["prod"]["mode"] == "production"


def test_jobs_run_the_wheels_entry_point_with_arguments_it_accepts(bundle):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    defaults = {k: str(v["default"]) for k, v in bundle[ROOT / "databricks.yml"]["variables"].items()}
    jobs = {name: job for path, doc in bundle.items() for name, job in doc.get("resources", {}).get("jobs", {}).items()}
    assert {"iot_demo", "iot_stream"} <= set(jobs)
    for name, job in jobs.items():
        envs = {e["environment_key"]: e["spec"] for e in job["environments"]}
        for task in job["tasks"]:
            wheel = task["python_wheel_task"]
            assert wheel["package_name"].replace("_", "-") == project["name"]
            assert wheel["entry_point"] in project["scripts"]
            spec = envs[task["environment_key"]]
            assert spec["environment_version"] == "4" and "../dist/*.whl" in spec["dependencies"]
            # the parameters, variables filled with their defaults, parse with the CLI's own parser
            params = [re.sub(r"\$\{var\.(\w+)\}", lambda m: defaults[m.group(1)], p) for p in wheel["parameters"]]
            params = [re.sub(r"\$\{resources\.\w+\.\w+\.name\}", "x", p) for p in params]
            args = _parser().parse_args(params)
            assert args.command in ("demo", "stream"), name
