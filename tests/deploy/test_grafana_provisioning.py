"""The Grafana files under deploy/grafana/provisioning have the shape Grafana's provisioning loads:
the data source file (apiVersion, datasources[] with Loki's jsonData keys), the dashboard provider
(providers[] of type file, options.path where the compose files mount the dashboard) and the
"Container Logs" dashboard JSON (panels with gridPos and Loki targets on the provisioned uid, templating)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from logyard.ingest.level import LEVELS
from tests.support.paths import REPO

PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"
MOUNTED_AT = "/etc/grafana/provisioning"  # where both compose files mount PROVISIONING's contents
DATASOURCES = yaml.safe_load((PROVISIONING / "datasources" / "logyard.yml").read_text())
PROVIDERS = yaml.safe_load((PROVISIONING / "dashboards" / "logyard.yml").read_text())
DASHBOARD_PATH = PROVISIONING / "dashboards" / "logyard" / "container-logs.json"
DASHBOARD = json.loads(DASHBOARD_PATH.read_text())

# Grafana's provisioning docs (administration/provisioning): the keys of a data source entry and of a
# dashboard provider; Loki's jsonData (LokiOptions + the HTTP settings' `timeout`) and derived fields
# (DerivedFieldConfig in public/app/plugins/datasource/loki/types.ts).
DATASOURCE_KEYS = {"name", "type", "access", "orgId", "uid", "url", "user", "database", "basicAuth",
                   "basicAuthUser", "withCredentials", "isDefault", "jsonData", "secureJsonData", "version",
                   "editable"}
LOKI_JSON_DATA_KEYS = {"maxLines", "derivedFields", "timeout", "alertmanager", "keepCookies",
                       "predefinedOperations", "httpHeaderName1", "tlsAuth", "tlsAuthWithCACert",
                       "tlsSkipVerify", "manageAlerts"}
DERIVED_FIELD_KEYS = {"matcherRegex", "name", "url", "urlDisplayLabel", "datasourceUid", "matcherType", "targetBlank"}
PROVIDER_KEYS = {"name", "orgId", "folder", "folderUid", "type", "disableDeletion", "updateIntervalSeconds",
                 "allowUiUpdates", "options"}
PROVIDER_OPTION_KEYS = {"path", "foldersFromFilesStructure"}
PANEL_TYPES = {"timeseries", "logs", "bargauge", "stat", "barchart", "table"}
VARIABLE_TYPES = {"query", "custom", "textbox", "constant", "interval", "datasource", "adhoc"}
GRID_WIDTH = 24

LOKI = DATASOURCES["datasources"][0]
DERIVED = LOKI["jsonData"]["derivedFields"]


def test_the_datasource_file_is_a_provisioning_file_for_one_loki_datasource():
    assert DATASOURCES["apiVersion"] == 1
    assert len(DATASOURCES["datasources"]) == 1
    assert set(LOKI) <= DATASOURCE_KEYS
    assert (LOKI["type"], LOKI["uid"], LOKI["access"]) == ("loki", "logyard", "proxy")
    assert LOKI["url"] == "http://logyard:3100"  # the compose service


def test_the_datasource_sets_max_lines_a_timeout_and_derived_fields_in_lokis_keys():
    json_data = LOKI["jsonData"]
    assert set(json_data) <= LOKI_JSON_DATA_KEYS
    assert int(json_data["maxLines"]) > 0 and float(json_data["timeout"]) > 0
    assert {f["name"] for f in DERIVED} >= {"TraceID", "RequestID"}
    for field in DERIVED:
        assert set(field) <= DERIVED_FIELD_KEYS and {"name", "matcherRegex"} <= set(field)
        assert field.get("matcherType", "regex") in {"label", "regex"}
        assert "url" in field, f"{field['name']} links nowhere"
        # Grafana expands $VAR and ${VAR} in provisioning files: the link's own macro must be `$$`-escaped.
        assert "${__value.raw}" not in field["url"].replace("$${__value.raw}", "")
        assert "$${__value.raw}" in field["url"]


@pytest.mark.parametrize("field", [f for f in DERIVED if f.get("matcherType", "regex") == "regex"],
                         ids=lambda f: f["name"])
def test_derived_field_regexes_are_javascript_with_one_capture_group(field):
    pattern = field["matcherRegex"]
    assert not re.search(r"\(\?[a-zA-Z]", pattern), "JavaScript regexes take no inline flags"
    assert re.compile(pattern).groups == 1


@pytest.mark.parametrize(("name", "line", "value"), [
    ("TraceIDInLine", 'level=info msg="chat" trace_id=1ec0399031371eabe02ec258d13249d6', "1ec0399031371eabe02ec258d13249d6"),
    ("TraceIDInLine", '{"msg":"chat","traceId":"f90b0d5d3b922f01"}', "f90b0d5d3b922f01"),
    ("RequestID", 'method=GET path=/api/chat request_id=req-7f3a status=200', "req-7f3a"),
    ("RequestID", '{"requestId": "c0ffee.42", "status": 500}', "c0ffee.42"),
])
def test_derived_fields_find_ids_in_logfmt_and_json_lines(name, line, value):
    field = next(f for f in DERIVED if f["name"] == name)
    assert re.search(field["matcherRegex"], line).group(1) == value


def test_internal_links_point_at_a_provisioned_datasource():
    uids = {d["uid"] for d in DATASOURCES["datasources"]}
    internal = [f["datasourceUid"] for f in DERIVED if "datasourceUid" in f]
    assert internal and set(internal) <= uids


def test_the_provider_loads_the_dashboard_directory_where_compose_mounts_it():
    assert PROVIDERS["apiVersion"] == 1
    (provider,) = PROVIDERS["providers"]
    assert set(provider) <= PROVIDER_KEYS and provider["type"] == "file"
    assert set(provider["options"]) <= PROVIDER_OPTION_KEYS
    path = provider["options"]["path"]
    assert path.startswith(MOUNTED_AT + "/")
    host_dir = PROVISIONING / path.removeprefix(MOUNTED_AT + "/")
    assert DASHBOARD_PATH.parent == host_dir and DASHBOARD_PATH.exists()


def test_the_dashboard_has_the_top_level_keys_grafana_reads():
    assert DASHBOARD["title"] == "Container Logs"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", DASHBOARD["uid"])
    assert isinstance(DASHBOARD["schemaVersion"], int)
    assert {"from", "to"} <= set(DASHBOARD["time"])
    assert isinstance(DASHBOARD["templating"]["list"], list) and isinstance(DASHBOARD["panels"], list)
    assert "id" not in DASHBOARD or DASHBOARD["id"] is None  # provisioning assigns the id


def test_panels_have_grid_positions_that_fit_and_do_not_overlap():
    cells = set()
    for panel in DASHBOARD["panels"]:
        assert panel["type"] in PANEL_TYPES
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y"))
        assert grid["x"] + grid["w"] <= GRID_WIDTH and grid["h"] > 0 and grid["w"] > 0
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))


def test_every_target_is_a_loki_query_on_the_provisioned_datasource():
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"] == {"type": "loki", "uid": LOKI["uid"]}
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert ref_ids and len(ref_ids) == len(set(ref_ids))
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "loki", "uid": LOKI["uid"]}
            assert target["expr"].strip()
            assert target.get("queryType", "range") in {"range", "instant"}


def test_the_panels_the_issue_asks_for_are_there():
    by_title = {p["title"]: p for p in DASHBOARD["panels"]}
    assert set(by_title) == {"Log volume by service", "Log volume by level", "Error rate by service",
                             "Top services by bytes", "Logs", "Latest errors"}
    assert by_title["Log volume by service"]["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    assert by_title["Logs"]["type"] == by_title["Latest errors"]["type"] == "logs"
    assert by_title["Top services by bytes"]["targets"][0]["queryType"] == "instant"


def test_the_variables_are_project_service_container_level_and_search():
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert list(variables) == ["project", "service", "container", "level", "search"]
    for v in variables.values():
        assert v["type"] in VARIABLE_TYPES
    for name, label in (("project", "compose_project"), ("service", "compose_service"), ("container", "container")):
        v = variables[name]
        assert v["type"] == "query" and v["datasource"]["uid"] == LOKI["uid"]
        assert v["query"]["label"] == label and v["query"]["type"] == 1  # LokiVariableQueryType.LabelValues
        assert v["definition"].startswith("label_values(")
    assert variables["service"]["multi"] and variables["service"]["includeAll"]
    # detected_level is structured metadata (Loki's label values do not list it): the fixed vocabulary.
    assert variables["level"]["type"] == "custom"
    assert variables["level"]["query"].split(",") == list(LEVELS)
    assert [o["value"] for o in variables["level"]["options"]] == list(LEVELS)
    assert variables["search"]["type"] == "textbox"


def test_the_queries_use_only_labels_the_agent_and_server_attach():
    # docker_discovery.py's default labels, and the server's detected_level.
    known = {"compose_project", "compose_service", "container", "stream", "detected_level"}
    exprs = [t["expr"] for p in DASHBOARD["panels"] for t in p["targets"]]
    exprs += [v["query"]["stream"] for v in DASHBOARD["templating"]["list"] if v["type"] == "query"]
    used = {m for e in exprs for m in re.findall(r"([a-z_]+)\s*=~", e)} | {
        m for e in exprs for m in re.findall(r"by \(([a-z_]+)\)", e)}
    assert used and used <= known
