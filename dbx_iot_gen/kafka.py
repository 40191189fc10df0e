"""Feeds into Kafka: the rows of a table as Kafka records, written by Spark's Kafka sink.

A record per row: the **key** is the row's natural key (``device_id`` of a reading, ``address``
of a plant sensor, the MAC of a Ruuvi tag), so one device's rows land in one partition; the
**value** is the row as JSON in the landing format (the same text as a landing folder's lines,
nulls included); the **headers** are ``table`` and ``event_time`` (the row's event time in the
landing format). Spark's Kafka sink (Spark 3.5 to 4.2) sets no record timestamp of the writer's
choosing: the record's timestamp is when it was produced, and event time is in the value and the
``event_time`` header.

Delivery is at-least-once: a micro-batch that fails half-way is written again when the feed
restarts from its checkpoint, so a consumer may see a record twice. Deduplicate on the table's key
(:data:`DEDUP_KEYS`: ``reading_id`` for readings), e.g.
``df.withWatermark("timestamp", "1 hour").dropDuplicatesWithinWatermark(["reading_id"])``.

Locally the connector comes from Maven Central (:func:`kafka_package`, which :func:`get_spark`
adds with ``kafka=True``); Databricks runtimes bring their own.

Example:
    sink = KafkaSink("127.0.0.1:9092", "readings")
    publish(spark.read.format("delta").load("iot_demo/delta/sensor_readings"), "sensor_readings", sink)
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dbx_iot_gen.errors import InvalidConfigError, OutputError
from dbx_iot_gen.output import JSON_TIMESTAMP_FORMAT
from dbx_iot_gen.schemas import TABLES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import DataStreamWriter

__all__ = ["DEDUP_KEYS", "KEYS", "KafkaSink", "kafka_package", "kafka_records", "publish"]

# the record key of each table: what one device (or sensor) is
KEYS: dict[str, str] = {"sensor_readings": "device_id", "plant_sensors": "address",
                        "environment_readings": "device_id"}
# what identifies a row, to drop the copies at-least-once delivery may make (the tables' keys)
DEDUP_KEYS: dict[str, tuple[str, ...]] = {t: tuple(c.strip() for c in TABLES[t].key.split(",")) for t in KEYS}
# how long a producer waits for a broker's metadata before it fails (Kafka's default is 60 s)
MAX_BLOCK_MS = 15_000
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


def kafka_package(spark_version: str) -> str:
    """The Maven coordinates of Spark's Kafka connector for a Spark version.

    The connector of the line's first release (``x.y.0``), which every release of the line runs:
    it resolves from Maven Central for every line (the registry some machines use lacks
    ``spark-token-provider-kafka-0-10_2.13:4.0.1``, a dependency of the 4.0.1 connector).

    Example:
        >>> kafka_package("4.0.1")
        'org.apache.spark:spark-sql-kafka-0-10_2.13:4.0.0'
        >>> kafka_package("3.5.7")
        'org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.0'
    """
    major, minor = (int(p) for p in spark_version.split(".")[:2])
    scala = "2.12" if major < 4 else "2.13"
    return f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{major}.{minor}.0"


@dataclass(frozen=True)
class KafkaSink:
    """Where a feed's records go: the brokers and the topic.

    Args:
        bootstrap_servers: ``HOST:PORT`` of one or more brokers, separated by commas.
        topic: the topic (letters, digits, ``.``, ``_`` and ``-``; created by the broker on first
            write where it allows it, else create it first).
        options: further producer settings, without the ``kafka.`` prefix (``acks``,
            ``compression.type``, ``security.protocol``...).

    Example:
        >>> KafkaSink("127.0.0.1:9092", "plant").writer_options()["topic"]
        'plant'
        >>> KafkaSink("localhost", "plant")
        Traceback (most recent call last):
        ...
        dbx_iot_gen.errors.InvalidConfigError: bootstrap_servers: must be HOST:PORT[,HOST:PORT...], got 'localhost'
    """

    bootstrap_servers: str
    topic: str
    options: Mapping[str, str] = field(default_factory=dict)

    kind = "kafka"

    def __post_init__(self) -> None:
        servers = self.bootstrap_servers
        if not isinstance(servers, str) or not servers or not all(
                _address(s) is not None for s in servers.split(",")):
            raise InvalidConfigError("bootstrap_servers", f"must be HOST:PORT[,HOST:PORT...], got {servers!r}")
        if not isinstance(self.topic, str) or not _TOPIC.fullmatch(self.topic) or self.topic in (".", ".."):
            raise InvalidConfigError("topic", "must be 1 to 249 letters, digits, '.', '_' or '-', "
                                              f"got {self.topic!r}")
        if not isinstance(self.options, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.options.items()):
            raise InvalidConfigError("options", "must map producer setting names to text values")

    def identity(self, table: str | None = None) -> dict[str, Any]:
        """What a feed's checkpoint was written for: a restart must name the same brokers and topic
        (the checkpoint's offsets belong to that topic on that cluster)."""
        return {"sink": "kafka", "bootstrap_servers": self.bootstrap_servers, "topic": self.topic}

    def writer_options(self) -> dict[str, str]:
        """The options of Spark's Kafka sink (``format("kafka")``) for this sink."""
        return {"kafka.bootstrap.servers": self.bootstrap_servers, "topic": self.topic,
                "kafka.max.block.ms": str(MAX_BLOCK_MS),
                **{f"kafka.{k}": v for k, v in self.options.items()}}

    def check_table(self, table: str) -> None:
        """Raise :class:`InvalidConfigError` naming ``table`` unless it has a record key."""
        if table not in KEYS:
            raise InvalidConfigError("table", f"must be one of {', '.join(KEYS)}, got {table!r}")

    def prepare(self, table: str, first_time: datetime | None = None) -> None:
        """Check, before a feed of ``table`` starts, that it has a record key and a broker answers
        (records of any time, ``first_time``, are taken)."""
        self.check_table(table)
        self.check_reachable()

    def stream_writer(self, feed: DataFrame, table: str, out_dir: str | None = None) -> DataStreamWriter:
        """A streaming writer of the feed's rows as records (Spark's Kafka sink); ``out_dir`` (the
        feed's folder) is not used."""
        return kafka_records(feed, table).writeStream.format("kafka").options(**self.writer_options())

    def check_reachable(self, timeout: float = 5.0) -> None:
        """Raise :class:`OutputError` naming ``bootstrap_servers`` unless a broker accepts a
        connection within ``timeout`` seconds (Spark's producer would wait a minute, then fail
        with a long trace)."""
        errors = []
        for server in self.bootstrap_servers.split(","):
            host, port = _address(server)  # type: ignore[misc]
            try:
                with socket.create_connection((host, port), timeout=timeout):
                    return
            except OSError as e:
                errors.append(f"{server.strip()}: {e.strerror or e}")
        raise OutputError("bootstrap_servers", f"no Kafka broker answers ({'; '.join(errors)}); "
                                               "start the broker or correct --bootstrap-servers")


def _address(server: str) -> tuple[str, int] | None:
    host, _, port = server.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def kafka_records(df: DataFrame, table: str) -> DataFrame:
    """The Kafka records of a table's rows (batch or streaming): ``key``, ``value``, ``headers``.

    Example:
        records = kafka_records(stream(spark, cfg, "plant_sensors"), "plant_sensors")
        records.columns  # ['key', 'value', 'headers']
    """
    from pyspark.sql import functions as F

    if table not in KEYS:
        raise InvalidConfigError("table", f"must be one of {', '.join(KEYS)}, got {table!r}")

    def header(name: str, value: Any) -> Any:
        return F.struct(F.lit(name).alias("key"), value.cast("binary").alias("value"))

    event_time = F.date_format(F.col("timestamp"), JSON_TIMESTAMP_FORMAT)
    landing = {"timestampFormat": JSON_TIMESTAMP_FORMAT, "ignoreNullFields": "false"}
    return df.select(
        F.col(KEYS[table]).cast("string").alias("key"),
        F.to_json(F.struct(*[F.col(c) for c in df.columns]), landing).alias("value"),
        F.array(header("table", F.lit(table)), header("event_time", event_time)).alias("headers"),
    )


def publish(df: DataFrame, table: str, sink: KafkaSink) -> int:
    """Write a batch DataFrame of a table (a demo's Delta table, say) to a topic; returns the
    number of records written. Publishing again writes every row again.

    Example:
        rows = spark.read.format("delta").load("iot_demo/delta/plant_sensors")
        publish(rows, "plant_sensors", KafkaSink("127.0.0.1:9092", "plant"))
    """
    sink.check_reachable()
    rows = df.count()
    kafka_records(df, table).write.format("kafka").options(**sink.writer_options()).save()
    return rows
