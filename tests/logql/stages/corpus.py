"""The conformance corpus as the stage tests need it: pushed entries and Loki's answers by case.

`answer(case_id)` lists Loki's answer entries and `select(matchers, start, end)` the pushed entries
of a selector, so a test can run a stage chain on the pushed entries and compare with Loki.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "conformance"
# Labels Loki adds at ingest: stream label `service_name`, metadata `detected_level`.
INGEST_STREAM = ("service_name",)


@lru_cache(maxsize=1)
def entries() -> dict[tuple[tuple[str, str], ...], list[tuple[int, str, dict[str, str]]]]:
    """Every pushed entry by stream label set (sorted items): (ts_ns, line, structured metadata)."""
    out: dict[tuple[tuple[str, str], ...], list[tuple[int, str, dict[str, str]]]] = defaultdict(list)
    for path in sorted((ROOT / "data").glob("push-*.json.gz")):
        body = json.loads(gzip.decompress(path.read_bytes()))
        for stream in body["streams"]:
            key = tuple(sorted(stream["stream"].items()))
            for v in stream["values"]:
                out[key].append((int(v[0]), v[1], v[2] if len(v) > 2 else {}))
    return out


def case(case_id: str) -> dict:
    return json.loads((ROOT / "cases" / f"{case_id}.json").read_text())


def answer(case_id: str) -> list[tuple[dict[str, str], int, str]]:
    """Loki's answer entries: (labels, ts_ns, line)."""
    body = case(case_id)["response"]["body"]
    return [(s["stream"], int(ts), line) for s in body["data"]["result"] for ts, line in s["values"]]


def stream_labels(pushed: dict[str, str]) -> dict[str, str]:
    """Stream labels as Loki holds them: the pushed ones plus `service_name`."""
    out = dict(pushed)
    out["service_name"] = pushed.get("container") or pushed.get("job") or "unknown_service"
    return out


def select(matchers: dict[str, str], start: int, end: int) -> list[tuple[dict, int, str, dict]]:
    """Pushed entries of streams matching equality matchers with start <= ts < end, deduplicated."""
    out = []
    seen = set()
    for key, rows in entries().items():
        pushed = dict(key)
        if any(pushed.get(k) != v for k, v in matchers.items()):
            continue
        labels = stream_labels(pushed)
        for t, ln, meta in rows:
            if start <= t < end and (key, t, ln) not in seen:
                seen.add((key, t, ln))
                out.append((labels, t, ln, meta))
    return out
