"""The conformance corpus as samples, loaded once per session, and helpers to compare with Loki.

Only what plain-selector metric queries need: per stream, deduplicated (ts, byte length) samples
with the `service_name` label Loki adds. `detected_level` is not derived here, so tests compare
after summing it away.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import orjson
import pytest

from logyard.labels import LabelSet, Matcher, matches_all
from logyard.logql.metric.series import Matrix, StepMatrix

CONFORMANCE = Path("/work/shared/conformance")
CASES = CONFORMANCE / "cases"


class Corpus:
    def __init__(self, streams: dict[LabelSet, tuple[np.ndarray, np.ndarray]]) -> None:
        self.streams = streams

    def select(self, **equals: str) -> tuple[list[LabelSet], np.ndarray, np.ndarray, np.ndarray]:
        """Streams whose labels equal `equals` (a `__re` suffix makes it a regex): labels, ids, ts, bytes."""
        matchers = [Matcher(k[:-4], "=~", v) if k.endswith("__re") else Matcher(k, "=", v) for k, v in equals.items()]
        labels, ids, ts, nbytes = [], [], [], []
        for lbs, (t, b) in sorted(self.streams.items()):
            if matches_all(lbs, matchers):
                ids.append(np.full(len(t), len(labels), dtype=np.int64))
                labels.append(lbs)
                ts.append(t)
                nbytes.append(b)
        if not labels:
            return [], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return labels, np.concatenate(ids), np.concatenate(ts), np.concatenate(nbytes)


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    seen: dict[LabelSet, dict[tuple[int, str], int]] = {}
    for path in sorted((CONFORMANCE / "data").glob("push-*.json.gz")):
        body = orjson.loads(gzip.decompress(path.read_bytes()))
        for stream in body["streams"]:
            lbs = dict(stream["stream"])
            lbs["service_name"] = lbs.get("container", lbs.get("job", ""))
            entries = seen.setdefault(LabelSet.from_dict(lbs), {})
            for value in stream["values"]:
                # Loki stores an exact duplicate (same stream, timestamp and line) once.
                entries[(int(value[0]), value[1])] = len(value[1].encode())
    streams = {}
    for lbs, entries in seen.items():
        keys = sorted(entries)
        ts = np.array([k[0] for k in keys], dtype=np.int64)
        nbytes = np.array([entries[k] for k in keys], dtype=np.float64)
        streams[lbs] = (ts, nbytes)
    return Corpus(streams)


def load_case(case_id: str) -> dict:
    return json.loads((CASES / f"{case_id}.json").read_text())


def rfc3339_ns(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 1_000_000_000


def expected_points(case: dict, drop: tuple[str, ...] = ("detected_level",)) -> dict[LabelSet, dict[int, float]]:
    """Loki's matrix/vector answer as {labels: {ts_ns: value}}, summing away the labels in `drop`."""
    data = case["response"]["body"]["data"]
    out: dict[LabelSet, dict[int, float]] = {}
    for r in data["result"]:
        lbs = LabelSet.from_dict(r["metric"]).without(drop)
        points = r["values"] if "values" in r else [r["value"]]
        for t, v in points:
            ts = round(float(t) * 1000) * 1_000_000
            pts = out.setdefault(lbs, {})
            pts[ts] = pts.get(ts, 0.0) + float(v)
    return out


def actual_points(sm: StepMatrix | Matrix, drop: tuple[str, ...] = ("detected_level",)) -> dict[LabelSet, dict[int, float]]:
    matrix = sm.to_matrix() if isinstance(sm, StepMatrix) else sm
    out: dict[LabelSet, dict[int, float]] = {}
    for s in matrix:
        pts = out.setdefault(s.labels.without(drop), {})
        for t, v in zip(s.ts.tolist(), s.values.tolist()):
            pts[t] = pts.get(t, 0.0) + v
    return out


def assert_same_points(actual: dict, expected: dict) -> None:
    """The README's matrix rule: same series and timestamps, values within 1e-9 rel + 1e-9 abs."""
    assert sorted(map(str, actual)) == sorted(map(str, expected))
    for lbs, pts in expected.items():
        got = actual[lbs]
        assert sorted(got) == sorted(pts), f"timestamps differ for {lbs}"
        for t, v in pts.items():
            g = got[t]
            if math.isnan(v) or math.isinf(v):
                assert str(g) == str(v), (lbs, t, g, v)
            else:
                assert math.isclose(g, v, rel_tol=1e-9, abs_tol=1e-9), (lbs, t, g, v)
