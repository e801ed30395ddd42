"""Known companies: ticker, English and Chinese names, so metadata and questions can name them.

A transcript's own header wins; this table fills gaps (ECTSum files name no company) and gives
aliases such as 亚马逊 for Amazon. It is data, not a limit: unknown tickers still work.
"""

from __future__ import annotations

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


def name_for(ticker: str | None) -> str | None:
    if not ticker:
        return None
    names = KNOWN.get(ticker.upper())
    return names[0] if names else None


def aliases_for(ticker: str | None, *names: str | None) -> tuple[str, ...]:
    """All names a company goes by: the given ones first, then the table's, without duplicates."""
    seen: dict[str, None] = {}
    for n in (*names, *(KNOWN.get((ticker or "").upper(), ()))):
        if n and n.strip():
            seen.setdefault(n.strip(), None)
    return tuple(seen)
