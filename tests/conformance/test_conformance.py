"""The Loki conformance suite: every case of tests/conformance/cases against a real `logyard serve`.

The corpus is pushed once (gzip JSON, in order, as the README says), flushed so that answers come from
blocks, and every case's request is sent over HTTP and compared by the README's rules. Cases listed in
`known_failures.txt` are strict xfails: the list is the honest to-do list, and a case that starts passing
fails the run until it is removed from the list. `known_differences.txt` lists, with reasons, the answers
that differ from Loki's on purpose; they are strict xfails too and are counted apart in the tally. Nothing here knows any expected answer but the case files.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode
from pathlib import Path

import httpx
import pytest

from tests.conformance.compare import compare
from tests.support.corpus import start_loaded

HERE = Path(__file__).parent
CASES = sorted((HERE / "cases").glob("*.json"))


def _listed(name: str) -> set[str]:
    lines = (HERE / name).read_text().splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


KNOWN_FAILURES = _listed("known_failures.txt")
KNOWN_DIFFERENCES = _listed("known_differences.txt")
RESULTS: dict[str, bool] = {}


@pytest.fixture(scope="module")
def loaded_server(tmp_path_factory):
    """The conformance run's own server: the measure is taken on a server no other test touched."""
    srv = start_loaded(tmp_path_factory.mktemp("conformance") / "data")
    try:
        yield srv
    finally:
        srv.stop()


def send(client: httpx.Client, request: dict) -> httpx.Response:
    params = []
    for k, v in request.get("params", {}).items():
        for item in v if isinstance(v, list) else [v]:
            params.append((k, item))
    if request["method"] == "POST":
        return client.post(request["path"], content=urlencode(params),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    return client.get(request["path"], params=params)


def check(client: httpx.Client, case: dict) -> str | None:
    """The case's request sent to `client`'s server, its answer compared by the README's rules: None
    when it matches, else what differs."""
    r = send(client, case["request"])
    return compare(case["compare"], r.status_code, r.headers.get("content-type", ""), r.content,
                   case["response"], case["request"].get("params", {}).get("query", ""))


def mark_listed(request, case_id: str) -> None:
    """Known failures and known differences are strict xfails, wherever the cases are answered."""
    if case_id in KNOWN_FAILURES:
        request.applymarker(pytest.mark.xfail(strict=True, reason="listed in known_failures.txt"))
    if case_id in KNOWN_DIFFERENCES:
        request.applymarker(pytest.mark.xfail(strict=True, reason="differs on purpose: known_differences.txt"))


def tally(results: dict[str, bool]) -> tuple[str, str]:
    """The run's two summary lines: matched per kind of case, and passed / failed / differ on purpose."""
    passed = sum(results.values())
    differ = sum(1 for cid, ok in results.items() if not ok and cid in KNOWN_DIFFERENCES)
    failed = len(results) - passed - differ
    by_prefix: dict[str, list[int]] = {}
    for cid, ok in results.items():
        counts = by_prefix.setdefault(cid.split("-")[0], [0, 0])
        counts[0 if ok else 1] += 1
    detail = ", ".join(f"{p}: {a}/{a + b}" for p, (a, b) in sorted(by_prefix.items()))
    return (f"by kind: {detail}",
            f"{passed} passed, {failed} failed, {differ} differ on purpose (tests/conformance/known_differences.txt)")


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_case_matches_loki(loaded_server, case_path, request):
    case = json.loads(case_path.read_text())
    mark_listed(request, case["id"])
    with httpx.Client(base_url=loaded_server.url, timeout=120) as client:
        diff = check(client, case)
    RESULTS[case["id"]] = diff is None
    assert diff is None, f"{case['id']} ({case['description']}): {diff}"


def test_corpus_files_match_the_shared_copy():
    """tests/conformance must be refreshed (`make refresh-conformance`) when ../shared changes."""
    shared = HERE.parents[2] / "shared" / "conformance"
    if not shared.is_dir():
        pytest.skip("no ../shared/conformance beside this checkout")
    theirs = sorted(p.name for p in (shared / "cases").glob("*.json"))
    ours = sorted(p.name for p in (HERE / "cases").glob("*.json"))
    assert ours == theirs
    for name in ours:
        assert (HERE / "cases" / name).read_bytes() == (shared / "cases" / name).read_bytes(), name
