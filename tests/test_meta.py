"""Fiscal periods, dates and file-name metadata in the notations transcripts use."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest.identify import from_body, from_title
from rag.ingest.meta import detect_language, find_date, from_filename, normalize_period


@pytest.mark.parametrize(
    "text, period",
    [
        ("Q3 2024", "FY2024Q3"),
        ("FY25Q4", "FY2025Q4"),
        ("亚马逊(AMZN.US)FY25Q4电话会", "FY2025Q4"),
        ("FY2025 Q4", "FY2025Q4"),
        ("Q4 FY25", "FY2025Q4"),
        ("2024 Q1", "FY2024Q1"),
        ("Apple Q2 Fiscal Year 2023 Earnings Conference Call", "FY2023Q2"),
        ("Zillow Group's Third Quarter 2022 Conference Call", "FY2022Q3"),
        ("fourth quarter fiscal 2025", "FY2025Q4"),
        ("Q4 fiscal year '25", "FY2025Q4"),
        ("2024财年第三财季", "FY2024Q3"),
        ("2021年第四季度", "FY2021Q4"),
        ("2025年第1季度", "FY2025Q1"),
        ("fiscal 2026 first quarter", "FY2026Q1"),
        ("the American Campus Communities 2019 Fourth Quarter Earnings Conference Call", "FY2019Q4"),
        ("FY26 second quarter", "FY2026Q2"),
        ("Snowflake(SNOW+7.02%)2025财年第一季度财报电话会议", "FY2025Q1"),
        # The sell side's shorthand, as analysts type it
        ("Williams-Sonoma 3Q21 gross margin", "FY2021Q3"),
        ("IEX 1Q21毛利率", "FY2021Q1"),
        ("2Q 2020", "FY2020Q2"),
        ("1Q FY22", "FY2022Q1"),
        ("F3Q21", "FY2021Q3"),
        ("Q3'21", "FY2021Q3"),
        ("Q3-2021", "FY2021Q3"),
        ("2020年Q2毛利率", "FY2020Q2"),
        ("Q2 of FY21", "FY2021Q2"),
        ("third quarter of FY2021", "FY2021Q3"),
        ("21年Q3收入", "FY2021Q3"),
        ("21年三季度营收", "FY2021Q3"),
        ("2021财年Q3", "FY2021Q3"),
        ("2021年度第三季度", "FY2021Q3"),
        ("第三季度（2021年）", "FY2021Q3"),
        ("21Q3 revenue", "FY2021Q3"),
        ("FY2021 3Q", "FY2021Q3"),
        ("third quarter, 2021", "FY2021Q3"),
        ("Q3 (2021)", "FY2021Q3"),
        ("MarineMax FQ3 2021 revenue", "FY2021Q3"),
        ("FQ3'21", "FY2021Q3"),
        ("the 10-Q for 2021", None),
        ("revenue grew 12%", None),
        ("Q5 2024", None),
        ("", None),
    ],
)
def test_normalize_period(text: str, period: str | None) -> None:
    assert normalize_period(text) == period


def test_earliest_period_wins() -> None:
    assert normalize_period("Q2 2024 results; we expect Q3 2024 to be better") == "FY2024Q2"


@pytest.mark.parametrize(
    "text, date",
    [
        ("Microsoft(MSFT+5.25%)Q3 2024 Earnings CallApr 25, 2024,5:30 p.m. ET", "2024-04-25"),
        ("Thursday, April 24, 2025 at 8 a.m. ET", "2025-04-24"),
        ("Nov. 5, 2025 at 5 p.m. ET", "2025-11-05"),
        ("Sept. 12, 2023", "2023-09-12"),
        ("2026-02-06 16:40:51", "2026-02-06"),
        ("2024年4月25日", "2024-04-25"),
        ("no date here", None),
    ],
)
def test_find_date(text: str, date: str | None) -> None:
    assert find_date(text) == date


@pytest.mark.parametrize(
    "name, expected",
    [
        ("AMZN_FY25Q4_zh.txt", {"ticker": "AMZN", "period": "FY2025Q4", "language": "zh"}),
        ("KO_FY21Q4_en_ectsum.txt", {"ticker": "KO", "period": "FY2021Q4", "language": "en"}),
        ("brk.b_FY2024Q1.txt", {"ticker": "BRK.B", "period": "FY2024Q1"}),
        ("transcript.txt", {}),
        # The forms sources publish files under, with any suffix words.
        ("MSFT_Q2_2025_earnings_call.txt", {"ticker": "MSFT", "period": "FY2025Q2"}),
        ("SNOW-2025-Q3.txt", {"ticker": "SNOW", "period": "FY2025Q3"}),
        ("TAL_2026Q2.txt", {"ticker": "TAL", "period": "FY2026Q2"}),
        ("TAL_Q3_2026_zh.txt", {"ticker": "TAL", "period": "FY2026Q3", "language": "zh"}),
        ("MSFT_Q2_2026_bilingual.json", {"ticker": "MSFT", "period": "FY2026Q2"}),
        ("dis_q1_2022.txt", {"ticker": "DIS", "period": "FY2022Q1"}),
        ("AMZN FY25 Q4 chinese notes.md", {"ticker": "AMZN", "period": "FY2025Q4", "language": "zh"}),
        ("Q3 2022 Equinix Inc Earnings Call.txt", {"period": "FY2022Q3"}),  # no ticker: the first word is a period
        ("earnings_call_notes.txt", {}),
    ],
)
def test_from_filename(name: str, expected: dict[str, str]) -> None:
    assert from_filename(Path(name)) == expected


def test_detect_language() -> None:
    assert detect_language("公司表示，积压订单达2440亿美元，同比增长40%。AWS") == "zh"
    assert detect_language("Revenue was $1.2 billion (营收).") == "en"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Snowflake(SNOW+7.02%)Q1 2025 Earnings CallMay 22, 2024,5:00 p.m. ET\nHello",
         {"company": "Snowflake", "ticker": "SNOW", "period": "FY2025Q1", "call_date": "2024-05-22"}),
        ("Microsoft (NASDAQ: MSFT) Q4 2025 Earnings Call Transcript\n...",
         {"company": "Microsoft", "ticker": "MSFT", "period": "FY2025Q4"}),
        ("好未来(TAL+2.1%)2026财年第三季度财报电话会议\n", {"company": "好未来", "ticker": "TAL", "period": "FY2026Q3"}),
        ("微软2026财年第一季度业绩电话会\n2025年10月29日", {"period": "FY2026Q1", "call_date": "2025-10-29"}),
        ("2025年8月27日星期三下午5点（美国东部时间）\n\n呼叫参与者", {"call_date": "2025-08-27"}),
        ("Thanks for joining. Revenue grew 12% in Q3 2024, versus Q3 2023.", {}),  # a body sentence is no title
    ],
)
def test_from_title(text: str, expected: dict[str, str]) -> None:
    assert from_title(text) == expected


def test_from_body_names_the_most_mentioned_company() -> None:
    text = "感谢大家参加好未来教育集团第三季度财报电话会议。好未来的收入增长。好未来学习设备。微软合作。"
    assert from_body(text) == {"ticker": "TAL", "company": "TAL Education"}
    assert from_body("Welcome to the XYZW (NASDAQ: XYZW) call. XYZW grew. (NASDAQ: XYZW)") == {"ticker": "XYZW"}
    # Two companies named about as often: no guess.
    assert from_body("Microsoft and Amazon. Microsoft and Amazon. Microsoft and Amazon.") == {}


def test_a_period_as_written_splits_and_counts_back() -> None:
    from rag.ingest.meta import period_parts, quarter_before

    assert period_parts("FY2025Q3") == (2025, 3) and period_parts("Q3 2025") is None and period_parts(None) is None
    assert quarter_before(2025, 3) == "FY2025Q2" and quarter_before(2026, 1) == "FY2025Q4"
