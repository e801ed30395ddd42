"""Which questions ask over a run of a company's latest quarters, and how many."""

from __future__ import annotations

import pytest

from rag.recent import DEFAULT, recent_quarters, without_recent


@pytest.mark.parametrize("question, n", [
    ("Microsoft revenue over the last three quarters", 3),
    ("revenue in the past 2 quarters", 2),
    ("微软近两个季度营收", 2),
    ("How has Azure growth trended over the last few quarters?", DEFAULT),
    ("微软最近几个季度的营收趋势", DEFAULT),
    # One quarter, or none asked as a run.
    ("What was revenue last quarter?", None),
    ("What was revenue in the past year?", None),
    # A trend ahead is an outlook, not past calls.
    ("How do you see margins trending going forward?", None),
    ("管理层如何看待AWS利润率未来的走势？", None),
])
def test_how_many_quarters_a_question_runs_over(question: str, n: int | None) -> None:
    assert recent_quarters(question) == n


def test_the_run_is_left_out_of_what_each_call_reads() -> None:
    assert without_recent("Microsoft revenue over the last three quarters") == "Microsoft revenue"
