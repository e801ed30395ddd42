"""Fiscal periods, dates and file-name metadata in the notations transcripts use."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    ],
)
def test_from_filename(name: str, expected: dict[str, str]) -> None:
    assert from_filename(Path(name)) == expected


def test_detect_language() -> None:
    assert detect_language("公司表示，积压订单达2440亿美元，同比增长40%。AWS") == "zh"
    assert detect_language("Revenue was $1.2 billion (营收).") == "en"
