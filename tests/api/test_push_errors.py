"""Bad pushes get Loki's status code (and wording where Loki's is its own), and lose nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess

CASES = json.loads((Path(__file__).parents[1] / "conformance" / "push_errors.json").read_text())["cases"]
# Loki's own validation texts are matched exactly; Go JSON-decoder texts only need the same status.
EXACT_TEXT = {"push-no-streams", "push-bad-label-name", "push-line-too-long"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("push-errors") / "data") as srv:
        yield srv


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_push_gets_lokis_status_and_wording(server, case):
    req = case["request"]
    headers = {}
    if req["content_type"]:
        headers["Content-Type"] = req["content_type"]
    if req["content_encoding"]:
        headers["Content-Encoding"] = req["content_encoding"]
    body = req["body"].encode()
    if case["id"] == "push-line-too-long":
        # push_errors.json abbreviates this body; the real one carried a 300,000-byte line.
        body = json.dumps({"streams": [{"stream": {"job": "probe"},
                                        "values": [["1767139200000000000", "x" * 300000]]}]}).encode()
    r = httpx.post(server.url + "/loki/api/v1/push", content=body, headers=headers)
    want = case["response"]
    assert r.status_code == want["status"], r.text
    if want["status"] >= 400:
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text.strip(), "an error must say what is wrong"
        if case["id"] in EXACT_TEXT:
            assert r.text.rstrip("\n") == want["body"].rstrip("\n")
    assert httpx.get(server.url + "/ready").status_code == 200


def test_bad_push_does_not_disturb_good_data(server):
    good = {"streams": [{"stream": {"job": "keep"}, "values": [["1767225600000000001", "kept line"]]}]}
    assert httpx.post(server.url + "/loki/api/v1/push", json=good).status_code == 204
    assert httpx.post(server.url + "/loki/api/v1/push", content=b'{"streams": [',
                      headers={"Content-Type": "application/json"}).status_code == 400
    r = httpx.get(server.url + "/loki/api/v1/query_range", params={
        "query": '{job="keep"}', "start": "1767225600000000000", "end": "1767225600000000010"})
    lines = [v[1] for s in r.json()["data"]["result"] for v in s["values"]]
    assert lines == ["kept line"]


def test_unknown_tenant_header_is_ignored_when_auth_is_off(server):
    good = {"streams": [{"stream": {"job": "tenant"}, "values": [["1767225600000000002", "x"]]}]}
    r = httpx.post(server.url + "/loki/api/v1/push", json=good, headers={"X-Scope-OrgID": "someone"})
    assert r.status_code == 204
