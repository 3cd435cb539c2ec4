"""The harness for multi-node tests: logyard servers on separate hosts (network namespaces on a
bridge) reach each other only by address, as across a network, and each keeps its own loopback."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.support.hosts import Lan, unavailable
from tests.support.server import ServerProcess

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"separate hosts: {unavailable()}")


def fetch_from(host, url: str) -> str:
    """GET `url` from inside `host`: the status code, or the connection error's class name."""
    code = ("import httpx, sys\n"
            "try:\n"
            "    print(httpx.get(sys.argv[1], timeout=3).status_code)\n"
            "except httpx.HTTPError as exc:\n"
            "    print(type(exc).__name__)\n")
    done = subprocess.run(host.command([sys.executable, "-c", code, url]), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_nodes_on_separate_hosts_reach_each_other_only_by_address(tmp_path):
    with Lan() as lan:
        a, b = lan.add_host("a"), lan.add_host("b")
        server_a = ServerProcess(tmp_path / "a", host=a)
        server_b = ServerProcess(tmp_path / "b", port=server_a.port + 1, host=b)
        servers = [server_a, server_b]
        try:
            for server in servers:  # both start at once
                server.start(wait=False)
            for server in servers:
                server.wait_ready()
            assert server_a.url.startswith(f"http://{a.address}:")
            assert httpx.get(server_a.url + "/ready", timeout=5).status_code == 200  # from the test's address
            assert fetch_from(b, server_a.url + "/ready") == "200"
            # b's loopback is its own: a's server is not there.
            assert fetch_from(b, f"http://127.0.0.1:{server_a.port}/ready") == "ConnectError"
        finally:
            for server in servers:
                server.stop()
    assert subprocess.run(["ip", "link", "show", lan.bridge], capture_output=True).returncode != 0
