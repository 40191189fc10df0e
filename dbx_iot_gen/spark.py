"""The SparkSession: the active one on Databricks, otherwise a local one with Delta configured,
classic or over Spark Connect."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: on_databricks runs without pyspark
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["BARRIER_PREFIX", "CONNECT_ENV", "OLDEST_SPARK", "analysis_barrier", "check_spark_version",
           "dropping_barrier_views", "get_spark", "is_connect", "on_databricks", "spark_log_path",
           "unchecked_arithmetic"]

#: Set to 1 (or true, yes) to make :func:`get_spark` build a local Spark Connect session.
CONNECT_ENV = "DBX_IOT_GEN_SPARK_CONNECT"
#: Over Spark Connect, :func:`analysis_barrier` makes temporary views named with this prefix.
BARRIER_PREFIX = "_dbx_iot_gen_"
# the views it made in this process, oldest first
_barrier_views: list[str] = []


#: The oldest Spark the library runs on (README, "Spark versions": 3.5, 4.0 and the newest 4.x are tested).
OLDEST_SPARK = (3, 5)


def check_spark_version(version: str) -> None:
    """Refuse a Spark older than :data:`OLDEST_SPARK` with one clear error (field ``pyspark``):
    the library is tested on 3.5, 4.0 and the newest 4.x only.

    Example:
        >>> check_spark_version("3.5.7"); check_spark_version("4.2.0")
        >>> check_spark_version("3.4.1")
        Traceback (most recent call last):
        ...
        dbx_iot_gen.errors.InvalidConfigError: pyspark: Spark 3.4.1 is not supported: 3.5.x, 4.0.x or a newer 4.x
    """
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < OLDEST_SPARK:
        from dbx_iot_gen.errors import InvalidConfigError

        raise InvalidConfigError("pyspark", f"Spark {version} is not supported: 3.5.x, 4.0.x or a newer 4.x")


def on_databricks() -> bool:
    """True inside a Databricks runtime (notebook, job or serverless)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def is_connect(spark: SparkSession) -> bool:
    """True when ``spark`` is a Spark Connect client session (serverless, shared clusters,
    Databricks Connect, a local Connect server), where there is no SparkContext.

    Example:
        is_connect(spark)  # False on a classic session, True over Spark Connect
    """
    return type(spark).__module__.startswith("pyspark.sql.connect")


def analysis_barrier(df: DataFrame) -> DataFrame:
    """The same DataFrame, whose plan counts as one level in the plans built on it.

    A classic session analyzes a DataFrame at each step, so a deep plan costs nothing more. Spark
    Connect sends the whole unresolved plan and the server analyzes it at once, resolving about
    one level of projections per analyzer iteration; at 100 iterations
    (``spark.sql.analyzer.maxIterations``, which serverless compute does not let you raise) it
    gives up. A derived table that computes readings by the readings' own expressions (labels,
    events) is that deep twice over. Over Connect this makes ``df`` a temporary view, analyzed
    now, and returns a DataFrame of the view; on a classic session it returns ``df`` itself. The
    view lives as long as the session (it must, for the DataFrame to work); the demo drops the
    ones it made when it is done (:func:`dropping_barrier_views`).

    Example:
        analysis_barrier(spark.range(3)).count()  # 3
    """
    spark = df.sparkSession
    if not is_connect(spark):
        return df
    name = f"{BARRIER_PREFIX}{uuid.uuid4().hex}"
    df.createOrReplaceTempView(name)
    _barrier_views.append(name)
    return spark.table(name)


@contextmanager
def dropping_barrier_views(spark: SparkSession) -> Iterator[None]:
    """Drop, on leaving, the temporary views that :func:`analysis_barrier` made meanwhile (for
    code that only keeps DataFrames which do not depend on them, such as tables read back).

    Example:
        with dropping_barrier_views(spark):
            anomaly_labels(spark, cfg).write.saveAsTable("labels")
    """
    mark = len(_barrier_views)
    try:
        yield
    finally:
        made, _barrier_views[mark:] = _barrier_views[mark:], []
        for name in made:
            spark.catalog.dropTempView(name)


@contextmanager
def unchecked_arithmetic(spark: SparkSession) -> Iterator[None]:
    """Build DataFrames with Spark's unchecked (non-ANSI) integer arithmetic and casts.

    Under ANSI mode (Spark 4's default) every bigint ``+``, ``-`` and ``*`` checks for overflow
    through a helper that allocates a closure per call, and every cast checks its range: the
    readings pay about 15 % of their time for it. A classic session fixes an expression's mode
    when it analyzes the DataFrame, so the DataFrames built here keep unchecked arithmetic
    whatever the session's mode later. The library's own expressions never overflow (ids and
    microseconds stay far below 2**63), so the rows are the same either way. Columns a user adds
    to a spec are built in the same mode: an integer overflow there wraps around instead of
    failing, and an impossible cast gives null. Over Spark Connect the server analyzes later, in
    the session's mode: nothing changes there.

    Example:
        with unchecked_arithmetic(spark):
            df = spark.range(3).selectExpr("id * 2L AS x")
    """
    key = "spark.sql.ansi.enabled"
    if is_connect(spark):
        yield
        return
    conf = spark.conf
    before = conf.get(key, None)
    conf.set(key, "false")
    try:
        yield
    finally:
        if before is None:
            conf.unset(key)
        else:
            conf.set(key, before)


def _connect_from_env() -> bool:
    value = os.environ.get(CONNECT_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    from dbx_iot_gen.errors import InvalidConfigError

    raise InvalidConfigError(CONNECT_ENV, f"{value!r} is not accepted: 1, true, yes (Spark Connect) or 0, false, no")


def spark_log_path() -> Path:
    """Where the command line sends a local Spark's own output (one file per process), unless
    ``--verbose``: ``dbx-iot-gen-spark-<pid>.log`` in the temporary folder.

    Example:
        >>> spark_log_path().name.startswith("dbx-iot-gen-spark-")
        True
    """
    return Path(tempfile.gettempdir()) / f"dbx-iot-gen-spark-{os.getpid()}.log"


@contextmanager
def _output_to(log: Path | None) -> Iterator[None]:
    # The JVM that pyspark launches inherits this process's standard output and error: pointed at
    # the log file while it starts, they stay there for its life (Ivy's report, log4j, the JVM's
    # warnings). Python's own streams are restored at once.
    if log is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log, "ab") as f:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def get_spark(app_name: str = "dbx-iot-gen", *, master: str = "local[2]", connect: bool | None = None,
              log: Path | None = None, packages: Sequence[str] = ()) -> SparkSession:
    """The active SparkSession, or a new local one with Delta Lake, quiet logs and UTC time.

    On Databricks (or wherever a session is already active, Spark Connect included) the active
    session is returned untouched; with ``SPARK_REMOTE`` set, a Spark Connect session to that
    server. Otherwise a local session is built: classic, or with ``connect=True`` (or the
    environment variable ``DBX_IOT_GEN_SPARK_CONNECT=1``) a Spark Connect client of a local
    Connect server that pyspark starts in this process, Delta configured on the server. The Delta
    jars are resolved from Maven Central on first use, then from the local Ivy cache. With ``log``,
    a new local Spark writes its own output (Ivy's report, log4j's lines, the JVM's warnings) to
    that file instead of this process's console. ``packages`` are further Maven coordinates a new
    local session resolves beside Delta's (:func:`dbx_iot_gen.kafka.kafka_package`, a JDBC driver).

    Example:
        spark = get_spark(connect=True)
        is_connect(spark), spark.conf.get("spark.sql.session.timeZone")  # (True, 'UTC')
    """
    if connect is None:
        connect = _connect_from_env()
    import pyspark
    from pyspark.sql import SparkSession

    check_spark_version(pyspark.__version__)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if on_databricks() or os.environ.get("SPARK_REMOTE"):  # pragma: no cover - needs a workspace or a server
        return SparkSession.builder.getOrCreate()
    from delta import configure_spark_with_delta_pip

    # Spark 4 runs a local Connect server for `spark.api.mode`; Spark 3.5 for a `local` remote URL,
    # from the spark-connect package (not in its release jars)
    connect_35 = connect and int(pyspark.__version__.split(".")[0]) < 4
    builder = (
        (SparkSession.builder.remote(master) if connect_35 else SparkSession.builder.master(master))
        .appName(app_name)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .config("spark.driver.memory", os.environ.get("DBX_IOT_GEN_DRIVER_MEMORY", "4g"))
        # a local Delta log is small: the default 50 snapshot partitions only cost time
        .config("spark.databricks.delta.snapshotPartitions", "2")
    )
    if connect and not connect_35:
        builder = builder.config("spark.api.mode", "connect")
    extra = [*packages, *([f"org.apache.spark:spark-connect_2.12:{pyspark.__version__}"] if connect_35 else [])]
    builder = configure_spark_with_delta_pip(builder, extra_packages=extra or None)
    with warnings.catch_warnings():
        # a local Connect server starts with every config above, then pyspark also tries to set
        # them on the client session, where the static ones are refused with a warning each
        warnings.filterwarnings("ignore", message="Failed to set spark")
        with _output_to(log):
            return builder.getOrCreate()
