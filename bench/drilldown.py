"""Logs Drilldown benchmark: what Grafana's Logs Drilldown app asks when a user opens a service.

Over the benchmark day (24 hours, `$__auto` of a 1000-pixel panel), for one JSON-logging and one
logfmt-logging service: the service selection's volume, the service's detected labels, fields and
patterns, its level breakdown, one breakdown per detected field (the first few, as the Fields tab
draws them: `sum by (f) (count_over_time(… | <parsers> | drop __error__, __error_details__ | f!=""
[…]))` for strings, `avg_over_time(… | unwrap f | __error__="" […]) by ()` for numbers), and the
Logs tab's lines. Requests carry Drilldown's `X-Query-Tags` and go over HTTP to a real `logyard serve`
holding the day (loaded like bench/query.py, or `--data-dir` from `bench/ingest.py --keep DIR`);
each runs once to warm up and `--runs` times measured; prints the median wall time and the answer's
size in bytes.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import day_args, day_server  # noqa: E402
from tests.deploy.grafana_templating import TimeRange, format_interval  # noqa: E402

DAY = TimeRange(start_ms=1767225600000, end_ms=1767312000000, max_data_points=1000)
HEADERS = {"X-Query-Tags": "Source=grafana-lokiexplore-app"}
SERVICES = ["aixcl-open-webui-1", "aixcl-grafana-1"]
FIELDS_SHOWN = 4  # breakdowns timed per service (the Fields tab draws one panel per field)
DROP = "| drop __error__, __error_details__"


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ms / 1000))


def requests(client: httpx.Client, service: str) -> list[tuple[str, str, dict]]:
    """(what, path, params) of a visit to one service, its Fields tab from its detected fields."""
    sel = f'{{service_name="{service}"}}'
    auto = format_interval(DAY.step_ms)
    rng = {"start": str(DAY.start_ms * 10**6), "end": str(DAY.end_ms * 10**6), "step": str(DAY.step_ms / 1000)}
    meta = {"start": iso(DAY.start_ms), "end": iso(DAY.end_ms)}
    out = [
        ("volume of every service", "/loki/api/v1/index/volume", {"query": '{service_name=~".+"}', "limit": 5000, **meta}),
        ("service volume by level", "/loki/api/v1/query_range",
         {"query": f"sum by (detected_level) (count_over_time({sel} [{auto}]))", **rng}),
        ("detected labels", "/loki/api/v1/detected_labels", {"query": sel, **meta}),
        ("detected fields", "/loki/api/v1/detected_fields", {"query": sel, "limit": 1000, **meta}),
        ("patterns", "/loki/api/v1/patterns", {"query": sel, "step": auto, **meta}),
        ("logs", "/loki/api/v1/query_range",
         {"query": f"{sel} | json | logfmt {DROP}", "limit": 100, "direction": "backward", **rng}),
    ]
    r = client.get("/loki/api/v1/detected_fields", params={"query": sel, "limit": 1000, **meta}, headers=HEADERS)
    r.raise_for_status()
    for field in (r.json().get("fields") or [])[:FIELDS_SHOWN]:
        name, parsers = field["label"], field.get("parsers") or []
        parse = " ".join(f"| {p}" for p in parsers if p in ("json", "logfmt"))
        if field.get("type") in ("int", "float", "duration", "bytes"):
            conv = {"duration": f"duration({name})", "bytes": f"bytes({name})"}.get(field["type"], name)
            query = f'avg_over_time({sel} {parse} {DROP} | unwrap {conv} | __error__="" [{auto}]) by ()'
        else:
            query = f'sum by ({name}) (count_over_time({sel} {parse} {DROP} | {name}!="" [{auto}]))'
        out.append((f"field {name}", "/loki/api/v1/query_range", {"query": query, **rng}))
    return out


def main() -> None:
    args = day_args(__doc__, runs=3)
    with day_server(args.data_dir, "logyard-ddbench-") as srv, httpx.Client(base_url=srv.url, timeout=600) as client:
        print(f"{'service':<22}{'request':<28}{'ms':>9}{'bytes':>9}  query")
        for service in SERVICES:
            for what, path, params in requests(client, service):
                timed = []
                for k in range(args.runs + 1):  # the first is the warm-up
                    r = client.get(path, params=params, headers=HEADERS)
                    if r.status_code != 200:
                        raise SystemExit(f"{what}: HTTP {r.status_code}: {r.text[:300]}")
                    if k:
                        timed.append(r.elapsed.total_seconds() * 1000)
                print(f"{service:<22}{what[:27]:<28}{statistics.median(timed):>9.1f}{len(r.content):>9}  "
                      f"{params.get('query', '')}", flush=True)


if __name__ == "__main__":
    main()
