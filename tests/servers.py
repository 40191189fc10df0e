"""Real servers on loopback for the sink tests: a Kafka broker (KRaft, one node) and QuestDB from
the Maven Central jars that ``servers/install.sh`` fetches, and a PostgreSQL cluster from Debian's
package.

Each runs in a temporary folder on free ports and is stopped (its folder removed) afterwards. Run
one by hand for the README's examples: ``python -m tests.servers kafka`` (port 9092),
``python -m tests.servers postgres`` (port 5432) or ``python -m tests.servers questdb`` (HTTP on
port 9000), until Ctrl-C.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
KAFKA_LIB = ROOT / "servers" / "lib" / "kafka"
QUESTDB_LIB = ROOT / "servers" / "lib" / "questdb"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}): {log.read_text()[-2000:] if log else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _installed() -> bool:
    marker = KAFKA_LIB / ".complete"  # install.sh writes the SHA-1 of the pom.xml it fetched
    stamp = hashlib.sha1((ROOT / "servers" / "pom.xml").read_bytes()).hexdigest()
    return marker.is_file() and marker.read_text().strip() == stamp


def install() -> None:
    """Fetch Kafka's jars once (``servers/install.sh``), one process at a time (xdist workers)."""
    if _installed():
        return
    KAFKA_LIB.parent.mkdir(parents=True, exist_ok=True)
    with open(KAFKA_LIB.parent / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():
            subprocess.run(["bash", str(ROOT / "servers" / "install.sh")], check=True)


class _Server:
    """A server in its own temporary folder (``self.dir``): ``with`` starts it, and stops it and
    removes the folder afterwards, also when it failed to start."""

    dir: Path
    log: Path
    proc: subprocess.Popen | None = None

    def __init__(self, name: str, log: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"dbx_iot_gen_{name}_"))
        self.log = self.dir / log

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server's process (its data stays: :meth:`start` again continues it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalKafka(_Server):
    """A one-node Kafka broker in KRaft mode on ``127.0.0.1:port``.

    Example:
        with LocalKafka() as kafka:
            kafka.bootstrap  # '127.0.0.1:41234'
    """

    def __init__(self, port: int | None = None) -> None:
        install()
        self.port = port or free_port()
        self.controller_port = free_port()
        super().__init__("kafka", "kafka.log")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, *args: str) -> list[str]:
        return ["java", "-Xmx384m", f"-Dlog4j2.configurationFile={ROOT / 'servers' / 'log4j2.properties'}",
                f"-Dkafka.log.file={self.log}", "-cp", f"{KAFKA_LIB}/*", *args]

    def start(self) -> LocalKafka:
        props = self.dir / "server.properties"
        props.write_text("\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.dir / 'data'}", "num.partitions=2",
            "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1", "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1", "group.initial.rebalance.delay.ms=0", ""]))
        if not (self.dir / "data" / "meta.properties").exists():
            cluster = "-"
            while cluster.startswith("-"):  # the tool would take a leading "-" for an option
                cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(props)),
                           check=True, capture_output=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self._java("kafka.Kafka", str(props)), stdout=log, stderr=log,
                                         start_new_session=True)
        wait_for_port(self.port, 60, self.proc, self.log)
        self._wait_ready(60)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Wait until the broker takes a record from an idempotent producer (as Spark's is). A new
        broker listens before it can: it answers "coordinator load in progress" to the producer-id
        request for a while, and under load the first writes stalled past the producer's timeout."""
        from confluent_kafka import Producer

        delivered: list = []
        producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True,
                             "log_level": 3, "message.timeout.ms": int(timeout * 1000)})
        producer.produce("_ready", b"1", on_delivery=lambda err, msg: delivered.append(err))
        producer.flush(timeout)
        if delivered != [None]:
            log = self.log.read_text()[-2000:]
            raise TimeoutError(f"the broker took no record in {timeout} s ({delivered}): {log}")



class LocalQuestDB(_Server):
    """A QuestDB server from the Maven Central jar, every port on 127.0.0.1 (HTTP for SQL and the
    line protocol, PG wire), telemetry off. With ``password``, HTTP asks for basic authentication
    (user ``admin``).

    Example:
        with LocalQuestDB() as questdb:
            questdb.address  # '127.0.0.1:41236'
    """

    def __init__(self, port: int | None = None, password: str | None = None) -> None:
        install()
        self.http_port, self.pg_port = port or free_port(), free_port()
        self.password = password
        super().__init__("questdb", "questdb.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def start(self) -> LocalQuestDB:
        (self.dir / "conf").mkdir(exist_ok=True)
        conf = {"http.net.bind.to": self.address, "http.min.enabled": "false",
                "pg.net.bind.to": f"127.0.0.1:{self.pg_port}", "line.tcp.enabled": "false",
                "line.udp.enabled": "false", "telemetry.enabled": "false", "shared.worker.count": "1"}
        if self.password:
            conf.update({"http.user": "admin", "http.password": self.password})
        (self.dir / "conf" / "server.conf").write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        jar = next(QUESTDB_LIB.glob("questdb-*.jar"))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["java", "-Xmx512m", "-p", str(jar), "-m", "io.questdb/io.questdb.ServerMain",
                                          "-d", str(self.dir)], stdout=log, stderr=log, start_new_session=True)
        wait_for_port(self.http_port, 60, self.proc, self.log)
        deadline = time.monotonic() + 60
        while True:  # the port opens before SQL is served
            try:
                urllib.request.urlopen(f"http://{self.address}/exec?query=select%201", timeout=2).close()
                return self
            except urllib.error.HTTPError as e:
                if e.code == 401:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"QuestDB answers no SQL after 60 s: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)



class LocalMoto(_Server):
    """moto's server (``moto[server]``) on ``127.0.0.1:port``: AWS APIs such as Timestream's write
    API, in memory. ``records(database, table)`` reads back what a table holds, from moto's state.

    Example:
        with LocalMoto() as aws:
            aws.endpoint_url  # 'http://127.0.0.1:41237'
    """

    def __init__(self, port: int | None = None, check_credentials: bool = False) -> None:
        self.port = port or free_port()
        self.check_credentials = check_credentials  # then moto refuses keys its IAM does not know
        super().__init__("moto", "moto.log")

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalMoto:
        env = {**os.environ, "MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(self.dir / "recording")}
        if self.check_credentials:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdout=log, stderr=log, env=env, start_new_session=True)
        wait_for_port(self.port, 60, self.proc, self.log)
        return self

    def _api(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/{path}", method=method, data=b"" if
                                         method == "POST" else None)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.read()

    def records(self, database: str, table: str) -> list[dict]:
        """The records a Timestream table holds (as written; moto keeps no CommonAttributes)."""
        import json

        tables = json.loads(self._api("data.json")).get("timestreamwrite", {}).get("TimestreamTable", [])
        found = [t for t in tables if t["db_name"] == database and t["name"] == table]
        return found[-1]["records"] if found else []

    def start_recording(self) -> None:
        """Record every request from now on (moto's recorder)."""
        self._api("recorder/reset-recording", "POST")
        self._api("recorder/start-recording", "POST")

    def recorded(self, target: str) -> list[dict]:
        """The JSON bodies of the recorded requests to one API action (``X-Amz-Target`` ends with it)."""
        import json

        calls = []
        for line in self._api("recorder/download-recording").decode().splitlines():
            entry = json.loads(line)
            if str(entry.get("headers", {}).get("X-Amz-Target", "")).endswith(target):
                body = entry.get("body") or ""
                calls.append(json.loads(base64.b64decode(body) if entry.get("body_encoded") else body))
        return calls


class FaultProxy:
    """An HTTP proxy on loopback in front of an AWS emulator that answers chosen ``WriteRecords``
    calls with the errors Timestream sends and moto never does: ``throttle(n)`` answers the next n
    calls with ``ThrottlingException``; ``reject(test)`` forwards a call without the records for
    which ``test(record)`` is true and answers ``RejectedRecordsException`` naming them (their
    index in the call, a reason), as Timestream does for records it refuses while it writes the
    others. ``calls`` counts the ``WriteRecords`` calls that reached the proxy.

    Example:
        with LocalMoto() as aws, FaultProxy(aws.endpoint_url) as proxy:
            proxy.throttle(2)
            proxy.endpoint_url  # give this to the client
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.throttles = 0
        self.rejects: Any = None
        self.calls = 0
        self.server: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def throttle(self, calls: int) -> None:
        self.throttles = calls

    def reject(self, test: Any) -> None:
        self.rejects = test

    def _answer(self, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        import json

        if target.endswith("WriteRecords"):
            self.calls += 1
            if self.throttles > 0:
                self.throttles -= 1
                return 400, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            request = json.loads(body)
            if self.rejects is not None:
                refused = [i for i, r in enumerate(request["Records"]) if self.rejects(r)]
                if refused:
                    kept = [r for i, r in enumerate(request["Records"]) if i not in refused]
                    if kept:
                        self._forward(json.dumps({**request, "Records": kept}).encode(), headers)
                    error = {"__type": "RejectedRecordsException", "message": "One or more records have been rejected.",
                             "RejectedRecords": [{"RecordIndex": i, "Reason": "The value is not valid for its measure."}
                                                 for i in refused]}
                    return 419, json.dumps(error).encode()
        return self._forward(body, headers)

    def _forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        kept = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}  # urllib sets them
        request = urllib.request.Request(self.upstream + "/", data=body, method="POST", headers=kept)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def __enter__(self) -> FaultProxy:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = proxy._answer(self.headers.get("X-Amz-Target", ""), body, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: bash servers/install.sh (Debian's postgresql-15)")
    return Path(found[-1]).parent


class LocalPostgres(_Server):
    """A PostgreSQL cluster on ``127.0.0.1:port``, trust authentication, user ``postgres``,
    database ``postgres``. As root, the server runs as the ``postgres`` user (it refuses root).

    Example:
        with LocalPostgres() as pg:
            pg.jdbc_url  # 'jdbc:postgresql://127.0.0.1:41235/postgres'
    """

    def __init__(self, port: int | None = None) -> None:
        self.bin = _postgres_bin()
        self.port = port or free_port()
        super().__init__("pg", "postgres.log")
        self.data = self.dir / "data"
        self.as_postgres = os.geteuid() == 0

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> LocalPostgres:
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off")
        wait_for_port(self.port, 30)
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def consume(bootstrap: str, topic: str, timeout: float = 30.0) -> list[dict]:
    """Every record of a topic, from the start, read with confluent-kafka (not Spark): key, value
    (text), headers, partition, offset."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(topic, timeout=timeout)
        parts = [TopicPartition(topic, p) for p in meta.topics[topic].partitions]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=timeout)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        records, seen = [], dict.fromkeys(ends, 0)
        deadline = time.monotonic() + timeout
        while any(seen[p] < ends[p] for p in ends) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            seen[msg.partition()] = msg.offset() + 1
            records.append({"key": msg.key().decode(), "value": msg.value().decode(),
                            "headers": {k: v.decode() for k, v in (msg.headers() or [])},
                            "partition": msg.partition(), "offset": msg.offset()})
        assert all(seen[p] >= ends[p] for p in ends), (seen, ends)
        return records
    finally:
        consumer.close()


def committed_batches(checkpoint: Path) -> list[int]:
    """The micro-batches a streaming query's checkpoint has committed (none before its first)."""
    if not (checkpoint / "commits").is_dir():
        return []
    return sorted(int(p.name) for p in (checkpoint / "commits").iterdir() if p.name.isdigit())


def run_until_committed(query, checkpoint: Path, batches: int, timeout: float = 240.0) -> int:
    """Let a streaming query commit ``batches`` more micro-batches (counted in its checkpoint, as
    the tests' assertions count them); stop it; return how many the checkpoint holds. The timeout
    is generous: the suite's other worker keeps the two cores busy."""
    before = len(committed_batches(checkpoint))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and query.isActive and len(committed_batches(checkpoint)) - before < batches:
        time.sleep(0.5)
    query.stop()
    assert query.exception() is None, query.exception()
    return len(committed_batches(checkpoint))


def main(argv: list[str]) -> int:  # pragma: no cover - by hand
    kind = argv[0] if argv else "kafka"
    server = {"kafka": lambda: LocalKafka(9092), "postgres": lambda: LocalPostgres(5432),
              "questdb": lambda: LocalQuestDB(9000)}[kind]()
    with server:
        where = {"kafka": "bootstrap", "postgres": "jdbc_url", "questdb": "address"}[kind]
        where = getattr(server, where)
        print(f"{kind} runs at {where}; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
