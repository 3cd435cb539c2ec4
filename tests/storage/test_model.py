"""The Store against a model: any sequence of appends, flushes, compactions and restarts reads back
as the set of distinct (stream, ts, line) appended, in windows and order the API promises."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.storage.store import Store
from tests.storage.conftest import HOUR, T0, abandon, push

entry = st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 3 * 4), st.sampled_from(["x", "y", "zz", "é"]))
step = st.one_of(
    st.tuples(st.just("append"), st.lists(entry, min_size=1, max_size=6)),
    st.tuples(st.just("flush"), st.none()),
    st.tuples(st.just("compact"), st.none()),
    st.tuples(st.just("crash"), st.none()),
)


@settings(max_examples=25, deadline=None)
@given(steps=st.lists(step, max_size=10), backward=st.booleans())
def test_any_history_reads_back_as_the_distinct_rows_appended(steps, backward):
    root = Path(tempfile.mkdtemp())
    clock = lambda: T0 / 1e9 + 86400  # noqa: E731  every window settled
    try:
        store = Store(root, clock=clock)
        store.open()
        model: set[tuple[str, int, str]] = set()
        for kind, arg in steps:
            if kind == "append":
                by_app: dict[str, list] = {}
                for app, q, line in arg:  # q: a quarter hour, so rows spread over three windows
                    by_app.setdefault(app, []).append((T0 + q * HOUR // 4, line))
                    model.add((app, T0 + q * HOUR // 4, line))
                store.append("t", [push({"app": app}, [e[0] for e in es], [e[1] for e in es]) for app, es in by_app.items()])
            elif kind == "flush":
                store.flush()
            elif kind == "compact":
                store.compact()
            else:
                abandon(store)
                store = Store(root, clock=clock)
                store.open()
        found = store.streams("t", [], T0, T0 + 4 * HOUR)
        app_of = {sid: ls.get("app") for sid, ls in found.items()}
        tables = list(store.read("t", list(found), T0, T0 + 4 * HOUR, direction="backward" if backward else "forward"))
        got = []
        window_starts = []
        for t in tables:
            d = t.to_pydict()
            keys = [(app_of[s], ts) for s, ts in zip(d["stream"], d["ts"])]
            assert keys == sorted(keys)  # streams in the order of their labels, each one's rows by ts
            window_starts.append(min(d["ts"]) // HOUR)
            assert max(d["ts"]) // HOUR == window_starts[-1]  # one window per table
            got.extend((app_of[s], ts, line) for s, ts, line in zip(d["stream"], d["ts"], d["line"]))
        assert window_starts == sorted(window_starts, reverse=backward)
        assert sorted(got) == sorted(model)
        assert store.label_values("t", "app", T0, T0 + 4 * HOUR) == sorted({m[0] for m in model})
        store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
