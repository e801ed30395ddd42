"""Lexical tokens for BM25: jieba for Chinese (search mode), lower-cased Latin words, numbers kept."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

# Function words that carry no retrieval signal in either language.
STOPWORDS = frozenset(
    """a an the and or of to in on for at by with from as is are was were be been being it its this that
    these those we our you your they their he she i me my us do does did so but if then than there here
    what which who whom how when where why can could would should will shall may might just also very
    about into over per vs
    的 了 是 在 和 与 及 或 等 也 都 而 就 对 为 以 将 把 被 从 到 于 之 其 这 那 这些 那些 我们 你们 他们
    我 你 他 她 它 有 个 吗 呢 吧 啊 么 什么 如何 怎么 多少 哪些 是否 能否 请问 关于""".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*|[\u3400-\u4dbf\u4e00-\u9fff]+")
_ALNUM = re.compile(r"^([a-z]{2,})(\d+[a-z]?)$")
_NOT_PLURAL = frozenset("bonus status plus minus focus versus campus census virus surplus stimulus consensus "
                        "corpus radius nexus thus always perhaps whereas".split())
# Bump when tokens change: rebuilds then re-tokenise every chunk (vectors are kept).
TOKENIZER_VERSION = 4


@lru_cache(maxsize=1)
def _stemmer():  # -> snowballstemmer.stemmer
    import snowballstemmer

    return snowballstemmer.stemmer("english")


# The service stems every word of every question: the cache holds the common words (a Zipf head) and
# stays small, since random words (a fuzzer's, a user's typos) would otherwise fill it for good
# (65,536 entries were 10 MB of the service's memory after 10,000 fuzzed requests).
@lru_cache(maxsize=16384)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _jieba():  # -> module
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Tokens of `text`: jieba's search-mode words for Chinese, lower-cased words elsewhere."""
    out: list[str] = []
    for piece in _TOKEN.findall(text.lower()):
        if piece[0] >= "\u3400":
            out.extend(w for w in _jieba().lcut_for_search(piece) if w not in STOPWORDS)
        elif piece not in STOPWORDS:
            out.extend(_latin(piece))
    return out


def chinese_words(text: str) -> list[str]:
    """jieba's words (accurate mode, not search mode's overlapping pieces) of the Chinese in `text`."""
    return [w for piece in _TOKEN.findall(text.lower()) if piece[0] >= "\u3400" for w in _jieba().lcut(piece)]


def _latin(word: str) -> list[str]:
    """A Latin token, plus its family name for model names ("trainium2" -> also "trainium", so
    "Trainium" finds every generation); plain words are singular (a plural rule first, since the
    stemmer keeps "gpus") and then stemmed, so "proposing" meets "propose" and "foundational"
    meets "foundation"."""
    if word.endswith("'s"):
        word = word[:-2]  # possessive: "aws's" is "aws"
    m = _ALNUM.match(word)
    if m:
        return [word, m.group(1)]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "is", "ous")) and word.isalpha() \
            and word not in _NOT_PLURAL:
        word = word[:-1]
    return [_stem(word) if word.isalpha() else word]
