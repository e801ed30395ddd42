"""Companies a Chinese question names in Chinese that no transcript or alias table spells out: by
meaning (皇冠 is "crown" in CC-CEDICT: Crown Holdings) or by sound (达登 reads "da deng": Darden;
梅特勒-托利多: Mettler-Toledo). Without this, "达登餐饮2021财年第三季度..." named no company the index
knows, was scoped by its period alone, and was answered from another company's call of that quarter.

Only words jieba tags as proper nouns are read, and only the index's own companies are candidates;
a sound match must be close and clearly ahead of every other company's, so an unknown name stays
unknown rather than becoming the wrong company."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from rag.cedict import english
from rag.glossary import groups, without
from rag.companies import short_forms

# jieba's tags for names: of people (transliterated names are mostly tagged so), organisations, other
# proper nouns. Place names (ns: 北美, 欧洲) are left out: they name regions and segments far more often.
_PROPER = {"nr", "nrt", "nrfg", "nt", "nz"}
_LEGAL = {"控股", "集团", "公司", "股份", "国际", "工业", "实业"}
_HAN = re.compile(r"[\u4e00-\u9fff]")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
MIN_SOUND = 0.74  # a name's sound key against a company's (difflib ratio)
MARGIN = 0.1  # ahead of the next company by at least this
# Below this, a name's sound is no evidence for a company: the dev names that stood by sound alone
# scored 0.46 and more against their company's, the wrong ones accepted by the embedding alone 0.18
# (台积电 against AT&T); the bound lies between (eval/README.md, twenty-sixth session).
SOME_SOUND = 0.3
# Words of legal forms and of what any company calls itself: no evidence of which company is meant.
_CORPORATE = {"company", "companie", "corporation", "corp", "group", "holding", "inc", "incorporated",
              "international", "global", "service", "system", "solution", "technologie", "enterprise", "partner",
              "the", "and", "of", "ltd", "plc", "co", "llc", "lp", "sa", "ag", "nv"}


def _english_key(name: str) -> str:
    """An English name as Mandarin transliteration hears it: no r or h, v as w, c/q as k, no doubles."""
    s = re.sub(r"[^a-z]", "", name.lower())
    for a, b in (("ph", "f"), ("ck", "k"), ("th", "t"), ("c", "k"), ("q", "k"), ("x", "ks"), ("v", "w"),
                 ("y", "i"), ("r", ""), ("h", "")):
        s = s.replace(a, b)
    return re.sub(r"(.)\1+", r"\1", s)


@lru_cache(maxsize=4096)
def _chinese_key(word: str) -> str:
    """A Chinese name's pinyin, reduced the same way (梅特勒 -> "meitelei" -> "meitelei")."""
    from pypinyin import lazy_pinyin

    s = "".join(lazy_pinyin(word))
    for a, b in (("zh", "j"), ("ch", "k"), ("sh", "s"), ("x", "s"), ("q", "k"), ("c", "k"), ("ng", "n"),
                 ("er", ""), ("r", ""), ("h", ""), ("y", "i")):
        s = s.replace(a, b)
    return re.sub(r"(.)\1+", r"\1", s)


@lru_cache(maxsize=1024)
def _tagged(question: str) -> tuple[tuple[str, str], ...]:
    """jieba's words and part-of-speech tags: read once per question, however many checks ask."""
    import jieba.posseg

    return tuple((p.word, p.flag) for p in jieba.posseg.lcut(question))


def proper_nouns(question: str, leading_place: bool = False) -> list[str]:
    """Runs of adjacent proper nouns in a Chinese question (梅特勒 + 托利多 -> 梅特勒托利多).
    `leading_place`: a place name opening the question counts too (jieba tags 英特尔 a place)."""
    if not _HAN.search(question):
        return []
    runs: list[str] = []
    current = ""
    tagged = _tagged(question)
    for i, (w, flag) in enumerate(tagged):
        # A noun before a legal form (皇冠 in 皇冠控股) names an organisation, whatever its tag.
        organisation = i + 1 < len(tagged) and tagged[i + 1][0] in _LEGAL and flag.startswith("n")
        place = leading_place and i == 0 and flag == "ns"
        if (flag in _PROPER or organisation or place) and _HAN.search(w):
            current += w
        elif current and w in "-·‧・":
            continue  # 梅特勒-托利多: the hyphen joins one name
        else:
            if current:
                runs.append(current)
            current = ""
    if current:
        runs.append(current)
    return [r for r in runs if len(r) >= 2]


def companies_named(question: str, names: list[tuple[str, str]]) -> set[str]:
    """Tickers of the index's companies (`names`: (name as written, ticker)) that the question names
    in Chinese by meaning or by sound; empty when none is clear."""
    words = proper_nouns(question)
    # The words a question opens with, however jieba tags them (福陆, 硕腾 are not tagged names): where
    # a question names its company, and what `rag.scope.subject_names` reads as a name too.
    lead = leading_nouns(question.strip()) or opening_name(question.strip())
    if lead and not any(lead in w or w in lead for w in words):
        words.append(lead)
    if not words:
        return set()
    forms = _forms(tuple(names))
    found: set[str] = set()
    for word in words:
        senses = {_singular(s) for s in english(word)}
        by_meaning = {t for t, fs in forms.items() if any(_singular(f) in senses for f, _ in fs)}
        if by_meaning:
            found |= by_meaning
            continue
        key = _chinese_key(word)
        scores = sorted(((max((difflib.SequenceMatcher(None, key, k).ratio() for _, k in fs), default=0.0), t)
                         for t, fs in forms.items()), reverse=True)
        if scores and scores[0][0] >= MIN_SOUND and (len(scores) == 1 or scores[0][0] - scores[1][0] >= MARGIN):
            found.add(scores[0][1])
    return found


def could_name(word: str, company: str, shared: frozenset[str] = frozenset()) -> bool:
    """Whether a Chinese name no matcher resolved could be `company`'s at all: some of its words
    translate one of the company's (新纪元能源 "energy": NextEra Energy; 联合租赁 "unite": United
    Rentals; 西南航空 "southwest": Southwest Airlines), or it sounds somewhat like the name (斯凯奇:
    Skechers). 腾讯 and Microsoft share neither. A word of a legal form or one several companies'
    names share (`shared`, lower case: "financial" of two banks) tells no company from another."""
    forms = _forms(((company, ""),)).get("", ())
    words = {_singular(w) for f, _ in forms for w in re.findall(r"[a-z]+", f.lower())} \
        - {_singular(w) for w in shared} - _CORPORATE
    # The name's words as jieba reads them, and each pair of characters: jieba keeps 西南航空 whole,
    # which CC-CEDICT lacks, while 西南 is "southwest".
    pieces = [word, *(word[i:i + 2] for i in range(len(word) - 1))]
    senses = {_singular(w) for p in pieces for s in english(p) for w in re.findall(r"[a-z]+", s.lower())}
    stems = {w[:5] for w in words if len(w) >= 5}  # "industry" and "industrial", "finance" and "financial"
    if words & senses or stems & {w[:5] for w in senses if len(w) >= 5}:
        return True
    key = _chinese_key(word)
    return any(difflib.SequenceMatcher(None, key, k).ratio() >= SOME_SOUND for _, k in forms)


@lru_cache(maxsize=8)
def _forms(names: tuple[tuple[str, str], ...]) -> dict[str, tuple[tuple[str, str], ...]]:
    """ticker -> (form, sound key) of each English form of its names: as written, its short forms
    (`rag.companies.short_forms`: "The Travelers Companies" -> "Travelers Companies"), and its first
    word ("Travelers", "Darden", "Colgate" of Colgate-Palmolive). Worked out once per index, not per question."""
    out: dict[str, dict[str, str]] = {}
    for name, ticker in names:
        if _HAN.search(name):
            continue
        for form in filter(None, (f.strip() for f in (name, *short_forms(name)))):
            # and its first word, or first part of a hyphenated one ("Colgate" of Colgate-Palmolive)
            for f in (form, form.split()[0], form.split()[0].split("-")[0]):
                out.setdefault(ticker, {})[f] = _english_key(f)
    return {t: tuple((f, k) for f, k in fs.items() if len(k) >= 3) for t, fs in out.items()}


def _singular(name: str) -> str:
    """A name compared by meaning: lower case, each word's plural s dropped ("Travelers" is "traveler")."""
    return " ".join(re.sub(r"(?<=[a-z]{3})s$", "", w) for w in name.lower().split())


# The Chinese a question opens with up to its first figure, Latin word or bracket, 的, or a period
# written out ("通用动力3Q21航空航天…", "联合租赁2021年第二季度…", "硕腾的…", "拼多多上季度…"): where a
# question names its company, however jieba tags the words (通用 a verb, 硕 a morpheme, 拼 a verb).
# Not a pointer back (那/这…), a period or a request.
_OPENING = re.compile(r"\s*([\u4e00-\u9fff]{2,10}?)(?:在|于)?(?=[\s\dA-Za-z（(]|的|第[一二三四]|上一?个?(?:季|财)|本季|今年|去年|最近|最新)")
_NOT_A_NAME = re.compile(r"^(?:那|这|该|其|请|还|另|同|它|他们)|季度|年|月|财")


def opening_name(question: str) -> str:
    """The words a Chinese question opens with before its first figure or Latin word, when they may
    be a name; "" otherwise, and for words that are measures only (积压订单最近…, 营收第二季度…)."""
    m = _OPENING.match(question)
    if not m or _NOT_A_NAME.search(m.group(1)):
        return ""
    rest = m.group(1)
    for g in groups(rest):
        rest = without(rest, g[0])
    return m.group(1) if _HAN.search(rest) else ""


def leading_nouns(question: str) -> str:
    """The nouns a Chinese question opens with, joined (贵州茅台 in 贵州茅台上一季度的毛利率), when one
    of them is a name: where a question names what it asks about, whatever jieba takes the words
    for; "" when it opens otherwise or with common nouns only (管理层在...)."""
    if not _HAN.search(question):
        return ""
    import jieba

    run, named = "", False
    tagged = _tagged(question)
    known = jieba.dt.FREQ  # jieba's dictionary, loaded by now: a word it lacks was pieced together
    for w, flag in tagged:
        if not (flag.startswith("n") and _HAN_RUN.fullmatch(w)):
            break
        run += w
        # A name, not a common noun (管理层, 公司): tagged as a name or place, or a word the dictionary lacks.
        named = named or flag in _PROPER or flag == "ns" or not known.get(w)
    return run if len(run) >= 2 and named else ""

