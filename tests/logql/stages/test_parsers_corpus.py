"""Parsers and label filters reproduce Loki's answers on the corpus (pl-* cases)."""

from __future__ import annotations

import pytest

from logyard.labels import Matcher
from logyard.logql.stages.decolorize import Decolorizer
from logyard.logql.stages.drop import DropLabels
from logyard.logql.stages.json import JSONExpressionParser, JSONParser
from logyard.logql.stages.keep import KeepLabels
from logyard.logql.stages.label_filter import (
    AndLabelFilter,
    BytesLabelFilter,
    DurationLabelFilter,
    IPLabelFilter,
    NumericLabelFilter,
    OrLabelFilter,
    StringLabelFilter,
)
from logyard.logql.stages.line_filter import LineFilter
from logyard.logql.stages.logfmt import LogfmtExpressionParser, LogfmtParser
from logyard.logql.stages.pattern import PatternParser
from logyard.logql.stages.regexp import RegexpParser
from logyard.logql.stages.unpack import UnpackParser

from .casecheck import check_case

GRAFANA = {"compose_service": "grafana", "stream": "stdout"}
WEBUI = {"compose_service": "open-webui", "stream": "stdout"}

CASES = {
    "pl-logfmt-strict": ({"compose_service": "ollama", "stream": "stdout"},
                         lambda: [LogfmtParser(strict=True)], 1767225660000000000),
    "pl-logfmt-keep-empty": (GRAFANA, lambda: [LogfmtParser(keep_empty=True),
                                               StringLabelFilter("referer", "=", "")], None),
    "pl-logfmt-num": (GRAFANA, lambda: [LogfmtParser(), NumericLabelFilter("status", ">=", 500)], None),
    "pl-logfmt-bytes": (GRAFANA, lambda: [LogfmtParser(), BytesLabelFilter("size", ">", 150_000)], None),
    "pl-logfmt-duration": (GRAFANA, lambda: [LogfmtParser(),
                                             DurationLabelFilter("duration", ">", 50_000_000)], None),
    "pl-logfmt-params": ({"compose_service": "prometheus"},
                         lambda: [LogfmtExpressionParser({"lvl": "level", "d": "duration"}),
                                  StringLabelFilter("lvl", "=", "warn")], None),
    "pl-logfmt-regex-comma": (GRAFANA, lambda: [LogfmtParser(),
                                                StringLabelFilter("path", "=~", "/api/(ds|search).*"),
                                                NumericLabelFilter("status", "!=", 200)], None),
    "pl-parens": (GRAFANA, lambda: [LogfmtParser(), AndLabelFilter(
        OrLabelFilter(NumericLabelFilter("status", "==", 500), NumericLabelFilter("status", "==", 404)),
        StringLabelFilter("method", "=", "GET"))], None),
    "pl-json-eq": (WEBUI, lambda: [JSONParser(), StringLabelFilter("level", "=", "error")], None),
    "pl-json-error": (WEBUI, lambda: [JSONParser(), StringLabelFilter("__error__", "!=", "")], None),
    "pl-json-noerror": (WEBUI, lambda: [JSONParser(), StringLabelFilter("__error__", "=", "")], None),
    "pl-json-num": (WEBUI, lambda: [JSONParser(), NumericLabelFilter("latency_ms", ">", 2000)], None),
    "pl-json-ip": (WEBUI, lambda: [JSONParser(),
                                   IPLabelFilter("request_client_ip", "=", "2001:db8::/32")], None),
    "pl-json-array": (WEBUI, lambda: [JSONExpressionParser({"first_tag": "tags[0]"}),
                                      StringLabelFilter("first_tag", "=", "vision")], None),
    "pl-json-params": (WEBUI, lambda: [JSONExpressionParser({"user": "user", "prompt": "tokens.prompt"}),
                                       NumericLabelFilter("prompt", ">", 3900)], None),
    "pl-pattern": ({"compose_service": "nginx", "stream": "stdout"},
                   lambda: [PatternParser('<ip> - <user> [<_>] "<method> <path> <_>" <status> <size> <_>'),
                            NumericLabelFilter("status", ">=", 500)], None),
    "pl-regexp": ({"compose_service": "ollama"}, lambda: [
        LineFilter("|=", ["[GIN]"]),
        RegexpParser(r'\| (?P<status>\d{3}) \|\s+(?P<latency>\S+) \|\s+(?P<client>\S+) \| '
                     r'(?P<method>\w+)\s+"(?P<path>[^"]+)"'),
        StringLabelFilter("status", "=", "500")], None),
    "pl-unpack": ({"compose_service": "open-webui", "stream": "stderr"},
                  lambda: [LineFilter("|=", ["{"]), UnpackParser()], None),
    "pl-decolorize-pattern": (WEBUI, lambda: [
        LineFilter("|=", ["HTTP/1.1"]), Decolorizer(),
        PatternParser('<_>:     <client> - "<method> <path> <_>" <status> <_>'),
        NumericLabelFilter("status", ">=", 400)], None),
    "pl-drop": (GRAFANA, lambda: [LogfmtParser(), DropLabels(["logger", "t", "userId", "orgId"])], None),
    "pl-drop-matcher": ({"compose_service": "prometheus"}, lambda: [
        LogfmtParser(), DropLabels([Matcher("level", "=", "info"), "caller"])], None),
    "pl-keep": (GRAFANA, lambda: [LogfmtParser(), KeepLabels(["compose_service", "level", "status"])], None),
    "pl-sm-filter": ({"compose_service": "open-webui"},
                     lambda: [StringLabelFilter("session", "=", "s-007")], None),
}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_stage_chain_reproduces_loki_answer(case_id):
    matchers, make, end = CASES[case_id]
    if end is None:
        check_case(case_id, matchers, make())
    else:
        check_case(case_id, matchers, make(), end)
