"""`logyard export` against a real server with two tenants: DuckDB reads the files and counts the same
lines as `count_over_time` over the range; every line, its labels and structured metadata come back
exactly as the query API answers them; deleted lines and lines outside the range are not exported.
The pure parts (stream selectors, file windows) are pinned first."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import duckdb
import httpx
import orjson
import pytest

from logyard.client.export import file_name, file_windows, stream_selectors
from logyard.labels import LabelSet
from logyard.logql.syntax.parser import parse_matchers
from tests.client.conftest import cli, run_with_terminal_stderr
from tests.support.server import ServerProcess

S = 10**9
H = 3600 * S
DAY = 24 * H
T0 = 1_767_312_000 * S  # 2026-01-02T00:00:00Z
FROM, TO = "2026-01-02T00:00:00Z", "2026-01-04T00:00:00Z"  # two days: two files per tenant
START, END = T0, T0 + 2 * DAY
TENANTS = ("team-a", "team-b")
AUTH = """\
auth_enabled: true
limits:
  retention_period: 0s
  reject_old_samples: false
"""
UNICODE = ["héllo wörld ✓", "日本語のログ 🚀", "tab\there", "two\nlines", 'quote " and \\ backslash',
           "trailing space ", "", "\u200bzero-width and \u00a0nbsp"]


# ---- pure parts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("streams", [
    [{"app": "a"}, {"job": "j"}, {"app": "a", "job": "j"}, {"zone": "z", "app": "b"}, {"zone": "z"}],
    [{"only": "one"}],
])
def test_stream_selectors_match_every_stream_exactly_once(streams):
    selectors = [parse_matchers(s) for s in stream_selectors({n for s in streams for n in s})]
    for labels in streams:
        hits = [sel for sel in selectors if all(m.matches(labels.get(m.name, "")) for m in sel)]
        assert len(hits) == 1, (labels, hits)


def test_file_windows_sit_on_utc_days_and_are_cut_at_the_range():
    assert file_windows(T0 + 5 * H, T0 + DAY + H, DAY) == [(T0 + 5 * H, T0 + DAY, T0), (T0 + DAY, T0 + DAY + H, T0 + DAY)]
    assert file_windows(T0, T0 + DAY, DAY) == [(T0, T0 + DAY, T0)]
    assert file_name(T0, DAY) == "2026-01-02.parquet"
    assert file_name(T0 + 13 * H, H) == "2026-01-02T13-00-00Z.parquet"


# ---- against a server ---------------------------------------------------------------------------------
def _push(url: str, tenant: str, stream: dict, values: list[list]) -> None:
    body = orjson.dumps({"streams": [{"stream": stream, "values": values}]})
    r = httpx.post(url + "/loki/api/v1/push", content=body, timeout=120,
                   headers={"Content-Type": "application/json", "X-Scope-OrgID": tenant})
    assert r.status_code == 204, r.text


def corpus() -> dict[str, list[tuple[dict, list[list]]]]:
    """tenant -> streams of values `[ts, line, metadata]`. team-a's `api` stream holds 6,000 lines on the
    first day, 20 of them at one timestamp around the 5,000th (a request boundary of the export), two
    of those alike but for their metadata; `db` holds the lines a delete request removes."""
    api = []
    for i in range(6000):
        ts = T0 + H + (4990 if 4990 <= i < 5010 else i) * 10**6
        meta = {"trace_id": f"t{i % 7}"} if i % 3 else {}
        api.append([str(ts), f"GET /item/{i} {UNICODE[i % len(UNICODE)]}", meta])
    api += [[str(T0 + H + 4990 * 10**6), "same line", {"trace_id": "x"}],
            [str(T0 + H + 4990 * 10**6), "same line", {"trace_id": "y"}]]
    db = [[str(T0 + DAY + 2 * H + i * S), ("secret " if i % 4 == 0 else "ok ") + str(i), {"user": f"u{i % 3}"}]
          for i in range(40)]
    cron = [[str(T0 + k * 3 * H + 17 * S), f"level=warn run {k} ✓", {}] for k in range(16)]
    outside = [[str(T0 - S), "before the range", {}], [str(END + S), "after the range", {}]]
    return {
        "team-a": [({"app": "api", "env": "prod", "src": "export"}, api),
                   ({"app": "db", "src": "export"}, db),
                   ({"job": "cron", "src": "export"}, cron + outside)],
        "team-b": [({"app": "api", "src": "export"}, [[str(T0 + h * H + 5 * S), f"b {h} {UNICODE[h % 8]}", {"k": "v"}]
                                                      for h in range(48)]),
                   ({"service": "x", "src": "export"}, [[str(T0 + DAY + 30 * S), "ñandú", {}]])],
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("export") / "data", config_text=AUTH) as srv:
        for tenant, streams in corpus().items():
            for labels, values in streams:
                _push(srv.url, tenant, labels, values)
        r = httpx.post(srv.url + "/loki/api/v1/delete", headers={"X-Scope-OrgID": "team-a"},
                       params={"query": '{app="db"} |= "secret"', "start": str(START // S), "end": str(END // S)})
        assert r.status_code == 204, r.text
        yield srv


def export(server, dest: Path, *args: str) -> str:
    r = cli("export", str(dest), "--addr", server.url, "--org-id", "|".join(TENANTS),
            "--from", FROM, "--to", TO, *args)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def counted(server, tenant: str) -> int:
    """sum(count_over_time) of every stream over (START, END]: no pushed line sits on either edge."""
    r = httpx.get(server.url + "/loki/api/v1/query", headers={"X-Scope-OrgID": tenant}, params={
        "query": f'sum(count_over_time({{src="export"}}[{(END - START) // S}s]))', "time": str(END)})
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    return int(result[0]["value"][1]) if result else 0


def answered(server, tenant: str) -> Counter:
    """Every entry query_range answers, with its structured metadata apart from the stream labels
    (Grafana's categorize-labels encoding): asked an hour at a time, a window that fills the limit
    asked again as two halves, so no request needs the export's batching."""
    rows = Counter()

    def ask(lo: int, hi: int) -> None:
        r = httpx.get(server.url + "/loki/api/v1/query_range", params={
            "query": '{src="export"}', "start": str(lo), "end": str(hi), "limit": "5000", "direction": "forward"},
            headers={"X-Scope-OrgID": tenant, "X-Loki-Response-Encoding-Flags": "categorize-labels"})
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        if sum(len(s["values"]) for s in result) == 5000:
            mid = (lo + hi) // 2
            ask(lo, mid)
            ask(mid, hi)
            return
        for s in result:
            labels = LabelSet.from_dict(s["stream"])
            for v in s["values"]:
                meta = tuple(sorted(((v[2] if len(v) > 2 else {}).get("structuredMetadata") or {}).items()))
                rows[(tenant, int(v[0]), labels, meta, v[1])] += 1

    for lo in range(START, END, H):
        ask(lo, lo + H)
    return rows


def exported(dest: Path) -> Counter:
    con = duckdb.connect()
    found = con.execute(
        "SELECT tenant, epoch_ns(timestamp), map_entries(labels), map_entries(structured_metadata), line, stream "
        f"FROM read_parquet('{dest}/*/*.parquet')").fetchall()
    rows = Counter()
    for tenant, ts, labels, meta, line, stream in found:
        ls = LabelSet((e["key"], e["value"]) for e in labels)
        assert stream == str(ls)
        rows[(tenant, ts, ls, tuple(sorted((e["key"], e["value"]) for e in meta)), line)] += 1
    return rows


@pytest.fixture(scope="module")
def dest(server, tmp_path_factory):
    d = tmp_path_factory.mktemp("export-out") / "logs"
    summary = export(server, d)
    assert summary.startswith("exported "), summary
    return d


@pytest.mark.slow
def test_duckdb_counts_the_same_lines_as_count_over_time(server, dest):
    con = duckdb.connect()
    per_tenant = dict(con.execute(f"SELECT tenant, count(*) FROM read_parquet('{dest}/*/*.parquet') GROUP BY tenant").fetchall())
    expected = {t: counted(server, t) for t in TENANTS}
    assert per_tenant == expected
    assert expected["team-a"] == 6002 + 30 + 16  # 10 of db's 40 lines deleted; cron's two outside left out


@pytest.mark.slow
def test_lines_labels_and_metadata_round_trip_exactly(server, dest):
    got = exported(dest)
    want = answered(server, "team-a") + answered(server, "team-b")
    assert got == want
    lines = {line for *_, line in got}
    assert {f"GET /item/{k} {text}" for k, text in enumerate(UNICODE)} <= lines  # as pushed, not just as answered
    pair = [meta for (_, _, _, meta, line), n in got.items() if line == "same line"]
    assert sorted(dict(m)["trace_id"] for m in pair) == ["x", "y"]


@pytest.mark.slow
def test_deleted_lines_and_lines_outside_the_range_are_not_exported(dest):
    lines = {line for *_, line in exported(dest)}
    assert not any(line.startswith("secret ") for line in lines)
    assert sum(line.startswith("ok ") for line in lines) == 30
    assert "before the range" not in lines and "after the range" not in lines


@pytest.mark.slow
def test_one_file_per_tenant_and_day_and_no_partial_file_left(dest):
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == ["team-a/2026-01-02.parquet", "team-a/2026-01-03.parquet",
                     "team-b/2026-01-02.parquet", "team-b/2026-01-03.parquet"]


@pytest.mark.slow
def test_query_restricts_the_export_and_existing_files_are_not_overwritten(server, tmp_path):
    export(server, tmp_path, "--query", '{app="api"} |= "✓"', "--file-window", "1h")
    rows = exported(tmp_path)
    assert rows and {dict(labels)["app"] for _, _, labels, _, _ in rows} == {"api"}
    assert all("✓" in line for *_, line in rows)
    assert sum(rows.values()) == 6000 // 8 + 48 // 8  # the api lines with ✓: one in eight of each tenant's
    again = cli("export", str(tmp_path), "--addr", server.url, "--org-id", "team-b", "--from", FROM, "--to", TO,
                "--query", '{app="api"} |= "✓"', "--file-window", "1h")
    assert again.exit_code == 1 and "exists" in again.stderr and "--overwrite" in again.stderr
    assert cli("export", str(tmp_path), "--addr", server.url, "--org-id", "team-b", "--from", FROM, "--to", TO,
               "--query", '{app="api"} |= "✓"', "--file-window", "1h", "--overwrite").exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("quiet", [False, True])
def test_a_terminal_shows_a_bar_and_the_summary_says_what_was_written(server, tmp_path, quiet):
    out, shown = run_with_terminal_stderr("export", str(tmp_path), "--addr", server.url, "--org-id", "team-b",
                                          "--from", FROM, "--to", TO, *(["-q"] if quiet else []))
    if quiet:
        assert out == "" and shown == ""
    else:
        assert "exporting" in shown and "100%" in shown
        assert out.startswith("exported 49 lines (") and " into 2 files (" in out, out


RETENTION = """\
limits:
  retention_period: 3h
  reject_old_samples: false
compactor:
  compaction_interval: 1s
  retention_delete_delay: 0s
"""


@pytest.mark.slow
def test_lines_retention_removed_are_not_exported(tmp_path):
    now = time.time_ns()
    with ServerProcess(tmp_path / "data", config_text=RETENTION) as srv:
        body = {"streams": [{"stream": {"app": "kept"}, "values": [[str(now - 4 * H), "4h old"], [str(now - H), "1h old"]]}]}
        r = httpx.post(srv.url + "/loki/api/v1/push", content=orjson.dumps(body), headers={"Content-Type": "application/json"})
        assert r.status_code == 204, r.text
        assert httpx.post(srv.url + "/flush").status_code == 204
        deadline = time.monotonic() + 60  # a bound on the wait for the retention pass, not a timing
        while time.monotonic() < deadline and "logyard_retention_deleted_lines_total{user=\"fake\"} 1.0" not in \
                httpx.get(srv.url + "/metrics").text:
            time.sleep(0.2)
        r = cli("export", str(tmp_path / "out"), "--addr", srv.url, "--since", "6h", "-q")
        assert r.exit_code == 0, r.stderr
    rows = exported(tmp_path / "out")
    assert [(tenant, line) for tenant, _, _, _, line in rows] == [("fake", "1h old")]


def test_export_is_listed_in_logyard_help():
    r = cli("--help")
    assert r.exit_code == 0 and "export" in r.stdout
    r = cli("export", "--help")
    assert r.exit_code == 0
    for word in ("structured_metadata", "timestamp", "--query", "--file-window", "s3://"):
        assert word in r.stdout
