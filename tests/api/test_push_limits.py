"""Push bodies over `distributor.max_recv_msg_size` or `max_decompressed_size` get Loki's 413, and
refusing them costs bounded memory whatever they hold."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from pathlib import Path

import cramjam
import httpx
import orjson
import pytest

from tests.ingest.bombs import gzip_of_zeros, snappy_claiming
from tests.support.server import HISTORIC_DATA_CONFIG, ServerProcess

MIB = 1 << 20
JSON = {"Content-Type": "application/json"}


def too_large(size: int, limit: int, decompressed: bool = False) -> str:
    what = "decompressed message size" if decompressed else "message size"
    return f"request body too large: {what} too large than max ({size} vs {limit})"


def push_body(job: str, pad: int = 0) -> bytes:
    return orjson.dumps({"streams": [{"stream": {"job": job},
                                      "values": [["1767225600000000000", "x" * pad or "kept"]]}]})


def chunks(total: int, size: int = MIB):
    block = b" " * size  # one block sent again and again: the client holds 1 MiB, not the body
    for _ in range(total // size):
        yield block


def raw_request(port: int, head: bytes, body: bytes) -> bytes:
    """Send a request whose headers say what httpx would not (a length the body does not have)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head + body)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


# -- the limits themselves, on a server with small ones --------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    config = (HISTORIC_DATA_CONFIG + "  max_line_size: 0\n"  # lines of a MiB
              + "distributor:\n  max_recv_msg_size: 1MiB\n  max_decompressed_size: 2MiB\n")
    with ServerProcess(tmp_path_factory.mktemp("push-limits") / "data", config_text=config) as srv:
        yield srv


@pytest.mark.parametrize("path", ["/loki/api/v1/push", "/api/prom/push"])
def test_a_streamed_body_over_the_received_limit_is_a_413(small, path):
    r = httpx.post(small.url + path, content=chunks(4 * MIB), headers=JSON)  # chunked: no Content-Length
    assert (r.status_code, r.text) == (413, too_large(MIB + 1, MIB))
    assert httpx.post(small.url + path, content=push_body("after-413"), headers=JSON).status_code == 204


def test_a_content_length_over_the_limit_is_refused_before_the_body_is_read(small):
    # The body never comes: the answer can only be from the header.
    head = (b"POST /loki/api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 524288000\r\n\r\n")
    answer = raw_request(small.port, head, b'{"streams":')
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(too_large(524288000, MIB).encode())


def test_bodies_inflating_past_the_decompressed_limit_are_413s(small):
    r = httpx.post(small.url + "/loki/api/v1/push", content=gzip_of_zeros(64 * MIB),
                   headers={**JSON, "Content-Encoding": "gzip"})
    assert (r.status_code, r.text) == (413, too_large(2 * MIB + 1, 2 * MIB, decompressed=True))
    r = httpx.post(small.url + "/loki/api/v1/push", content=snappy_claiming(64 * MIB),
                   headers={"Content-Type": "application/x-protobuf"})
    assert (r.status_code, r.text) == (413, too_large(64 * MIB, 2 * MIB, decompressed=True))


def test_bodies_within_the_limits_are_stored(small):
    near = push_body("near-limit", pad=MIB - 200)
    assert len(near) <= MIB
    assert httpx.post(small.url + "/loki/api/v1/push", content=near, headers=JSON).status_code == 204
    inflating = gzip.compress(push_body("inflating", pad=2 * MIB - 200))
    r = httpx.post(small.url + "/loki/api/v1/push", content=inflating, headers={**JSON, "Content-Encoding": "gzip"})
    assert r.status_code == 204, r.text
    r = httpx.get(small.url + "/loki/api/v1/query_range", params={
        "query": '{job=~"near-limit|inflating"}', "start": "1767225500000000000", "end": "1767225700000000000"})
    assert sorted(s["stream"]["job"] for s in r.json()["data"]["result"]) == ["inflating", "near-limit"]


# -- the bomb test: Loki's default limits, the server's and its workers' memory ----------------------

def family(pid: int) -> list[int]:
    """`pid` and every process below it (the resource tracker, the decode workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").iterdir():
            todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def settled_family(pid: int, timeout_s: float = 60.0) -> list[int]:
    """`family(pid)` once it holds a worker (server, resource tracker, workers) and no
    process of it used CPU for 0.3 s (the workers have imported their modules)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        procs = family(pid)
        ticks = sum(sum(int(x) for x in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[11:13])
                    for p in procs)
        if len(procs) >= 3 and (procs, ticks) == last:
            return procs
        last = (procs, ticks)
        time.sleep(0.3)
    return family(pid)


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


@pytest.mark.slow
def test_bombs_and_huge_bodies_are_refused_with_bounded_memory(tmp_path):
    limit = 100 * MIB  # Loki's max_recv_msg_size, logyard's default for both limits
    bomb = gzip_of_zeros(2 << 30)  # ~2 MB that inflate to 2 GiB
    assert len(bomb) < 3 * MIB
    with ServerProcess(tmp_path / "data", extra_args=[]) as srv:
        # The decode workers start at the first push (decoded in the server meanwhile): wait for them.
        assert httpx.post(srv.url + "/loki/api/v1/push", content=push_body("first"), headers=JSON).status_code == 204
        procs = settled_family(srv.proc.pid)
        assert len(procs) >= 3, "expected the server, a resource tracker and decode workers"
        answers: list[httpx.Response] = []

        def send_bomb():
            answers.append(httpx.post(srv.url + "/loki/api/v1/push", content=bomb, timeout=120,
                                      headers={**JSON, "Content-Encoding": "gzip"}))

        two = [threading.Thread(target=send_bomb) for _ in range(2)]  # at once
        for t in two:
            t.start()
        for t in two:
            t.join()
        assert [(r.status_code, r.text) for r in answers] == [(413, too_large(limit + 1, limit, True))] * 2

        r = httpx.post(srv.url + "/loki/api/v1/push", content=chunks(500 * MIB), headers=JSON, timeout=120)
        assert (r.status_code, r.text) == (413, too_large(limit + 1, limit))
        r = httpx.post(srv.url + "/loki/api/v1/push", content=chunks(500 * MIB), timeout=120,
                       headers={**JSON, "Content-Length": str(500 * MIB)})
        assert (r.status_code, r.text) == (413, too_large(500 * MIB, limit))

        assert httpx.post(srv.url + "/loki/api/v1/push", content=push_body("after-bombs"), headers=JSON).status_code == 204
        assert family(srv.proc.pid) == procs, "a process was lost or replaced"
        peaks = {pid: peak_rss_mib(pid) for pid in procs}
        print(f"peak RSS (VmHWM) in MiB by pid: {peaks}")
        assert max(peaks.values()) < 300, f"peak RSS in MiB by pid: {peaks}"
