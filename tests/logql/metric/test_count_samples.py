"""Counting rows without reading them never changes an answer: count_over_time, rate,
bytes_over_time and bytes_rate over a bare selector, under sums and groupings, give the same
result from the count path (blocks' per-minute counts, or timestamps) as from the general path
(LOGYARD_COUNT_SAMPLES=0), on random data in compacted blocks, flushed blocks and the head, with
delete requests pending, over grids whose step does or does not divide the range, with offsets, and
windows longer or shorter than the step. And the count path is taken where it applies."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.errors import LimitError, LogyardError
from logyard.logql.delete_query import compile_delete_query
from logyard.logql.engine import Engine, Limits
from logyard.logql.metric import count_samples
from logyard.logql.syntax.parser import parse
from logyard.storage.reads import Reads
from tests.storage.conftest import HOUR, T0, load_three_hours

MS = 10**6
SEC = 10**9
MIN = 60 * SEC

QUERIES = [
    'count_over_time({env="prod"}[5m])',
    'sum by (app) (count_over_time({env=~".+"}[10m]))',
    'sum(rate({app=~"a[0-5]"}[1m]))',
    'bytes_over_time({env="dev"}[7m])',
    'sum by (env) (bytes_rate({env=~".+"}[2m] offset 3m))',
    'sum by (trace_id) (count_over_time({env=~".+"}[3m]))',      # metadata grouped: the general path
    'sum by (app_extracted) (count_over_time({env=~".+"}[3m]))',
    'sum without (env) (count_over_time({env=~".+"}[90s]))',      # metadata present: the general path
    'count_over_time({app="a0"}[3m])',                            # a stream with no metadata
    'sum by (app) (count_over_time({env=~".+"}[1m] offset 30s))',
    'topk(2, sum by (app) (bytes_over_time({env=~".+"}[1h])))',
    'sum(count_over_time({env="prod"}[20s])) / sum(count_over_time({env="prod"}[20s] offset 1m))',
    # Grafana's log-volume query: grouped by metadata, its error drop no row needs
    'sum by (level, trace_id) (count_over_time({env=~".+"} | drop __error__ [1m]))',
    'sum by (env) (count_over_time({env=~".+"} | drop __error__, __error_details__ [5m]))',
    'sum by (__error__) (count_over_time({app="a7"} | drop __error__ [5m]))',   # drop kept: general path
    'count_over_time({app="a0"} | drop __error__ [5m])',
    'count_over_time({app="a7"} | drop __error__ [5m])',
    # The dashboard's panels with an empty search and "All" levels
    'sum by (app) (count_over_time({env=~".+"} |~ "(?i)" | level=~".*" [5m]))',
    'sum by (level) (bytes_over_time({env=~".+"} |~ "(?i)" | level=~".*" [5m]))',
]
# (start, end, step): minutes on whole minutes; a step that does not divide the range; steps
# shorter and longer than the windows; times off the minute.
GRIDS = [
    (T0, T0 + 3 * HOUR, 5 * MIN),
    (T0, T0 + 3 * HOUR, MIN),
    (T0 + 17 * SEC, T0 + 3 * HOUR + 3 * SEC, 7 * MIN),
    (T0 - 10 * MIN, T0 + 2 * HOUR + 40 * MIN, 13 * MIN),
    (T0 + 123 * MS, T0 + HOUR + 123 * MS, 45 * SEC),
]


def metadata(k: int, n: int) -> list[str]:
    """`trace_id` on some streams, `app` (then `app_extracted`) on one, an error label on another."""
    if k % 4 == 1:
        return [f'{{"trace_id":"{i % 3}"}}' for i in range(n)]
    if k == 6:
        return ['{"app":"shadow"}'] * n
    if k == 7:  # an error label in metadata: the drop removes it
        return ['{"__error__":"JSONParserErr"}' if i % 2 else '{"level":"warn"}' for i in range(n)]
    return [""] * n


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from logyard.storage.store import Store

    tick = iter(range(10**6))
    s = Store(tmp_path_factory.mktemp("counts") / "data", compile_delete=compile_delete_query,
              delete_cancel_period_s=3600.0, clock=lambda: T0 / 1e9 + 2 * 86400 + next(tick))
    s.open()
    load_three_hours(s, np.random.default_rng(7), metadata, streams=10, pushes=5, per_push=300, edge_share=8)
    s.deletes.add("t", '{app="a2"}', (T0 + HOUR) // MS, (T0 + HOUR + 10 * MIN) // MS)
    s.deletes.add("t", '{app="a4"} |= "xxxxxxxxxx"', (T0 + 2 * HOUR) // MS, (T0 + 3 * HOUR) // MS)
    yield s
    s.close()


def answer(engine, query, grid, monkeypatch, count_path: bool, counts_ahead: bool = True):
    monkeypatch.setenv(count_samples.ENV, "1" if count_path else "0")
    monkeypatch.setattr(engine.store._reads, "counts_ahead", counts_ahead)
    start, end, step = grid
    try:
        if step is None:
            return engine.query_instant("t", query, start, 100, "backward")
        return engine.query_range("t", query, start, end, step, None, 100, "backward")
    except LogyardError as e:  # a pipeline error (metadata `__error__`) must be the same error
        return {"result": [], "error": str(e)}


@pytest.mark.parametrize("grid", GRIDS + [(T0 + 2 * HOUR, None, None), (T0 + 2 * HOUR + 7 * MS, None, None)],
                         ids=lambda g: f"{(g[0] - T0) // MS}ms-{g[2] and g[2] // MS}")
@pytest.mark.parametrize("query", QUERIES)
def test_count_path_answers_as_the_general_path(store, query, grid, monkeypatch):
    engine = Engine(store, Limits(max_series=1000))
    want = answer(engine, query, grid, monkeypatch, count_path=False)
    assert want["result"] or want.get("error") or "__error__" in query
    assert answer(engine, query, grid, monkeypatch, count_path=True) == want
    assert answer(engine, query, grid, monkeypatch, count_path=True, counts_ahead=False) == want


def test_the_count_path_counts_ahead_where_it_applies(store, monkeypatch):
    """A whole-minute grid reads compacted windows from their counts; metadata in the grouping,
    a line filter or a parser takes the general path."""
    used = []
    real = Reads._window_cells

    def spy(self, *a, **kw):
        got = real(self, *a, **kw)
        used.append(got is not None)
        return got

    monkeypatch.setattr(Reads, "_window_cells", spy)
    engine = Engine(store)
    engine.query_range("t", 'sum by (env) (count_over_time({env=~".+"}[5m]))', T0, T0 + 3 * HOUR, 5 * MIN,
                       None, 100, "backward")
    assert any(used)
    used.clear()
    engine.query_range("t", 'sum by (app) (count_over_time({env=~".+"}[5m]))', T0, T0 + 3 * HOUR, 5 * MIN,
                       None, 100, "backward")
    assert not used  # a row of stream a6 carries metadata `app`: rows are read

    def taken(query):
        expr = parse(query)
        grid = np.array([T0 + 2 * HOUR], dtype=np.int64)
        return count_samples.extract(store, "t", grid, expr, None) is not None

    assert taken('count_over_time({app="a0"}[1h])')
    assert not taken('count_over_time({app="a1"}[1h])')  # its rows carry trace_id
    assert not taken('count_over_time({app="a0"} |= "x" [1h])')
    assert not taken('count_over_time({app="a0"} | logfmt [1h])')
    assert not taken('sum_over_time({app="a0"} | unwrap x [1h])')
    assert taken('count_over_time({app="a0"} | drop __error__ [1h])')
    # Grafana's empty search and "All" keep every entry: no reason to leave the count path.
    assert taken('count_over_time({app="a0"} |~ "(?i)" | level=~".*" [1h])')
    assert not taken('count_over_time({app="a0"} |~ "(?i)x" [1h])')
    assert not taken('count_over_time({app="a0"} | drop __error__="x" [1h])')
    assert not taken('count_over_time({app="a0"} | drop level [1h])')


def test_the_series_limit_holds_on_the_count_path(store, monkeypatch):
    monkeypatch.setenv(count_samples.ENV, "1")
    engine = Engine(store, Limits(max_series=2))
    with pytest.raises(LimitError):
        engine.query_range("t", 'count_over_time({app=~"a[02]|a3|a5"}[5m])', T0, T0 + HOUR, 5 * MIN, None, 100,
                           "backward")
