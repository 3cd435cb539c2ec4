"""Every LogQL expression of the "Container Logs" dashboard, filled in as Grafana fills it
(tests/deploy/grafana_templating.py), runs against a real `logyard serve` loaded with the conformance
corpus (compose project aixcl, 2026-01-01 00:00-02:00) and returns data. The variables' own queries
run first, as Grafana's dropdowns run them, and the selections are taken from what they offer."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from tests.deploy.grafana_templating import TimeRange, interpolate
from tests.support.paths import REPO

PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"
DASHBOARD = json.loads((PROVISIONING / "dashboards" / "logyard" / "container-logs.json").read_text())
DATASOURCE = yaml.safe_load((PROVISIONING / "datasources" / "logyard.yml").read_text())["datasources"][0]
VARIABLES = DASHBOARD["templating"]["list"]
# The corpus's two hours, seen by a panel 1000 pixels wide: interval 5s, step 5s, range 7200s.
RANGE = TimeRange(start_ms=1767225600000, end_ms=1767232800000, max_data_points=1000)
NS = 1_000_000

SELECTIONS = {
    "all": {"project": "$__all", "service": ["$__all"], "container": ["$__all"], "level": ["$__all"],
            "search": ""},
    # Two services, every container Grafana then offers, two levels and a search word.
    "picked": {"project": "aixcl", "service": ["ollama", "postgres"], "container": None,
               "level": ["error", "warn"], "search": "error"},
}
TARGETS = [(panel["title"], target) for panel in DASHBOARD["panels"] for target in panel.get("targets", [])]


@pytest.fixture(scope="module")
def client(corpus_server):
    with httpx.Client(base_url=corpus_server.url, timeout=120) as c:
        yield c


def variable_options(client: httpx.Client, variable: dict, selection: dict) -> list[str]:
    """A query variable's dropdown: Loki's label values, limited by its stream selector."""
    query = variable["query"]
    assert query["type"] == 1, "label values"
    params = {"start": str(RANGE.start_ms * NS), "end": str(RANGE.end_ms * NS)}
    if query.get("stream"):
        params["query"] = interpolate(query["stream"], VARIABLES, selection, RANGE, "range")
    r = client.get(f"/loki/api/v1/label/{query['label']}/values", params=params)
    assert r.status_code == 200, r.text
    return r.json().get("data", [])


def resolve(client: httpx.Client, name: str) -> dict:
    """The selection, with each query variable's choices checked against its dropdown, in order."""
    selection = dict(SELECTIONS[name])
    for variable in VARIABLES:
        if variable["type"] != "query":
            continue
        options = variable_options(client, variable, selection)
        assert options, f"variable {variable['name']} offers nothing"
        chosen = selection[variable["name"]]
        if chosen is None:
            selection[variable["name"]] = options
        else:
            picked = [chosen] if isinstance(chosen, str) else chosen
            assert "$__all" in picked or set(picked) <= set(options), (variable["name"], options)
    return selection


def run(client: httpx.Client, target: dict, selection: dict) -> list:
    query_type = target.get("queryType", "range")
    expr = interpolate(target["expr"], VARIABLES, selection, RANGE, query_type)
    if query_type == "instant":
        r = client.get("/loki/api/v1/query", params={"query": expr, "time": str(RANGE.end_ms * NS)})
    else:
        limit = target.get("maxLines") or int(DATASOURCE["jsonData"]["maxLines"])
        r = client.get("/loki/api/v1/query_range", params={
            "query": expr, "start": str(RANGE.start_ms * NS), "end": str(RANGE.end_ms * NS),
            "step": str(RANGE.step_ms / 1000), "limit": str(limit), "direction": "backward"})
    assert r.status_code == 200, f"{expr}: {r.text}"
    return r.json()["data"]["result"]


@pytest.mark.parametrize("selection_name", list(SELECTIONS))
@pytest.mark.parametrize(("title", "target"), TARGETS, ids=[t for t, _ in TARGETS])
def test_every_dashboard_query_returns_data_for_the_corpus(client, selection_name, title, target):
    result = run(client, target, resolve(client, selection_name))
    assert result, f"{title}: no data"
    if result[0].get("values") is not None and "stream" in result[0]:
        assert sum(len(s["values"]) for s in result) > 0


def test_the_picked_services_are_the_only_ones_in_the_volume_panel(client):
    target = next(t for title, t in TARGETS if title == "Log volume by service")
    series = run(client, target, resolve(client, "picked"))
    assert {s["metric"]["compose_service"] for s in series} <= {"ollama", "postgres"}
