"""A `--limit` above `--batch` and above Loki's 5000 per request: the walk through the range returns
every entry once, in order, in both directions, also where many entries share a timestamp (groups
of seven across streams with the same text, and 1,500 at one timestamp, more than a batch)."""

from __future__ import annotations

import orjson
import pytest

from logyard.client import batching
from logyard.gocompat.timelayout import parse_rfc3339
from tests.client.conftest import BASE_NS, FROM, TO, cli, push

pytestmark = pytest.mark.slow
MS = 1_000_000
GROUPS = 1500  # x 7 entries, one timestamp a group
TIE = 1500     # entries at one timestamp, after the groups
TOTAL = GROUPS * 7 + TIE  # 12,000


def corpus() -> dict[str, list[tuple[int, str]]]:
    """stream -> (ts, line), ts ascending. A group's lines repeat across streams (`k` is shared by
    three entries in three streams), so only (stream, ts, line) tells entries apart."""
    streams: dict[str, list[tuple[int, str]]] = {f"s{i}": [] for i in range(3)}
    for n in range(GROUPS * 7):
        g = n // 7
        streams[f"s{n % 3}"].append((BASE_NS + g * MS, f"g={g} k={n % 7 // 3}"))
    for i in range(TIE):
        streams[f"s{i % 3}"].append((BASE_NS + 2000 * MS, f"tie {i}"))
    return streams


@pytest.fixture(scope="module")
def expected(server):
    data = corpus()
    push(server.url, [({"app": "batch", "stream_id": s}, values) for s, values in data.items()])
    found = {(s, ts, line) for s, values in data.items() for ts, line in values}
    assert len(found) == TOTAL
    return found


def fetch(server, *args: str) -> list[tuple[str, int, str]]:
    r = cli("query", '{app="batch"}', "--addr", server.url, "--from", FROM, "--to", TO, "-o", "jsonl", "-q", *args)
    assert r.exit_code == 0, r.stderr
    rows = [orjson.loads(line) for line in r.stdout.splitlines()]
    return [(row["labels"]["stream_id"], parse_rfc3339(row["timestamp"]), row["line"]) for row in rows]


@pytest.mark.parametrize("direction", ["backward", "forward"])
@pytest.mark.parametrize("batch", ["1000", "5000", "7000"])
def test_limit_12000_returns_every_entry_once_in_order(server, expected, direction, batch):
    args = ["--limit", "12000", "--batch", batch] + (["--forward"] if direction == "forward" else [])
    got = fetch(server, *args)
    assert len(got) == TOTAL, f"{len(got)} entries, {len(set(got))} distinct"
    assert set(got) == expected
    times = [ts for _, ts, _ in got]
    assert times == sorted(times, reverse=direction == "backward")


def test_limit_zero_fetches_everything(server, expected):
    got = fetch(server, "--limit", "0", "--batch", "900")
    assert len(got) == TOTAL and set(got) == expected


@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_a_limit_inside_the_range_returns_exactly_the_first_entries(server, expected, direction):
    forward = direction == "forward"
    got = fetch(server, "--limit", "7777", *(["--forward"] if forward else []))
    assert len(got) == len(set(got)) == 7777
    ordered = sorted(expected, key=lambda e: e[1], reverse=not forward)
    boundary = ordered[7776][1]
    # every entry strictly before the last timestamp printed is there; at it, only as many as fit
    assert {e for e in ordered if (e[1] < boundary if forward else e[1] > boundary)} <= set(got)
    assert set(got) <= expected


def test_entries_alike_but_for_their_metadata_are_all_walked_past_a_boundary():
    """A categorized answer's entries differ by their structured metadata too: three entries of one
    stream, timestamp and line, told apart only by it, straddle two-entry batches and all arrive.
    The answers are computed here from the entries as Loki would compute them (pure: no server)."""
    labels = {"app": "meta"}
    entries = [(1, "x", {"t": str(k)}) for k in range(3)] + [(2, "y", {}), (3, "z", {"t": "9"})]

    def ask(lo: int, hi: int, n: int) -> dict:
        hits = [e for e in entries if lo <= e[0] < hi][:n]
        values = [[str(ts), line, {"structuredMetadata": meta} if meta else {}] for ts, line, meta in hits]
        return {"resultType": "streams", "result": [{"stream": labels, "values": values}] if values else []}

    got = [e for b in batching.walk(ask, 0, 10, 0, 2, forward=True) for e in b.entries]
    assert [(e.ts, e.line, dict(e.meta)) for e in got] == entries
