"""The conformance corpus as samples, loaded once per session, and helpers to compare with Loki.

Only what plain-selector metric queries need: per stream, deduplicated (ts, byte length) samples
with the `service_name` label Loki adds. `detected_level` is not derived here, so tests compare
after summing it away.
"""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import orjson
import pytest

from logyard.labels import LabelSet, Matcher, matches_all
from logyard.logql.metric.series import Matrix, StepMatrix
from tests.support.paths import CONFORMANCE

CASES = CONFORMANCE / "cases"


class Corpus:
    def __init__(self, streams: dict[LabelSet, tuple[np.ndarray, np.ndarray]], lines: dict[LabelSet, list[str]],
                 meta: dict[LabelSet, list[tuple]] | None = None) -> None:
        self.streams = streams
        self.lines = lines
        self.meta = meta or {}

    def as_loki_series(self) -> "Corpus":
        """Streams split the way Loki's metric queries see them: by structured metadata and by the
        `detected_level` that `logyard.ingest.level` finds (a cross-check with that module)."""
        import pyarrow as pa

        from logyard.ingest.level import LEVELS, detect_levels

        streams, lines = {}, {}
        for lbs, (ts, nbytes) in self.streams.items():
            levels = detect_levels(pa.array(self.lines[lbs]))
            groups: dict[tuple, list[int]] = {}
            for i, key in enumerate(zip(levels.tolist(), self.meta[lbs])):
                groups.setdefault(key, []).append(i)
            for (level, meta), rows in groups.items():
                split = lbs.with_labels({"detected_level": LEVELS[level], **dict(meta)})
                streams[split] = (ts[rows], nbytes[rows])
                lines[split] = [self.lines[lbs][i] for i in rows]
        return Corpus(streams, lines)

    def extract(self, extractor, **equals: str) -> tuple[list[LabelSet], np.ndarray, np.ndarray, np.ndarray]:
        """Samples of the lines for which `extractor(labels, line)` gives (series labels, value).

        Series with equal labels are merged and sorted by time, as Loki does for `... by (x)`
        range aggregations and for samples that a parser gives identical labels.
        """
        matchers = [Matcher(k, "=", v) for k, v in equals.items()]
        groups: dict[LabelSet, list[tuple[int, float]]] = {}
        for lbs, (t, _) in sorted(self.streams.items()):
            if not matches_all(lbs, matchers):
                continue
            for ts, line in zip(t.tolist(), self.lines[lbs]):
                got = extractor(lbs, line)
                if got is not None:
                    groups.setdefault(got[0], []).append((ts, got[1]))
        labels = sorted(groups)
        ids = np.concatenate([np.full(len(groups[l]), i, dtype=np.int64) for i, l in enumerate(labels)])
        pts = [sorted(groups[l], key=lambda p: p[0]) for l in labels]
        ts = np.array([p[0] for g in pts for p in g], dtype=np.int64)
        values = np.array([p[1] for g in pts for p in g], dtype=np.float64)
        return labels, ids, ts, values

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
    seen: dict[LabelSet, dict[tuple[int, str], tuple]] = {}
    for path in sorted((CONFORMANCE / "data").glob("push-*.json.gz")):
        body = orjson.loads(gzip.decompress(path.read_bytes()))
        for stream in body["streams"]:
            lbs = dict(stream["stream"])
            lbs["service_name"] = lbs.get("container", lbs.get("job", ""))
            entries = seen.setdefault(LabelSet.from_dict(lbs), {})
            for value in stream["values"]:
                # Loki stores an exact duplicate (same stream, timestamp and line) once.
                entries[(int(value[0]), value[1])] = tuple(sorted(value[2].items())) if len(value) > 2 else ()
    streams, lines, meta = {}, {}, {}
    for lbs, entries in seen.items():
        keys = sorted(entries)
        ts = np.array([k[0] for k in keys], dtype=np.int64)
        nbytes = np.array([len(k[1].encode()) for k in keys], dtype=np.float64)
        streams[lbs] = (ts, nbytes)
        lines[lbs] = [k[1] for k in keys]
        meta[lbs] = [entries[k] for k in keys]
    return Corpus(streams, lines, meta)


@pytest.fixture(scope="session")
def loki_series(corpus: Corpus) -> Corpus:
    return corpus.as_loki_series()


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


def parse_time_ns(text: str) -> int:
    """The time forms the cases use: RFC 3339, unix seconds (≤10 digits), nanoseconds, float seconds."""
    if text.isdigit():
        return int(text) * 1_000_000_000 if len(text) <= 10 else int(text)
    try:
        return round(float(text) * 1e9)
    except ValueError:
        return rfc3339_ns(text)


def parse_step_ns(text: str) -> int:
    units = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return round(float(text[: -len(suffix)]) * units[suffix])
    return round(float(text) * 1e9)


def case_grid(case: dict) -> np.ndarray:
    """The evaluation steps of a case's request (range or instant)."""
    from logyard.logql.metric.steps import check_step, default_step_ns, instant_grid, range_grid

    p = case["request"]["params"]
    if "time" in p:
        return instant_grid(parse_time_ns(p["time"]))
    start, end = parse_time_ns(p["start"]), parse_time_ns(p["end"])
    step = parse_step_ns(p["step"]) if "step" in p else default_step_ns(start, end)
    check_step(start, end, step)
    return range_grid(start, end, step)
