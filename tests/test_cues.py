"""The cues the reader's features read: the periods a sentence names, and guidance."""

from __future__ import annotations

from rag.cues import leads_with_guidance, quarters_in, spelled_out, years_in
from rag.numbers import extract


def test_periods_a_sentence_names() -> None:
    assert years_in("FY '25 revenue grew 30%, up from fiscal 2024") == {2025, 2024}
    assert years_in("Revenue was $2,024 million, up 20.24%.") == set()
    assert quarters_in("Q3 revenue; the fourth quarter; 第二季度; the March quarter") == {3, 4, 2, 13}


def test_guidance_cues() -> None:
    sentence = "We expect organic revenue growth of approximately 7%."
    assert leads_with_guidance(sentence, extract(sentence)[0].start)
    sentence = "We added 3.9 GW, and we expect to double it by 2027."
    assert not leads_with_guidance(sentence, extract(sentence)[0].start)


def test_guidance_in_the_passive_and_in_other_verbs() -> None:
    for sentence in ("Operating margin in the quarter is expected to be in the range of 13% to 13.5%.",
                     "Adjusted EPS is still expected to be in the range of $2 to $2.10.",
                     "We're projecting Q4 comps to be up 1% to down 2% compared to last year.",
                     "We are guiding to revenue of $3 billion for the year."):
        assert leads_with_guidance(sentence, extract(sentence)[0].start), sentence
    for sentence in ("Revenue was $5 billion, better than expected.",
                     "Revenue came in better than expected at $5 billion.",
                     "The project in Texas delivered $40 million of savings."):
        assert not leads_with_guidance(sentence, extract(sentence)[0].start), sentence


def test_a_question_about_next_year_or_quarter_asks_for_an_outlook() -> None:
    """"Deere net income next year" asks what was guided, as "What do they expect..." does; a plan
    stated as "we plan for ... between $2.50 and $2.66" is guidance."""
    from rag.cues import ASKS_GUIDANCE

    for q in ("Deere net income next year", "What EPS range are they planning for next fiscal year?",
              "IBM free cash flow next quarter?", "苹果下个季度的毛利率是多少？", "明年的营收预计是多少？",
              # A budget or a 预测 (forecast) is what the call guided, not what was spent or earned.
              "What's Acme's capex budget for fiscal 2022?", "艾克米把2020年全年盈利预测区间收窄到多少？"):
        assert ASKS_GUIDANCE.search(q), q
    for q in ("What was Deere's net income for fiscal 2021?", "How did revenue grow last quarter?", "去年的营收是多少？",
              "Did Acme's Q3 opex come in under budget?", "上季度营收是否超出市场预测？"):
        assert not ASKS_GUIDANCE.search(q), q
    plan = "For fiscal 2022, we plan for a new EPS record between $2.50 and $2.66."
    from rag.cues import first_figure_at

    assert leads_with_guidance(plan, first_figure_at(extract(plan)))


def test_quarters_as_questions_write_them() -> None:
    """三季度 and 3季度 without 第, Q3 beside Chinese text (no word boundary there); not 上一季度 (the
    quarter before) or 前三季度 (the first nine months)."""
    from rag.cues import quarters_in

    assert quarters_in("2021年三季度的营收") == {3} and quarters_in("2022年1季度") == {1}
    assert quarters_in("2021年Q3营收") == {3} and quarters_in("Q3 2021 revenue") == {3}
    assert quarters_in("2021年第四季度") == {4}
    assert quarters_in("那上一季度呢？") == set() and quarters_in("前三季度的自由现金流") == set()
    assert quarters_in("本季度的营收") == set()


def test_a_quarters_shorthand_is_written_out() -> None:
    """"qtr" and an abbreviated month before it are read as written out, so the periods are found and
    the reader does not look for "dec" or "qtr" in the calls; other words stay as typed."""
    assert spelled_out("msft azure growth in fiscal q2 2026 (dec qtr)?") == "msft azure growth in fiscal q2 2026 (December quarter)?"
    assert spelled_out("Sept. quarter revenue, last 2 qtrs") == "September quarter revenue, last 2 quarters"
    assert spelled_out("the Dec 2025 qtr") == "the December 2025 quarter"
    assert quarters_in(spelled_out("azure growth dec qtr")) == quarters_in("azure growth December quarter") != set()
    # Months in capitals are tickers ("NOV", "MAR"); "APR quarter-over-quarter" names no month.
    for typed in ("decline in the quarter", "qtrly revenue", "Mar sales", "December quarter", "NOV quarter revenue",
                  "MAR quarter RevPAR?", "card apr quarter-over-quarter"):
        assert spelled_out(typed) == typed
