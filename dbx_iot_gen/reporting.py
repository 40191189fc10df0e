"""``dbx-iot-gen report``: one static HTML page that shows a demo output at a glance.

The page is self-contained (figures embedded as PNG, no script, no tile server, no network): it
opens from a laptop's disk or a Databricks volume. Spark computes samples and aggregates; only
those reach pandas and matplotlib. Its sections, in order (each a ``<section id=...>``):

* ``tables``: every table's rows, read now and as the manifest recorded them;
* ``readings``: per metric, the first week of a few devices' readings, anomaly episodes shaded by
  type (from ``anomaly_labels``), maintenance marked under the curve, quality problems as crosses;
* ``profiles``: each metric's mean by hour of the local day and by local day of the week;
* ``map``: facilities on a world map (Natural Earth's country outlines), the largest ones' devices;
* ``vehicles``: a few vehicles' tracks on their streets, coloured by speed;
* ``ruuvi``: the Ruuvi tags' temperature and humidity by location, one site per panel;
* ``plant``: the plant's sensors by frequency tier (events per sensor, a few sensors' values);
* ``events``: events by severity and alerts by level, per hour or day;
* ``quality``: the data-quality problems and anomalies found in the tables against the manifest.

Example:
    report(spark, "iot_demo")  # -> PosixPath('iot_demo/report.html')
"""

from __future__ import annotations

import base64
import functools
import html
import io
import itertools
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbx_iot_gen.errors import InvalidConfigError, OutputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SECTIONS", "ReportFigure", "check_arguments", "demo_tables", "read_manifest", "report", "report_figures"]

#: The page's sections, in order: id and heading.
SECTIONS: dict[str, str] = {
    "tables": "Tables",
    "readings": "A week of readings",
    "profiles": "Daily and weekly profiles (local time)",
    "map": "Facilities and devices",
    "vehicles": "Vehicle tracks",
    "ruuvi": "Ruuvi tags by location",
    "plant": "Plant sensors by tier",
    "events": "Events and alerts over time",
    "quality": "Data-quality problems and anomalies against the manifest",
}
ANOMALY_COLOURS = {"spike": "#d62728", "dropout": "#7f7f7f", "drift": "#ff7f0e", "stuck": "#9467bd"}
SEVERITY_COLOURS = {"Critical": "#d62728", "Warning": "#ff7f0e", "Info": "#1f77b4",
                    "critical": "#d62728", "warning": "#ff7f0e"}
# country outlines for the map: Natural Earth 1:110m (public domain), shipped as package data
COUNTRIES = Path(__file__).resolve().parent / "data" / "countries_110m.json"
# quality problems whose value is not the sensor's (late and duplicated readings carry true values)
VALUE_PROBLEMS = ("null_value", "out_of_range", "sentinel_value", "unit_mixup", "clock_reset")
METRICS = ("temperature", "humidity", "pressure", "vibration", "power")
MAX_DEVICES = 10
# the devices whose readings the profiles average: at most this many, picked by a hash of the id
PROFILE_DEVICES = 200


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the page: its section, a caption, the matplotlib figure, and the rows of a
    table shown above it (the quality section's counts: problem, found, manifest)."""

    section: str
    caption: str
    figure: Figure
    rows: tuple[tuple[str, int, int | None], ...] = ()


def demo_tables(spark: SparkSession, demo_dir: str | os.PathLike[str]) -> tuple[dict[str, DataFrame], dict[str, Any]]:
    """The tables of a demo output (Delta folders or catalog tables, as its manifest says) and the manifest.

    Raises:
        OutputError: ``demo_dir`` holds no complete demo output.

    Example:
        tables, manifest = demo_tables(spark, "iot_demo")
        tables["devices"].count() == manifest["tables"]["devices"]["rows"]  # True
    """
    manifest = read_manifest(demo_dir)
    tables = {}
    for name, entry in manifest["tables"].items():
        if "delta" in entry:
            tables[name] = spark.read.format("delta").load(entry["delta"])
        else:
            tables[name] = spark.table(entry["table"])
    return tables, manifest


def read_manifest(demo_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a complete demo output.

    Raises:
        OutputError: no ``manifest.json`` in ``demo_dir``, or not one written by ``dbx-iot-gen demo``.
    """
    path = Path(demo_dir).expanduser() / "manifest.json"
    if not path.is_file():
        raise OutputError("demo_dir", f"{Path(demo_dir).expanduser()} holds no complete dbx-iot-gen demo output "
                                      "(no manifest.json); run `dbx-iot-gen demo --out DIR` first")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OutputError("demo_dir", f"{path} cannot be read as a manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("library") != "dbx-iot-gen" or "tables" not in manifest:
        raise OutputError("demo_dir", f"{path} is not the manifest of a dbx-iot-gen demo output")
    return manifest


def report_figures(spark: SparkSession, demo_dir: str | os.PathLike[str], *, devices: int = 3) -> list[ReportFigure]:
    """The page's figures, in order, for a notebook's ``display`` (every section but the tables).

    Args:
        spark: the session.
        demo_dir: a demo output folder (``dbx-iot-gen demo --out DIR``; on Databricks the volume
            folder holding the manifest).
        devices: devices per metric in the week of readings (1-10).

    Example:
        for f in report_figures(spark, "iot_demo"):
            display(f.figure)
    """
    _check_devices(devices)
    tables, manifest = demo_tables(spark, demo_dir)
    return _figures(tables, manifest, devices)


def report(spark: SparkSession, demo_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
           *, devices: int = 3) -> Path:
    """Write the report page of a demo output; returns its path (default ``DEMO_DIR/report.html``).

    The page is written to a temporary file beside ``out`` and renamed when complete: a failed
    run leaves no page, or the previous one.

    Raises:
        OutputError: ``demo_dir`` holds no demo output, or ``out`` cannot be written.
        InvalidConfigError: ``devices`` is outside 1-10.

    Example:
        report(spark, "iot_demo", "/tmp/iot_report.html")  # -> PosixPath('/tmp/iot_report.html')
    """
    target = check_arguments(demo_dir, out, devices)
    tables, manifest = demo_tables(spark, demo_dir)
    counts = {name: df.count() for name, df in tables.items()}
    page = _page(manifest, counts, _figures(tables, manifest, devices), Path(demo_dir).expanduser())
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".report-", suffix=".html")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def check_arguments(demo_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None, devices: int) -> Path:
    """Check :func:`report`'s arguments without Spark; returns the page's path.

    Raises:
        OutputError: ``demo_dir`` holds no demo output, or ``out`` cannot be written.
        InvalidConfigError: ``devices`` is outside 1-10.

    Example:
        >>> check_arguments("/nonexistent", None, 3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dbx_iot_gen.errors.OutputError: demo_dir: /nonexistent holds no complete dbx-iot-gen demo output ...
    """
    _check_devices(devices)
    read_manifest(demo_dir)
    target = Path(out).expanduser() if out is not None else Path(demo_dir).expanduser() / "report.html"
    _check_writable(target)
    return target


def _check_devices(devices: int) -> None:
    if isinstance(devices, bool) or not isinstance(devices, int) or not 1 <= devices <= MAX_DEVICES:
        raise InvalidConfigError("devices", f"must be a whole number from 1 to {MAX_DEVICES}, got {devices!r}")


def _check_writable(target: Path) -> None:
    if target.is_dir():
        raise OutputError("out", f"{target} is a folder; give the path of the HTML file to write")
    parent = target.parent
    if not parent.is_dir():
        raise OutputError("out", f"{parent} is not an existing folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError("out", f"{parent} is not writable")


# --- the figures -------------------------------------------------------------------------------


def _figures(tables: dict[str, DataFrame], manifest: dict[str, Any], devices: int) -> list[ReportFigure]:
    """Every figure, computed with the session's time zone set to UTC (times are shown in UTC and
    converted to each facility's zone for the profiles; a notebook's session may use another) and
    Arrow's conversion to pandas."""
    spark = tables["locations"].sparkSession
    # UTC, and Arrow for the samples that go to pandas (pyarrow is a dependency); restored after
    settings = {"spark.sql.session.timeZone": "UTC", "spark.sql.execution.arrow.pyspark.enabled": "true"}
    before = {key: spark.conf.get(key) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        return _make_figures(tables, manifest, devices)
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)


def _make_figures(tables: dict[str, DataFrame], manifest: dict[str, Any], devices: int) -> list[ReportFigure]:
    start = datetime.fromisoformat(manifest["config"]["start"])
    end = datetime.fromisoformat(manifest["config"]["end"])
    week = (start, min(end, start + timedelta(days=7)))
    makers: list[Callable[[], list[ReportFigure]]] = [
        lambda: _readings(tables, week, devices),
        lambda: _profiles(tables),
        lambda: _map(tables),
        lambda: _vehicles(tables, devices),
        lambda: _ruuvi(tables, manifest),
        lambda: _plant(tables),
        lambda: _events(tables),
        lambda: _quality(tables, manifest),
    ]
    return [f for make in makers for f in make()]


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure outside pyplot's registry: nothing to close, no backend chosen (the page saves it as
    PNG, a notebook displays it)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _subplots(rows: int, cols: int, *, figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    fig = _new_figure(figsize)
    return fig, fig.subplots(rows, cols, **kwargs)


def _readings(tables: dict[str, DataFrame], week: tuple[datetime, datetime], devices: int) -> list[ReportFigure]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lo, hi = (F.lit(t.isoformat(sep=" ")).cast("timestamp") for t in week)  # UTC: the session's zone here
    labels = tables["anomaly_labels"].where((F.col("start_ts") < hi) & (F.col("end_ts") >= lo))
    readings = tables["sensor_readings"].where((F.col("timestamp") >= lo) & (F.col("timestamp") < hi))
    # per metric, the devices with the most anomaly episodes in the week (then the lowest ids)
    busiest = (labels.groupBy("metric_name", "device_id").count()
               .orderBy("metric_name", F.desc("count"), "device_id").collect())
    chosen: dict[str, list[int]] = {m: [] for m in METRICS}
    for r in busiest:
        if r["metric_name"] in chosen and len(chosen[r["metric_name"]]) < devices:
            chosen[r["metric_name"]].append(r["device_id"])
    short = [m for m in METRICS if len(chosen[m]) < devices]
    if short:  # too few devices with anomalies: the lowest ids of the others that measure the metric
        first = Window.partitionBy("metric_name").orderBy("device_id")
        for r in (readings.where(F.col("metric_name").isin(short)).select("metric_name", "device_id").distinct()
                  .withColumn("n", F.row_number().over(first)).where(F.col("n") <= 2 * devices)
                  .orderBy("metric_name", "device_id").collect()):
            if len(chosen[r["metric_name"]]) < devices and r["device_id"] not in chosen[r["metric_name"]]:
                chosen[r["metric_name"]].append(r["device_id"])
    pairs = [(m, d) for m in METRICS for d in chosen[m]]
    if not pairs:
        return []
    pick = functools.reduce(lambda a, b: a | b, [(F.col("metric_name") == m) & (F.col("device_id") == d)
                                                 for m, d in pairs])
    kinds = (tables["devices"].where(F.col("device_id").isin([d for _, d in pairs]))
             .join(tables["locations"], "location_id").select("device_id", "device_type", "city").collect())
    about = {r["device_id"]: f"{r['device_type']}, {r['city']}" for r in kinds}
    # the ids alone first: Parquet skips what it can by them, the pairs then pick the rows
    rows = (readings.where(F.col("device_id").isin(sorted({d for _, d in pairs}))).where(pick)
            .select("metric_name", "device_id", "timestamp", "metric_value", "unit", "device_status",
                    "anomaly_type", "quality_issue")
            .orderBy("metric_name", "device_id", "timestamp").toPandas())
    spans = labels.where(pick).toPandas()
    out = []
    for metric in METRICS:
        if not chosen[metric]:
            continue
        fig, axes = _subplots(len(chosen[metric]), 1, figsize=(12, 2.3 * len(chosen[metric])),
                              sharex=True, squeeze=False)
        unit = ""
        for ax, device in zip(axes[:, 0], chosen[metric]):
            mine = rows[(rows.metric_name == metric) & (rows.device_id == device)]
            unit = mine.unit.dropna().iloc[0] if mine.unit.notna().any() else unit
            # the curve: every reading whose value is the sensor's (late and duplicated readings are)
            good = mine[~mine.quality_issue.isin(VALUE_PROBLEMS)]
            ax.plot(good.timestamp, good.metric_value, lw=0.8, color="#1f77b4")
            _set_value_limits(ax, good.metric_value)
            ymin, ymax = ax.get_ylim()
            for s in spans[(spans.metric_name == metric) & (spans.device_id == device)].itertuples():
                colour = ANOMALY_COLOURS.get(s.anomaly_type, "#000000")
                if s.end_ts > s.start_ts:
                    ax.axvspan(s.start_ts, s.end_ts, color=colour, alpha=0.3, lw=0)
                else:
                    ax.axvline(s.start_ts, color=colour, alpha=0.6, lw=1.5)
            spikes = good[good.anomaly_type == "spike"]
            ax.scatter(spikes.timestamp, spikes.metric_value, s=12, color=ANOMALY_COLOURS["spike"], zorder=3)
            maintenance = mine[mine.device_status == "Maintenance"]
            ax.scatter(maintenance.timestamp, [ymin + 0.03 * (ymax - ymin)] * len(maintenance), marker="s", s=6,
                       color="#2ca02c")
            nulls = mine[mine.quality_issue.isin(VALUE_PROBLEMS) & mine.metric_value.isna()]
            ax.scatter(nulls.timestamp, [ymin] * len(nulls), marker="|", s=40, color="#555555", clip_on=False)
            bad = mine[mine.quality_issue.isin(VALUE_PROBLEMS) & mine.metric_value.notna()]
            ax.scatter(bad.timestamp, bad.metric_value.clip(ymin, ymax), marker="x", s=18, color="#000000",
                       clip_on=False)
            ax.set_ylim(ymin, ymax)
            ax.set_ylabel(f"{device}", fontsize=8)
            ax.set_title(f"device {device}: {about.get(device, '')}", fontsize=8, loc="left")
        handles = [Rectangle((0, 0), 1, 1, color=c, alpha=0.4) for c in ANOMALY_COLOURS.values()]
        handles += [Line2D([], [], ls="", marker="s", color="#2ca02c"),
                    Line2D([], [], ls="", marker="|", color="#555555"),
                    Line2D([], [], ls="", marker="x", color="#000000")]
        fig.legend(handles, [*ANOMALY_COLOURS, "maintenance", "null value", "bad value (clipped to the frame)"],
                   loc="upper right", ncol=7, fontsize=8)
        fig.suptitle(f"{metric} ({unit}), UTC", x=0.01, ha="left")
        fig.autofmt_xdate()
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        ids = ", ".join(str(d) for d in chosen[metric])
        out.append(ReportFigure("readings", f"{metric}: devices {ids}, {week[0]:%Y-%m-%d} to {week[1]:%Y-%m-%d}",
                                fig))
    return out


def _set_value_limits(ax: Any, values: Any) -> None:
    """The y range of the sensor's own values, anomalies included (bad values are pinned to it)."""
    v = values.dropna()
    if v.empty:
        ax.set_ylim(0, 1)
        return
    lo, hi = float(v.min()), float(v.max())
    pad = (hi - lo) * 0.08 or 1.0
    ax.set_ylim(lo - pad, hi + pad)


def _profiles(tables: dict[str, DataFrame]) -> list[ReportFigure]:
    from pyspark.sql import functions as F

    zones = (tables["devices"].join(tables["locations"], "location_id")
             .select("device_id", "device_type", "timezone"))
    share = PROFILE_DEVICES / max(PROFILE_DEVICES, tables["devices"].count())
    clean = (tables["sensor_readings"]
             .where(F.col("quality_issue").isNull() & ~F.col("is_anomaly") & F.col("metric_value").isNotNull())
             .where(F.pmod(F.xxhash64("device_id"), F.lit(1000)) < F.lit(round(1000 * share)))
             .join(F.broadcast(zones), "device_id")
             .select("metric_name", "device_type", "metric_value",
                     F.from_utc_timestamp("timestamp", F.col("timezone")).alias("local")))
    agg = (clean.groupBy("metric_name", "device_type", F.hour("local").alias("hour"),
                         F.dayofweek("local").alias("dow"))
           .agg(F.sum("metric_value").alias("s"), F.count("*").alias("n")).toPandas())
    if agg.empty:
        return []
    metrics = [m for m in METRICS if (agg.metric_name == m).any()]
    fig, axes = _subplots(len(metrics), 2, figsize=(12, 2.4 * len(metrics)), squeeze=False)
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    order = [2, 3, 4, 5, 6, 7, 1]  # Spark's dayofweek: 1 = Sunday; shown from Monday
    for row, metric in zip(axes, metrics):
        for kind, mine in agg[agg.metric_name == metric].groupby("device_type"):
            by_hour = mine.groupby("hour")[["s", "n"]].sum()
            row[0].plot(by_hour.index, by_hour.s / by_hour.n, marker="o", ms=3, label=kind)
            by_day = mine.groupby("dow")[["s", "n"]].sum()
            means = by_day.s / by_day.n
            row[1].plot(days, [means.get(d, float("nan")) for d in order], marker="o", ms=4, label=kind)
        row[0].set_xticks(range(0, 24, 3))
        row[0].set_ylabel(metric, fontsize=8)
        row[0].legend(fontsize=6)
    axes[0, 0].set_title("mean by hour of the local day")
    axes[0, 1].set_title("mean by local day of the week (a gap: no data that day)")
    fig.tight_layout()
    return [ReportFigure("profiles", f"clean readings of {'all devices' if share >= 1 else 'a sample of devices'}"
                                     ", by device type, in each facility's time zone", fig)]


def _map(tables: dict[str, DataFrame]) -> list[ReportFigure]:
    import matplotlib
    from matplotlib.lines import Line2D

    places = tables["locations"].select("location_id", "city", "latitude", "longitude").toPandas()
    things = tables["devices"].select("location_id", "device_type", "latitude", "longitude").toPandas()
    per_place = things.groupby("location_id").size()
    zoomed = list(per_place.sort_values(ascending=False, kind="stable").index[:3])
    fig = _new_figure(figsize=(12, 9))
    world = fig.add_axes((0.05, 0.42, 0.9, 0.55))
    for ring in json.loads(COUNTRIES.read_text())["rings"]:
        xs, ys = zip(*ring)
        world.fill(xs, ys, facecolor="#eeeeee", edgecolor="#999999", lw=0.4)
    sizes = [10 + 4 * per_place.get(i, 0) for i in places.location_id]
    world.scatter(places.longitude, places.latitude, s=sizes, color="#d62728", alpha=0.7, edgecolors="#000000",
                  lw=0.5, zorder=3)
    # the cities with the most devices are named (all of them would overlap in Europe and the US)
    by_city = things.merge(places[["location_id", "city"]], on="location_id").groupby("city").size()
    named = set(by_city.sort_values(ascending=False, kind="stable").index[:15])
    for city, group in places[places.city.isin(named)].groupby("city"):
        world.annotate(city, (group.longitude.mean(), group.latitude.mean()), fontsize=7, xytext=(4, 4),
                       textcoords="offset points")
    world.set_xlim(-180, 180)
    world.set_ylim(-60, 85)
    world.set_aspect("equal")
    world.set_title("facilities (marker area: devices)", fontsize=9)
    kinds = sorted(things.device_type.unique())
    colours = dict(zip(kinds, matplotlib.colormaps["tab10"].colors))
    for k, location in enumerate(zoomed):
        ax = fig.add_axes((0.05 + k * 0.31, 0.08, 0.27, 0.3))
        site = places[places.location_id == location].iloc[0]
        mine = things[things.location_id == location]
        for kind, group in mine.groupby("device_type"):
            ax.scatter(group.longitude, group.latitude, s=14, color=colours[kind], label=kind)
        ax.scatter([site.longitude], [site.latitude], marker="*", s=120, color="#000000", label="facility")
        ax.set_aspect(1 / max(0.1, math.cos(math.radians(site.latitude))), adjustable="datalim")
        ax.set_title(f"{site.city}, facility {location}: {len(mine)} devices", fontsize=8)
        ax.ticklabel_format(useOffset=False)
        ax.tick_params(labelsize=6)

    handles = [Line2D([], [], ls="", marker="o", color=colours[k]) for k in kinds]
    handles.append(Line2D([], [], ls="", marker="*", ms=10, color="#000000"))
    fig.legend(handles, [*kinds, "facility"], loc="lower center", ncol=len(kinds) + 1, fontsize=7, frameon=False)
    return [ReportFigure("map", f"{len(places)} facilities and {len(things)} devices; below, the largest "
                                "facilities' devices", fig)]


def _vehicles(tables: dict[str, DataFrame], devices: int) -> list[ReportFigure]:
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from pyspark.sql import functions as F

    wanted = max(devices, 4)
    # the GPS trackers of the registry (not a scan of the telemetry for its ids), lowest ids first
    candidates = [r["device_id"] for r in tables["devices"].where(F.col("device_type") == "GPS Tracker")
                  .select("device_id").orderBy("device_id").limit(4 * wanted).collect()]
    track = (tables["telemetry"].where(F.col("device_id").isin(candidates))
             .select("device_id", "timestamp", "latitude", "longitude", "speed").orderBy("device_id", "timestamp")
             .toPandas())
    ids = sorted(track.device_id.unique())[:wanted]
    if not ids:
        return []
    track = track[track.device_id.isin(ids)]
    cols = min(len(ids), 4)
    rows_n = (len(ids) + cols - 1) // cols
    fig, axes = _subplots(rows_n, cols, figsize=(3.2 * cols, 3.2 * rows_n), squeeze=False)
    top = max(1.0, float(track.speed.max()))
    line = None
    for ax, device in zip(axes.flat, ids):
        mine = track[track.device_id == device]
        points = mine[["longitude", "latitude"]].to_numpy()
        segments = list(itertools.pairwise(points))
        line = LineCollection(segments, cmap="viridis", norm=Normalize(0, top), lw=1.2)
        line.set_array(mine.speed.to_numpy()[1:])
        ax.add_collection(line)
        stopped = mine[mine.speed == 0]
        ax.scatter(stopped.longitude, stopped.latitude, s=8, color="#d62728", zorder=3)
        ax.autoscale()
        ax.set_aspect(1 / max(0.1, math.cos(math.radians(float(mine.latitude.mean())))), adjustable="datalim")
        ax.set_title(f"vehicle {device}", fontsize=8)
        ax.ticklabel_format(useOffset=False)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(ids):]:
        ax.axis("off")
    if line is not None:
        fig.colorbar(line, ax=axes, label="speed, km/h", shrink=0.8)
    hours = (track.timestamp.max() - track.timestamp.min()).total_seconds() / 3600
    return [ReportFigure("vehicles", f"{len(ids)} vehicles, {hours:.1f} hours; red dots: stopped", fig)]


def _ruuvi(tables: dict[str, DataFrame], manifest: dict[str, Any]) -> list[ReportFigure]:
    import matplotlib
    from pyspark.sql import functions as F

    env = tables["environment_readings"]
    start = datetime.fromisoformat(manifest["config"]["start"])
    # one tag per site and location (the lowest MAC among those heard in the first hour: the table
    # is in time order, so Delta reads only its first files), then two days of those tags
    first_hour = F.col("timestamp") < F.lit((start + timedelta(hours=1)).isoformat(sep=" ")).cast("timestamp")
    tags = env.where(first_hour).groupBy("site", "location").agg(F.min("device_id").alias("device_id")).collect()
    if not tags:
        return []
    until = F.lit((start + timedelta(days=2)).isoformat(sep=" ")).cast("timestamp")
    rows = (env.where(F.col("device_id").isin([r["device_id"] for r in tags]) & (F.col("timestamp") < until))
            .select("site", "location", "device_id", "timestamp", "temperature", "humidity")
            .orderBy("site", "location", "timestamp").toPandas())
    sites = sorted(rows.site.unique())
    locations = sorted(rows.location.unique())
    palette = matplotlib.colormaps["tab20"].colors
    colours = {loc: palette[i % len(palette)] for i, loc in enumerate(locations)}  # one colour a location
    fig, axes = _subplots(len(sites), 2, figsize=(12, 2.4 * len(sites)), sharex=True, squeeze=False)
    for (t_ax, h_ax), site in zip(axes, sites):
        for location, group in rows[rows.site == site].groupby("location"):
            t_ax.plot(group.timestamp, group.temperature, lw=0.8, color=colours[location], label=location)
            h_ax.plot(group.timestamp, group.humidity, lw=0.8, color=colours[location])
        t_ax.set_ylabel(f"{site}\n°C", fontsize=8)
        h_ax.set_ylabel("%RH", fontsize=8)
        t_ax.legend(fontsize=6, loc="upper left", ncol=4)
    axes[0, 0].set_title("temperature")
    axes[0, 1].set_title("humidity")
    fig.autofmt_xdate()
    return [ReportFigure("ruuvi", f"{len(tags)} tags: one of each location of each site, the first two days, "
                                  "UTC", fig)]


def _plant(tables: dict[str, DataFrame]) -> list[ReportFigure]:
    import numpy
    from pyspark.sql import functions as F

    plant = tables["plant_sensors"]
    per_sensor = plant.groupBy("address").agg(F.count("*").alias("events"),
                                               F.count("value").alias("numeric")).toPandas()
    if per_sensor.empty:
        return []
    top = per_sensor.events.max()
    # tiers differ tenfold in rate: a sensor's tier is how many tens it lies below the busiest
    per_sensor["tier"] = [min(2, max(0, round(math.log10(top / n)))) for n in per_sensor.events]
    names = ("high", "medium", "low")
    fig = _new_figure(figsize=(12, 4.2))
    grid = fig.add_gridspec(3, 2)
    hist = fig.add_subplot(grid[:, 0])
    bins = numpy.geomspace(max(1, per_sensor.events.min()) * 0.8, top * 1.25, 50)
    for tier in range(3):
        mine = per_sensor[per_sensor.tier == tier]
        hist.hist(mine.events, bins=bins, alpha=0.7, label=f"{names[tier]}: {len(mine)} sensors")
    hist.set_xscale("log")
    hist.set_xlabel("events per sensor")
    hist.set_title("tiers, from each sensor's event rate", fontsize=9)
    hist.legend(fontsize=7)
    numeric = per_sensor[per_sensor.numeric > 0].sort_values(["tier", "address"])
    picks = {t: numeric[numeric.tier == t].address.iloc[0] for t in range(3) if (numeric.tier == t).any()}
    values = (plant.where(F.col("address").isin(list(picks.values()))).select("address", "timestamp", "value")
              .orderBy("address", "timestamp").toPandas())
    axes = [fig.add_subplot(grid[i, 1]) for i in range(3)]
    for ax, (tier, address) in zip(axes, sorted(picks.items())):
        mine = values[values.address == address]
        ax.step(mine.timestamp, mine.value, where="post", lw=0.8, marker=".", ms=3)
        ax.set_title(f"{address}, {names[tier]} tier: {len(mine)} events", fontsize=8, loc="left")
        ax.tick_params(labelsize=6)
    for ax in axes[len(picks):]:
        ax.axis("off")
    fig.tight_layout()
    return [ReportFigure("plant", f"{len(per_sensor)} sensors, {int(per_sensor.events.sum()):,} events", fig)]


def _events(tables: dict[str, DataFrame]) -> list[ReportFigure]:
    from pyspark.sql import functions as F

    counts = {}
    for name, time_column, level in (("events", "timestamp", "severity"), ("alerts", "raised_at", "alert_level")):
        counts[name] = (tables[name].groupBy(F.date_trunc("hour", time_column).alias("t"), level).count()
                        .toPandas().rename(columns={level: "level"}))
    times = [c.t for c in counts.values() if not c.empty]
    if not times:
        return []
    first, last = min(t.min() for t in times), max(t.max() for t in times)
    unit = "hour" if (last - first) <= timedelta(days=3) else "day"
    fig, axes = _subplots(2, 1, figsize=(12, 5), sharex=True)
    width = (1 / 24 if unit == "hour" else 1.0) * 0.9
    for ax, (name, frame) in zip(axes, counts.items()):
        title = "events by severity" if name == "events" else "alerts by level"
        if frame.empty:
            ax.set_title(f"{title}: none", fontsize=9)
            continue
        frame = frame.assign(t=frame.t.dt.floor("D") if unit == "day" else frame.t)
        table = frame.pivot_table(index="t", columns="level", values="count", aggfunc="sum", fill_value=0)
        known = [c for c in SEVERITY_COLOURS if c in table.columns]
        bottom = None
        for level in known + sorted(c for c in table.columns if c not in SEVERITY_COLOURS):
            ax.bar(table.index, table[level], width=width, bottom=bottom, label=level,
                   color=SEVERITY_COLOURS.get(level, "#8c564b"))
            bottom = table[level] if bottom is None else bottom + table[level]
        ax.set_title(f"{title}, per {unit}", fontsize=9)
        ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return [ReportFigure("events", f"per {unit}, UTC", fig)]


def _quality(tables: dict[str, DataFrame], manifest: dict[str, Any]) -> list[ReportFigure]:
    from pyspark.sql import functions as F

    readings = tables["sensor_readings"]
    found = {r["quality_issue"]: r["count"] for r in
             readings.where(F.col("quality_issue").isNotNull()).groupBy("quality_issue").count().collect()}
    # a duplicated reading is two rows, both marked; the manifest counts the extra one
    if "duplicate" in found:
        found["duplicate"] //= 2
    expected = manifest.get("problems", {}).get("quality", {})
    kinds = sorted(set(found) | set(expected))
    episodes = {r["anomaly_type"]: r["count"] for r in tables["anomaly_labels"].groupBy("anomaly_type").count()
                .collect()}
    expected_episodes = {k: v.get("episodes", 0) for k, v in manifest.get("problems", {}).get("anomalies", {}).items()}
    types = sorted(set(episodes) | set(expected_episodes))
    fig, axes = _subplots(1, 2, figsize=(12, 3.6))
    for ax, names, got, want, title in ((axes[0], kinds, found, expected, "quality problems (readings)"),
                                        (axes[1], types, episodes, expected_episodes, "anomaly episodes")):
        x = range(len(names))
        ax.bar([i - 0.2 for i in x], [got.get(k, 0) for k in names], width=0.4, label="found in the table")
        ax.bar([i + 0.2 for i in x], [want.get(k, 0) for k in names], width=0.4, label="manifest")
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    rows = [(k, found.get(k, 0), expected.get(k)) for k in kinds]
    rows += [(f"anomaly episodes: {k}", episodes.get(k, 0), expected_episodes.get(k)) for k in types]
    return [ReportFigure("quality", "found in the tables (bars left) against the manifest (right)", fig,
                         tuple(rows))]


# --- the page ----------------------------------------------------------------------------------


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _page(manifest: dict[str, Any], counts: dict[str, int], figures: list[ReportFigure], demo_dir: Path) -> str:
    e = html.escape
    config = manifest.get("config", {})
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>dbx-iot-gen report: {e(str(demo_dir))}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child"
        "{text-align:left}img{max-width:100%}.bad{color:#b00}</style></head><body>",
        f"<h1>dbx-iot-gen report</h1><p>{e(str(demo_dir))}: scale {e(str(config.get('scale')))}, seed "
        f"{e(str(manifest.get('seed')))}, {e(str(config.get('start')))} to {e(str(config.get('end')))}, made by "
        f"{e(str(manifest.get('library')))} {e(str(manifest.get('version')))} at {e(str(manifest.get('created_at')))}"
        "</p>",
    ]
    for section, heading in SECTIONS.items():
        parts.append(f'<section id="{section}"><h2>{e(heading)}</h2>')
        if section == "tables":
            parts.append("<table><tr><th>table</th><th>rows</th><th>manifest</th></tr>")
            for name, n in counts.items():
                want = manifest["tables"][name]["rows"]
                mark = "" if n == want else ' class="bad"'
                parts.append(f"<tr{mark}><td>{e(name)}</td><td>{n:,}</td><td>{want:,}</td></tr>")
            parts.append("</table>")
        mine = [f for f in figures if f.section == section]
        for f in [f for f in mine if f.rows]:
            parts.append("<table><tr><th>problem</th><th>found in the table</th><th>manifest</th></tr>")
            for kind, got, want in f.rows:
                mark = "" if want == got else ' class="bad"'
                shown = "-" if want is None else f"{want:,}"
                parts.append(f"<tr{mark}><td>{e(kind)}</td><td>{got:,}</td><td>{shown}</td></tr>")
            parts.append("</table>")
        if section != "tables" and not mine:
            parts.append("<p>No data for this section.</p>")
        for f in mine:
            parts.append(f'<figure><img class="figure" alt="{e(section)}: {e(f.caption)}" '
                         f'src="data:image/png;base64,{_png(f.figure)}"><figcaption>{e(f.caption)}</figcaption>'
                         "</figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
