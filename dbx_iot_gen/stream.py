"""Streaming feeds of ``sensor_readings``, ``plant_sensors`` and ``environment_readings``.

A feed is the table's own dbldatagen spec built with ``build(withStreaming=True)``: the same
expressions as the batch table, on ids from Spark's ``rate-micro-batch`` source (micro-batch ``n``
holds ids ``[n * R, (n + 1) * R)`` for ``R`` rows a second, one micro-batch a second).

* **historical**: event time is the row's own time, from the config's start on; the rows equal
  the batch table's rows with the same ids. ``rows_per_second`` sets the speed-up: at the
  table's natural rate (:func:`natural_rows_per_second`) event time runs as fast as the clock.
* **realtime**: event time is now (the micro-batch's time, the rows spread over its second).

:func:`start_stream` writes a feed to a Delta table or a JSON landing folder under one folder,
or to a Kafka topic (:mod:`dbx_iot_gen.kafka`), with its checkpoint in that folder: started again
on the same folder, it goes on where it stopped, with no gap and no duplicate ids (into Kafka,
at-least-once: a micro-batch cut short by a failure is written again).

Example:
    query = start_stream(spark, IoTConfig.preset("tiny"), "sensor_readings", "/tmp/feed")
    query.stop()
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dbldatagen as dg
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.errors import InvalidConfigError, OutputError
from dbx_iot_gen.grid import grid
from dbx_iot_gen.kafka import KafkaSink
from dbx_iot_gen.output import JSON_TIMESTAMP_FORMAT
from dbx_iot_gen.questdb import QuestDBSink
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.tables.plant import PlantLayout
from dbx_iot_gen.timestream import TimestreamSink

# where a feed can go besides a folder: a Kafka topic, a QuestDB table or a Timestream table
Sink = KafkaSink | QuestDBSink | TimestreamSink

__all__ = ["FORMATS", "MODES", "STREAM_TABLES", "StreamLayout", "check_stream_args", "natural_rows_per_second",
           "rows_per_second_for_speedup", "start_stream", "stream", "stream_identity", "stream_spec"]

StreamSpec = Callable[..., dg.DataGenerator]
# the tables a feed can stream (schemas.TABLES: streams), with the function returning the spec
STREAM_TABLES: dict[str, StreamSpec] = {n: t.build_function() for n, t in TABLES.items() if t.streams}
MODES = ("historical", "realtime")
FORMATS = ("delta", "json")
STREAM_MARKER = "_dbx_iot_gen_stream.json"


def check_stream_args(table: str, mode: str, rows_per_second: int, fmt: str = "delta") -> None:
    """Raise :class:`InvalidConfigError` naming the argument unless the feed's arguments are valid."""
    if table not in STREAM_TABLES:
        raise InvalidConfigError("table", f"must be one of {', '.join(STREAM_TABLES)}, got {table!r}")
    if mode not in MODES:
        raise InvalidConfigError("mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(rows_per_second, bool) or not isinstance(rows_per_second, int) or not (
            1 <= rows_per_second <= 10_000_000):
        raise InvalidConfigError("rows_per_second", f"must be a whole number from 1 to 10,000,000, "
                                                      f"got {rows_per_second!r}")
    if fmt not in FORMATS:
        raise InvalidConfigError("fmt", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")


def natural_rows_per_second(config: IoTConfig, table: str) -> float:
    """Rows a second at which a historical feed's event time runs as fast as the clock.

    Example:
        >>> round(natural_rows_per_second(IoTConfig.preset("tiny"), "environment_readings"), 3)
        0.167
    """
    check_stream_args(table, "historical", 1)
    if table == "sensor_readings":
        return grid(config).layout.n_channels / config.reading_cadence_seconds
    if table == "plant_sensors":
        layout = PlantLayout(config)
        return layout.rows_per_period / layout.period_s
    return config.environment.n_sensors / config.environment.cadence_seconds


def rows_per_second_for_speedup(config: IoTConfig, table: str, speedup: float) -> int:
    """The ``rows_per_second`` at which a historical feed's event time runs ``speedup`` times as
    fast as the clock (at least 1).

    Example:
        >>> rows_per_second_for_speedup(IoTConfig.preset("tiny"), "plant_sensors", 2.0)
        100
    """
    if isinstance(speedup, bool) or not isinstance(speedup, (int, float)) or not 0 < speedup <= 1e9:
        raise InvalidConfigError("speedup", f"must be a number above 0, got {speedup!r}")
    return max(1, round(natural_rows_per_second(config, table) * speedup))


def stream_spec(spark: SparkSession, config: IoTConfig, table: str, *, mode: str = "historical") -> dg.DataGenerator:
    """The spec of a feed: the table's spec, with event time now in realtime mode.

    Example:
        spec = stream_spec(spark, IoTConfig.preset("tiny"), "plant_sensors", mode="realtime")
        df = spec.build(withStreaming=True, options={"rowsPerBatch": 100})
    """
    check_stream_args(table, mode, 1)
    return STREAM_TABLES[table](spark, config, realtime=mode == "realtime")


def stream(spark: SparkSession, config: IoTConfig, table: str, *, mode: str = "historical",
           rows_per_second: int = 1000) -> DataFrame:
    """The streaming DataFrame of a feed, ``rows_per_second`` ids a second (one micro-batch a
    second when written with :func:`start_stream`'s trigger).

    Example:
        feed = stream(spark, IoTConfig.preset("tiny"), "sensor_readings", rows_per_second=500)
        feed.isStreaming  # True
    """
    check_stream_args(table, mode, rows_per_second)
    return stream_spec(spark, config, table, mode=mode).build(
        withStreaming=True, options={"rowsPerBatch": rows_per_second, "secondsPerBatch": 1.0, "numPartitions": 2})


class StreamLayout:
    """The folders of one feed: ``DIR/<table>`` (the Delta table or the JSON files),
    ``DIR/_checkpoint`` and ``DIR/_dbx_iot_gen_stream.json`` (what the feed is, to check a restart).
    """

    def __init__(self, out_dir: str) -> None:
        self.root = Path(out_dir).expanduser().absolute()

    def data_path(self, table: str) -> str:
        return str(self.root / table)

    @property
    def checkpoint(self) -> str:
        return str(self.root / "_checkpoint")

    def check(self, identity: dict[str, Any]) -> bool:
        """Raise :class:`OutputError` unless the folder can hold this feed: new, empty, or this
        very feed (then returns True). Writes nothing."""
        root, marker = self.root, self.root / STREAM_MARKER
        if root.exists() and not root.is_dir():
            raise OutputError("out_dir", f"{root} is a file; give a folder")
        if marker.exists():
            previous = json.loads(marker.read_text())
            if previous != identity:
                changed = sorted(k for k in identity if previous.get(k) != identity[k])
                raise OutputError("out_dir", f"{root} holds another feed (its {', '.join(changed)} differ: "
                                  f"{', '.join(f'{k}={previous.get(k)!r}' for k in changed)}); restart it with the "
                                  "same arguments, or give a new folder")
            return True
        if root.exists() and any(root.iterdir()):
            raise OutputError("out_dir", f"{root} is not empty and holds no dbx-iot-gen feed; "
                                         "give a new or empty folder")
        return False

    def claim(self, identity: dict[str, Any]) -> None:
        """:meth:`check` the folder, then mark it as this feed's."""
        if not self.check(identity):
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / STREAM_MARKER).write_text(json.dumps(identity, indent=2) + "\n")


def stream_identity(config: IoTConfig, table: str, mode: str, rows_per_second: int, fmt: str,
                    sink: Sink | None = None) -> dict[str, Any]:
    """What a feed folder is for; a restart must match it."""
    identity = {"table": table, "mode": mode, "format": sink.kind if sink else fmt,
                "rows_per_second": rows_per_second, "config": config.to_dict()}
    if sink is not None:
        identity["sink"] = sink.identity(table)
    return json.loads(json.dumps(identity))  # as read back from JSON


def start_stream(spark: SparkSession, config: IoTConfig, table: str, out_dir: str, *, mode: str = "historical",
                 rows_per_second: int = 1000, fmt: str = "delta", sink: Sink | None = None) -> StreamingQuery:
    """Start writing a feed under ``out_dir`` (a Delta table, or newline-delimited JSON for a
    landing folder), one micro-batch a second, with its checkpoint there; with ``sink``, into that
    Kafka topic, QuestDB table or Timestream table instead (``out_dir`` then holds the checkpoint,
    and a Timestream feed's refused rows in ``_rejected``).

    Started again on the same folder with the same arguments, the feed goes on where it stopped:
    no gap, no duplicate ids. Other arguments on a used folder raise :class:`OutputError`.

    Returns:
        The running query: ``query.stop()`` stops it; ``query.awaitTermination(seconds)`` waits.

    Example:
        q = start_stream(spark, cfg, "environment_readings", "/tmp/feed", fmt="json")
        q = start_stream(spark, cfg, "plant_sensors", "/tmp/plant_feed", sink=KafkaSink("127.0.0.1:9092", "plant"))
        q = start_stream(spark, cfg, "plant_sensors", "/tmp/plant_qdb", sink=QuestDBSink("127.0.0.1:9000"))
    """
    check_stream_args(table, mode, rows_per_second, fmt)
    layout = StreamLayout(out_dir)
    identity = stream_identity(config, table, mode, rows_per_second, fmt, sink)
    if sink is not None:
        layout.check(identity)
        # before the folder is claimed: nothing is written for a wrong address, or a table that
        # refuses the feed's first times
        sink.prepare(table, config.start if mode == "historical" else None)
    layout.claim(identity)
    feed = stream(spark, config, table, mode=mode, rows_per_second=rows_per_second)
    if sink is not None:
        return (sink.stream_writer(feed, table, str(layout.root)).queryName(f"dbx_iot_gen_{table}_{mode}_{sink.kind}")
                .option("checkpointLocation", layout.checkpoint)
                .trigger(processingTime="1 second").start())
    writer = (feed.writeStream.queryName(f"dbx_iot_gen_{table}_{mode}")
              .option("checkpointLocation", layout.checkpoint)
              .trigger(processingTime="1 second"))
    if fmt == "json":
        writer = writer.format("json").option("timestampFormat", JSON_TIMESTAMP_FORMAT).option(
            "ignoreNullFields", "false")
    else:
        writer = writer.format("delta")
    return writer.start(layout.data_path(table))
