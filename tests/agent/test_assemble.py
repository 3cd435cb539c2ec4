"""From read lines to stream chunks: stamps strictly increasing per stream, a line's own time kept,
real repeats moved 1 ns apart, entries without labels counted as dropped."""

from __future__ import annotations

import numpy as np

from logyard.agent.assemble import Stamper, chunks_from_entries
from logyard.agent.push import decode_push, encode_stream
from logyard.agent.stages.stage import Entry
from logyard.labels import LabelSet


def decoded(chunk) -> list[tuple[int, str]]:
    ((_, entries),) = decode_push(encode_stream(str(chunk.labels), chunk.entries))
    return [(ts, line) for ts, line, _ in entries]


def test_stamps_increase_per_stream_even_when_the_clock_stands_still():
    s = Stamper(clock=lambda: 1000)
    a, b = LabelSet([("job", "a")]), LabelSet([("job", "b")])
    assert list(s.stamp(a, 3)) == [1000, 1001, 1002]
    assert list(s.stamp(a, 2)) == [1003, 1004]
    assert list(s.stamp(b, 1)) == [1000]
    s.seen(a, 5000)  # a line's own time: later stamps of the stream come after it
    assert list(s.stamp(a, 1)) == [5001]


def test_own_times_are_kept_missing_ones_stamped_and_repeats_moved_apart():
    s = Stamper(clock=lambda: 10)
    entries = [Entry("x", 500, {"job": "a"}), Entry("x", 500, {"job": "a"}), Entry("y", None, {"job": "a"}),
               Entry("z", 7, {"job": "b", "__hidden": "1", "empty": ""})]
    chunks, dropped = chunks_from_entries(entries, s)
    assert dropped == 0
    by_labels = {str(c.labels): decoded(c) for c in chunks}
    assert by_labels == {'{job="a"}': [(500, "x"), (501, "x"), (10, "y")], '{job="b"}': [(7, "z")]}
    assert np.array_equal(s.stamp(LabelSet([("job", "a")]), 1), [502])


def test_entries_left_without_labels_are_dropped_and_counted():
    chunks, dropped = chunks_from_entries([Entry("x", 1, {"__path__": "/a"}), Entry("y", 1, {"job": "a"})],
                                          Stamper(clock=lambda: 1))
    assert dropped == 1 and [c.count for c in chunks] == [1]
