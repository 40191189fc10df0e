"""Feeds into Amazon Timestream (seed 004's database): Ruuvi readings as ``WriteRecords`` calls.

Each row of ``environment_readings`` becomes, by default, one **multi-measure record** named
``ruuvi`` (:data:`MEASURES`: the Ruuvi measures with their Timestream types; a null measure is left
out), with the dimensions ``site``, ``location`` and ``device_id`` and ``Time`` in milliseconds.
With ``layout="long"`` (the seed's single-measure layout, ``environment_long``), a row becomes one
record per measure. Records go in calls of at most 100 (:data:`MAX_RECORDS`), with the measure
name, type and time unit as the call's ``CommonAttributes``.

Timestream's emulators do not check its limits, so the library does before it sends: at most 100
records a call, dimension and measure names (length, reserved names), measure types, value sizes,
a record's size, and the time against what the table keeps (its memory store's retention, or its
magnetic store's when it takes magnetic store writes; more than 15 minutes ahead is always refused).
A row that fails is not sent: it is reported with its reason, as are the records Timestream
itself rejects (``RejectedRecordsException``); the rest of the call is written. Throttling and
server errors are retried with backoff (botocore's standard retry mode). Writing a record again
with the same dimensions, time and values is a no-op in Timestream: a replayed micro-batch does
not double anything.

Example:
    sink = TimestreamSink("iot", "ruuvi", endpoint_url="http://127.0.0.1:5000", region="us-east-1")
    result = write_rows(sink, rows)  # rows: a pandas frame of environment_readings
    result.written, result.rejected
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbx_iot_gen.errors import DbxIotGenError, InvalidConfigError, OutputError

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import DataStreamWriter

__all__ = ["DIMENSIONS", "LAYOUTS", "MAX_RECORDS", "MEASURES", "MEASURE_NAME", "Rejected", "TimestreamSink",
           "WriteResult", "check_record", "publish", "records", "timestream_frame", "write_rejected",
           "write_rows"]

TABLE = "environment_readings"
MEASURE_NAME = "ruuvi"
DIMENSIONS = ("site", "location", "device_id")
# the Ruuvi measures and their Timestream types
MEASURES: dict[str, str] = {
    "temperature": "DOUBLE", "humidity": "DOUBLE", "pressure": "BIGINT", "acceleration_x": "BIGINT",
    "acceleration_y": "BIGINT", "acceleration_z": "BIGINT", "battery": "BIGINT", "tx_power": "BIGINT",
    "movement_counter": "BIGINT", "measurement_sequence_number": "BIGINT", "rssi": "BIGINT",
}
LAYOUTS = ("multi", "long")
# Timestream's limits (AWS, "Quotas": WriteRecords and multi-measure records)
MAX_RECORDS = 100
MAX_DIMENSION_NAME_BYTES = 60
MAX_MEASURE_NAME_BYTES = 256
MAX_MEASURES_PER_RECORD = 256
MAX_VALUE_CHARS = 2048
MAX_RECORD_BYTES = 2048
MAX_FUTURE_MS = 15 * 60 * 1000
MEASURE_TYPES = ("DOUBLE", "BIGINT", "VARCHAR", "BOOLEAN", "TIMESTAMP")
_RESERVED = ("measure_value", "time", "ts_non_existent_col")
_NAME = re.compile(r"[A-Za-z0-9_.-]{3,256}")


def check_name(kind: str, name: str, limit: int) -> str | None:
    """Why Timestream refuses a dimension or measure name, or None.

    Example:
        >>> check_name("dimension", "site", 60) is None
        True
        >>> check_name("dimension", "ts_site", 60)
        "dimension name 'ts_site' starts with a reserved prefix (ts_, measure_name)"
    """
    if not name or len(name.encode()) > limit:
        return f"{kind} name {name!r} must be 1 to {limit} bytes"
    if name in _RESERVED:
        return f"{kind} name {name!r} is reserved"
    if name.startswith(("ts_", "measure_name")):
        return f"{kind} name {name!r} starts with a reserved prefix (ts_, measure_name)"
    return None


def check_record(record: dict[str, Any], *, now_ms: int, oldest_ms: int | None) -> str | None:
    """Why Timestream would refuse a record (a limit or a type), or None.

    ``oldest_ms``: the oldest time the table takes (its memory store's retention), None when it
    takes magnetic store writes.
    """
    for d in record.get("Dimensions", []):
        reason = check_name("dimension", d["Name"], MAX_DIMENSION_NAME_BYTES)
        if reason:
            return reason
        if not d["Value"] or len(d["Value"]) > MAX_VALUE_CHARS:
            return f"dimension {d['Name']} must have a value of 1 to {MAX_VALUE_CHARS} characters"
    measures = record.get("MeasureValues") or [
        {"Name": record["MeasureName"], "Value": record.get("MeasureValue"), "Type": record["MeasureValueType"]}]
    if not measures or measures[0]["Value"] is None:
        return "the record has no measure value (every measure is null)"
    if len(measures) > MAX_MEASURES_PER_RECORD:
        return f"a record has at most {MAX_MEASURES_PER_RECORD} measures, got {len(measures)}"
    names = {d["Name"] for d in record.get("Dimensions", [])}
    for m in measures:
        reason = check_name("measure", m["Name"], MAX_MEASURE_NAME_BYTES)
        if reason:
            return reason
        if m["Name"] in names:
            return f"measure {m['Name']} has the name of a dimension"
        if m["Type"] not in MEASURE_TYPES:
            return f"measure {m['Name']} has type {m['Type']!r}, not one of {', '.join(MEASURE_TYPES)}"
        if not 1 <= len(m["Value"]) <= MAX_VALUE_CHARS:
            return f"measure {m['Name']} must have a value of 1 to {MAX_VALUE_CHARS} characters"
        if m["Type"] in ("BIGINT", "TIMESTAMP") and not re.fullmatch(r"-?\d+", m["Value"]):
            return f"measure {m['Name']} is {m['Type']} but its value is {m['Value']!r}"
        if m["Type"] == "DOUBLE" and m["Value"].lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
            return f"measure {m['Name']} is {m['Value']}, which Timestream does not store"
    if len(json.dumps(record).encode()) > MAX_RECORD_BYTES:
        return f"the record is over {MAX_RECORD_BYTES} bytes"
    t = int(record["Time"])
    if t > now_ms + MAX_FUTURE_MS:
        return "its time is more than 15 minutes ahead of now"
    if oldest_ms is not None and t < oldest_ms:
        return ("its time is older than the table's retention (its memory store's; for historical "
                "data, enable magnetic store writes with a long enough magnetic retention)")
    return None


def _value(kind: str, value: Any) -> str:
    if kind == "DOUBLE":
        return repr(float(value))
    if isinstance(value, float) and not value.is_integer():
        return repr(value)  # not whole: check_record refuses it
    return str(int(value))


def records(frame: pd.DataFrame, layout: str = "multi") -> Iterator[tuple[int, dict[str, Any]]]:
    """The Timestream records of a frame of ``environment_readings`` rows, each with its row's
    position; the time (``timestamp``, UTC) in milliseconds.

    Example:
        >>> import pandas as pd
        >>> row = pd.DataFrame({"device_id": ["c4:01"], "site": ["home"], "location": ["sauna"],
        ...     "timestamp": pd.to_datetime(["2024-03-01T00:00:01Z"]), "temperature": [71.5],
        ...     "humidity": [None], "pressure": [100_012], "acceleration_x": [0], "acceleration_y": [4],
        ...     "acceleration_z": [1000], "battery": [2950], "tx_power": [4], "movement_counter": [7],
        ...     "measurement_sequence_number": [1], "rssi": [-70]})
        >>> _, record = next(records(row))
        >>> record["Time"], record["MeasureValues"][0]
        ('1709251201000', {'Name': 'temperature', 'Value': '71.5', 'Type': 'DOUBLE'})
        >>> [m["Name"] for m in record["MeasureValues"]][:3]  # a null measure is left out
        ['temperature', 'pressure', 'acceleration_x']
    """
    import pandas as pd

    times = pd.to_datetime(frame["timestamp"], utc=True)
    millis = ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ms")).tolist()  # whatever the unit
    columns = {c: frame[c].tolist() for c in (*DIMENSIONS, *MEASURES)}
    for i, ms in enumerate(millis):
        dimensions = [{"Name": d, "Value": "" if pd.isna(columns[d][i]) else str(columns[d][i])} for d in DIMENSIONS]
        values = [(m, kind, columns[m][i]) for m, kind in MEASURES.items()]
        present = [(m, kind, v) for m, kind, v in values if v is not None and not pd.isna(v)]
        if layout == "long":
            for m, kind, v in present:
                yield i, {"Dimensions": dimensions, "MeasureName": m, "MeasureValue": _value(kind, v),
                          "MeasureValueType": kind, "Time": str(ms)}
            if not present:
                yield i, {"Dimensions": dimensions, "MeasureName": MEASURE_NAME, "MeasureValue": None,
                          "MeasureValueType": "DOUBLE", "Time": str(ms)}
        else:
            yield i, {"Dimensions": dimensions, "MeasureName": MEASURE_NAME, "MeasureValueType": "MULTI",
                      "MeasureValues": [{"Name": m, "Value": _value(kind, v), "Type": kind} for m, kind, v in present],
                      "Time": str(ms)}


@dataclass(frozen=True)
class Rejected:
    """A row that was not written (its position in its batch and its values), and why."""

    row: int
    reason: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class WriteResult:
    """What a write did: records written, calls made (each at most 100 records), rows refused."""

    written: int = 0
    calls: int = 0
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class TimestreamSink:
    """Where a feed's records go: a Timestream database and table.

    Args:
        database, table: an existing database and table (the library makes neither: their
            retention and magnetic store settings are the owner's choice).
        endpoint_url: the Timestream write endpoint (an emulator's URL, say); default: AWS's,
            found by the SDK's endpoint discovery.
        region: the AWS region (default: the SDK's configuration).
        layout: ``multi`` (one ``ruuvi`` record per row) or ``long`` (a record per measure).
        max_attempts: attempts per call in all, the first included, on throttling, server and
            connection errors (botocore's ``total_max_attempts``).

    Example:
        >>> TimestreamSink("iot", "ruuvi", layout="wide")
        Traceback (most recent call last):
        ...
        dbx_iot_gen.errors.InvalidConfigError: layout: must be multi or long, got 'wide'
    """

    database: str
    table: str
    endpoint_url: str | None = None
    region: str | None = None
    layout: str = "multi"
    max_attempts: int = 8

    kind = "timestream"

    def __post_init__(self) -> None:
        for name, field_name in (("database", "database"), ("table", "timestream_table")):
            value = getattr(self, name)
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise InvalidConfigError(field_name, f"must be 3 to 256 letters, digits, '_', '-' or '.', "
                                                     f"got {value!r}")
        if self.layout not in LAYOUTS:
            raise InvalidConfigError("layout", f"must be multi or long, got {self.layout!r}")
        if self.endpoint_url is not None and not re.fullmatch(r"https?://[^\s/]+/?", str(self.endpoint_url)):
            raise InvalidConfigError("endpoint_url", f"must be http(s)://HOST[:PORT], got {self.endpoint_url!r}")
        if not isinstance(self.max_attempts, int) or not 1 <= self.max_attempts <= 20:
            raise InvalidConfigError("max_attempts", f"must be 1 to 20, got {self.max_attempts!r}")

    def identity(self, table: str | None = None) -> dict[str, Any]:
        """What a feed's checkpoint was written for: a restart must name the same endpoint or
        region, table and layout."""
        return {"sink": "timestream", "endpoint_url": self.endpoint_url, "region": self.region,
                "database": self.database, "table": self.table, "layout": self.layout}

    def client(self, max_attempts: int | None = None) -> Any:
        """A ``timestream-write`` client: standard retries (throttling, server and connection
        errors, with backoff), short connect timeout."""
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts or self.max_attempts},
                        connect_timeout=5, read_timeout=30)
        from botocore.exceptions import NoRegionError

        try:
            return boto3.client("timestream-write", endpoint_url=self.endpoint_url, region_name=self.region,
                                config=config)
        except NoRegionError:
            raise InvalidConfigError("region", "no AWS region: give --region or set AWS_DEFAULT_REGION") from None

    def check_table(self, table: str) -> None:
        """Raise :class:`InvalidConfigError` naming ``table`` unless it is the Ruuvi tags'."""
        if table != TABLE:
            raise InvalidConfigError("table", f"Timestream takes {TABLE} (the Ruuvi tags), got {table!r}")

    def oldest_ms(self, client: Any = None) -> int:
        """The oldest time the table takes now (ms): its memory store's retention, or its magnetic
        store's when it takes magnetic store writes.
        Raises :class:`OutputError` when the table cannot be read (missing, credentials, down)."""
        description = _call(self, lambda c: c.describe_table(DatabaseName=self.database, TableName=self.table),
                            client or self.client(max_attempts=2))["Table"]
        retention = description.get("RetentionProperties") or {}
        now = int(time.time() * 1000)
        if (description.get("MagneticStoreWriteProperties") or {}).get("EnableMagneticStoreWrites"):
            return now - int(retention.get("MagneticStoreRetentionPeriodInDays", 73000)) * 86_400_000
        return now - int(retention.get("MemoryStoreRetentionPeriodInHours", 6)) * 3_600_000

    def prepare(self, table: str, first_time: datetime | None = None) -> None:
        """Check the table is Ruuvi's, the SDK is installed and the Timestream table answers, and
        that it takes rows from ``first_time`` on (a historical feed's start), when given: else
        every micro-batch would be refused. Raises :class:`OutputError` naming what to change."""
        import importlib.util

        self.check_table(table)
        if importlib.util.find_spec("boto3") is None:
            raise DbxIotGenError("the AWS SDK is not installed: pip install 'dbx-iot-gen[timestream]'")
        oldest = self.oldest_ms()
        if first_time is not None and first_time.timestamp() * 1000 < oldest:
            def day(ms: float) -> str:
                return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

            start = day(first_time.timestamp() * 1000)
            raise OutputError("timestream_table", f"{self.database}.{self.table} takes times from {day(oldest)} on "
                                                  f"(its retention), but the feed starts at {start}: use a table "
                                                  "with magnetic store writes and a longer magnetic retention, "
                                                  "or --mode realtime")

    def stream_writer(self, feed: DataFrame, table: str, out_dir: str | None = None) -> DataStreamWriter:
        """A streaming writer that writes each micro-batch. Rows refused (a limit, or rejected by
        Timestream) go with their reason to ``out_dir/_rejected/batch-<id>.json`` and the feed goes
        on; a micro-batch refused whole for its times ends the feed with :class:`OutputError`."""
        self.check_table(table)
        sink, rejected_dir = self, Path(out_dir) / "_rejected" if out_dir else None
        # one client for the feed (micro-batches run on the driver), and the table's retention
        # asked again every 5 minutes, not per micro-batch (AWS allows 5 describe calls a second)
        state: dict[str, Any] = {}

        def write_batch(batch: DataFrame, batch_id: int) -> None:
            if "client" not in state:
                state["client"] = sink.client()
            if time.monotonic() - state.get("asked", -1e9) > RETENTION_SECONDS:
                state["oldest"], state["asked"] = sink.oldest_ms(state["client"]), time.monotonic()
            # the retention's start moves on with the clock between two questions
            oldest = state["oldest"] + int((time.monotonic() - state["asked"]) * 1000)
            frame = timestream_frame(batch)
            result = write_rows(sink, frame, state["client"], oldest)
            if not result.rejected:
                return
            if result.written == 0 and all("older than" in r.reason or "ahead of" in r.reason for r in result.rejected):
                raise OutputError("timestream", f"micro-batch {batch_id}: every row refused: "
                                                f"{result.rejected[0].reason}")
            if rejected_dir is not None:
                write_rejected(rejected_dir / f"batch-{batch_id}.json", result.rejected)

        return feed.writeStream.foreachBatch(write_batch)


def write_rejected(path: Path, rejected: Sequence[Rejected]) -> None:
    """The refused rows, one JSON object a line: ``reason`` and the row (times in ISO 8601, UTC)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as out:
        for r in rejected:
            row = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.values.items()}
            out.write(json.dumps({"reason": r.reason, "row": row}, default=str) + "\n")


def _call(sink: TimestreamSink, request: Any, client: Any = None) -> Any:
    """A call with the library's messages for the errors a user can mend."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    try:
        return request(client or sink.client())
    except EndpointConnectionError:
        raise OutputError("endpoint_url", f"no Timestream endpoint answers at {sink.endpoint_url or 'AWS'}") from None
    except NoCredentialsError:
        raise OutputError("timestream", "no AWS credentials (AWS_ACCESS_KEY_ID or a profile)") from None
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise OutputError("timestream_table", f"Timestream has no table {sink.database}.{sink.table}: "
                                       f"{e.response['Error'].get('Message', '')}") from None
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status in (401, 403) or code in ("AccessDeniedException", "UnrecognizedClientException",
                                            "InvalidSignatureException", "InvalidClientTokenId"):
            raise OutputError("timestream", f"Timestream refused the credentials (HTTP {status}): check "
                                            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the profile") from None
        if code == "RejectedRecordsException":
            raise  # the caller reports the rejected records, the rest was written
        message = e.response.get("Error", {}).get("Message", "")
        raise OutputError("timestream", f"Timestream refused the call ({code}): {message}") from None
    except BotoCoreError as e:
        raise OutputError("timestream", f"Timestream call failed: {e}") from None


def timestream_frame(batch: DataFrame) -> pd.DataFrame:
    """The rows of ``batch`` as the pandas frame :func:`write_rows` takes: times as UTC instants
    (whatever the session's time zone), nulls as None."""
    import pandas as pd
    from pyspark.sql import functions as F

    frame = batch.withColumn("timestamp", F.unix_micros("timestamp")).toPandas()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="us", utc=True)
    return frame.astype(object).where(frame.notna(), None)


def write_rows(sink: TimestreamSink, frame: pd.DataFrame, client: Any = None,
               oldest_ms: int | None = None) -> WriteResult:
    """Write a frame of ``environment_readings`` rows; rows the limits refuse, and records
    Timestream rejects, are reported in the result with their reason, the rest is written.
    ``oldest_ms``: the oldest time the table takes (default: asked of the table now)."""
    client = client or sink.client()
    oldest = sink.oldest_ms(client) if oldest_ms is None else oldest_ms
    now = int(time.time() * 1000)
    result = WriteResult()
    batch: list[tuple[int, dict[str, Any]]] = []
    common = ({"MeasureName": MEASURE_NAME, "MeasureValueType": "MULTI", "TimeUnit": "MILLISECONDS"}
              if sink.layout == "multi" else {"TimeUnit": "MILLISECONDS"})

    def flush() -> None:
        if not batch:
            return
        sent = [{k: v for k, v in r.items() if k not in common} for _, r in batch]
        try:
            _call(sink, lambda c: c.write_records(DatabaseName=sink.database, TableName=sink.table,
                                                  CommonAttributes=common, Records=sent), client)
            result.written += len(sent)
        except client.exceptions.RejectedRecordsException as e:
            rejected = e.response.get("RejectedRecords", [])
            reasons: dict[int, list[str]] = {}
            for r in rejected:
                reasons.setdefault(batch[r["RecordIndex"]][0], []).append(r.get("Reason", ""))
            for row, said in reasons.items():
                # Timestream takes or rejects each record: in the long layout, a row's other
                # measures may be written; the reason says so
                of = sum(1 for r, _ in batch if r == row)
                what = "it" if len(said) == of else f"{len(said)} of its {of} records (the others were written)"
                result.rejected.append(Rejected(row, f"Timestream rejected {what}: {said[0]}",
                                                frame.iloc[row].to_dict()))
            result.written += len(sent) - len(rejected)
        result.calls += 1
        batch.clear()

    for row, group in itertools.groupby(records(frame, sink.layout), key=lambda pair: pair[0]):
        rows = [record for _, record in group]  # a row's records (several in the long layout)
        reason = next((r for r in (check_record(rec, now_ms=now, oldest_ms=oldest) for rec in rows) if r), None)
        if reason:  # none of the row's records is sent
            result.rejected.append(Rejected(row, reason, frame.iloc[row].to_dict()))
            continue
        if len(batch) + len(rows) > MAX_RECORDS:  # a row's records go in one call
            flush()
        batch.extend((row, record) for record in rows)
    flush()
    return result


# seconds a feed trusts the table's retention before it asks again
RETENTION_SECONDS = 300

# rows per piece of a batch table (each piece is read, converted and written in calls of 100)
CHUNK_ROWS = 50_000


def publish(df: DataFrame, table: str, sink: TimestreamSink) -> WriteResult:
    """Write a batch DataFrame of ``environment_readings`` (a demo's Delta table, say) to the
    Timestream table; returns what was written and the rows refused, with their reasons.

    Example:
        rows = spark.read.format("delta").load("iot_demo/delta/environment_readings")
        result = publish(rows, "environment_readings", TimestreamSink("iot", "ruuvi"))
    """
    from dbx_iot_gen.sinks import chunks

    sink.prepare(table)
    total = WriteResult()
    client = sink.client()
    asked, oldest = time.monotonic(), sink.oldest_ms(client)
    for piece in chunks(df, table, CHUNK_ROWS):
        # the retention's start moves on with the clock
        result = write_rows(sink, timestream_frame(piece), client, oldest + int((time.monotonic() - asked) * 1000))
        total.written += result.written
        total.calls += result.calls
        total.rejected += result.rejected
    return total
