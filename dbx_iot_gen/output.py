"""Where data is written, and the only module that writes: landing JSON, Delta tables, manifest.

Tables go to Delta folders under ``DIR/delta`` or, with a :class:`CatalogTarget`, to catalog tables
``catalog.schema.table`` with table and column comments (Unity Catalog on Databricks, the local
``spark_catalog`` elsewhere). Layout of a local run under ``DIR``::

    DIR/landing/<table>/part-*.json   newline-delimited JSON, ISO-8601 timestamps (bronze-ready)
    DIR/landing/devices_cdc/batch_NNN/part-*.json   the CDC batches, 000 the initial registry
    DIR/delta/<table>/                Delta tables
    DIR/manifest.json                 written last: present only after a complete run
    DIR/_dbx_iot_gen                  marks the folder as ours, so a re-run may replace it
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbx_iot_gen.errors import InvalidConfigError, OutputError
from dbx_iot_gen.rand import sql_str
from dbx_iot_gen.schemas import TABLES

if TYPE_CHECKING:  # the Spark-facing functions take Spark objects; the rest runs without pyspark
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["JSON_TIMESTAMP_FORMAT", "CatalogTarget", "OutputLayout", "read_landing", "read_table", "write_delta",
           "write_landing", "write_table"]

# ISO-8601 with microseconds, so landing JSON round-trips the Delta values exactly.
JSON_TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
MARKER = "_dbx_iot_gen"
MANIFEST = "manifest.json"


_IDENTIFIER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class CatalogTarget:
    """Where the demo's tables go in a catalog: ``catalog.schema.<table>``, and the Unity Catalog
    volume whose folder takes the landing JSON and the manifest.

    Example:
        >>> CatalogTarget("main", "iot", "landing").landing_root
        '/Volumes/main/iot/landing'
        >>> CatalogTarget("main", "iot").table("devices")
        '`main`.`iot`.`devices`'
    """

    catalog: str
    schema: str
    volume: str | None = None

    def __post_init__(self) -> None:
        for name in ("catalog", "schema", "volume"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and _IDENTIFIER.match(value)):
                raise InvalidConfigError(name, f"must be a name of letters, digits, _ and -, got {value!r}")

    def table(self, name: str) -> str:
        return f"`{self.catalog}`.`{self.schema}`.`{name}`"

    @property
    def landing_root(self) -> str | None:
        """``/Volumes/<catalog>/<schema>/<volume>``, or None without a volume."""
        return f"/Volumes/{self.catalog}/{self.schema}/{self.volume}" if self.volume else None

    def create(self, spark: SparkSession, *, volume: bool) -> None:
        """Create the schema (and, on Unity Catalog, the volume) when missing."""
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{self.catalog}`.`{self.schema}`")
        if volume and self.volume:
            spark.sql(f"CREATE VOLUME IF NOT EXISTS `{self.catalog}`.`{self.schema}`.`{self.volume}`")


@dataclass(frozen=True)
class OutputLayout:
    """The folders of one output root.

    Example:
        >>> layout = OutputLayout.local("/tmp/iot")
        >>> layout.delta_path("devices")
        '/tmp/iot/delta/devices'
    """

    root: str

    @classmethod
    def local(cls, out_dir: str | os.PathLike[str]) -> OutputLayout:
        """The layout of a local folder (made absolute)."""
        return cls(str(Path(out_dir).expanduser().absolute()))

    def landing_path(self, table: str) -> str:
        return f"{self.root}/landing/{table}"

    def delta_path(self, table: str) -> str:
        return f"{self.root}/delta/{table}"

    def cdc_batch_path(self, batch: int) -> str:
        """Landing folder of one CDC batch: ``landing/devices_cdc/batch_NNN``."""
        return f"{self.landing_path('devices_cdc')}/batch_{batch:03d}"

    @property
    def manifest_path(self) -> str:
        return f"{self.root}/{MANIFEST}"

    # ------------------------------------------------------------------ checks and lifecycle

    def check_usable(self) -> None:
        """Raise :class:`OutputError` unless the folder can take (or replace) an output.

        Accepted: a folder that does not exist yet (its nearest existing parent writable), an
        empty folder, or a folder holding an earlier dbx-iot-gen output. Nothing is written.
        """
        root = Path(self.root)
        if root.exists():
            if not root.is_dir():
                raise OutputError("out_dir", f"{root} is a file; give a folder (new, empty, or an earlier output)")
            if not os.access(root, os.W_OK | os.X_OK) or not _can_create_in(root):
                raise OutputError("out_dir", f"{root} is not writable")
            entries = [p.name for p in root.iterdir()]
            if entries and MARKER not in entries and MANIFEST not in entries:
                raise OutputError(
                    "out_dir", f"{root} is not empty and holds no dbx-iot-gen output "
                    f"(found {', '.join(sorted(entries)[:3])}); give a new or empty folder"
                )
            return
        parent = root.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK) or not _can_create_in(parent):
            raise OutputError("out_dir", f"cannot create {root}: {parent} is not a writable folder")

    def reset(self) -> None:
        """Remove an earlier output (manifest first, so no half-replaced output claims success)."""
        root = Path(self.root)
        root.mkdir(parents=True, exist_ok=True)
        (root / MANIFEST).unlink(missing_ok=True)
        (root / MARKER).write_text("dbx-iot-gen output folder; a re-run replaces it\n")
        for sub in ("landing", "delta"):
            shutil.rmtree(root / sub, ignore_errors=True)

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Write ``manifest.json`` atomically (temp file, then rename)."""
        root = Path(self.root)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".manifest-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=False, default=_plain)
            fh.write("\n")
        os.replace(tmp, root / MANIFEST)


def _plain(value: Any) -> Any:
    # Spark 3.5's Connect client returns counts (``count()``, a grouped count's rows) as numpy
    # integers, which JSON does not take: their Python value
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_landing(df: DataFrame, path: str) -> None:
    """Write newline-delimited JSON with ISO-8601 (microsecond) timestamps, replacing ``path``."""
    (df.write.mode("overwrite")
     .option("timestampFormat", JSON_TIMESTAMP_FORMAT)
     .option("ignoreNullFields", "false")
     .json(path))


def read_landing(spark: SparkSession, path: str, schema: Any) -> DataFrame:
    """Read landing JSON back with a schema (a ``StructType`` or DDL string)."""
    return spark.read.schema(schema).option("timestampFormat", JSON_TIMESTAMP_FORMAT).json(path)


def write_delta(df: DataFrame, path: str) -> None:
    """Write (or replace) a Delta table at ``path``."""
    df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)


def write_table(spark: SparkSession, df: DataFrame, name: str, target: CatalogTarget | None,
                layout: OutputLayout) -> None:
    """Write (or replace) one demo table: a Delta folder of ``layout``, or the catalog table of
    ``target`` with the published table and column comments (:mod:`dbx_iot_gen.schemas`)."""
    if target is None:
        write_delta(df, layout.delta_path(name))
        return
    schema = TABLES.get(name)
    comments = {c.name: c.comment for c in schema.columns} if schema else {}
    described = df.select(*[df[c].alias(c, metadata={"comment": comments[c]}) if c in comments else df[c]
                            for c in df.columns])
    (described.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
     .saveAsTable(target.table(name)))
    if schema:
        spark.sql(f"COMMENT ON TABLE {target.table(name)} IS {sql_str(schema.comment)}")


def read_table(spark: SparkSession, name: str, target: CatalogTarget | None, layout: OutputLayout) -> DataFrame:
    """A demo table as written by :func:`write_table`."""
    if target is None:
        return spark.read.format("delta").load(layout.delta_path(name))
    return spark.table(target.table(name))


def _can_create_in(folder: Path) -> bool:
    """Whether a folder can be made in ``folder``, tried with a probe that is removed at once
    (permission bits do not tell for root, read-only mounts or /proc)."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".dbx-iot-gen-probe-", dir=folder))
    except OSError:
        return False
    return True
