"""The values that cross stage boundaries are frozen all the way down."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from brooker.models import GradingResult, Status


def test_a_grading_result_is_frozen_hashable_and_pickles() -> None:
    res = GradingResult(file="a.dcm", status=Status.OK, version="0", extra={"input_sha256": "ab"})
    with pytest.raises(TypeError):
        res.extra["input_sha256"] = "cd"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.status = Status.ERROR  # type: ignore[misc]
    assert hash(res) == hash(dataclasses.replace(res))
    back = pickle.loads(pickle.dumps(res))  # results travel from worker processes
    assert back == res
    assert back.to_record()["input_sha256"] == "ab"
    added = dataclasses.replace(res, extra={**res.extra, "peak_rss_mb": 1.0})
    assert added.to_record()["peak_rss_mb"] == 1.0
