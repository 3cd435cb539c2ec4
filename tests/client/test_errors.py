"""What goes wrong is one line on stderr and a non-zero exit: Loki's own error text, a server that is
not there (with how to start one), bad flags; and tenants reached with --org-id / LOKI_ORG_ID."""

from __future__ import annotations

import pytest

from logyard.client.http import LokiClient
from tests.client.conftest import BASE_NS, FROM, TO, clean_env, cli, push, run
from tests.support.server import HISTORIC_DATA_CONFIG, ServerProcess, free_port

pytestmark = pytest.mark.slow


def test_bad_logql_prints_lokis_message_and_exits_1(server):
    r = run("query", '{app="x"} |= ', "--addr", server.url, "-q")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("Error: parse error at line 1, col")
    assert r.stderr.rstrip().endswith("(HTTP 400)") and len(r.stderr.splitlines()) == 1


def test_a_metric_query_for_too_many_points_is_lokis_400(server):
    r = cli("query", 'count_over_time({app="x"}[1m])', "--addr", server.url, "--step", "1s", "--since", "30d", "-q")
    assert r.exit_code == 1
    assert "exceeded maximum resolution of 11,000 points per time series" in r.stderr


@pytest.mark.parametrize("command", [["query", '{app="x"}'], ["query", '{app="x"}', "--tail"], ["labels"],
                                     ["series", '{app="x"}'], ["stats", '{app="x"}'], ["volume", '{app="x"}']])
def test_unreachable_addr_tells_how_to_start_a_server(command):
    addr = f"http://127.0.0.1:{free_port()}"
    r = run(*command, "--addr", addr, "-q")
    assert r.returncode == 1
    assert r.stderr == (f"Error: cannot reach Loki at {addr} (connection refused): start one with `logyard up` "
                        f"(or `logyard serve`), or point --addr / LOKI_ADDR at a running Loki\n")


def test_loki_addr_is_read_from_the_environment():
    addr = f"http://127.0.0.1:{free_port()}"
    r = run("labels", "-q", env=clean_env(LOKI_ADDR=addr))
    assert r.returncode == 1 and f"cannot reach Loki at {addr}" in r.stderr


def test_an_addr_that_is_not_a_url_is_refused():
    r = run("labels", "--addr", "localhost:3100")
    assert r.returncode == 1
    assert "is not an http(s) URL" in r.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "yesterday"], "--from 'yesterday' is not a time"),
    (["--since", "an hour"], "--since 'an hour' is not a duration"),
    (["--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"], "--to must be after --from"),
    (["-z", "Mars/Olympus"], "--timezone 'Mars/Olympus' is not a zone"),
])
def test_bad_flag_values_are_usage_errors(args, message):
    r = cli("query", '{app="x"}', "--addr", "http://127.0.0.1:9", *args)
    assert r.exit_code == 2
    assert message in r.stderr


def test_basic_auth_and_org_id_headers():
    client = LokiClient("http://loki.example:3100/", org_id="team-a", username="u", password="p:w")
    assert client.headers()["X-Scope-OrgID"] == "team-a"
    assert client.headers()["Authorization"] == "Basic dTpwOnc="  # base64("u:p:w")
    assert client.url("/loki/api/v1/labels") == "http://loki.example:3100/loki/api/v1/labels"
    assert "Authorization" not in LokiClient().headers() and "X-Scope-OrgID" not in LokiClient().headers()


@pytest.fixture(scope="module")
def tenants(tmp_path_factory):
    config = "auth_enabled: true\n" + HISTORIC_DATA_CONFIG
    with ServerProcess(tmp_path_factory.mktemp("tenants") / "data", config_text=config) as srv:
        push(srv.url, [({"app": "t"}, [(BASE_NS, "line of team-a")])], tenant="team-a")
        push(srv.url, [({"app": "t"}, [(BASE_NS, "line of team-b")])], tenant="team-b")
        yield srv


def test_org_id_reaches_its_tenant_only(tenants):
    for tenant in ("team-a", "team-b"):
        r = cli("query", '{app="t"}', "--addr", tenants.url, "--org-id", tenant, "--from", FROM, "--to", TO,
                "-o", "raw", "-q")
        assert r.stdout == f"line of {tenant}\n"


def test_loki_org_id_is_read_from_the_environment(tenants):
    r = run("labels", "app", "--addr", tenants.url, "--from", FROM, "--to", TO, "-q",
            env=clean_env(LOKI_ORG_ID="team-b"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "t\n"


def test_no_org_id_on_a_multi_tenant_server_is_lokis_401(tenants):
    r = run("query", '{app="t"}', "--addr", tenants.url, "-q")
    assert r.returncode == 1
    assert r.stderr == "Error: no org id (HTTP 401)\n"
