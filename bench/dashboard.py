"""Dashboard benchmark: the provisioned "Container Logs" dashboard's panels over the benchmark day.

What a user waits for when they open the dashboard on the last 24 hours of a busy compose project:
every panel's query, filled in as Grafana fills it (tests/deploy/grafana_templating.py: the
variables, `$__auto` from a 1000-pixel-wide panel) for two selections -- everything ("All"
everywhere, no search) and a narrowed one (the project's two busiest services, levels error and
warn, the search word "error") -- sent over HTTP to a real `logyard serve` holding the day. Loads the
workload like bench/query.py (or reuses `--data-dir` from `bench/ingest.py --keep DIR`); each query
runs once to warm up and `--runs` times measured; prints the median, the server's own time and the
series or lines returned.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import day_args, day_server, timed_answer  # noqa: E402
from tests.deploy.grafana_templating import TimeRange, interpolate  # noqa: E402

PROVISIONING = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "provisioning"
DASHBOARD = json.loads((PROVISIONING / "dashboards" / "logyard" / "container-logs.json").read_text())
MAX_LINES = int(yaml.safe_load((PROVISIONING / "datasources" / "logyard.yml").read_text())
                ["datasources"][0]["jsonData"]["maxLines"])
DAY = TimeRange(start_ms=1767225600000, end_ms=1767312000000, max_data_points=1000)
NS = 1_000_000
SELECTIONS = {
    "all": {"project": "$__all", "service": ["$__all"], "container": ["$__all"], "level": ["$__all"], "search": ""},
    "narrowed": {"project": "aixcl", "service": ["ollama", "open-webui"], "container": ["$__all"],
                 "level": ["error", "warn"], "search": "error"},
}


def run(client: httpx.Client, target: dict, selection: dict) -> tuple[float, float, int]:
    """Wall ms, server ms and the size of the answer (series, or lines) of one panel query."""
    kind = target.get("queryType", "range")
    expr = interpolate(target["expr"], DASHBOARD["templating"]["list"], selection, DAY, kind)
    if kind == "instant":
        params = {"query": expr, "time": str(DAY.end_ms * NS)}
        path = "/loki/api/v1/query"
    else:
        params = {"query": expr, "start": str(DAY.start_ms * NS), "end": str(DAY.end_ms * NS),
                  "step": str(DAY.step_ms / 1000), "limit": str(target.get("maxLines") or MAX_LINES),
                  "direction": "backward"}
        path = "/loki/api/v1/query_range"
    return timed_answer(client.get(path, params=params), expr)


def main() -> None:
    args = day_args(__doc__, runs=5)
    with day_server(args.data_dir, "logyard-dbench-") as srv, httpx.Client(base_url=srv.url, timeout=600) as client:
        print(f"{'panel':<34}{'selection':<10}{'ms':>9}{'server ms':>11}{'answer':>9}")
        for panel in DASHBOARD["panels"]:
            for target in panel.get("targets", []):
                for name, selection in SELECTIONS.items():
                    run(client, target, selection)
                    timed = [run(client, target, selection) for _ in range(args.runs)]
                    print(f"{panel['title'][:33]:<34}{name:<10}{statistics.median(t[0] for t in timed):>9.1f}"
                          f"{statistics.median(t[1] for t in timed):>11.1f}{timed[-1][2]:>9}", flush=True)


if __name__ == "__main__":
    main()
