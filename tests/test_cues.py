"""The cues the reader's features read: comparison bases, periods, guidance, wanted kinds of number."""

from __future__ import annotations

from rag.cues import expected_kinds, leads_with_guidance, other_quarters, other_years, speaks_of_a_year_only
from rag.numbers import extract


def test_comparison_bases_are_not_the_period_spoken_of() -> None:
    assert not other_years({2022}, "We expect EPS growth of 8% to 10% versus 2021.")
    assert other_years({2022}, "EPS grew 19% in 2021.")
    assert not other_quarters({1}, "We ended the quarter with 130 million, up 11 million from Q4.")
    assert other_quarters({1}, "In Q4 we added 11 million.")


def test_period_cues() -> None:
    assert speaks_of_a_year_only("In FY '25 product revenue grew 30%.")
    assert not speaks_of_a_year_only("Q4 fiscal 2025 revenue grew 28%.")
    sentence = "We expect organic revenue growth of approximately 7%."
    assert leads_with_guidance(sentence, extract(sentence)[0].start)
    sentence = "We added 3.9 GW, and we expect to double it by 2027."
    assert not leads_with_guidance(sentence, extract(sentence)[0].start)


def test_wanted_kinds_of_number() -> None:
    assert expected_kinds("How much free cash flow did Zed generate in 2021?")[0] == {"money"}
    assert expected_kinds("How did segment revenue change year over year?")[1] == {"percent"}
    strong, weak = expected_kinds("What was product revenue, and how fast did it grow?")
    assert weak == {"money", "percent"}
