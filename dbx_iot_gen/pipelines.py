"""The seeds' consumers of a Kafka feed, as reference pipelines (Structured Streaming).

* **Seed 002**, :func:`start_temperature_windows`: readings from a topic, deduplicated by
  ``reading_id`` (delivery is at-least-once), an event-time watermark, then minimum, maximum and
  average temperature per sensor and 15-minute window (the ``temperature_15_minutes`` gold query)
  upserted into a PostgreSQL table on ``(sensor_id, window_start)``: a replayed micro-batch
  rewrites its windows rather than adding to them. :func:`start_message_log` is the seed's log
  consumer: every message, stored as it came (topic, partition, offset, key, value, timestamp).
* **Seed 003**, :func:`start_plant_windows`: plant events from a topic, a watermark, then 10-second
  tumbling windows of count, min, max and mean per sensor (the ``plant_10_second_windows`` gold
  query), appended to a Delta table, or to an output topic as JSON, once a window has closed.

Each is one command: ``dbx-iot-gen pipeline temperature-windows|plant-windows|message-log``.
PostgreSQL is written through Spark's JDBC writer (driver ``org.postgresql:postgresql``) and the
upsert runs there with ``psycopg`` (the ``postgres`` extra).

Example:
    query = start_plant_windows(spark, KafkaSink("127.0.0.1:9092", "plant"), "/tmp/plant_windows")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dbx_iot_gen.errors import InvalidConfigError, OutputError
from dbx_iot_gen.kafka import KafkaSink
from dbx_iot_gen.output import JSON_TIMESTAMP_FORMAT
from dbx_iot_gen.schemas import TABLES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

__all__ = ["POSTGRES_JDBC", "PostgresTarget", "feed_rows", "plant_windows", "start_message_log",
           "start_plant_windows", "start_temperature_windows", "temperature_windows"]

# PostgreSQL's JDBC driver, for a local session (get_spark(packages=[...]))
POSTGRES_JDBC = "org.postgresql:postgresql:42.7.8"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def feed_rows(spark: SparkSession, table: str, source: KafkaSink, *, starting_offsets: str = "earliest",
              max_records_per_batch: int | None = None) -> DataFrame:
    """A topic's records as the table's rows (a streaming DataFrame): the JSON values parsed with
    the table's schema.

    Example:
        rows = feed_rows(spark, "plant_sensors", KafkaSink("127.0.0.1:9092", "plant"))
    """
    from pyspark.sql import functions as F

    if table not in TABLES or not TABLES[table].streams:
        raise InvalidConfigError("table", f"must be a feed's table, got {table!r}")
    reader = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", source.bootstrap_servers)
              .option("subscribe", source.topic).option("startingOffsets", starting_offsets)
              .option("failOnDataLoss", "false"))
    if max_records_per_batch is not None:
        reader = reader.option("maxOffsetsPerTrigger", str(max_records_per_batch))
    schema = ", ".join(f"`{c.name}` {c.type}" for c in TABLES[table].columns)
    parsed = F.from_json(F.col("value").cast("string"), schema, {"timestampFormat": JSON_TIMESTAMP_FORMAT})
    return reader.load().select(parsed.alias("row")).select("row.*")


def temperature_windows(readings: DataFrame, watermark: str = "15 minutes") -> DataFrame:
    """The 15-minute temperature statistics of a readings stream (seed 002's aggregation), the
    same columns as the ``temperature_15_minutes`` gold query.

    Example:
        temperature_windows(feed_rows(spark, "sensor_readings", source)).isStreaming  # True
    """
    from pyspark.sql import functions as F

    def stat(f: Any, name: str) -> Any:
        return f("metric_value").cast("decimal(5,2)").alias(f"{name}_temperature")

    valid = readings.where("metric_name = 'temperature' AND metric_value BETWEEN -40 AND 60")
    unique = valid.withWatermark("timestamp", watermark).dropDuplicatesWithinWatermark(["reading_id"])
    return (unique.groupBy(F.col("device_id").alias("sensor_id"), F.window("timestamp", "15 minutes"))
            .agg(stat(F.avg, "avg"), stat(F.min, "min"), stat(F.max, "max"))
            .select("sensor_id", F.col("window.start").alias("window_start"), F.col("window.end").alias("window_end"),
                    "avg_temperature", "min_temperature", "max_temperature"))


def plant_windows(events: DataFrame, watermark: str = "10 seconds") -> DataFrame:
    """The 10-second windows of a plant stream (seed 003), the columns of the
    ``plant_10_second_windows`` gold query: address, time (the window's end), count, min, max, mean.

    Example:
        plant_windows(feed_rows(spark, "plant_sensors", source)).columns[:2]  # ['address', 'time']
    """
    from pyspark.sql import functions as F

    return (events.where("value IS NOT NULL").withWatermark("timestamp", watermark)
            .groupBy("address", F.window("timestamp", "10 seconds"))
            .agg(F.count(F.lit(1)).alias("count"), F.min("value").alias("min"), F.max("value").alias("max"),
                 F.avg("value").alias("mean"))
            .select("address", F.col("window.end").alias("time"), "count", "min", "max", "mean"))


@dataclass(frozen=True)
class PostgresTarget:
    """A PostgreSQL table, named by a libpq URL: ``postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE``.

    Example:
        >>> t = PostgresTarget("postgresql://postgres@127.0.0.1:5432/iot")
        >>> t.jdbc_url, t.table
        ('jdbc:postgresql://127.0.0.1:5432/iot', 'temperature_15_minutes')
    """

    url: str
    table: str = "temperature_15_minutes"

    def __post_init__(self) -> None:
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path[1:]:
            raise InvalidConfigError("postgres_url", "must be postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE, "
                                                     f"got {self.url!r}")
        if not isinstance(self.table, str) or not _NAME.fullmatch(self.table):
            raise InvalidConfigError("postgres_table", "must be a lower-case SQL name (letters, digits, _), "
                                                       f"got {self.table!r}")

    @property
    def jdbc_url(self) -> str:
        parts = urlsplit(self.url)
        return f"jdbc:postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"

    @property
    def properties(self) -> dict[str, str]:
        parts = urlsplit(self.url)
        props = {"user": parts.username or "postgres", "driver": "org.postgresql.Driver", "connectTimeout": "10"}
        if parts.password:
            props["password"] = parts.password
        return props

    def connect(self) -> Any:
        """A psycopg connection (autocommit), or :class:`OutputError` naming ``postgres_url``."""
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise OutputError("postgres_url", f"cannot connect to PostgreSQL: {first}") from None


def _create_target(target: PostgresTarget) -> None:
    with target.connect() as conn:
        conn.execute(f"""CREATE TABLE IF NOT EXISTS {target.table} (
            sensor_id BIGINT NOT NULL, window_start TIMESTAMP NOT NULL, window_end TIMESTAMP NOT NULL,
            avg_temperature NUMERIC(5, 2), min_temperature NUMERIC(5, 2), max_temperature NUMERIC(5, 2),
            PRIMARY KEY (sensor_id, window_start))""")


def _upsert(target: PostgresTarget) -> Any:
    staging = f"{target.table}_batch"
    columns = "sensor_id, window_start, window_end, avg_temperature, min_temperature, max_temperature"
    update = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns.split(", ")[2:])

    def write(batch: DataFrame, batch_id: int) -> None:
        # the micro-batch's windows into a staging table, then one upsert: a window a replay (or a
        # later batch) brings again replaces its row, it is never added twice
        batch.write.jdbc(target.jdbc_url, staging, mode="overwrite", properties=target.properties)
        with target.connect() as conn:
            conn.execute(f"INSERT INTO {target.table} ({columns}) SELECT {columns} FROM {staging} "
                         f"ON CONFLICT (sensor_id, window_start) DO UPDATE SET {update}")

    return write


def start_temperature_windows(spark: SparkSession, source: KafkaSink, target: PostgresTarget, checkpoint: str, *,
                              watermark: str = "15 minutes", available_now: bool = False,
                              max_records_per_batch: int | None = None) -> StreamingQuery:
    """Seed 002: a readings topic into 15-minute temperature windows upserted into PostgreSQL.

    The target table (created when missing) has the gold query's columns and the primary key
    ``(sensor_id, window_start)``. A window's row is final once the watermark has passed its end.

    Example:
        q = start_temperature_windows(spark, KafkaSink("127.0.0.1:9092", "readings"),
                                      PostgresTarget("postgresql://postgres@127.0.0.1:5432/postgres"), "/tmp/ck")
    """
    source.check_reachable()
    _create_target(target)
    windows = temperature_windows(feed_rows(spark, "sensor_readings", source,
                                            max_records_per_batch=max_records_per_batch), watermark)
    writer = (windows.writeStream.queryName("dbx_iot_gen_temperature_windows").outputMode("update")
              .foreachBatch(_upsert(target)).option("checkpointLocation", checkpoint))
    return _trigger(writer, available_now).start()


def start_plant_windows(spark: SparkSession, source: KafkaSink, out_dir: str, *, output: KafkaSink | None = None,
                        watermark: str = "10 seconds", available_now: bool = False,
                        max_records_per_batch: int | None = None) -> StreamingQuery:
    """Seed 003: plant events into closed 10-second windows: a Delta table ``out_dir/plant_windows``,
    or with ``output``, JSON records on that topic (key: the address). The checkpoint is
    ``out_dir/_checkpoint``.

    Example:
        q = start_plant_windows(spark, KafkaSink("127.0.0.1:9092", "plant"), "/tmp/plant_windows")
    """
    from pyspark.sql import functions as F

    source.check_reachable()
    if output is not None:
        output.check_reachable()
    root = Path(out_dir).expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise OutputError("out_dir", f"{root} is a file; give a folder")
    windows = plant_windows(feed_rows(spark, "plant_sensors", source, max_records_per_batch=max_records_per_batch),
                            watermark)
    writer = (windows.writeStream if output is None else windows.select(
        F.col("address").alias("key"),
        F.to_json(F.struct(*windows.columns), {"timestampFormat": JSON_TIMESTAMP_FORMAT}).alias("value")).writeStream)
    writer = writer.queryName("dbx_iot_gen_plant_windows").outputMode("append").option(
        "checkpointLocation", str(root / "_checkpoint"))
    writer = writer.format("delta") if output is None else writer.format("kafka").options(**output.writer_options())
    writer = _trigger(writer, available_now)
    return writer.start(str(root / "plant_windows")) if output is None else writer.start()


def start_message_log(spark: SparkSession, source: KafkaSink, out_dir: str, *,
                      available_now: bool = False) -> StreamingQuery:
    """Seed 002's log consumer: every message of the topic, as it came, into a Delta table
    ``out_dir/messages`` (topic, partition, offset, timestamp, key, value as text).

    Example:
        q = start_message_log(spark, KafkaSink("127.0.0.1:9092", "readings"), "/tmp/log")
    """
    source.check_reachable()
    root = Path(out_dir).expanduser().absolute()
    records = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", source.bootstrap_servers)
               .option("subscribe", source.topic).option("startingOffsets", "earliest").load()
               .selectExpr("topic", "partition", "offset", "timestamp", "CAST(key AS STRING) AS key",
                           "CAST(value AS STRING) AS value"))
    writer = (records.writeStream.queryName("dbx_iot_gen_message_log").format("delta")
              .option("checkpointLocation", str(root / "_checkpoint")))
    return _trigger(writer, available_now).start(str(root / "messages"))


def _trigger(writer: Any, available_now: bool) -> Any:
    return writer.trigger(availableNow=True) if available_now else writer.trigger(processingTime="1 second")
