"""Feeds into QuestDB (seed 000's database): rows through InfluxDB line protocol over HTTP.

Each micro-batch of a feed (or each chunk of a batch table) is sent with the official ``questdb``
client's DataFrame ingestion (``Sender.dataframe``), one HTTP request a batch: QuestDB takes the
whole request or none of it, and an error comes back with the server's reason. The table is made
first, from the library's schema:

* the **designated timestamp** is the row's event time (``timestamp``), partitioned by day;
* the low-cardinality text columns are ``SYMBOL`` (:data:`SYMBOLS`: ``system``, ``address`` and
  ``status`` of a plant sensor), the others ``VARCHAR``;
* it is a WAL table with **deduplication** on the event time and the table's key
  (``DEDUP UPSERT KEYS(timestamp, address)`` for plant sensors, ``reading_id`` for readings): a
  micro-batch sent again after a restart replaces its rows rather than adding them.

A table that already exists is used as it is. WAL tables apply writes asynchronously: rows are
visible to queries a moment after the request returns (:func:`wait_visible` waits for them).

Example:
    sink = QuestDBSink("127.0.0.1:9000")
    publish(spark.read.format("delta").load("iot_demo/delta/plant_sensors"), "plant_sensors", sink)
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dbx_iot_gen.errors import DbxIotGenError, InvalidConfigError, OutputError
from dbx_iot_gen.schemas import TABLES

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import DataStreamWriter

__all__ = ["CHUNK_ROWS", "EVENT_TIME", "SYMBOLS", "QuestDBSink", "check_table", "create_table_sql", "publish",
           "questdb_frame", "wait_visible"]

# the designated timestamp: tables with an event-time column of this name can go to QuestDB
EVENT_TIME = "timestamp"
# text columns sent as SYMBOL (QuestDB's interned strings for repeated values), per table
SYMBOLS: dict[str, tuple[str, ...]] = {
    "plant_sensors": ("system", "address", "status"),
    "sensor_readings": ("metric_name", "unit", "device_status", "anomaly_type", "quality_issue"),
    "environment_readings": ("device_id", "site", "location"),
    "telemetry": (),
    "events": (),
}
_TYPES = {"STRING": "VARCHAR", "DOUBLE": "DOUBLE", "BIGINT": "LONG", "INT": "INT", "BOOLEAN": "BOOLEAN",
          "TIMESTAMP": "TIMESTAMP", "DATE": "DATE", "FLOAT": "FLOAT", "SMALLINT": "SHORT"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,126}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]")
# dedup keys beyond the event time and the table's key: a reading retransmitted as a duplicate
# (the data-quality problem) differs from its original only in when it arrived
DEDUP_EXTRA: dict[str, tuple[str, ...]] = {"sensor_readings": ("ingest_timestamp",)}
# rows per request of a batch table (a feed's micro-batch is one request)
CHUNK_ROWS = 200_000


def _event_time_tables() -> list[str]:
    return [t for t, s in TABLES.items() if any(c.name == EVENT_TIME for c in s.columns) and t in SYMBOLS]


def check_table(table: str) -> None:
    """Raise :class:`InvalidConfigError` unless ``table`` has an event time QuestDB can key on."""
    if table not in _event_time_tables():
        raise InvalidConfigError("table", f"QuestDB takes tables with an event time: "
                                          f"{', '.join(_event_time_tables())}; got {table!r}")


def create_table_sql(table: str, name: str | None = None) -> str:
    """QuestDB's ``CREATE TABLE`` for a library table: designated timestamp, day partitions,
    WAL, and deduplication on the event time plus the table's key.

    Example:
        >>> print(create_table_sql("plant_sensors", "plant"))  # doctest: +NORMALIZE_WHITESPACE
        CREATE TABLE IF NOT EXISTS "plant" ("timestamp" TIMESTAMP, "system" SYMBOL, "address" SYMBOL,
        "value" DOUBLE, "text" VARCHAR, "status" SYMBOL) TIMESTAMP("timestamp") PARTITION BY DAY WAL
        DEDUP UPSERT KEYS("timestamp", "address")
    """
    check_table(table)
    if name is not None and not _NAME.fullmatch(name):
        raise InvalidConfigError("questdb_table", f"must be a letter or '_', then letters, digits or '_', got {name!r}")
    schema = TABLES[table]
    columns = ", ".join(
        f'"{c.name}" {"SYMBOL" if c.name in SYMBOLS[table] else _TYPES[c.type]}' for c in schema.columns)
    keys = [EVENT_TIME, *(k.strip() for k in schema.key.split(",") if k.strip() != EVENT_TIME),
            *DEDUP_EXTRA.get(table, ())]
    return (f'CREATE TABLE IF NOT EXISTS "{name or table}" ({columns}) TIMESTAMP("{EVENT_TIME}") '
            f"PARTITION BY DAY WAL DEDUP UPSERT KEYS({', '.join(f'{chr(34)}{k}{chr(34)}' for k in keys)})")


@dataclass(frozen=True)
class QuestDBSink:
    """Where a feed's rows go: a QuestDB server's HTTP endpoint and a table.

    Args:
        address: ``HOST:PORT`` of QuestDB's HTTP server (port 9000 by default), which takes both
            the line protocol and SQL.
        table: the QuestDB table (default: the library table's name); created when missing.
        username, password: HTTP basic authentication, where the server asks for it.
        timeout: seconds a request may take, retries included, before the batch fails.

    Example:
        >>> QuestDBSink("127.0.0.1:9000", "plant").identity()["table"]
        'plant'
        >>> QuestDBSink("localhost")
        Traceback (most recent call last):
        ...
        dbx_iot_gen.errors.InvalidConfigError: questdb: must be HOST:PORT, got 'localhost'
    """

    address: str
    table: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    kind = "questdb"

    def __post_init__(self) -> None:
        host, _, port = self.address.rpartition(":") if isinstance(self.address, str) else ("", "", "")
        if not _HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidConfigError("questdb", f"must be HOST:PORT, got {self.address!r}")
        if self.table is not None and not (isinstance(self.table, str) and _NAME.fullmatch(self.table)):
            raise InvalidConfigError("questdb_table", "must be a letter or '_', then letters, digits or '_' "
                                                      f"(at most 127), got {self.table!r}")
        if (self.username is None) != (self.password is None):
            raise InvalidConfigError("questdb_user", "give a user and a password, or neither")
        for name, value in (("user", self.username), ("password", self.password)):
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidConfigError(f"questdb_{name}", "must be non-empty text")
        if not isinstance(self.timeout, (int, float)) or not 0 < self.timeout <= 3600:
            raise InvalidConfigError("timeout", f"must be seconds in (0, 3600], got {self.timeout!r}")

    def table_for(self, table: str) -> str:
        return self.table or table

    def identity(self, table: str | None = None) -> dict[str, Any]:
        """What a feed's checkpoint was written for: a restart must name the same server and table
        (the QuestDB table the feed of library ``table`` writes, whether named or by default)."""
        return {"sink": "questdb", "address": self.address,
                "table": self.table_for(table) if table else self.table}

    def conf(self) -> str:
        """The client's configuration string (``http::addr=...;``)."""
        def escaped(text: str) -> str:  # the client's config string doubles a ';' inside a value
            return text.replace(";", ";;")

        auth = f"username={escaped(self.username)};password={escaped(self.password)};" if self.username else ""
        ms = int(self.timeout * 1000)
        # no automatic flushes: a frame goes in one request, taken or refused whole
        return f"http::addr={self.address};{auth}auto_flush=off;retry_timeout={ms};request_timeout={ms};"

    def sql(self, query: str) -> dict[str, Any]:
        """Run a query over QuestDB's HTTP ``/exec``; returns its JSON answer (columns, dataset)."""
        url = f"http://{self.address}/exec?{urllib.parse.urlencode({'query': query})}"
        request = urllib.request.Request(url)
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout, 30.0)) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as e:
            body = e.read().decode(errors="replace")
            try:
                reason = json.loads(body).get("error", body)
            except ValueError:
                reason = body.strip() or e.reason
            if e.code in (401, 403):
                raise OutputError("questdb_user", f"QuestDB at {self.address} refused the credentials ({e.code}): "
                                             "check --questdb-user and QUESTDB_PASSWORD") from None
            raise OutputError("questdb", f"QuestDB at {self.address} refused {query.split()[0]}: {reason}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise OutputError("questdb", f"no QuestDB answers at {self.address} ({reason}); start the server "
                                         "or correct --questdb") from None

    def check_table(self, table: str) -> None:
        """Raise :class:`InvalidConfigError` naming ``table`` unless QuestDB can take it."""
        check_table(table)

    def prepare(self, table: str, first_time: datetime | None = None) -> None:
        """Check the client is installed and the server answers, and make the table (when missing)
        for a library table (rows of any time, ``first_time``, are taken)."""
        import importlib.util

        check_table(table)
        if importlib.util.find_spec("questdb") is None:
            raise DbxIotGenError("QuestDB's client is not installed: pip install 'dbx-iot-gen[questdb]'")
        self.sql(create_table_sql(table, self.table_for(table)))



    def send(self, frame: pd.DataFrame, table: str) -> None:
        """Send a pandas frame of :func:`questdb_frame` rows in one request; raise
        :class:`OutputError` with the server's reason if it refuses them."""
        if frame.empty:
            return
        from questdb import QuestDBError, Sender

        try:
            with Sender.from_conf(self.conf()) as sender:
                sender.dataframe(frame, table_name=self.table_for(table), symbols=list(SYMBOLS[table]), at=EVENT_TIME)
                sender.flush(transactional=True)  # one table's rows: committed together
        except QuestDBError as e:
            raise OutputError("questdb", f"QuestDB at {self.address} refused the rows of {self.table_for(table)}: "
                                         f"{e}") from None

    def stream_writer(self, feed: DataFrame, table: str, out_dir: str | None = None) -> DataStreamWriter:
        """A streaming writer that sends each micro-batch (``foreachBatch``); ``out_dir`` (the
        feed's folder) is not used: QuestDB refuses a request whole."""
        check_table(table)
        sink = self

        def send_batch(batch: DataFrame, batch_id: int) -> None:
            sink.send(questdb_frame(batch, table), table)

        return feed.writeStream.foreachBatch(send_batch)


def questdb_frame(df: DataFrame, table: str) -> pd.DataFrame:
    """The rows of ``df`` as the pandas frame the client sends: UTC timestamps, nullable integers
    and booleans (a null stays a missing value, not a float NaN)."""
    import pandas as pd
    from pyspark.sql import functions as F

    types = {c.name: c.type for c in TABLES[table].columns}
    timestamps = [c for c in df.columns if types.get(c) == "TIMESTAMP"]
    # as microseconds: toPandas would give naive times in the session's time zone
    frame = df.select(*[F.unix_micros(c).alias(c) if c in timestamps else F.col(c) for c in df.columns]).toPandas()
    for c in df.columns:
        kind = types.get(c)
        if c in timestamps:
            frame[c] = pd.to_datetime(frame[c], unit="us", utc=True)
        elif kind == "BIGINT":
            frame[c] = frame[c].astype("Int64")
        elif kind == "INT":
            frame[c] = frame[c].astype("Int32")
        elif kind == "BOOLEAN":
            frame[c] = frame[c].astype("boolean")
        elif kind == "STRING":
            frame[c] = frame[c].astype("string")
    return frame


def publish(df: DataFrame, table: str, sink: QuestDBSink) -> int:
    """Send a batch DataFrame of a table to QuestDB, in requests of about :data:`CHUNK_ROWS` rows
    (``df`` is read once per request: pass a stored table, not an expensive plan); returns the
    number of rows sent. Sending again replaces the same rows (deduplication).

    Example:
        rows = spark.read.format("delta").load("iot_demo/delta/plant_sensors")
        publish(rows, "plant_sensors", QuestDBSink("127.0.0.1:9000"))
    """
    from dbx_iot_gen.sinks import chunks

    sink.prepare(table)
    rows = 0
    for piece in chunks(df, table, CHUNK_ROWS):
        frame = questdb_frame(piece, table)
        sink.send(frame, table)
        rows += len(frame)
    return rows


def wait_visible(sink: QuestDBSink, table: str, timeout: float = 30.0) -> None:
    """Wait until QuestDB has applied every write it took into ``table`` (a WAL table applies
    them after the request returns); raise :class:`OutputError` after ``timeout`` seconds."""
    name = sink.table_for(table).replace("'", "''")
    deadline = time.monotonic() + timeout
    while True:
        answer = sink.sql(f"SELECT sequencerTxn, writerTxn, suspended FROM wal_tables() WHERE name = '{name}'")
        rows = answer.get("dataset", [])
        if rows and rows[0][2]:
            raise OutputError("questdb", f"QuestDB suspended table {name}: see the server's log")
        if rows and rows[0][0] == rows[0][1]:
            return
        if time.monotonic() > deadline:
            raise OutputError("questdb", f"QuestDB did not apply the writes to {name} within {timeout:g} s")
        time.sleep(0.2)
