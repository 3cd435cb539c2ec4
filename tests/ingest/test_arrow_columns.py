"""The Arrow columns decode hands to storage: the same values as the lists, the same WAL payload."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import orjson

from logyard.ingest.decode import decode_push
from logyard.ingest.sample_age import filter_sample_age
from logyard.storage.wal import prepare_append

TS = 1767139200000000000


def body() -> bytes:
    return orjson.dumps({"streams": [
        {"stream": {"app": "a"}, "values": [[str(TS + i), f"level=warn n={i}"] for i in range(5)]},
        {"stream": {"app": "b", "level": "debug"}, "values": [[str(TS), "plain"], [str(TS + 1), "x", {"trace_id": "ab"}]]},
        {"stream": {"app": "c"}, "values": [[str(TS + 9), '{"level":"error","msg":"ü"}', {"k": "v"}]]},
    ]})  # fmt: skip


def test_decoded_streams_carry_arrow_columns_equal_to_the_lists():
    res = decode_push(body(), "application/json", None)
    assert len(res.streams) == 3
    for s in res.streams:
        assert s.arrow_lines.to_pylist() == s.lines
        assert s.arrow_meta.to_pylist() == s.metadata


def test_wal_payload_is_the_same_with_or_without_the_arrow_columns():
    streams = decode_push(body(), "application/json", None).streams
    plain = [replace(s, arrow_lines=None, arrow_meta=None) for s in streams]
    assert prepare_append("t", streams) == prepare_append("t", plain)
    # Mixed: one stream without Arrow columns falls back to the lists for all.
    mixed = [plain[0], *streams[1:]]
    assert prepare_append("t", mixed) == prepare_append("t", plain)


def test_sample_age_filter_keeps_the_arrow_columns_in_step():
    streams = decode_push(body(), "application/json", None).streams
    kept, dropped, error = filter_sample_age(streams, TS + 2, 1, 10**18)  # oldest acceptable: TS + 1
    assert dropped == {"greater_than_max_sample_age": 2} and error is not None
    for s in kept:
        assert s.arrow_lines.to_pylist() == s.lines
        assert s.arrow_meta.to_pylist() == s.metadata
        assert np.all(s.timestamps >= TS + 1)
    plain = [replace(s, arrow_lines=None, arrow_meta=None) for s in kept]
    assert prepare_append("t", kept) == prepare_append("t", plain)
