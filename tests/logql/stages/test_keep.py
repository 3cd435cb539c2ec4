"""keep, which never drops __error__ and __error_details__."""

from __future__ import annotations

from logyard.labels import Matcher
from logyard.logql.stages.builder import LabelsBuilder
from logyard.logql.stages.keep import KeepLabels


def run(stage, stream, meta=None, err="", details=""):
    lbs = LabelsBuilder(stream, meta)
    lbs.err, lbs.err_details = err, details
    stage.process(0, "x", lbs)
    return lbs.labels()


def test_keep_drops_everything_else_including_metadata_but_never_error_labels():
    stage = KeepLabels(["a", Matcher("b", "=", "2")])
    assert run(stage, {"a": "1", "b": "3", "c": "4"}, {"detected_level": "info"}, err="E", details="D") == {
        "a": "1", "__error__": "E", "__error_details__": "D"}
