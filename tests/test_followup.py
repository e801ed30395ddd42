"""Follow-up questions rewritten into standalone ones from the chat history."""

from __future__ import annotations

from rag.cues import spelled_history, spelled_out
from rag.followup import is_elliptical, rewrite
from rag.scope import Catalog, detect
from tests.test_scope import DOCS

CATALOG = Catalog(DOCS)


def _h(*questions: str) -> list[dict[str, str]]:
    out = []
    for q in questions:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": "..."}]
    return out


def test_no_history_keeps_the_question() -> None:
    assert rewrite("亚马逊的积压订单有多少？", [], CATALOG) == "亚马逊的积压订单有多少？"


def test_contrast_swap_zh_and_en() -> None:
    assert rewrite("那环比呢？", _h("亚马逊的积压订单同比增长多少？"), CATALOG) == "亚马逊的积压订单环比增长多少？"
    assert (
        rewrite("What about quarter over quarter?", _h("How much did Amazon's backlog grow year over year?"), CATALOG)
        == "How much did Amazon's backlog grow quarter over quarter?"
    )


def test_the_accounting_basis_swaps_as_a_contrast() -> None:
    """"On a GAAP basis?" after an adjusted figure asks the GAAP one; "GAAP" inside "non-GAAP" is not
    the word GAAP, so asking "adjusted" after a non-GAAP figure swaps nothing into "non-adjusted"."""
    assert rewrite("What was it on a GAAP basis?", _h("What was Amazon's adjusted EPS in Q4 2025?"), CATALOG) \
        == "What was Amazon's GAAP EPS in Q4 2025?"
    assert rewrite("那GAAP口径呢？", _h("亚马逊调整后每股收益是多少？"), CATALOG) == "亚马逊GAAP每股收益是多少？"
    assert "non-adjusted" not in rewrite("What about adjusted?", _h("Amazon non-GAAP operating margin in Q4 2025?"),
                                         CATALOG)


def test_company_and_period_carried_in_the_question_language() -> None:
    assert rewrite("营业利润率是多少？", _h("亚马逊的积压订单有多少？"), CATALOG) == "亚马逊营业利润率是多少？"
    # A Latin name and period are kept apart, or the name runs into the period.
    assert rewrite("营业利润率是多少？", _h("What was AT&T's revenue in Q4 2021?"), CATALOG) == \
        "AT&T FY2021Q4营业利润率是多少？"
    assert (
        rewrite("What was the operating margin?", _h("How big is the Amazon backlog?"), CATALOG)
        == "What was the operating margin? (Amazon)"
    )
    # The company and period carry over; the earlier measure gives way to the one now asked.
    q = rewrite("What about free cash flow?", _h("Coca-Cola Q4 2021 revenue?"), CATALOG)
    assert q.startswith("Coca-Cola Q4 2021") and q.endswith("free cash flow?") and "revenue" not in q
    # A follow-up naming no measure of its own keeps the earlier one.
    assert "revenue" in rewrite("And in Q3?", _h("Coca-Cola Q4 2021 revenue?"), CATALOG)


def test_question_naming_its_own_company_is_left_alone() -> None:
    q = "What did Microsoft say about Azure?"
    assert rewrite(q, _h("亚马逊的积压订单有多少？"), CATALOG) == q


def test_chained_follow_ups() -> None:
    h = _h("亚马逊的积压订单同比增长多少？", "那环比呢？")
    assert rewrite("同比呢？", h, CATALOG) == "亚马逊的积压订单同比增长多少？"


def test_a_topic_after_a_topic_replaces_it() -> None:
    """"And Azure?" then "And gaming?" asks for gaming, not for Azure and gaming; a follow-up naming
    only how (a swap, a quarter, a measure) still builds on the one before it."""
    h = _h("What was Amazon's revenue in Q4 2025?", "And AWS?")
    q = rewrite("And advertising?", h, CATALOG)
    assert "advertising" in q and "AWS" not in q and "revenue" in q and "Q4 2025" in q
    assert rewrite("那广告呢？", _h("亚马逊2025年第四季度营收是多少？", "那AWS呢？"), CATALOG) == \
        "亚马逊2025年第四季度营收是多少？ 那广告呢？"
    # Not a topic: a contrast, a measure or a period asked of the last answer keeps its topic.
    assert "AWS" in rewrite("And operating income?", h, CATALOG)
    assert "AWS" in rewrite("And in Q3?", h, CATALOG)
    assert "AWS" in rewrite("And what about it a year ago?", h, CATALOG)


def test_is_elliptical() -> None:
    assert is_elliptical("那环比呢？") and is_elliptical("And sequentially?") and is_elliptical("Why?")
    assert not is_elliptical("营业利润率是多少？") and not is_elliptical("What was Microsoft's revenue growth?")


def test_a_period_carried_from_a_guidance_question_stays_the_period_guided_for() -> None:
    from rag.scope import detect
    from tests.test_scope import CALLS

    calls = Catalog(CALLS)
    # The index holds no call of fiscal 2026's third quarter: only the Q2 call's outlook speaks of it.
    follow = "What growth does Acme's revenue imply at the midpoint?"
    standalone = rewrite(follow, _h("What revenue did Acme guide for fiscal 2026 third quarter?"), calls)
    assert standalone == f"{follow} (FY2026Q3 outlook)"
    s = detect(standalone, calls)
    assert "ACME_Q2_2026_bilingual" in s.doc_ids and s.ahead and not s.out_of_index
    # Carried from a question about the quarter's result it stays that quarter's result.
    result = _h("What was Acme's revenue in fiscal 2026 first quarter?")
    assert rewrite(follow, result, calls) == f"{follow} (FY2026Q1)"
    # Pointing back at what was asked ("that"), naming no measure: the earlier question is carried whole.
    that = "What growth does that imply at the midpoint?"
    standalone = rewrite(that, _h("What revenue did Acme guide for fiscal 2026 third quarter?"), calls)
    assert standalone == f"What revenue did Acme guide for fiscal 2026 third quarter? {that}"
    s = detect(standalone, calls)
    assert "ACME_Q2_2026_bilingual" in s.doc_ids and s.ahead and not s.out_of_index


def test_a_follow_up_naming_another_quarter_moves_the_earlier_one() -> None:
    """"How about Q2?" after a Q3 question asks about Q2 of that year, not Q3 again."""
    assert rewrite("And in Q3?", _h("Coca-Cola Q4 2021 revenue?"), CATALOG).startswith("Coca-Cola Q3 2021 revenue?")
    assert rewrite("那第三季度呢？", _h("可口可乐2021年第四季度的营收是多少？"), CATALOG).startswith("可口可乐2021年第三季度的营收")
    assert rewrite("What about the third quarter?", _h("What was Coca-Cola's revenue in the fourth quarter of 2021?"),
                   CATALOG).startswith("What was Coca-Cola's revenue in the third quarter of 2021?")
    # A follow-up naming no quarter, or the same one, keeps the earlier quarter.
    assert rewrite("And the operating margin?", _h("Coca-Cola Q4 2021 revenue?"), CATALOG).startswith("Coca-Cola Q4 2021")
    assert rewrite("And in Q4?", _h("Coca-Cola Q4 2021 revenue?"), CATALOG).startswith("Coca-Cola Q4 2021")


def test_a_follow_up_naming_another_company_asks_the_same_of_it() -> None:
    """"What about Microsoft?" after a Coca-Cola question asks Microsoft the same, not both companies."""
    from rag.scope import detect

    standalone = rewrite("What about Microsoft?", _h("What was Coca-Cola's revenue in Q4 2021?"), CATALOG)
    assert standalone == "What was revenue in Q4 2021? What about Microsoft?"
    assert detect(standalone, CATALOG).tickers == ("MSFT",)
    standalone = rewrite("那微软呢？", _h("可口可乐2021年第四季度的营收是多少？"), CATALOG)
    assert "可口可乐" not in standalone and detect(standalone, CATALOG).tickers == ("MSFT",)
    # Naming the same company again keeps it.
    assert rewrite("And Coca-Cola's margin?", _h("What was Coca-Cola's revenue in Q4 2021?"), CATALOG).startswith(
        "What was Coca-Cola's")


def test_a_follow_up_pointing_back_carries_the_measure() -> None:
    """"How does that compare with a year ago?" names no measure but points back at the one just asked."""
    assert is_elliptical("How does that compare with a year ago?") and is_elliptical("这个数字同比怎么样？")
    assert not is_elliptical("What did that do to operating margin?")  # names its own measure
    assert rewrite("How does that compare with a year ago?", _h("What was Coca-Cola's revenue in Q4 2021?"),
                   CATALOG) == "What was Coca-Cola's revenue in Q4 2021? How does that compare with a year ago?"


def test_a_follow_up_naming_a_year_or_the_quarter_before_moves_the_earlier_period() -> None:
    """"How about fiscal Q2 2021?" after a fiscal 2020 question asks about 2021; "And in the previous
    quarter?" asks about the quarter before, across a year end, and never reads as "the newest call"."""
    assert rewrite("How about fiscal Q2 2021?", _h("What was Coca-Cola's revenue in the fourth quarter of fiscal 2020?"),
                   CATALOG).startswith("What was Coca-Cola's revenue in the second quarter of fiscal 2021?")
    assert rewrite("And in the previous quarter?", _h("Coca-Cola Q3 2021 revenue?"), CATALOG).startswith(
        "Coca-Cola Q2 2021 revenue?")
    prior = rewrite("And the prior quarter?", _h("Coca-Cola Q1 FY22 revenue?"), CATALOG)
    assert prior.startswith("Coca-Cola Q4 FY21 revenue?") and "prior quarter" not in prior
    assert rewrite("那上一季度呢？", _h("可口可乐2021年第一季度的营收是多少？"), CATALOG).startswith("可口可乐2020年第四季度的营收")
    # Without an earlier quarter to count back from, "last quarter" keeps its own meaning (the newest).
    assert rewrite("And last quarter?", _h("What is Coca-Cola's revenue?"), CATALOG).endswith("And last quarter?")


def test_the_quarter_before_a_question_naming_no_period_counts_back_from_the_newest_call() -> None:
    """A question naming no period is answered from the company's newest call (Microsoft FY2024Q3
    here): "And the quarter before?" asks about the one before that call, across a year end too."""
    before = rewrite("What about the quarter before?", _h("What was Microsoft's revenue?"), CATALOG)
    assert "FY2024Q2" in before and "quarter before" not in before
    assert "FY2021Q3" in rewrite("那上一季度呢？", _h("可口可乐的营收是多少？"), CATALOG)
    amazon = Catalog({"AMZN_FY26Q1_en": {"ticker": "AMZN", "company": "Amazon", "period": "FY2026Q1"}})
    assert "FY2025Q4" in rewrite("And the previous quarter?", _h("Amazon AWS revenue?"), amazon)


def test_a_company_the_index_ties_a_word_to_is_switched_to() -> None:
    """A follow-up naming a company by a word only the index's passages tie to it ("Lennox" for Lennox
    International): read with the retriever's scope, it replaces the earlier company."""
    from dataclasses import replace as with_fields

    from rag.scope import detect

    def scope_of(q: str):
        s = detect(q, CATALOG)
        return with_fields(s, tickers=("MSFT",)) if "Redmond" in q else s

    standalone = rewrite("What about Redmond?", _h("What was Coca-Cola's revenue in Q4 2021?"), CATALOG, scope_of)
    assert "Coca-Cola" not in standalone and "Q4 2021" in standalone


def test_a_product_only_one_company_holds_does_not_make_a_new_question() -> None:
    """"Azure占比多少？" after a Microsoft question leans on it (a product the index ties to Microsoft is
    not the company named anew): the earlier question is carried whole, measure and all."""
    from dataclasses import replace as with_fields

    from rag.scope import detect

    def scope_of(q: str):
        s = detect(q, CATALOG)
        return with_fields(s, tickers=("MSFT",)) if "Azure" in q and not s.tickers else s

    standalone = rewrite("Azure占比多少？", _h("微软2021年第四季度的营收是多少？"), CATALOG, scope_of)
    assert standalone == "微软2021年第四季度的营收是多少？ Azure占比多少？"


def test_a_chinese_follow_up_naming_a_quarter_of_another_year_moves_both() -> None:
    """"2022年一季度" after a Q4 2021 question asks about Q1 2022, not Q4 2022."""
    out = rewrite("那他们给的2022年一季度调整后EPS指引是多少？", _h("What was Coca-Cola's adjusted EPS for the fourth "
                                                          "quarter of 2021?"), CATALOG)
    assert out.startswith("What was Coca-Cola's adjusted EPS for the first quarter of 2022?")


def test_an_outlook_word_is_not_the_measure_a_follow_up_shares() -> None:
    """"And the capex guide?" after "What tax rate does X expect?" asks about capex: "guide" and
    "expect" say the figure is an outlook, not that the measure is the same."""
    out = rewrite("And the capex guide for 2022?", _h("What effective tax rate does Coca-Cola expect for 2022?"), CATALOG)
    assert "tax rate" not in out and "capex" in out and "Coca-Cola" in out


def test_a_follow_up_naming_another_product_drops_the_earlier_one() -> None:
    """"And LinkedIn?" after an Azure question asks about LinkedIn alone: the earlier product goes,
    the company (even written out in full) and the measure and period stay."""
    out = rewrite("And LinkedIn?", _h("How much did Microsoft's Azure revenue grow in fiscal Q3 2024?"), CATALOG)
    assert "Azure" not in out and out.startswith("How much did Microsoft's revenue grow in fiscal Q3 2024?")
    zh = rewrite("那LinkedIn这个季度增长了多少？", _h("What was Coca-Cola's Costa revenue in Q4 2021?"), CATALOG)
    assert "Costa" not in zh and "Coca-Cola" in zh and "LinkedIn" in zh
    # Naming no new product, the earlier one stays: "How about Q2?" keeps asking about Azure.
    assert "Azure" in rewrite("How about Q2?", _h("How much did Microsoft's Azure revenue grow in Q3 2024?"), CATALOG)


def test_a_period_an_earlier_rewrite_carried_moves_too() -> None:
    """A rewrite carries the period as the catalog writes it ("(Coca-Cola, FY2021Q4)"): "the prior
    quarter" and "How about Q2?" move that one, across a year end too."""
    chain = _h("Coca-Cola Q4 2021 revenue", "What was the operating margin?")
    assert "FY2021Q3" in rewrite("How about the prior quarter?", chain, CATALOG)
    assert "FY2021Q2" in rewrite("How about Q2?", chain, CATALOG)
    first = _h("Coca-Cola Q1 2021 revenue", "What was the operating margin?")
    assert "FY2020Q4" in rewrite("And the previous quarter?", first, CATALOG)


def test_a_comparison_base_in_a_follow_up_is_not_the_period_asked() -> None:
    """"How many bps was that up vs 2019?" after a Q4 2021 question still asks about Q4 2021: 2019 is the
    base the change is measured from, so neither the rewrite nor a later turn moves the period to it."""
    first = "What was Coca-Cola's gross margin in Q4 2021?"
    out = rewrite("how many bps was that up vs 2019?", _h(first), CATALOG)
    assert out.startswith(first) and "2021" in out
    assert rewrite("And versus last year?", _h(first, "how many bps was that up vs 2019?"), CATALOG).startswith(first)
    assert rewrite("和2019年相比呢？", _h("可口可乐2021年第四季度的毛利率是多少？"), CATALOG).startswith("可口可乐2021年第四季度")
    # A year asked outright still moves it.
    assert rewrite("How about 2020?", _h(first), CATALOG).startswith("What was Coca-Cola's gross margin in Q4 2020?")


def test_a_name_no_passage_holds_is_carried_into_the_follow_up() -> None:
    """A follow-up after a question about a name the index does not hold ("Zed Quorra" where the calls
    say only its ticker) is about that name too: carried, so it gets the same "not in the index"
    reply instead of being answered from every call of the quarter."""
    from dataclasses import replace

    from rag.scope import detect

    def scope_of(q: str):
        s = detect(q, CATALOG)
        return replace(s, unheard=("Zed Quorra",), doc_ids=()) if "Zed Quorra" in q else s

    out = rewrite("How much is left on the buyback authorization?",
                  _h("How much stock did Zed Quorra repurchase in Q4 2021?"), CATALOG, scope_of)
    assert "Zed Quorra" in out and scope_of(out).unheard == ("Zed Quorra",)


def test_a_follow_up_stays_with_the_call_the_reply_came_from() -> None:
    """This assistant's replies name the call they answer from ("Coca-Cola FY2021Q4 (the latest call in
    the index; ...): "): a follow-up naming no company or period asks about that call, not whichever
    call answers it best; one naming a period or another company is left to its own words."""
    from rag.followup import answered_period

    assert answered_period("Coca-Cola FY2021Q4 (the latest call in the index; name a quarter to ask about "
                           "another): Revenue was $9.5 billion. [1]") == "FY2021Q4"
    assert answered_period("可口可乐 FY2021Q4：营收为95亿美元。 [1]") == "FY2021Q4"
    assert answered_period("Acme FY2025Q4: ... [1] Coca-Cola FY2021Q4: ... [2]") is None  # two calls
    assert answered_period("The transcripts don't say: nothing in the indexed calls answers this question.") is None
    history = [{"role": "user", "content": "What was Coca-Cola's revenue?"},
               {"role": "assistant", "content": "Coca-Cola FY2021Q4 (the latest call in the index; name a "
                                                "quarter to ask about another): Revenue was $9.5 billion. [1]"}]
    assert "FY2021Q4" in rewrite("And the operating margin?", history, CATALOG)
    assert "FY2021Q4" in rewrite("What was the operating margin?", history, CATALOG)
    assert "FY2021Q4" not in rewrite("What about Microsoft?", history, CATALOG)
    assert "FY2021Q4" not in rewrite("What was Coca-Cola's operating margin?", history, CATALOG)
    # Without a reply that names its call (a history written elsewhere), nothing is added.
    assert "FY" not in rewrite("And the operating margin?", history[:1], CATALOG)


def test_a_follow_up_pointing_back_at_a_segment_keeps_it() -> None:
    """"这个分部的营业利润是多少？" after a question about one segment's sales asks for that segment's
    operating income: the segment stays, the earlier measure goes."""
    first = "How did Coca-Cola's Europe segment revenue do in Q4 2021?"
    out = rewrite("这个分部的营业利润是多少？", _h(first), CATALOG)
    assert "Europe segment" in out and "revenue" not in out and out.endswith("这个分部的营业利润是多少？")
    out = rewrite("What was that segment's operating margin?", _h(first), CATALOG)
    assert "Europe segment" in out and "revenue" not in out
    assert is_elliptical("这个分部的营业利润是多少？") and is_elliptical("And that division's margin?")
    assert not is_elliptical("What was the operating margin of the Europe segment?")


def test_asking_how_a_company_did_asks_for_its_headline() -> None:
    """"How did Coca-Cola do in Q4 2021?" names no measure: revenue, the headline, is what a figure
    answers; a question naming a measure, or one asking something else, is left alone."""
    from rag.followup import headline

    assert rewrite("How did Coca-Cola do in Q4 2021?", None, CATALOG).endswith("revenue")
    assert headline("可口可乐2021年第四季度表现如何？").endswith("营收")
    assert headline("How did Coca-Cola's gross margin do in Q4 2021?") == "How did Coca-Cola's gross margin do in Q4 2021?"
    assert headline("What did Coca-Cola say about pricing?") == "What did Coca-Cola say about pricing?"


def test_a_whole_question_opening_like_a_follow_up_stands_alone() -> None:
    """"How about ..." naming a company, a period and a measure of its own asks nothing of the earlier
    question (its company, its product or its quarter would otherwise be mixed in)."""
    q = "How about Microsoft's free cash flow in Q3 2024?"
    assert rewrite(q, _h("What was Coca-Cola's organic revenue growth in Q4 2021?"), CATALOG) == q
    # Without a period of its own it still leans on the earlier one.
    assert "2021" in rewrite("How about AT&T's free cash flow?", _h("Coca-Cola Q4 2021 free cash flow?"), CATALOG)


def test_a_year_ago_asks_the_same_quarter_of_the_year_before_where_the_index_holds_it() -> None:
    from rag.scope import detect
    from tests.test_scope import CALLS

    calls = Catalog({**CALLS, "ACME_Q2_2025_en": {**CALLS["ACME_Q2_2026_bilingual"], "period": "FY2025Q2"}})
    for follow in ("And the same quarter a year ago?", "What about a year earlier?", "那去年同期呢？"):
        q = rewrite(follow, _h("What was Acme's revenue in Q2 FY2026?"), calls)
        assert detect(q, calls).doc_ids == ("ACME_Q2_2025_en", "mystery_call"), q
    # The period in the sell side's shorthand moves as well.
    for asked in ("Q2'26", "2Q26", "Q2-26"):
        q = rewrite("And a year ago?", _h(f"What was Acme's revenue in {asked}?"), calls)
        assert detect(q, calls).doc_ids == ("ACME_Q2_2025_en", "mystery_call"), q
    # Without that call, the call asked about answers: it states the year-ago figure beside its own.
    q = rewrite("And the same quarter a year ago?", _h("What was Acme's revenue in Q2 FY2026?"), Catalog(CALLS))
    assert detect(q, Catalog(CALLS)).doc_ids == ("ACME_Q2_2026_bilingual", "mystery_call"), q
    # Asking how the two compare is a growth rate, asked of the same call.
    q = rewrite("How does that compare with a year ago?", _h("What was Acme's revenue in Q2 FY2026?"), calls)
    assert "FY2026" in q and "FY2025" not in q


def test_the_year_an_outlook_is_for_is_not_the_call_asked_about() -> None:
    # "And the guidance for fiscal 2026?" after a question about the Q4 fiscal 2025 call asks that
    # call's outlook, not a call of fiscal 2026.
    q = rewrite("And the guidance for fiscal 2026?", _h("What was Acme's revenue in Q4 FY2025?"), CATALOG)
    assert "Q4 FY2025" in q, q


def test_a_follow_up_in_shorthand_moves_the_period() -> None:
    """"And the third qtr?" after a Q2 question asks the third quarter (written out before the
    follow-up is read, as `Assistant.ask` does; read after, the earlier period stayed), and a turn in
    the history is written out too."""
    history = _h("What was Microsoft revenue in Q2 2024?")
    standalone = rewrite(spelled_out("And the third qtr?"), spelled_history(history), CATALOG)
    assert detect(standalone, CATALOG).periods == ("FY2024Q3",)
    assert spelled_history(_h("msft revenue in the dec qtr 2023?"))[0]["content"] == "msft revenue in the December quarter 2023?"
