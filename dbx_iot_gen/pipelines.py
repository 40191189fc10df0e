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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from dbx_iot_gen.errors import InvalidConfigError, OutputError
from dbx_iot_gen.kafka import KafkaSink
from dbx_iot_gen.output import JSON_TIMESTAMP_FORMAT
from dbx_iot_gen.schemas import TABLES
from dbx_iot_gen.stream import StreamLayout

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

__all__ = ["POSTGRES_JDBC", "PostgresTarget", "feed_rows", "plant_windows", "start_message_log",
           "start_plant_windows", "start_temperature_windows", "temperature_windows"]

# PostgreSQL's JDBC driver, for a local session (get_spark(packages=[...]))
POSTGRES_JDBC = "org.postgresql:postgresql:42.7.8"
# a table name, short enough for its staging table's name (PostgreSQL cuts names at 63 characters)
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,54}")


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
    reader = _kafka_reader(spark, source, starting_offsets)
    if max_records_per_batch is not None:
        reader = reader.option("maxOffsetsPerTrigger", str(max_records_per_batch))
    schema = ", ".join(f"`{c.name}` {c.type}" for c in TABLES[table].columns)
    parsed = F.from_json(F.col("value").cast("string"), schema, {"timestampFormat": JSON_TIMESTAMP_FORMAT})
    return reader.load().select(parsed.alias("row")).select("row.*")


def _kafka_reader(spark: SparkSession, source: KafkaSink, starting_offsets: str = "earliest") -> Any:
    # a record deleted before it was read (retention, a broker that lost its data) fails the query
    # (Spark's default, failOnDataLoss): no silent gap
    return (spark.readStream.format("kafka").option("kafka.bootstrap.servers", source.bootstrap_servers)
            .option("subscribe", source.topic).option("startingOffsets", starting_offsets))


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
    def staging(self) -> str:
        """The table each micro-batch's windows land in before the upsert (the pipeline's own)."""
        return f"{self.table}_staging"

    @property
    def properties(self) -> dict[str, str]:
        parts = urlsplit(self.url)
        props = {"user": unquote(parts.username or "postgres"), "driver": "org.postgresql.Driver",
                 "connectTimeout": "10"}
        if parts.password:
            props["password"] = unquote(parts.password)
        return props

    def execute(self, *statements: Any) -> None:
        """Run statements in one connection, or raise :class:`OutputError` naming ``postgres_url``
        with the database's first line (cannot connect, no permission, read-only...)."""
        import psycopg

        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                for statement in statements:
                    conn.execute(statement)
        except psycopg.Error as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise OutputError("postgres_url", f"PostgreSQL refused: {first}") from None


_COLUMNS = ("sensor_id", "window_start", "window_end", "avg_temperature", "min_temperature", "max_temperature")


def _create_tables(target: PostgresTarget) -> None:
    from psycopg import sql

    # TIMESTAMPTZ: the JDBC driver sends an instant, whatever the JVM's time zone
    columns = sql.SQL("""sensor_id BIGINT NOT NULL, window_start TIMESTAMPTZ NOT NULL,
        window_end TIMESTAMPTZ NOT NULL, avg_temperature NUMERIC(5, 2), min_temperature NUMERIC(5, 2),
        max_temperature NUMERIC(5, 2)""")
    target.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY (sensor_id, window_start))").format(
            sql.Identifier(target.table), columns),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(sql.Identifier(target.staging), columns))


def _upsert(target: PostgresTarget) -> Any:
    from psycopg import sql

    names = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
    upsert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT (sensor_id, window_start) "
                     "DO UPDATE SET {}").format(
        sql.Identifier(target.table), names, names, sql.Identifier(target.staging),
        sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in _COLUMNS[2:]))
    truncate = sql.SQL("TRUNCATE {}").format(sql.Identifier(target.staging))

    def write(batch: DataFrame, batch_id: int) -> None:
        # the micro-batch's windows into the staging table, then one upsert: a window a replay (or
        # a later batch) brings again replaces its row, it is never added twice
        target.execute(truncate)
        batch.write.jdbc(target.jdbc_url, target.staging, mode="append", properties=target.properties)
        target.execute(upsert)

    return write


def _claim(out_dir: str, pipeline: str, source: KafkaSink, target: dict[str, Any]) -> Callable[[], str]:
    """Check that ``out_dir`` is new, empty or this very pipeline's (else :class:`OutputError`:
    another pipeline's offsets would silently skip records); returns what marks it as this
    pipeline's and gives the checkpoint's path, to call once the servers have answered."""
    layout = StreamLayout(out_dir)
    identity = {"pipeline": pipeline, "source": source.identity(), "target": target}
    layout.check(identity)

    def claim() -> str:
        layout.claim(identity)
        return layout.checkpoint

    return claim


def start_temperature_windows(spark: SparkSession, source: KafkaSink, target: PostgresTarget, out_dir: str, *,
                              watermark: str = "15 minutes", available_now: bool = False,
                              max_records_per_batch: int | None = None) -> StreamingQuery:
    """Seed 002: a readings topic into 15-minute temperature windows upserted into PostgreSQL,
    the checkpoint in ``out_dir/_checkpoint``.

    The target table (created when missing, with a staging table ``<table>_staging`` beside it)
    has the gold query's columns (times as ``TIMESTAMPTZ``) and the primary key
    ``(sensor_id, window_start)``. A window's row is final once the watermark has passed its end.

    Example:
        q = start_temperature_windows(spark, KafkaSink("127.0.0.1:9092", "readings"),
                                      PostgresTarget("postgresql://postgres@127.0.0.1:5432/postgres"), "/tmp/p")
    """
    claim = _claim(out_dir, "temperature-windows", source, {"postgres": target.jdbc_url, "table": target.table})
    source.check_reachable()
    _create_tables(target)
    windows = temperature_windows(feed_rows(spark, "sensor_readings", source,
                                            max_records_per_batch=max_records_per_batch), watermark)
    writer = (windows.writeStream.queryName("dbx_iot_gen_temperature_windows").outputMode("update")
              .foreachBatch(_upsert(target)).option("checkpointLocation", claim()))
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

    claim = _claim(out_dir, "plant-windows", source, output.identity() if output else {"delta": "plant_windows"})
    source.check_reachable()
    if output is not None:
        output.check_reachable()
    root = Path(out_dir).expanduser().absolute()
    windows = plant_windows(feed_rows(spark, "plant_sensors", source, max_records_per_batch=max_records_per_batch),
                            watermark)
    writer = (windows.writeStream if output is None else windows.select(
        F.col("address").alias("key"),
        F.to_json(F.struct(*windows.columns), {"timestampFormat": JSON_TIMESTAMP_FORMAT}).alias("value")).writeStream)
    writer = writer.queryName("dbx_iot_gen_plant_windows").outputMode("append").option("checkpointLocation", claim())
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
    claim = _claim(out_dir, "message-log", source, {"delta": "messages"})
    source.check_reachable()
    root = Path(out_dir).expanduser().absolute()
    records = (_kafka_reader(spark, source).load()
               .selectExpr("topic", "partition", "offset", "timestamp", "CAST(key AS STRING) AS key",
                           "CAST(value AS STRING) AS value"))
    writer = (records.writeStream.queryName("dbx_iot_gen_message_log").format("delta")
              .option("checkpointLocation", claim()))
    return _trigger(writer, available_now).start(str(root / "messages"))


def _trigger(writer: Any, available_now: bool) -> Any:
    return writer.trigger(availableNow=True) if available_now else writer.trigger(processingTime="1 second")
