"""The language of a question or answer ("zh" or "en"), from its share of CJK characters."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def language(text: str) -> str:
    """'zh' when at least a quarter of the letters are Chinese characters, else 'en'."""
    letters = sum(1 for c in text if c.isalpha())
    return "zh" if letters and len(_CJK.findall(text)) / letters >= 0.25 else "en"
