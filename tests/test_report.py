"""``dbx-iot-gen report``: the page of the tiny demo, rendered in a real headless Chromium."""

from __future__ import annotations

import base64
import contextlib
import html.parser
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from matplotlib import image as mpimg

from dbx_iot_gen import IoTConfig
from dbx_iot_gen.cli import main
from dbx_iot_gen.demo import generate_iot_demo
from dbx_iot_gen.reporting import report, report_figures

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (servers/install.sh installs it)
# the sections a user is promised (issue 22), written out here rather than read from the module
SECTIONS = ["tables", "readings", "profiles", "map", "vehicles", "ruuvi", "plant", "events", "quality"]
TABLES = ["locations", "devices_cdc", "devices", "sensor_readings", "anomaly_labels", "events", "alerts",
          "telemetry", "plant_sensors", "environment_readings"]


class Page(html.parser.HTMLParser):
    """The parts of the page the tests read: section ids, each section's images and table cells."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: dict[str, list[bytes]] = {}
        self.cells: dict[str, list[list[str]]] = {}
        self.captions: dict[str, list[str]] = {}
        self._caption = False
        self.external: list[str] = []
        self._row: list[str] | None = None
        self._cell = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"] or "")
        elif tag == "img":
            src = a.get("src") or ""
            assert src.startswith("data:image/png;base64,"), src[:60]
            self.images.setdefault(self.sections[-1], []).append(base64.b64decode(src.split(",", 1)[1]))
        elif tag in ("link", "script") or (tag == "a" and a.get("href")):
            self.external.append(f"{tag} {a}")
        elif tag == "figcaption":
            self._caption = True
            self.captions.setdefault(self.sections[-1], []).append("")
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = True
            assert self._row is not None
            self._row.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self.cells.setdefault(self.sections[-1], []).append(self._row)
            self._row = None
        elif tag in ("td", "th"):
            self._cell = False
        elif tag == "figcaption":
            self._caption = False

    def handle_data(self, data: str) -> None:
        if self._caption:
            self.captions[self.sections[-1]][-1] += data
        if self._cell and self._row is not None:
            self._row[-1] += data


def coloured_share(png: bytes) -> float:
    """The share of a picture's pixels in colour: not white, grey or black (an empty figure's
    axes, ticks and labels are all grey; its share is 0)."""
    pixels = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    return float(((pixels.max(axis=2) - pixels.min(axis=2)) > 0.25).mean())


@pytest.fixture(scope="module")
def page(spark, demo, tmp_path_factory) -> tuple[Path, Page, str]:
    """The page of the tiny demo, written by the command as a user runs it."""
    out = tmp_path_factory.mktemp("report") / "tiny.html"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["report", "--demo", str(demo.root), "--out", str(out)]) == 0
    return out, Page(out.read_text()), buf.getvalue()


@pytest.fixture(scope="module")
def figures(spark, demo):
    """The same figures as matplotlib objects (what a notebook displays)."""
    return report_figures(spark, demo.root)


def test_the_page_has_every_section_in_order_and_nothing_from_the_network(page):
    path, parsed, printed = page
    assert f"done: {path}" in printed
    assert not list(path.parent.glob(".report-*")), "no temporary file left"
    assert parsed.sections == SECTIONS
    assert parsed.external == [], "the page must open offline"
    for section in SECTIONS[1:]:
        assert parsed.images.get(section), f"no figure in {section}"
    assert len(parsed.images["readings"]) == 5, "one figure per metric"
    assert oct(path.stat().st_mode & 0o777) != oct(0o600), "the page is readable like any file the user writes"


def test_the_tables_section_counts_each_delta_table(page, demo):
    rows = page[1].cells["tables"]
    assert rows[0] == ["table", "rows", "manifest"]
    shown = {r[0]: int(r[1].replace(",", "")) for r in rows[1:]}
    assert shown == {name: demo.delta(name).count() for name in TABLES}
    manifest = json.loads((demo.root / "manifest.json").read_text())
    assert {r[0]: int(r[2].replace(",", "")) for r in rows[1:]} == {n: t["rows"] for n, t in manifest["tables"].items()}


def test_the_quality_section_counts_the_problems_in_the_readings(page, demo):
    from pyspark.sql import functions as F

    rows = {r[0]: r[1:] for r in page[1].cells["quality"][1:]}
    readings = demo.delta("sensor_readings")
    for kind in ("null_value", "out_of_range", "late_arrival", "sentinel_value"):
        found = readings.where(F.col("quality_issue") == kind).count()
        assert int(rows[kind][0].replace(",", "")) == found, kind
    # both copies of a duplicate carry the mark; one of them is the problem
    duplicates = readings.groupBy("reading_id").count().where("count > 1").count()
    assert int(rows["duplicate"][0].replace(",", "")) == duplicates
    spikes = demo.delta("anomaly_labels").where("anomaly_type = 'spike'").count()
    assert int(rows["anomaly episodes: spike"][0].replace(",", "")) == spikes
    # the manifest's column is the manifest's, each kind of problem a row
    quality = json.loads((demo.root / "manifest.json").read_text())["problems"]["quality"]
    assert {k: int(v[1].replace(",", "")) for k, v in rows.items() if not k.startswith("anomaly")} == quality


def test_every_figure_renders_in_chromium_without_errors_and_is_not_blank(page, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "Debian's chromium is missing: run servers/install.sh"
    path, parsed, _ = page
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1300, "height": 900})
        tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        tab.on("pageerror", lambda e: problems.append(str(e)))
        tab.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        tab.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url))
        tab.goto(path.as_uri())
        images = tab.query_selector_all("section img")
        assert len(images) == sum(len(v) for v in parsed.images.values())
        shares = []
        for i, img in enumerate(images):
            assert img.evaluate("e => e.complete && e.naturalWidth > 0"), f"figure {i} did not decode"
            box = img.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 150, (i, box)
            shot = img.screenshot(path=str(tmp_path / f"figure-{i}.png"))
            shares.append(coloured_share(shot))
        browser.close()
    assert problems == []
    # an empty figure scores 0; the tiny demo's figures from 0.0012 (the map: grey countries,
    # a few coloured points) to 0.2 (the quality bars)
    assert min(shares) > 0.0008, shares


def shown_devices(captions: list[str]) -> dict[str, list[int]]:
    """The devices each readings figure shows, from its caption ("temperature: devices 1, 2, ...")."""
    out = {}
    for caption in captions:
        metric, rest = caption.split(": devices ")
        out[metric] = [int(d) for d in rest.split(",") if d.strip().isdigit()]
    return out


def shown_devices_of(figures) -> dict[str, list[int]]:
    return shown_devices([f.caption for f in figures if f.section == "readings"])


def test_each_metric_shows_its_devices_with_the_most_anomaly_episodes(page, demo):
    """So that the week of readings shows anomalies: per metric, the devices with the most
    episodes in the first week (ties: the lower id)."""
    labels = demo.delta("anomaly_labels").where("start_ts < timestamp'2024-03-08 00:00:00'").collect()
    expected = {}
    for metric in ("temperature", "humidity", "pressure", "vibration", "power"):
        counts: dict[int, int] = {}
        for r in labels:
            if r["metric_name"] == metric:
                counts[r["device_id"]] = counts.get(r["device_id"], 0) + 1
        ranked = sorted(counts, key=lambda d: (-counts[d], d))[:3]
        expected[metric] = ranked
    shown = shown_devices(page[1].captions["readings"])
    for metric, ranked in expected.items():
        assert shown[metric][: len(ranked)] == ranked, (metric, shown[metric], ranked)
        assert len(shown[metric]) == 3
    assert sum(len(v) for v in expected.values()) >= 8, "the tiny demo has anomalies on most metrics"


@pytest.fixture(scope="module")
def other_seed(spark, tmp_path_factory) -> Path:
    """The tiny demo with another seed: the same config but for the seed."""
    out = tmp_path_factory.mktemp("seed7") / "out"
    generate_iot_demo(spark, IoTConfig.preset("tiny", seed=7), str(out), progress=None)
    return out


def test_two_seeds_give_two_reports_and_figures_are_what_a_notebook_displays(spark, page, other_seed):
    """The tiny demo with seed 7 (the same config but for the seed): its figures as a notebook gets
    them, one device per metric; every section but the readings (other devices) renders differently."""
    from matplotlib.figure import Figure

    figures = report_figures(spark, other_seed, devices=1)
    assert [f.section for f in figures] == ["readings"] * 5 + SECTIONS[2:]
    assert all(isinstance(f.figure, Figure) for f in figures)
    # one device per metric: one panel (and one axes) each
    assert all(len(f.figure.axes) == 1 for f in figures[:5])
    assert [len(v) for v in shown_devices_of(figures).values()] == [1] * 5
    mine = page[1].images
    for f in figures[5:]:
        buffer = io.BytesIO()
        f.figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        assert buffer.getvalue() not in mine[f.section], f.section
    # the same seed's figures are the same picture: the report is a function of the data
    same = report_figures(spark, other_seed, devices=1)
    for a, b in zip(figures[5:], same[5:]):
        pa, pb = io.BytesIO(), io.BytesIO()
        a.figure.savefig(pa, format="png", dpi=90, bbox_inches="tight")
        b.figure.savefig(pb, format="png", dpi=90, bbox_inches="tight")
        assert pa.getvalue() == pb.getvalue(), a.section


@pytest.mark.parametrize(("args", "flag"), [
    (["--demo", "{missing}"], "--demo"),
    (["--demo", "{demo}", "--out", "{folder}"], "--out"),
    (["--demo", "{demo}", "--out", "{missing}/x/report.html"], "--out"),
    (["--demo", "{demo}", "--devices", "11"], "--devices"),
    (["--demo", "{not_demo}"], "--demo"),
])
def test_bad_arguments_end_with_one_message_and_write_nothing(demo, tmp_path, capsys, args, flag):
    (tmp_path / "not_demo").mkdir()
    (tmp_path / "not_demo" / "manifest.json").write_text('{"something": "else"}')
    (tmp_path / "folder").mkdir()
    values = {"missing": tmp_path / "missing", "demo": demo.root, "folder": tmp_path / "folder",
              "not_demo": tmp_path / "not_demo"}
    before = sorted(p.name for p in demo.root.iterdir())
    assert main(["report", *[a.format(**values) for a in args]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"dbx-iot-gen: error: {flag}: "), err
    assert sorted(p.name for p in demo.root.iterdir()) == before
    assert list((tmp_path / "folder").iterdir()) == []


def test_devices_must_be_a_positive_number(capsys):
    assert main(["report", "--devices", "0"]) == 2
    assert "--devices" in capsys.readouterr().err


def drawn(ax) -> int:
    """How many data marks an axes draws: line points, scatter points, segments, bars and spans."""
    from matplotlib.collections import LineCollection, PathCollection

    marks = sum(len(line.get_xdata()) for line in ax.lines)
    for c in ax.collections:
        if isinstance(c, PathCollection):  # a scatter
            marks += len(c.get_offsets())
        elif isinstance(c, LineCollection):
            marks += len(c.get_segments())
    return marks + len(ax.patches)


def test_every_panel_of_every_figure_draws_data(figures):
    for f in figures:
        panels = [ax for ax in f.figure.axes if ax.get_label() != "<colorbar>" and ax.axison]
        assert panels, f.section
        for ax in panels:
            assert drawn(ax) > 0, (f.section, ax.get_title())


def test_each_readings_panel_shades_exactly_its_devices_anomaly_episodes(figures, demo):
    labels = demo.delta("anomaly_labels").collect()
    readings = [f for f in figures if f.section == "readings"]
    assert len(readings) == 5
    shaded = 0
    for f, (metric, devices) in zip(readings, shown_devices_of(figures).items()):
        for ax, device in zip(f.figure.axes, devices):
            expected = sum(1 for r in labels if r["metric_name"] == metric and r["device_id"] == device)
            spans = len(ax.patches) + len(ax.lines) - 1  # a span each, a vertical line for a one-reading episode
            assert spans == expected, (metric, device)
            shaded += spans
    assert shaded >= 10


def test_profiles_are_in_each_facilitys_local_time(figures, demo):
    """The hourly profile of temperature per device type equals the mean of the clean readings by
    hour of the facility's local day, computed here with Python's zoneinfo."""
    zone = {r["device_id"]: (r["device_type"], r["timezone"]) for r in
            demo.delta("devices").join(demo.delta("locations"), "location_id").collect()}
    sums: dict[tuple[str, int], list[float]] = {}
    for r in demo.delta("sensor_readings").where(
            "metric_name = 'temperature' AND quality_issue IS NULL AND NOT is_anomaly AND metric_value IS NOT NULL"
    ).collect():
        kind, tz = zone[r["device_id"]]
        # collected timestamps are the session's local time, naive: UTC in the tests' sessions
        hour = r["timestamp"].replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz)).hour
        acc = sums.setdefault((kind, hour), [0.0, 0])
        acc[0] += r["metric_value"]
        acc[1] += 1
    profile = next(f for f in figures if f.section == "profiles").figure.axes[0]  # temperature, by hour
    assert profile.get_ylabel() == "temperature"
    lines = {line.get_label(): line for line in profile.lines}
    assert set(lines) == {k for k, _ in sums}
    for kind, line in lines.items():
        for hour, value in zip(line.get_xdata(), line.get_ydata()):
            total, n = sums[(kind, int(hour))]
            assert value == pytest.approx(total / n, rel=1e-9), (kind, hour)


def test_a_failed_report_leaves_the_earlier_page(spark, demo, tmp_path, monkeypatch):
    from dbx_iot_gen import reporting

    out = tmp_path / "page.html"
    out.write_text("the earlier page")

    def broken(*args, **kwargs):
        raise RuntimeError("a figure failed")

    monkeypatch.setattr(reporting, "_make_figures", broken)
    with pytest.raises(RuntimeError, match="a figure failed"):
        report(spark, demo.root, out)
    assert out.read_text() == "the earlier page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]

