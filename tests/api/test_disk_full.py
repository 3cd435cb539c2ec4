"""A full disk under concurrent pushes: failed pushes get 507 and leave no trace, every acknowledged
line survives `kill -9` exactly once, and a `/flush` on the full disk fails without breaking the WAL."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter

import httpx
import orjson

from tests.api.pusher import BASE_NS
from tests.support.mounts import fill, mounted_tmpfs
from tests.support.server import ServerProcess

THREADS = 3
LINES = 20  # per push


def body(k: int, i: int) -> bytes:
    values = [[str(BASE_NS + (k * 100_000 + i) * 100 + j), f"k={k} i={i} j={j} " + "x" * 150] for j in range(LINES)]
    return orjson.dumps({"streams": [{"stream": {"job": "diskfull", "pusher": str(k)}, "values": values}]})


class Pushers:
    """THREADS client threads pushing numbered pushes until stopped; each records what it got."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: set[tuple[int, int]] = set()
        self.failed: dict[tuple[int, int], tuple[int, str]] = {}
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(THREADS)]

    def _run(self, k: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as c:
            i = 0
            while not self.stop.is_set():
                try:
                    r = c.post("/loki/api/v1/push", content=body(k, i), headers={"Content-Type": "application/json"})
                except httpx.HTTPError:
                    i += 1  # no answer (the server was killed): neither acknowledged nor failed
                    continue
                with self.lock:
                    if 200 <= r.status_code < 300:
                        self.acked.add((k, i))
                    else:
                        self.failed[(k, i)] = (r.status_code, r.text)
                i += 1

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return len(self.acked), len(self.failed)

    def wait(self, acked: int = 0, failed: int = 0, timeout: float = 120) -> None:
        """Until at least `acked` pushes were acknowledged and `failed` refused (a hang guard only)."""
        deadline = time.monotonic() + timeout
        while True:
            a, f = self.counts()
            if a >= acked and f >= failed:
                return
            assert time.monotonic() < deadline, f"waited for {acked} acks and {failed} failures, have {a}, {f}"
            time.sleep(0.05)


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", timeout=30).text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def stored(url: str) -> Counter:
    seen: Counter = Counter()
    start, end = BASE_NS, BASE_NS + 10**12
    while True:
        r = httpx.get(url + "/loki/api/v1/query_range", timeout=60, params={
            "query": '{job="diskfull"}', "start": str(start), "end": str(end), "limit": "5000", "direction": "forward"})
        assert r.status_code == 200, r.text
        entries = [(int(ts), line) for s in r.json()["data"]["result"] for ts, line in s["values"]]
        seen.update(entries)
        if len(entries) < 5000:
            return seen
        start = max(ts for ts, _ in entries) + 1


def test_a_full_disk_under_concurrent_pushes_loses_no_acknowledged_line_after_kill_minus_nine(tmp_path):
    with mounted_tmpfs(tmp_path / "fs", "8m") as mnt:
        srv = ServerProcess(mnt)  # the data dir is the tmpfs; the server's log and config stay outside
        srv.start()
        pushers = Pushers(srv.url)
        try:
            for t in pushers.threads:
                t.start()
            pushers.wait(acked=30)
            fill(mnt)  # pushes now fail
            a0, f0 = pushers.counts()
            pushers.wait(failed=f0 + 10)
            assert metric(srv.url, "loki_ingester_wal_disk_full_failures_total") >= 10
            flush = httpx.post(srv.url + "/flush", timeout=60)
            (mnt / "filler").unlink()  # free the space: pushes succeed again
            a1, _ = pushers.counts()
            pushers.wait(acked=a1 + 30)
            srv.kill()  # while the pushers push
        finally:
            pushers.stop.set()
            for t in pushers.threads:
                t.join()
            srv.kill()
        srv.start()
        try:
            seen = stored(srv.url)
            twice = [e for e, n in seen.items() if n > 1]
            assert not twice, f"lines stored twice: {twice[:5]}"
            pushes = Counter(tuple(int(f.split("=")[1]) for f in line.split()[:2]) for _, line in seen)
            lost = sorted(p for p in pushers.acked if pushes.get(p) != LINES)
            assert not lost, f"acknowledged pushes lost or partial: {lost[:10]} of {len(pushers.acked)}"
            leaked = sorted(p for p in pushers.failed if p in pushes)
            assert not leaked, f"pushes answered 507 were stored: {leaked[:10]}"
            # And the WAL is clean for the next crash as well.
            srv.kill()
            srv.start()
            assert stored(srv.url) == seen
        finally:
            srv.stop()
        # Refused pushes and the refused /flush said why, without a path.
        assert set(status for status, _ in pushers.failed.values()) == {507}, pushers.failed
        for _, text in pushers.failed.values():
            assert "no space left on device" in text and str(tmp_path) not in text
        assert flush.status_code == 507, flush.text
        assert "no space left on device" in flush.text and str(tmp_path) not in flush.text
