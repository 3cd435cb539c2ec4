"""Pushing: retry what may succeed later (429, 5xx, no connection), drop what never will (other 4xx),
send tenant and credentials. Against the stand-in receiver on 127.0.0.1; waits are recorded, not slept."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.agent.client import PushClient, Stopping
from logyard.agent.journal import StreamChunk
from logyard.agent.metrics import AgentMetrics
from logyard.agent.push import encode_entries
from logyard.config.agent import ClientConfig
from logyard.labels import LabelSet
from tests.agent.helpers import free_port
from tests.agent.receiver import Receiver

CHUNK = StreamChunk(LabelSet({"job": "a"}.items()), encode_entries(np.array([1, 2]), [b"x", b"y"]), 2, 2)


@pytest.fixture()
def sink():
    r = Receiver()
    yield r
    r.stop()


def client(url, waits, **cfg):
    return PushClient(ClientConfig(url=url, **cfg), AgentMetrics(), lambda s: waits.append(s) and False)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retriable_statuses_are_retried_with_doubling_backoff(sink, status):
    sink.script = [status, status, status]
    waits = []
    c = client(sink.url, waits, backoff_config={"min_period": "100ms", "max_period": "300ms", "max_retries": 10})
    assert c.push([CHUNK]) is True
    assert waits == [0.1, 0.2, 0.3]
    assert sink.lines(job="a") == ["x", "y"]


def test_a_400_is_dropped_and_counted_not_retried(sink):
    sink.script = [400]
    waits = []
    c = client(sink.url, waits)
    assert c.push([CHUNK]) is False
    assert waits == [] and sink.lines() == []
    assert c.metrics.dropped_entries.labels("127.0.0.1", "", "ingester_error")._value.get() == 2
    assert c.metrics.dropped_bytes.labels("127.0.0.1", "", "ingester_error")._value.get() == CHUNK.line_bytes


def test_no_connection_is_retried_until_max_retries(sink):
    waits = []
    c = client(f"http://127.0.0.1:{free_port()}/loki/api/v1/push", waits,
               backoff_config={"min_period": "10ms", "max_period": "10ms", "max_retries": 3})
    assert c.push([CHUNK]) is False
    assert len(waits) == 3
    # Promtail's names, labels and values: a request with no answer is status_code="-1"
    assert c.metrics.request_duration.labels("127.0.0.1", "-1")._sum.get() > 0
    assert c.metrics.batch_retries.labels("127.0.0.1", "")._value.get() == 3
    assert c.metrics.dropped_entries.labels("127.0.0.1", "", "ingester_error")._value.get() == 2


def test_a_429_after_the_last_retry_is_dropped_as_rate_limited_for_its_tenant(sink):
    sink.script = [429, 429]
    c = client(sink.url, [], tenant_id="team-a",
               backoff_config={"min_period": "10ms", "max_period": "10ms", "max_retries": 1})
    assert c.push([CHUNK]) is False
    assert c.metrics.dropped_entries.labels("127.0.0.1", "team-a", "rate_limited")._value.get() == 2
    assert c.metrics.dropped_bytes.labels("127.0.0.1", "team-a", "rate_limited")._value.get() == 2
    assert c.metrics.batch_retries.labels("127.0.0.1", "team-a")._value.get() == 1


def test_stopping_during_a_retry_keeps_the_batch():
    c = PushClient(ClientConfig(url=f"http://127.0.0.1:{free_port()}/x"), AgentMetrics(), lambda s: True)
    with pytest.raises(Stopping):
        c.push([CHUNK])


def test_tenant_auth_and_external_labels_are_sent(sink):
    c = client(sink.url, [], tenant_id="team-a", basic_auth={"username": "u", "password": "p"},
               external_labels={"host": "box1"})
    assert c.push([CHUNK])
    h = sink.headers[-1]
    assert h["X-Scope-OrgID"] == "team-a"
    assert h["Authorization"] == "Basic dTpw"
    assert h["Content-Type"] == "application/x-protobuf"
    assert sink.streams() == {'{host="box1", job="a"}'}
