"""Delete requests: reads leave their rows out from the moment they are accepted; the deletion pass
removes the rows from the block files once the cancel period is over; requests survive a reopen."""

from __future__ import annotations

import pytest

from logyard.logql.delete_query import compile_delete_query
from logyard.storage import format as F
from logyard.storage.deletes import PROCESSED, RECEIVED, deleted_rows
from tests.storage.conftest import HOUR, T0, push, rows

MS = 10**6
NOW = T0 / 1e9 + 2 * 86400


def store_with_lines(make_store, **kw):
    """A store whose clock moves a second on at each look: a request is past a 0s cancel period
    at the next pass."""
    tick = iter(range(10**6))
    s = make_store(compile_delete=compile_delete_query, delete_cancel_period_s=0.0,
                   clock=lambda: NOW + next(tick), **kw)
    s.append("t", [
        push({"app": "api"}, [T0 + i * MS for i in range(6)],
             ["level=info msg=ok", "level=error msg=secret-1", "level=info msg=secret-2",
              "level=error msg=fine", "level=info msg=ok", "level=error msg=secret-3"]),
        push({"app": "db"}, [T0 + MS, T0 + 2 * MS], ["db secret", "db ok"]),
    ])
    return s


def lines(s, start=T0, end=T0 + HOUR, **kw) -> list[str]:
    ids = list(s.streams("t", [], start, end))
    return sorted(r[2] for r in rows(s.read("t", ids, start, end, direction="forward", **kw)))


def block_bytes(s) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((s.data_dir / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX)))


@pytest.mark.parametrize("flushed", [False, True], ids=["head", "blocks"])
def test_reads_leave_out_the_selected_lines_at_once(make_store, flushed):
    s = store_with_lines(make_store)
    if flushed:
        s.flush()
    # ms bounds, both included: rows at 1 ms .. 4 ms of app=api that contain "secret"
    s.deletes.add("t", '{app="api"} |= "secret"', T0 // MS + 1, T0 // MS + 4)
    assert lines(s) == ["db ok", "db secret", "level=error msg=fine", "level=error msg=secret-3",
                        "level=info msg=ok", "level=info msg=ok"]
    # metric-style reads (no line column asked) leave them out too
    ids = list(s.streams("t", [], T0, T0 + HOUR))
    assert sum(t.num_rows for t in s.read("t", ids, T0, T0 + HOUR, columns=("stream", "ts", "len"))) == 6


def test_a_pipeline_with_a_parser_and_label_filter_selects_lines(make_store):
    s = store_with_lines(make_store)
    s.deletes.add("t", '{app=~".*"} | logfmt | level="error"', T0 // MS, T0 // MS + 10)
    assert lines(s) == ["db ok", "db secret", "level=info msg=ok", "level=info msg=ok", "level=info msg=secret-2"]


def test_first_rows_hint_skips_deleted_rows(make_store):
    s = store_with_lines(make_store)
    s.deletes.add("t", '{app="api"}', T0 // MS + 3, T0 // MS + 5)  # the three newest rows of app=api
    ids = list(s.streams("t", [], T0, T0 + HOUR))
    got = [r[2] for r in rows(s.read("t", ids, T0, T0 + HOUR, first=1))]
    assert "level=info msg=secret-2" in got or "db ok" in got
    assert not {"level=error msg=fine", "level=info msg=ok", "level=error msg=secret-3"} & set(got[:1])


def test_cancelled_request_shows_the_lines_again(make_store):
    s = store_with_lines(make_store)
    req = s.deletes.add("t", '{app="db"}', T0 // MS, T0 // MS + 10)
    assert lines(s).count("db ok") == 0
    s.deletes.remove("t", req.request_id)
    assert "db ok" in lines(s)


def test_deletion_pass_rewrites_blocks_and_marks_processed(make_store):
    s = store_with_lines(make_store)
    s.flush()
    assert b"secret-1" in block_bytes(s)
    req = s.deletes.add("t", '{app="api"} |~ "secret-[12]"', T0 // MS, T0 // MS + 10)
    before = lines(s)
    assert s.apply_deletes() == 1
    s.files.empty_trash(force=True)
    data = block_bytes(s)
    assert b"secret-1" not in data and b"secret-2" not in data
    assert b"secret-3" in data and b"db secret" in data
    assert lines(s) == before
    assert s.deletes.get("t", req.request_id).status == PROCESSED
    assert s.deletes.deleted_lines["t"] == 2 and s.deletes.processed["t"] == 1
    assert s.apply_deletes() == 0


def test_deletion_waits_for_the_cancel_period(make_store):
    s = make_store(compile_delete=compile_delete_query, delete_cancel_period_s=3600.0)
    s.append("t", [push({"app": "a"}, [T0], ["x"])])
    req = s.deletes.add("t", '{app="a"}', T0 // MS, T0 // MS + 1)
    assert s.apply_deletes() == 0
    assert s.deletes.get("t", req.request_id).status == RECEIVED


def test_a_block_left_empty_is_dropped(make_store):
    s = store_with_lines(make_store)
    s.flush()
    s.deletes.add("t", '{app=~"api|db"}', T0 // MS, T0 // MS + 10)
    s.apply_deletes()
    assert s.sizes()["blocks"] == 0


def test_requests_survive_a_reopen(make_store, tmp_path):
    from logyard.storage.store import Store

    s = store_with_lines(make_store)
    req = s.deletes.add("t", '{app="db"} != "ok"', T0 // MS, T0 // MS + 10)
    s.close()
    s2 = Store(tmp_path / "data", compile_delete=compile_delete_query, clock=lambda: NOW)
    s2.open()
    try:
        assert [r.request_id for r in s2.deletes.list("t")] == [req.request_id]
        assert "db secret" not in lines(s2) and "db ok" in lines(s2)
    finally:
        s2.close()


def test_deleted_rows_counts_each_request():
    import pyarrow as pa

    from logyard.labels import LabelSet
    from logyard.storage.deletes import Active, DeleteRequest

    t = pa.table({"stream": pa.array([1, 1, 2], pa.int64()), "ts": pa.array([1 * MS, 2 * MS, 2 * MS], pa.int64()),
                  "line": pa.array(["a", "b", "b"], pa.large_string()), "meta": pa.array(["", "", ""])})
    labels = {1: LabelSet([("app", "x")]), 2: LabelSet([("app", "y")])}
    act = [Active(DeleteRequest("1", "t", q, 0, 2, 0), compile_delete_query(q))
           for q in ('{app="x"}', '{app=~".+"} |= "b"')]
    counts = [0, 0]
    assert deleted_rows(t, act, labels.__getitem__, counts).tolist() == [True, True, True]
    assert counts == [2, 2]
