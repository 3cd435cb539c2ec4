"""Acknowledged pushes survive `kill -9` and clean restarts, each exactly once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.api.pusher import BASE_NS
from tests.support.server import REPO, ServerProcess


def stored_entries(url: str) -> Counter:
    """Every entry of the durability streams, counted, paging forward through the limit."""
    seen: Counter = Counter()
    start = BASE_NS
    end = BASE_NS + 10**12
    while True:
        r = httpx.get(url + "/loki/api/v1/query_range", params={
            "query": '{job="durability"}', "start": str(start), "end": str(end),
            "limit": "5000", "direction": "forward"}, timeout=60)
        assert r.status_code == 200, r.text
        entries = [(int(ts), line) for s in r.json()["data"]["result"] for ts, line in s["values"]]
        for e in entries:
            seen[e] += 1
        if len(entries) < 5000:
            return seen
        start = max(ts for ts, _ in entries) + 1


def assert_exactly_acked(url: str, acked: set[int]) -> None:
    seen = stored_entries(url)
    dupes = [e for e, n in seen.items() if n > 1]
    assert not dupes, f"entries stored twice: {dupes[:5]}"
    pushes = Counter(int(line.split()[0].split("=")[1]) for _, line in seen)
    missing = sorted(i for i in acked if pushes.get(i) != 5)
    assert not missing, f"acknowledged pushes lost or partial after restart: {missing[:10]}"


def test_kill_minus_nine_loses_no_acknowledged_push(tmp_path):
    ack = tmp_path / "acked.txt"
    srv = ServerProcess(tmp_path / "data").start()
    pusher = subprocess.Popen([sys.executable, "-m", "tests.api.pusher", srv.url, str(ack), "100000"], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not ack.exists() or len(ack.read_text().split()) < 300):
            time.sleep(0.05)
        srv.kill()  # SIGKILL in the middle of the push loop
    finally:
        pusher.kill()
        pusher.wait()
    acked = {int(x) for x in ack.read_text().split()}
    assert len(acked) >= 300
    srv.start()
    try:
        assert_exactly_acked(srv.url, acked)
        # Replay must not double anything on a second crash either.
        srv.kill()
        srv.start()
        assert_exactly_acked(srv.url, acked)
    finally:
        srv.stop()


def test_clean_restart_keeps_every_push_once(tmp_path):
    from tests.api.pusher import body

    srv = ServerProcess(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=srv.url) as c:
            for i in range(50):
                assert c.post("/loki/api/v1/push", content=body(i),
                              headers={"Content-Type": "application/json"}).status_code == 204
            assert c.post("/flush").status_code == 204
            for i in range(50, 80):  # these stay in the WAL/head until shutdown
                assert c.post("/loki/api/v1/push", content=body(i),
                              headers={"Content-Type": "application/json"}).status_code == 204
    finally:
        assert srv.stop() == 0
    srv.start()
    try:
        assert_exactly_acked(srv.url, set(range(80)))
    finally:
        srv.stop()


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (Linux /proc): the resource tracker and the decode workers."""
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in out:
                    out.add(k)
                    todo.append(k)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_server_leaves_no_decode_processes_behind(tmp_path):
    srv = ServerProcess(tmp_path / "data").start()
    try:
        r = httpx.post(srv.url + "/loki/api/v1/push", timeout=30, json={
            "streams": [{"stream": {"job": "orphans"}, "values": [[str(BASE_NS), "x"]]}]})
        assert r.status_code == 204, r.text
        below = _descendants(srv.proc.pid)
        assert len(below) >= 2  # the resource tracker and at least one worker
    finally:
        srv.kill()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in below):
        time.sleep(0.2)
    assert not [p for p in below if _alive(p)], "decode processes outlived a kill -9 of their server"
