"""detected_level against Loki's own answers: every entry of the conformance corpus that shows up in
a log-query answer, and the per-level totals of `m-by-detected-level`."""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict

import orjson
import pytest

from logyard.ingest.decode import decode_push
from tests.support.paths import CONFORMANCE



@pytest.fixture(scope="module")
def decoded() -> dict[tuple[int, str], list[tuple[dict, str]]]:
    """(timestamp, line) -> [(stream labels, detected_level)] over the 24 corpus pushes."""
    out: dict[tuple[int, str], list[tuple[dict, str]]] = defaultdict(list)
    for path in sorted((CONFORMANCE / "data").glob("push-*.json.gz")):
        result = decode_push(path.read_bytes(), "application/json", "gzip")
        assert result.error is None
        for s in result.streams:
            labels = s.labels.to_dict()
            for ts, line, meta in zip(s.timestamps.tolist(), s.lines, s.metadata):
                out[(ts, line)].append((labels, orjson.loads(meta)["detected_level"]))
    return out


def _log_cases():
    for path in sorted((CONFORMANCE / "cases").glob("*.json")):
        if not path.name.startswith(("ls-", "lf-", "pl-")):
            continue
        case = json.loads(path.read_text())
        query = case["request"]["params"].get("query", "")
        # Lines rewritten or labels reformatted by the query are not the pushed originals.
        if any(word in query for word in ("line_format", "decolorize", "label_format")):
            continue
        body = case["response"]["body"]
        if case["response"]["status"] != 200 or body.get("data", {}).get("resultType") != "streams":
            continue
        yield case["id"], body["data"]["result"]


def test_detected_level_agrees_with_loki_on_every_answered_entry(decoded):
    checked = 0
    mismatches = []
    for case_id, result in _log_cases():
        for stream in result:
            answer = stream["stream"]
            if "detected_level" not in answer:  # `| keep` / `| drop` took it away
                continue
            for ts, line in stream["values"]:
                # `| keep` / `| drop` may remove stream labels: compare those the answer kept.
                candidates = [
                    level
                    for labels, level in decoded[(int(ts), line)]
                    if all(answer.get(k, v) == v for k, v in labels.items())
                ]
                assert candidates, f"{case_id}: entry {ts} {line[:60]!r} not found in the decoded corpus"
                if set(candidates) != {answer["detected_level"]}:
                    mismatches.append((case_id, answer["detected_level"], candidates, line[:120]))
                checked += 1
    assert checked > 1000
    assert mismatches == []


def test_detected_level_totals_match_loki_per_ten_minute_window(decoded):
    case = json.loads((CONFORMANCE / "cases" / "m-by-detected-level.json").read_text())
    seen = set()
    per_level = defaultdict(list)
    for (ts, line), entries in decoded.items():
        for labels, level in entries:
            if labels.get("compose_project") != "aixcl":
                continue
            key = (tuple(sorted(labels.items())), ts, line)
            if key in seen:  # Loki stores an exact duplicate once
                continue
            seen.add(key)
            per_level[level].append(ts)
    want = {
        (r["metric"]["detected_level"], int(t)): int(v)
        for r in case["response"]["body"]["data"]["result"]
        for t, v in r["values"]
    }
    got = Counter()
    for level, stamps in per_level.items():
        for ts in stamps:
            # count_over_time[10m] at step 1200 s: the window of point t is (t - 10m, t]
            t = -(-ts // 1_200_000_000_000) * 1200
            if ts > (t - 600) * 1_000_000_000:
                got[(level, t)] += 1
    assert dict(got) == want
