"""Chinese company names no transcript spells: matched by CC-CEDICT meaning or by sound, only against
the index's own companies, and left unmatched when nothing is close or two companies are."""

from __future__ import annotations

import pytest

from rag.scope import Catalog, detect
from rag.zh_names import companies_named, could_name, proper_nouns

NAMES = [("Darden Restaurants", "DRI"), ("Crown Holdings", "CCK"), ("Mettler-Toledo International", "MTD"),
         ("Accenture", "ACN"), ("Target", "TGT"), ("Western Union", "WU"), ("Eversource Energy", "ES"),
         ("The Travelers Companies", "TRV"), ("Colgate-Palmolive Company", "CL")]


@pytest.mark.parametrize(
    "question, tickers",
    [
        ("达登餐饮2021财年第三季度的稀释每股收益是多少？", {"DRI"}),  # by sound: da deng
        ("梅特勒-托利多2021年第三季度回购了多少股票？", {"MTD"}),  # two names joined by a hyphen
        ("皇冠控股2021年第一季度的销量增长了多少？", {"CCK"}),  # 皇冠 is "crown"; 控股 marks a company
        ("埃森哲第一季度的新订单是多少？", {"ACN"}),  # CC-CEDICT spells it
        ("旅行者集团第四季度的核心收益是多少？", {"TRV"}),  # "traveler": "The Travelers Companies" by meaning
        ("高露洁2021年第三季度的税率指引是多少？", {"CL"}),  # "colgate": the first part of Colgate-Palmolive
        ("公司的目标利润率是多少？", set()),  # 目标 ("target") is a word here, not a name
        ("北美的销售额增长了多少？", set()),  # a region, not a company
        ("What was Darden's revenue?", set()),  # English questions are for the name tables
    ],
)
def test_companies_named_in_chinese(question: str, tickers: set[str]) -> None:
    assert companies_named(question, NAMES) == tickers


def test_a_name_close_to_two_companies_names_neither() -> None:
    # "Darden" and "Daden" sound alike to Mandarin (no r): neither is clearly ahead, so neither is guessed.
    assert companies_named("达登的收入是多少？", [("Darden", "DRI"), ("Daden", "DDN")]) == set()
    assert companies_named("达登的收入是多少？", [("Darden", "DRI"), ("Dover", "DOV")]) == {"DRI"}


def test_a_name_the_question_opens_with_is_matched_though_jieba_does_not_tag_it() -> None:
    # jieba reads 福陆 ("fu lu") as two common words, not a name; it opens the question, so it is
    # heard as Fluor. A word opening a question that names no company is still nothing.
    names = [("Fluor", "FLR"), ("Harley-Davidson", "HOG"), ("Colgate-Palmolive Company", "CL")]
    assert proper_nouns("福陆2021年第二季度营收是多少？") == []
    assert companies_named("福陆2021年第二季度营收是多少？", names) == {"FLR"}
    assert companies_named("公司2021年第二季度营收是多少？", names) == set()
    assert companies_named("营收2021年第二季度是多少？", names) == set()


def test_proper_nouns_are_read_as_runs() -> None:
    assert proper_nouns("梅特勒-托利多的收入") == ["梅特勒托利多"]
    assert proper_nouns("How much did revenue grow?") == []


def test_a_chinese_name_scopes_the_question_to_that_company_not_another_of_the_same_quarter() -> None:
    docs = {
        "DRI_q3_2021": {"ticker": "DRI", "company": "Darden Restaurants", "aliases": [], "period": "FY2021Q3"},
        "CCK_q3_2021": {"ticker": "CCK", "company": "Crown Holdings", "aliases": [], "period": "FY2021Q3"},
    }
    s = detect("达登餐饮2021财年第三季度的资本支出是多少？", Catalog(docs))
    assert s.tickers == ("DRI",) and s.doc_ids == ("DRI_q3_2021",)


def test_a_company_is_named_as_most_of_its_calls_name_it() -> None:
    # One call never says the company's name: the ticker must not stand for it when others do.
    docs = {
        "HOG_q1_2021": {"ticker": "HOG", "company": None, "aliases": [], "period": "FY2021Q1"},
        "HOG_q2_2021": {"ticker": "HOG", "company": "Harley-Davidson", "aliases": [], "period": "FY2021Q2"},
        "VPG_q1_2020": {"ticker": "VPG", "company": None, "aliases": [], "period": "FY2020Q1"},
    }
    assert Catalog(docs).company == {"HOG": "Harley-Davidson", "VPG": "VPG"}


@pytest.mark.parametrize("question, lead", [
    ("贵州茅台上一季度的毛利率是多少？", "贵州茅台"),  # a place and a noun: a company's name
    ("台积电对今年资本支出的指引是多少？", "台积电"),  # a word jieba's dictionary lacks
    ("管理层在电话会上怎么说？", ""),  # common nouns only
    ("公司的员工人数是多少？", ""),
    ("第四季度营收是多少？", ""),
    ("What was revenue?", ""),
])
def test_leading_nouns_are_a_name_the_question_opens_with(question: str, lead: str) -> None:
    from rag.zh_names import leading_nouns

    assert leading_nouns(question) == lead



@pytest.mark.parametrize("question, name", [
    # What a question opens with before its first figure: a name however jieba tags its words (通用 a
    # verb, 硕 a morpheme), so an unmatched one is checked against the answer's company (`Assistant`).
    ("通用动力3Q21航空航天板块营业利润率", "通用动力"),
    ("联合租赁2021年第二季度二手设备的调整后利润率是多少？", "联合租赁"),
    ("硕腾的营收是多少？", "硕腾"),
    ("达登餐饮在2021财年第三季度的资本支出是多少？", "达登餐饮"),
    # ... or before a period written out in words (拼 is a verb, 百度 a common noun to jieba).
    ("拼多多上季度营收是多少？", "拼多多"),
    ("百度第三季度广告收入是多少？", "百度"),
    ("那这个季度的经营现金流是多少？", ""),  # a pointer back
    ("第三季度营收是多少？", ""),
    ("积压订单最近增长了多少？", ""),  # a measure, not a name
    ("营收第二季度是多少？", ""),
    ("2021年第三季度营收是多少？", ""),  # a period
    ("请问IBM的营收", ""),  # a request
])
def test_the_opening_words_of_a_chinese_question_are_a_subject(question: str, name: str) -> None:
    from rag.scope import subject_names
    from rag.zh_names import opening_name

    assert opening_name(question) == name
    assert (name in subject_names(question)) == bool(name)


@pytest.mark.parametrize("word, company, could", [
    ("联合租赁", "United Rentals", True),  # 联合 "unite": by meaning
    ("新纪元能源", "NextEra Energy", True),  # 能源 "energy"
    ("艾姆艾斯西工业", "MSC Industrial Direct", True),  # 工业 "industry", the same stem as "industrial"
    ("西南航空", "Southwest Airlines", True),  # 西南 "southwest": a pair of its characters, as jieba keeps it whole
    ("斯凯奇", "Skechers", True),  # by sound
    ("腾讯", "Microsoft", False),
    ("台积电", "AT&T", False),
    ("比亚迪", "Amazon", False),
    ("京东集团", "Zillow Group", False),  # 集团 "group": what any company calls itself
])
def test_a_name_could_be_a_company_only_by_meaning_or_some_sound(word: str, company: str, could: bool) -> None:
    assert could_name(word, company) is could


def test_a_word_several_companies_names_share_is_no_evidence() -> None:
    assert could_name("普罗维登特金融服务公司", "First American Financial")
    assert not could_name("普罗维登特金融服务公司", "First American Financial", frozenset({"financial"}))
