"""Question scoping: companies, tickers and periods named in English or Chinese, and ones not held."""

from __future__ import annotations

import pytest

from rag.scope import Catalog, detect

DOCS = {
    "AMZN_FY25Q4_zh": {"ticker": "AMZN", "company": "亚马逊", "aliases": ["Amazon", "AWS"], "period": "FY2025Q4"},
    "KO_FY21Q4_en_ectsum": {"ticker": "KO", "company": "Coca-Cola", "aliases": ["可口可乐"], "period": "FY2021Q4"},
    "MSFT_FY24Q3_en": {"ticker": "MSFT", "company": "Microsoft", "aliases": ["微软"], "period": "FY2024Q3"},
    "MSFT_FY24Q3_zh": {"ticker": "MSFT", "company": "微软", "aliases": ["Microsoft"], "period": "FY2024Q3"},
    "T_FY21Q4_en_ectsum": {"ticker": "T", "company": "AT&T", "aliases": [], "period": "FY2021Q4"},
}


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(DOCS)


@pytest.mark.parametrize(
    "question, doc_ids",
    [
        ("What was Coca-Cola's organic revenue growth?", ("KO_FY21Q4_en_ectsum",)),
        ("KO price mix in Q4 2021", ("KO_FY21Q4_en_ectsum",)),
        ("可口可乐第四季度的单位箱销量增长了多少？", ("KO_FY21Q4_en_ectsum",)),
        ("亚马逊的积压订单有多少？", ("AMZN_FY25Q4_zh",)),
        ("What is the AWS backlog?", ("AMZN_FY25Q4_zh",)),
        ("FY25Q4 capex plan", ("AMZN_FY25Q4_zh",)),
        ("2021年第四季度的自由现金流是多少？", ("KO_FY21Q4_en_ectsum", "T_FY21Q4_en_ectsum")),
        ("What did Microsoft say about Azure in Q3 2024?", ("MSFT_FY24Q3_en", "MSFT_FY24Q3_zh")),
        ("What was AT&T's free cash flow?", ("T_FY21Q4_en_ectsum",)),
        ("How much did revenue grow?", ()),
    ],
)
def test_scoped_documents(catalog: Catalog, question: str, doc_ids: tuple[str, ...]) -> None:
    s = detect(question, catalog)
    assert s.doc_ids == doc_ids and not s.out_of_index


def test_single_letter_ticker_needs_a_marker(catalog: Catalog) -> None:
    assert detect("What was T's revenue? Tell me about Q&A", catalog).doc_ids == ()
    assert detect("What did $T report?", catalog).doc_ids == ("T_FY21Q4_en_ectsum",)


@pytest.mark.parametrize("question, missing", [
    ("What did Tesla say about deliveries?", "Tesla"),
    ("特斯拉的交付量是多少？", "特斯拉"),
    ("阿里巴巴的收入是多少？", "阿里巴巴"),
    ("How did NVDA's data center revenue do?", "NVDA"),
])
def test_company_not_in_index(catalog: Catalog, question: str, missing: str) -> None:
    s = detect(question, catalog)
    assert s.out_of_index and s.missing_companies == (missing,) and s.doc_ids == ()


def test_period_not_in_index(catalog: Catalog) -> None:
    s = detect("Microsoft FY2023 Q1 Azure growth", catalog)
    assert s.out_of_index and s.missing_periods == ("FY2023Q1",) and s.tickers == ("MSFT",)
    assert detect("亚马逊2023年第一季度的营收", catalog).missing_periods == ("FY2023Q1",)
