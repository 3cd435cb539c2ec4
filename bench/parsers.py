"""Parser benchmark: queries that parse every line of a day, as users write them for their apps.

`bench/query.py` times the eight queries of ../shared/bench; none of them parses logfmt or JSON
over a whole day, which is what "log volume by level" of an app without a detected level, or an
error count of a JSON-logging service, does. These run over HTTP against a real `logyard serve`
holding the benchmark day (loaded like bench/query.py, or `--data-dir` from `bench/ingest.py
--keep DIR`), 24 hours in 5-minute steps; each query runs once to warm up and `--runs` times
measured, and the median wall and server time (`stats.summary.execTime`) and the answer's size
(series, or lines) are printed.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import day_args, day_server, timed_answer  # noqa: E402

START_NS = 1767225600 * 10**9
END_NS = START_NS + 86400 * 10**9
SEL = '{compose_project="aixcl"}'
QUERIES = [
    ("logfmt, by level", f"sum by (level) (count_over_time({SEL} | logfmt [5m]))"),
    ("logfmt, filter, by service", f'sum by (compose_service) (count_over_time({SEL} | logfmt | level=~"error|warn" [5m]))'),
    ("logfmt, top error messages", f'topk(5, sum by (msg) (count_over_time({SEL} | logfmt | level="error" [5m])))'),
    ("logfmt, error lines", f'{SEL} | logfmt | level="error"'),
    ("json, errors by service", f'sum by (compose_service) (count_over_time({SEL} | json | __error__="" | level="error" [5m]))'),
    ("json, 5xx by service", f'sum by (compose_service) (count_over_time({SEL} | json | __error__="" | status >= 500 [5m]))'),
    ("json, p95 latency by model", f'quantile_over_time(0.95, {SEL} | json | unwrap latency_ms | __error__="" [5m]) by (model)'),
    # Logs Drilldown's label and field breakdowns (logs-drilldown src/services/expressions.ts)
    ("drilldown logfmt, by level", f"sum(count_over_time({SEL} | logfmt | drop __error__, __error_details__ [5m])) by (level)"),
    ("drilldown json+logfmt, level", f"sum by (level) (count_over_time({SEL} | json | logfmt "
                                     f'| drop __error__, __error_details__ | level!="" [5m]))'),
    ("pattern, nginx by status", 'sum by (status) (count_over_time({compose_service="nginx"} | pattern '
                                 '"<ip> - <user> [<_>] \\"<method> <path> <_>\\" <status> <size> <_>" [5m]))'),
    # Log queries whose label filter keeps few lines: every line is parsed to find them
    ("logfmt, rare levels", f'{SEL} | logfmt | level=~"fatal|critical"'),
    ("drilldown json+logfmt, fatal", f'{SEL} | json | logfmt | drop __error__, __error_details__ | level="fatal"'),
]


def run(client: httpx.Client, query: str) -> tuple[float, float, int] | None:
    """Wall ms, server ms and the size of the answer (series, or lines) of one query; None when
    it ran past the server's query timeout (504)."""
    r = client.get("/loki/api/v1/query_range", params={"query": query, "start": str(START_NS), "end": str(END_NS),
                                                        "step": "300", "limit": "100", "direction": "backward"})
    return None if r.status_code == 504 else timed_answer(r, query)


def main() -> None:
    args = day_args(__doc__, runs=3)
    with day_server(args.data_dir, "logyard-pbench-") as srv, httpx.Client(base_url=srv.url, timeout=1800) as client:
        print(f"{'query':<30}{'ms':>10}{'server ms':>11}{'answer':>8}  LogQL")
        for name, query in QUERIES:
            timed = []
            if run(client, query) is not None:  # the warm-up
                timed = [t for t in (run(client, query) for _ in range(args.runs)) if t is not None]
            if not timed:
                print(f"{name:<30}{'timed out (the server query timeout, 504)':>29}  {query}", flush=True)
                continue
            print(f"{name:<30}{statistics.median(t[0] for t in timed):>10.1f}"
                  f"{statistics.median(t[1] for t in timed):>11.1f}{timed[-1][2]:>8}  {query}", flush=True)


if __name__ == "__main__":
    main()
