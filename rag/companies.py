"""Known companies: ticker, English and Chinese names, so metadata and questions can name them.

A transcript's own header wins; these tables fill gaps (ECTSum files and structured JSON calls name no
company in a header) and give aliases such as 亚马逊 for Amazon. `KNOWN` holds the few companies with
Chinese names; the US listings of the index constituents maintained by the `pytickersymbols` package
(S&P 500/600, NASDAQ 100, Dow: some 1,700 names) cover the rest. It is data, not a limit: unknown
tickers still work.
"""

from __future__ import annotations

import re
from functools import lru_cache

# ticker -> (English name, aliases...)
KNOWN: dict[str, tuple[str, ...]] = {
    "AAPL": ("Apple", "苹果", "Apple Inc."),
    "AMZN": ("Amazon", "亚马逊", "Amazon.com", "AWS"),
    "BAC": ("Bank of America", "美国银行", "美银", "BofA"),
    "DE": ("Deere", "John Deere", "迪尔", "约翰迪尔", "Deere & Company"),
    "DIS": ("Disney", "Walt Disney", "迪士尼", "华特迪士尼"),
    "EQIX": ("Equinix", "易昆尼克斯", "Equinix, Inc."),
    "FIG": ("Figma", "Figma, Inc."),
    "IBM": ("IBM", "International Business Machines", "国际商业机器"),
    "KO": ("Coca-Cola", "Coca Cola", "The Coca-Cola Company", "可口可乐"),
    "MA": ("Mastercard", "万事达", "万事达卡"),
    "MDB": ("MongoDB",),
    "MSFT": ("Microsoft", "微软"),
    "NKE": ("Nike", "耐克"),
    "NVO": ("Novo Nordisk", "诺和诺德"),
    "SNOW": ("Snowflake", "雪花"),
    "T": ("AT&T", "AT&T Inc.", "美国电话电报"),
    "TAL": ("TAL Education", "TAL Education Group", "好未来"),
    "Z": ("Zillow", "Zillow Group", "Zillow Group, Inc."),
    "GOOGL": ("Alphabet", "Google", "谷歌"),
    "META": ("Meta", "Meta Platforms", "Facebook", "脸书"),
    "NVDA": ("NVIDIA", "Nvidia", "英伟达"),
    "TSLA": ("Tesla", "特斯拉"),
    "BABA": ("Alibaba", "阿里巴巴"),
    "JPM": ("JPMorgan Chase", "JPMorgan", "摩根大通"),
    "NFLX": ("Netflix", "奈飞", "网飞"),
}


# Legal-form words a company is named without in speech ("Loews Corporation" is "Loews").
_SUFFIX = re.compile(r"(?:,?\s+(?:inc|incorporated|corp|corporation|company|co|ltd|limited|plc|llc|lp|l\.p|n\.v|s\.a|"
                     r"holdings?|group|& co))\.?$", re.I)

# A legal form written in full or short ("Packaging Corp" is Packaging Corporation of America): each
# form's words -> a pattern matching any of them.
_SHORT_FORMS = {words: pattern for pattern, forms in (
    (r"corp(?:oration|\.)?", ("corporation", "corp", "corp.")),
    (r"co(?:mpany|\.)?", ("company",)),
    (r"inc(?:orporated|\.)?", ("incorporated", "inc", "inc.")),
    (r"int(?:ernationa)?l\.?", ("international",)),
) for words in forms}
# A name written with its legal form ("Initech Corp", "Umbrella Holdings Ltd"): a company's, whatever it is.
WITH_LEGAL_FORM = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z][\w'&.-]*\s+){1,4}(?:Corp(?:oration)?|Inc(?:orporated)?|Ltd|"
                             r"Limited|plc|PLC|LLC)(?![A-Za-z0-9])\.?")


def legal_form(word: str) -> str | None:
    """A pattern for `word` in full or short when it is a legal form ("Corporation": corp, corp.), else None."""
    return _SHORT_FORMS.get(word.lower())


@lru_cache(maxsize=1)
def _stocks() -> tuple[dict, ...]:
    """pytickersymbols' stocks, read once for both tables below (() when the package is absent)."""
    try:
        from pytickersymbols import PyTickerSymbols
    except ImportError:
        return ()
    return tuple(PyTickerSymbols().get_all_stocks())


@lru_cache(maxsize=1)
def listed() -> dict[str, str]:
    """US ticker -> company name from pytickersymbols' index lists ({} when the package is absent)."""
    out: dict[str, str] = {}
    for stock in _stocks():
        for sym in stock.get("symbols") or []:
            y = (sym.get("yahoo") or "").upper()
            # US listings only: other exchanges' symbols carry a suffix (".DE") or another currency.
            if y and "." not in y and sym.get("currency") == "USD" and stock.get("name"):
                out.setdefault(y, stock["name"].strip())
    return out


@lru_cache(maxsize=1)
def listed_abroad() -> dict[str, str]:
    """Symbol -> name of pytickersymbols' companies with no US listing (Toyota, Sony, Ferrari): never
    a transcript's ticker, but a company a question may name, which the index then does not hold."""
    us = set(listed())
    out: dict[str, str] = {}
    for stock in _stocks():
        symbols = [(s.get("yahoo") or "").upper() for s in stock.get("symbols") or []]
        if stock.get("name") and symbols and symbols[0] and not us & set(symbols):
            out.setdefault(symbols[0], stock["name"].strip())
    return out


def name_for(ticker: str | None) -> str | None:
    if not ticker:
        return None
    names = KNOWN.get(ticker.upper())
    return names[0] if names else listed().get(ticker.upper())


def name_core(name: str) -> str:
    """A name as compared across tables: its shortest form, case and spacing aside ("The Aaron's
    Company, Inc." and "Aaron's" -> "aaron's")."""
    return " ".join(([name, *short_forms(name)][-1]).split()).casefold()


@lru_cache(maxsize=1)
def _tickers_by_name() -> dict[str, str]:
    """Name core -> ticker over the company tables; a core two listings share names neither."""
    found: dict[str, set[str]] = {}
    for ticker, n in listed().items():
        found.setdefault(name_core(n), set()).add(ticker)
    out = {core: next(iter(ts)) for core, ts in found.items() if len(ts) == 1 and len(core) >= 2}
    out.update({name_core(n): ticker for ticker, names in KNOWN.items() for n in names})  # the maintained table wins
    return out


def ticker_for(name: str | None) -> str | None:
    """The ticker of a company named as the tables name it ("Eaton Corporation" -> ETN), for a call
    whose text names its company but never its ticker, so that a question by ticker finds it."""
    return _tickers_by_name().get(name_core(name)) if name else None


def short_forms(name: str) -> list[str]:
    """The name without its legal form and a leading "The": "The Aaron's Company, Inc." -> "Aaron's"."""
    out: list[str] = []
    current = re.sub(r"^the\s+", "", name.strip(), flags=re.I)
    if current != name.strip():
        out.append(current)
    while (shorter := _SUFFIX.sub("", current).strip(" ,&")) != current and len(shorter) >= 2:
        out.append(shorter)
        current = shorter
    return out


def aliases_for(ticker: str | None, *names: str | None) -> tuple[str, ...]:
    """All names a company goes by: the given ones first, then the tables', each with its short forms,
    without duplicates."""
    seen: dict[str, None] = {}
    listed_name = listed().get((ticker or "").upper()) if ticker else None
    for n in (*names, *(KNOWN.get((ticker or "").upper(), ())), listed_name):
        if n and n.strip():
            for form in (n.strip(), *short_forms(n)):
                seen.setdefault(form, None)
    return tuple(seen)
