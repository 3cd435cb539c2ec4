"""Loki's sample-age limits on decoded streams."""

from __future__ import annotations

import numpy as np

from logyard.ingest.model import PushStream
from logyard.ingest.sample_age import filter_sample_age
from logyard.labels import LabelSet

NOW = 1767139200000000000


def stream(app: str, *ts: int) -> PushStream:
    return PushStream(LabelSet([("app", app)]), np.array(ts, dtype=np.int64), [f"l{t}" for t in ts], [""] * len(ts))


def test_streams_within_the_limits_are_kept_as_they_are():
    streams = [stream("a", NOW - 5, NOW), stream("b", NOW + 3)]
    kept, dropped, error = filter_sample_age(streams, NOW, 10, 3)
    assert [id(s) for s in kept] == [id(s) for s in streams]
    assert dropped == {} and error is None


def test_only_the_entries_out_of_range_are_dropped_and_named():
    streams = [stream("a", NOW - 11, NOW), stream("b", NOW + 4), stream("c", NOW)]
    kept, dropped, error = filter_sample_age(streams, NOW, 10, 3)
    assert [(str(s.labels), s.timestamps.tolist(), s.lines) for s in kept] == [
        ('{app="a"}', [NOW], [f"l{NOW}"]),
        ('{app="c"}', [NOW], [f"l{NOW}"]),
    ]
    assert dropped == {"greater_than_max_sample_age": 1, "too_far_in_future": 1}
    assert error is not None and error.message.endswith("total ignored: 2 out of 4")


def test_no_max_age_keeps_old_entries():
    kept, dropped, error = filter_sample_age([stream("a", 1)], NOW, None, 0)
    assert len(kept) == 1 and dropped == {} and error is None
