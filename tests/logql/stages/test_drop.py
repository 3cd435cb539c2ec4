"""drop, with Loki's special cases for __error__ and __error_details__."""

from __future__ import annotations

from logyard.labels import Matcher
from logyard.logql.stages.builder import LabelsBuilder
from logyard.logql.stages.drop import DropLabels


def run(stage, stream, meta=None, err="", details=""):
    lbs = LabelsBuilder(stream, meta)
    lbs.err, lbs.err_details = err, details
    stage.process(0, "x", lbs)
    return lbs.labels()


def test_drop_by_name_and_by_matcher():
    stage = DropLabels(["a", Matcher("b", "=", "2"), Matcher("c", "=~", "x.*"), "missing"])
    assert run(stage, {"a": "1", "b": "2", "c": "y"}, {"d": "m"}) == {"c": "y", "d": "m"}


def test_drop_error_clears_the_error_but_not_its_details():
    assert run(DropLabels(["__error__"]), {"a": "1"}, err="E", details="D") == {"a": "1", "__error_details__": "D"}
    assert run(DropLabels([Matcher("__error__", "=", "E"), "__error_details__"]), {"a": "1"},
               err="E", details="D") == {"a": "1"}
