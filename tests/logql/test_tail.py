"""logql/tail.py: a tail's pipeline over new rows, and its entries merged, sorted and split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from logyard.labels import LabelSet
from logyard.logql.syntax.parser import parse
from logyard.logql.tail import Entries, TailPipeline, entries_from_streams

SCHEMA = pa.schema([("stream", pa.int64()), ("ts", pa.int64()), ("line", pa.string()), ("meta", pa.string())])


def batch(rows: list[tuple[int, int, str, str]]) -> pa.RecordBatch:
    cols = list(zip(*rows))
    return pa.record_batch([pa.array(c, t.type) for c, t in zip(cols, SCHEMA)], schema=SCHEMA)


def as_list(e: Entries) -> list[tuple[int, str, dict]]:
    return [(t, line, e.labels[i]) for t, line, i in zip(e.ts.tolist(), e.line.to_pylist(), e.label_idx.tolist())]


def test_pipeline_filters_parses_and_keeps_metadata():
    labels = {1: LabelSet({"app": "x"}.items())}
    tp = TailPipeline(parse('{app="x"} |= "boom" | logfmt | level="error"'), labels)
    out = tp.run([batch([(1, 10, "level=error msg=boom", '{"trace":"t"}'), (1, 11, "level=info msg=boom", ""),
                         (1, 12, "level=error msg=fine", "")])])
    assert as_list(out) == [(10, "level=error msg=boom",
                             {"app": "x", "trace": "t", "level": "error", "msg": "boom"})]


def test_pipeline_without_row_stages_labels_rows_by_stream_and_metadata():
    labels = {1: LabelSet({"app": "x"}.items()), 2: LabelSet({"app": "y"}.items())}
    out = TailPipeline(parse('{app=~"x|y"} != "skip"'), labels).run(
        [batch([(1, 5, "a", ""), (2, 6, "b", '{"k":"v"}'), (1, 7, "skip me", "")])])
    assert as_list(out) == [(5, "a", {"app": "x"}), (6, "b", {"app": "y", "k": "v"})]


def test_stream_labels_added_after_compiling_are_seen():
    labels: dict[int, LabelSet] = {}
    tp = TailPipeline(parse('{app="x"} | logfmt'), labels)
    labels[3] = LabelSet({"app": "x"}.items())
    assert as_list(tp.run([batch([(3, 1, "k=v", "")])])) == [(1, "k=v", {"app": "x", "k": "v"})]


def test_merge_orders_by_time_and_split_cuts_before_the_cutoff():
    a = entries_from_streams([{"stream": {"s": "1"}, "values": [["30", "c"], ["10", "a"]]}])
    b = entries_from_streams([{"stream": {"s": "2"}, "values": [["20", "b"], ["40", "d"]]}])
    both = a.merge(b)
    assert [line for _, line, _ in as_list(both)] == ["a", "b", "c", "d"]
    ready, rest = both.split_before(30)
    assert as_list(ready) == [(10, "a", {"s": "1"}), (20, "b", {"s": "2"})]
    assert as_list(rest) == [(30, "c", {"s": "1"}), (40, "d", {"s": "2"})]
    assert rest.labels == [{"s": "1"}, {"s": "2"}] and ready.split_before(0)[0].__len__() == 0


def test_chunks_are_at_most_the_size_asked():
    e = entries_from_streams([{"stream": {}, "values": [[str(i), "xy"] for i in range(250)]}])
    sizes = [(len(ts), nbytes) for ts, _, _, nbytes in e.chunks(100)]
    assert sizes == [(100, 200), (100, 200), (50, 100)]
    assert np.array_equal(e.ts, np.arange(250))


def test_unique_keeps_the_first_of_equal_timestamp_line_and_labels():
    one = entries_from_streams([{"stream": {"s": "1"}, "values": [["10", "a"], ["20", "b"], ["20", "c"]]},
                                {"stream": {"s": "2"}, "values": [["20", "b"]]}])
    again = entries_from_streams([{"stream": {"s": "1"}, "values": [["20", "b"], ["30", "d"]]}])
    got = one.merge(again).unique()
    assert sorted((t, line, lb["s"]) for t, line, lb in as_list(got)) == [
        (10, "a", "1"), (20, "b", "1"), (20, "b", "2"), (20, "c", "1"), (30, "d", "1")]
    assert list(got.ts) == sorted(got.ts)
    distinct = entries_from_streams([{"stream": {}, "values": [["1", "x"], ["2", "x"]]}])
    assert distinct.unique() is distinct  # no equal timestamps: nothing to compare
