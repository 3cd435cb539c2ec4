"""Delete requests in a scaled-out installation (docs/scaling.md, Delete requests), checked on the
nodes test_scalable.py starts: the bucket holds every request, so a request taken by a reader is
listed by the other reader and the backends and hides its lines on both readers at once; the backend
restarted on an empty data directory still has it; its deletion pass removes the lines from the
bucket's blocks and marks it processed for everyone; a request is cancelled on another node than
the one that took it, within the cancel period."""

from __future__ import annotations

import shutil

import httpx
import pyarrow.parquet as pq

from tests.support.s3 import WeedS3
from tests.support.server import ServerProcess

# The compactor section of the nodes' config: passes every second, a short cancel period (the
# cancels below come well within it, the pass soon after it).
COMPACTOR_CONFIG = "compactor:\n  compaction_interval: 1s\n  delete_request_cancel_period: 5s\n"
T1 = 1767232800 * 10**9  # 2026-01-01T02:00:00Z: beside the module's other lines, none of them selected
DELETE = "/loki/api/v1/delete"


def lines(reader: ServerProcess) -> list[str]:
    r = httpx.get(reader.url + "/loki/api/v1/query_range", timeout=30, params={
        "query": '{job="deletes"}', "start": str(T1), "end": str(T1 + 60 * 10**9), "direction": "forward"})
    assert r.status_code == 200, r.text
    return [line for s in r.json()["data"]["result"] for _, line in s["values"]]


def listed(node: ServerProcess) -> dict[str, str]:
    """The node's listing of the delete requests: status by request id."""
    r = httpx.get(node.url + DELETE, timeout=10)
    assert r.status_code == 200, r.text
    return {d["request_id"]: d["status"] for d in r.json()}


def post_delete(node: ServerProcess, query: str) -> str:
    r = httpx.post(node.url + DELETE, timeout=10, params={"query": query, "start": str(T1 // 10**9),
                                                          "end": str(T1 // 10**9 + 60)})
    assert r.status_code == 204, r.text
    return r.headers["X-Delete-Request-ID"]


def deleted_lines(node: ServerProcess) -> float:
    """loki_compactor_deleted_lines of the node, over its tenants."""
    metrics = httpx.get(node.url + "/metrics", timeout=10).text.splitlines()
    return sum(float(m.split()[-1]) for m in metrics if m.startswith("loki_compactor_deleted_lines{"))


def block_lines(weed: WeedS3, bucket: str) -> list[str]:
    fs = weed.filesystem()
    return [line for key in weed.keys(bucket, "blocks")
            for line in pq.read_table(f"{bucket}/{key}", filesystem=fs, columns=["line"]).column("line").to_pylist()]


def check_deletes(writer: ServerProcess, readers: list[ServerProcess], backends: list[ServerProcess],
                  weed: WeedS3, bucket: str) -> None:
    from tests.cluster.test_scalable import push, until

    r1, r2 = readers
    push(writer.url, {"job": "deletes"}, [(T1 + 1, "keep 1"), (T1 + 2, "secret 2"), (T1 + 3, "keep 3")])
    assert httpx.post(writer.url + "/flush", timeout=60).status_code == 204  # in a block: the pass rewrites it
    assert lines(r1) == lines(r2) == ["keep 1", "secret 2", "keep 3"]

    # Taken by a reader; listed by every node at once (the listing asks the bucket, and takes its
    # changes into the node's reads); both readers leave the lines out before the backend's pass.
    rid = post_delete(r1, '{job="deletes"} |= "secret"')
    assert all(rid in listed(n) for n in (r2, *backends))
    assert lines(r1) == lines(r2) == ["keep 1", "keep 3"]
    assert not (backends[0].data_dir / "deletes.sqlite").exists()

    # The backend restarted on an empty data directory: the request is in the bucket, not on its disk.
    backend = backends[0]
    backend.kill()
    shutil.rmtree(backend.data_dir)
    backend.start(timeout=90)
    assert rid in listed(backend)

    # Cancelled on another node than the one that took it, within the cancel period: shown again.
    other = post_delete(backend, '{job="deletes"} |= "keep 3"')
    assert other in listed(r1)
    assert lines(r1) == ["keep 1"]
    r = httpx.delete(r2.url + DELETE, params={"request_id": other}, timeout=10)
    assert r.status_code == 204, r.text
    assert all(other not in listed(n) for n in (r1, *backends))
    assert lines(r1) == lines(r2) == ["keep 1", "keep 3"]

    # The pass of the backend holding the lease removes the line from the blocks and marks the request
    # processed; the readers go on leaving it out (the writer still gives its retained flushed head).
    until(lambda: listed(r2).get(rid) == "processed", "the backend processes the request")
    assert listed(r1)[rid] == "processed"
    assert sum(deleted_lines(b) for b in backends) == 1
    until(lambda: "secret 2" not in block_lines(weed, bucket), "the rewritten block replaces the old one")
    assert {"keep 1", "keep 3"} <= set(block_lines(weed, bucket))
    assert lines(r1) == lines(r2) == ["keep 1", "keep 3"]
