"""One container's log stream, against a stand-in Engine (httpx's MockTransport): the request the
reader sends, resuming each stream after its position without a line lost or repeated, stdout
apart from stderr, and an Engine error shown on /targets."""

from __future__ import annotations

import struct

import httpx
import pytest

from logyard.agent.assemble import Stamper
from logyard.agent.docker_position import INTERLEAVE_NS, DockerPosition
from logyard.agent.docker_reader import ContainerReader, ReaderContext, engine_client, position_since
from logyard.agent.metrics import AgentMetrics
from logyard.agent.push import decode_push, encode_stream
from logyard.gocompat.timelayout import parse_rfc3339
from logyard.agent.targets import TargetInfo, TargetRegistry

CID = "c0ffee" * 10
T = ["2026-01-02T03:04:05.000000001Z", "2026-01-02T03:04:05.000000002Z", "2026-01-02T03:04:05.000000003Z"]
NS = [parse_rfc3339(t) for t in T]
LABELS = {"stdout": {"container": "web", "stream": "stdout"}, "stderr": {"container": "web", "stream": "stderr"}}


def frame(kind: int, payload: str) -> bytes:
    data = payload.encode()
    return bytes([kind, 0, 0, 0]) + struct.pack(">I", len(data)) + data


class FakeAPI:
    """docker-py's APIClient, as far as the reader uses it."""

    def __init__(self, tty: bool = False) -> None:
        self.tty = tty

    def inspect_container(self, cid: str) -> dict:
        return {"Id": cid, "Config": {"Tty": self.tty}}


class FakeShipper:
    def __init__(self, position: str | None = None) -> None:
        self.position = position
        self.submitted: list[tuple[dict, list]] = []

    def resume(self, key: str) -> str | None:
        return self.position

    def submit(self, positions: dict, chunks: list) -> bool:
        self.submitted.append((positions, chunks))
        return True

    def lines(self) -> list[tuple[str, int, str]]:
        """(stream label, time, line) of everything submitted, in order."""
        out = []
        for _, chunks in self.submitted:
            for c in chunks:
                for labels, entries in decode_push(encode_stream(str(c.labels), c.entries)):
                    out += [(dict(c.labels)["stream"], ts, line) for ts, line, _ in entries]
        return out


def read(pieces: list[bytes], position: str | None = None, status: int = 200, tty: bool = False, follow=True):
    """Run one reader to the end of `pieces`; (requests seen, shipper, its row on /targets)."""
    requests: list[httpx.Request] = []

    def engine(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if status != 200:
            return httpx.Response(status, json={"message": "No such container: " + CID})
        return httpx.Response(200, content=iter(pieces))

    shipper, registry = FakeShipper(position), TargetRegistry()
    target = registry.put(TargetInfo(f"docker/{CID}", "job", "docker", {}, {}, "starting"))
    ctx = ReaderContext(shipper, registry, AgentMetrics(), Stamper(), None, lambda: False)
    http = engine_client("unix:///nowhere.sock", transport=httpx.MockTransport(engine))
    reader = ContainerReader(CID, LABELS, follow, FakeAPI(tty), http, "1.41", ctx)
    reader.start()
    reader.thread.join(10)
    assert not reader.thread.is_alive()
    return requests, shipper, target


def test_the_request_asks_for_both_streams_with_times_from_the_position():
    requests, _, _ = read([], position=f"{NS[1]}:2")
    (req,) = requests
    assert req.url.path == f"/v1.41/containers/{CID}/logs"
    assert dict(req.url.params) == {"stdout": "1", "stderr": "1", "timestamps": "1", "follow": "1",
                                    "since": "1767323045.000000002"}
    requests, _, _ = read([], follow=False)
    assert dict(requests[0].url.params) == {"stdout": "1", "stderr": "1", "timestamps": "1", "follow": "0"}


@pytest.mark.parametrize("ns, since", [(1, "0.000000001"), (1_767_323_045_000_000_000, "1767323045.000000000"),
                                       (1_767_323_045_123_456_789, "1767323045.123456789")])
def test_since_keeps_every_nanosecond(ns, since):
    assert position_since(ns) == since


def test_a_restart_resumes_each_stream_after_its_lines_already_journaled():
    body = [frame(1, f"{T[0]} old\n") + frame(2, f"{T[0]} e0\n"), frame(1, f"{T[1]} a\n") + frame(2, f"{T[1]} b\n"),
            frame(1, f"{T[1]} c\n"), frame(2, f"{T[2]} d\n")]
    # the position says: stdout has one line at T[1] in the journal already, stderr one at T[0]
    requests, shipper, target = read(body, position=f"{NS[1]}:1,{NS[0]}:1")
    assert requests[0].url.params["since"] == position_since(NS[0])
    assert shipper.lines() == [("stderr", NS[1], "b"), ("stdout", NS[1], "c"), ("stderr", NS[2], "d")]
    key = f"docker/{CID}"
    assert [p for p, _ in shipper.submitted] == [{key: f"{NS[1]}:1,{NS[1]}:1"}, {key: f"{NS[1]}:2,{NS[1]}:1"},
                                                 {key: f"{NS[1]}:2,{NS[2]}:1"}]
    assert target.position == f"{NS[1]}:2,{NS[2]}:1" and target.state == "running"


def test_a_stderr_line_logged_after_a_later_stdout_line_survives_a_cut_read():
    """Docker's log is in time order per stream only: here stderr's `z`, stamped at T[0], comes after
    stdout's `a` of T[1]. A read cut between them must not resume past `z`."""
    _, first, target = read([frame(1, f"{T[1]} a\n")], follow=True)
    assert first.lines() == [("stdout", NS[1], "a")]
    requests, second, _ = read([frame(1, f"{T[1]} a\n"), frame(2, f"{T[0]} z\n"), frame(1, f"{T[2]} b\n")],
                               position=target.position)
    # stderr has no mark yet: the resume reaches back a minute before stdout's (see INTERLEAVE_NS)
    assert requests[0].url.params["since"] == position_since(NS[1] - INTERLEAVE_NS)
    assert second.lines() == [("stderr", NS[0], "z"), ("stdout", NS[2], "b")]


def test_an_older_agents_one_position_stands_for_both_streams():
    pos = DockerPosition.parse(f"{NS[1]}:2")
    assert str(pos) == f"{NS[1]}:2,{NS[1]}:2" and pos.since() == NS[1]
    assert str(DockerPosition.parse(None)) == "0:0,0:0" and DockerPosition.parse("").since() == 0


def test_a_last_line_without_newline_is_shipped_when_the_stream_ends():
    _, shipper, target = read([frame(1, f"{T[0]} first\n"), frame(1, f"{T[1]} no newline")], follow=False)
    assert shipper.lines() == [("stdout", NS[0], "first"), ("stdout", NS[1], "no newline")]
    assert target.state == "stopped"


def test_a_followed_stream_that_ends_inside_a_long_message_ships_no_cut_line():
    """Docker cuts a message over 16 KiB into parts; a followed stream that ends after the first
    part (the agent stopping, the Engine closing it) leaves the line for the next read, whole,
    and the position before it."""
    part = "x" * 16384
    _, shipper, target = read([frame(1, f"{T[0]} first\n"), frame(1, f"{T[1]} {part}")], follow=True)
    assert shipper.lines() == [("stdout", NS[0], "first")]
    assert target.position == f"{NS[0]}:1,0:0"
    # the next follower reads from that position and gets the message whole
    _, shipper, _ = read([frame(1, f"{T[0]} first\n"), frame(1, f"{T[1]} {part}"), frame(1, f"{T[2]} {part}\n")],
                         position=target.position)
    assert shipper.lines() == [("stdout", NS[1], part + part)]


def test_a_tty_container_is_one_stdout_stream():
    _, shipper, _ = read([f"{T[0]} one\r\n{T[1]} t".encode(), b"wo\r\n"], tty=True)
    assert shipper.lines() == [("stdout", NS[0], "one"), ("stdout", NS[1], "two")]


def test_an_engine_error_is_the_targets_last_error():
    _, shipper, target = read([], status=404)
    assert target.state == "error" and target.last_error == f"logs of {CID[:12]}: 404 No such container: {CID}"
    assert shipper.submitted == []


@pytest.mark.parametrize("host, base", [("tcp://10.0.0.2:2375", "http://10.0.0.2:2375"),
                                        ("http://h:2375", "http://h:2375"), ("unix:///run/d.sock", "http://docker")])
def test_engine_addresses(host, base):
    with engine_client(host) as client:
        assert str(client.base_url).rstrip("/") == base


def test_an_ssh_address_is_refused_with_its_reason():
    with pytest.raises(ValueError, match="ssh://u@h.*unix://, tcp:// or http"):
        engine_client("ssh://u@h")
