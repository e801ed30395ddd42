"""The bilingual glossary: generic finance measures bridge the two languages, qualifiers stay
qualifiers, and Latin terms match whole words only."""

from rag.cedict import english
from rag.glossary import expand, groups, is_aspect, is_part, translations


def _heads(text: str) -> list[str]:
    return [g[0] for g in groups(text)]


def test_measures_of_banks_retailers_and_software_bridge_languages() -> None:
    assert "净冲销" in translations("What were net charge-offs in the quarter?")
    assert "net charge-offs" in translations("本季度净冲销是多少？")
    assert "same-store sales" in translations("可比销售额增长了多少？")
    assert "annual recurring revenue" in translations("年度经常性收入是多少？")
    assert "visitors" in translations("主题乐园接待了多少游客？")
    assert "拨备前利润" in translations("What PPNR did the bank report?")
    # Banks wrote the Paycheck Protection Program as "P3" as often as "PPP": a programme, not a measure.
    ppp = [g for g in groups("We funded $2.9 billion in P3 loans.") if "ppp" in g]
    assert ppp and is_part(ppp[0]) and "薪资保护计划" in translations("excluding PPP balances")
    # A bare "P3" is also a public-private partnership or a cloud instance type.
    assert not [g for g in groups("two P3 divestitures and EC2 P3 instances") if "ppp" in g]


def test_eps_is_stated_per_diluted_share() -> None:
    # Calls state EPS as "net income of $73.6 million or $0.35 per diluted share" far more often than
    # they write "EPS": the measure asked must be found where it is stated.
    assert "per diluted share" in translations("What was diluted EPS in Q4?")
    assert "earnings per share" in translations("$0.35 per diluted share")
    assert "每股收益" in translations("$0.35 per diluted share")


def test_measures_as_calls_phrase_them() -> None:
    # Gross margin stated as a gross profit percentage; a capital plan or capital additions as capex;
    # guidance as what management is "projecting".
    assert "毛利率" in translations("the gross profit percentage increased to 31%")
    assert _heads("gross profit margin was 40%") == ["gross profit margin"]
    assert "capex" in translations("its projected capital plan of approximately $14 billion")
    assert "capex" in translations("Capital additions are expected to be approximately $460 million")
    assert "指引" in translations("We are projecting EPS in the range of $3.50 to $3.70")


def test_the_longest_phrase_is_one_measure() -> None:
    # "net charge-offs" is one measure, not also "charge-off"; "net loss" is not "net income".
    assert _heads("net charge-offs rose") == ["net charge-offs"]
    heads = _heads("GAAP net loss")
    assert "net loss" in heads and "net income" not in heads


def test_qualifiers_are_aspects_not_measures() -> None:
    found = {g[0]: is_aspect(g) for g in groups("non-GAAP operating margin in constant currency")}
    assert found == {"operating margin": False, "non-gaap": True, "constant currency": True}


def test_latin_terms_match_whole_words() -> None:
    assert "arr" not in _heads("we carry no arrears")
    assert "arr" in _heads("ARR grew 30%")


def test_chinese_words_the_glossary_lacks_get_their_dictionary_senses() -> None:
    senses = english("西联汇款宣布出售业务，售价是多少？", known=lambda w: bool(groups(w)))
    assert "selling price" in senses and "to sell" in senses
    # A question in traditional characters gets the same senses.
    assert "selling price" in english("售價是多少？")
    # 业务 is a glossary term ("business"): the glossary translates it, not the dictionary.
    assert "business" not in senses and "business" in expand("西联汇款宣布出售业务，售价是多少？")
    # Only Chinese questions get dictionary senses (an English one gets the glossary's terms only).
    assert expand("What was the selling price?") == "What was the selling price? " + " ".join(translations("price"))
    assert "selling price" not in expand("售价是多少？", dictionary=False)


def test_analysts_abbreviations_reach_the_measure_and_its_chinese() -> None:
    """Questions are typed in analysts' shorthand; each reaches the measure as a call states it."""
    for short, long, zh in (("FCF", "free cash flow", "自由现金流"), ("NIM", "net interest margin", "净息差"),
                            ("AUM", "assets under management", "资产管理规模"), ("GMV", "gross merchandise volume", "商品交易总额"),
                            ("TPV", "total payment volume", "支付额"), ("MAU", "monthly active users", "月活跃用户"),
                            ("NRR", "net revenue retention", "净收入留存率"), ("COGS", "cost of sales", "销售成本"),
                            ("rev", "revenue", "营收"), ("subs", "subscribers", "订户"), ("NII", "net interest income", "净利息收入"),
                            ("op margin", "operating margin", "营业利润率"), ("op income", "operating income", "营业利润")):
        found = [g for g in groups(f"What was Acme's {short} in Q3?") if short.lower() == g[0]]
        assert found and long in found[0] and zh in found[0], short
    # Shorthand for the change asked about is an aspect, as its long form is.
    found = {g[0]: is_aspect(g) for g in groups("rev growth y/y and q/q")}
    assert found == {"rev": False, "growth": True, "y/y": True, "q/q": True}
    # an idiom is not a measure: "Bottom line, we're exiting the year..." says nothing of net income
    assert not [g for g in groups("Bottom line, we grew.") if "net income" in g]


def test_parts_of_the_business_and_places_are_marked_apart_from_measures() -> None:
    found = {g[0]: is_part(g) for g in groups("Europe segment cloud revenue and operating margin")}
    assert found["europe"] and found["segment"] and found["cloud"]
    assert not found["revenue"] and not found["operating margin"]
    assert all(is_part(g) for g in groups("欧洲分部")) and not any(is_part(g) for g in groups("营业利润"))
