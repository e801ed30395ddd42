"""Finding and normalising numbers (亿/万/billion/%/基点/bps...) for verification and evaluation.

Numbers are the product: an answer may only state a number that a cited passage holds. `extract`
finds every quantity in a text with its unit and scale and puts it in one normal form, so that
"2440亿美元" and "$244 billion", or "40个基点" and "0.4 percentage points", compare equal while
"40%" and "40 basis points" do not. Kinds:

- percent  40% / 40 percent / 百分之四十 / 四成 -> 40.0
- pp       percentage points AND basis points, in percentage points: 40 bps == 0.4个百分点 -> 0.4
- money    amounts with a currency, in base units: 2440亿美元 -> 2.44e11, currency "USD"
- count    amounts without a currency, in base units: 140万 -> 1.4e6; 3.9吉瓦 -> 3.9
- multiple 3x / 3倍 / 2.5 times / 翻倍 -> 3.0 / 3.0 / 2.5 / 2.0
- fraction 三分之一 / one third / 1/3 / half -> 0.333.. (a share of 1; compares with percent x100)
- year     2026年 / fiscal 2025 / FY25 / '22 -> 2026.0 ...
- date     2026-02-06 -> 20260206; April 24 -> 424; 11月 / November -> 1100 (absent parts are 0)
- ordinal  47th / 第4 -> 47.0 / 4.0

Ranges ("30%-40%", "30%到40%", "$1.044-1.046 billion", "between 12% and 13%") yield one Quantity
per end; both ends carry the range in `low`/`high`, units written once are shared by both ends, and
a range end is supported only where both ends are. Signs are kept as written ("-0.11" -> -0.11) but
`same` compares magnitudes: direction is carried by words ("declined 5%") this module does not read,
so a sign is no evidence either way. Identifiers (Trainium2, GPT-4, Form 10-Q, K-12, M365, Q4,
FY25Q4, x86, 5G), times of day and citation markers ([1]) yield nothing.
"""

from rag.numbers.compare import same, supported, unsupported
from rag.numbers.quantity import KINDS, REL_TOL, Quantity
from rag.numbers.scan import extract, parse

__all__ = ["KINDS", "REL_TOL", "Quantity", "extract", "parse", "same", "supported", "unsupported"]
