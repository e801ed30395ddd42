"""The extractive answerer (no LLM): picks the sentences of the retrieved passages that answer the
question, by term coverage (glossary-bridged across languages), the kind of number asked for, and
the passage's retrieval rank."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.cues import (
    ABOUT_ANALYST, ASKS_GUIDANCE, CJK, COMPARISON, FORWARD, FULL_YEAR, PERIOD_WORDS, asks_about_past, expected_kinds,
    first_figure_at, is_measure, leads_with_guidance, matches, model_names, names_a_quarter, other_model,
    other_quarters, other_years, proper_names, quarters_in, question_tokens, speaks_of_a_year_only, years_in,
)
from rag.glossary import groups, is_aspect, mask
from rag.lexical import tokenize
from rag.numbers import extract
from rag.sentences import Sentence, split
from rag.types import Hit


_REFERS_BACK = re.compile(r"\b(?:it|its|they|them|their|this|that|these|those)\b|它|其|这|该", re.I)


@dataclass(frozen=True)
class Term:
    group: tuple[str, ...]  # a question term and its equivalents (glossary translations)
    weight: float
    content: bool = True  # names what is asked about (not an aspect like 同比 or Q4)
    focal: bool = False  # may be the focus: a metric, a name, a Chinese word (not "report", "imply")
    comparison: bool = False  # asks for a change over time (同比, growth): the answer must make one


@dataclass(frozen=True)
class Pick:
    hit: Hit
    sentence: Sentence
    score: float
    kinds: frozenset[str]  # kinds of numbers the sentence holds


class Extractive:
    """Scores sentences of the top passages; `idf` weighs question terms by their rarity."""

    name = "extractive"

    def __init__(self, idf, df, min_score: float = 0.35, max_sentences: int = 2, min_coverage: float = 0.15) -> None:
        self.idf = idf
        self.df = df
        self.min_coverage = min_coverage
        self.min_score = min_score
        self.max_sentences = max_sentences

    def _terms(self, question: str, skip: set[str]) -> list[Term]:
        """Weighted term groups of the question: glossary groups (a term and its translations) and
        the remaining content tokens. Scoping words (company names, periods) are skipped."""
        out: list[Term] = []
        rest = PERIOD_WORDS.sub(" ", question.lower())
        for g in groups(rest):
            rest = mask(rest, g[0])
            if g[0].lower() in skip:
                continue
            weight = self._group_weight(g)
            if weight is None:
                continue
            aspect = is_aspect(g)
            # Aspects (同比, basis points, Q4) qualify the metric: they count, but less.
            out.append(Term(g, weight * (0.4 if aspect else 1.0), content=not aspect, focal=not aspect,
                            comparison=g[0].lower() in COMPARISON))
        raw = tokenize(rest)
        # The tokenizer adds a family name for model names ("trainium3" -> "trainium") so passages
        # match every generation; the question's own term is the exact generation.
        families = {t for t in raw if any(o != t and o.startswith(t) and o[len(t):][:1].isdigit() for o in raw)}
        names = proper_names(question)
        for tok in dict.fromkeys(raw):
            if tok in families or tok in skip or tok in question_tokens() or tok.isdigit():
                continue
            if len(tok) < 2:  # single letters and single Chinese characters (年, 中) carry no topic
                continue
            known = self.df(tok) > 0
            # A word no passage in the index uses is likely the asker's paraphrase: it weighs less
            # and cannot be the focus. Only names (capitalised words, acronyms, model names) and
            # Chinese words can be the focus; ordinary English words ("report", "imply") cannot.
            focal = known and (tok in names or bool(CJK.match(tok)) or any(c.isdigit() for c in tok))
            out.append(Term((tok,), self.idf(tok) * (1.0 if known else 0.25), content=known, focal=focal))
        return out

    def _group_weight(self, group: tuple[str, ...]) -> float | None:
        """How informative a glossary concept is where the index uses it: the least specific of its
        present phrasings (so "revenue" stays common even though "top line" is rare); a concept the
        index never mentions gets the highest weight, which makes it the focus, and the answer
        abstains (the transcripts don't speak of it)."""
        weights = []
        for member in group:
            toks = tokenize(member)
            if toks and all(self.df(t) > 0 for t in toks):
                weights.append(sum(self.idf(t) for t in toks) / len(toks))
        if weights:
            return min(weights)
        toks = [t for m in group for t in tokenize(m)]
        return max((self.idf(t) for t in toks), default=None)

    def pick(self, question: str, hits: list[Hit], skip: set[str] = frozenset(),
             reasons: dict[tuple[int, int], str] | None = None, forward: bool = False,
             emphasis: str | None = None) -> list[Pick]:
        """The best sentences (at most `max_sentences`), or [] when none answers well enough.

        `emphasis`: for a rewritten follow-up, the user's own words ("And price/mix?"): their
        terms weigh double and give the focus, since they say what is asked now.

        `forward`: the question asks about a period after the call, so only a forward-looking
        sentence (guidance, "we expect") can answer it.

        A sentence can answer only if its passage mentions the question's most specific content term
        (the focus) and the sentence covers it or half of the weighted terms; if the question asks
        for a comparison (同比, year over year, growth) the sentence makes one; if it asks for a kind
        of number ("how many", "什么时候", "basis points") the sentence holds one; and it neither
        names another generation of a model the question names (Trainium2 for Trainium3) nor
        speaks only of other years than the question's.
        """
        if not hits:
            return []
        terms = self._terms(question, {s.lower() for s in skip})
        if emphasis:
            new = {t.group for t in self._terms(emphasis, {s.lower() for s in skip})}
            # The follow-up's own content words name the new subject ("What about rentals?"),
            # even an ordinary word that could not be the focus of a standalone question.
            if any((t.focal or t.content) and t.group in new for t in terms):
                # The earlier question's subject (Premier Agent) is what "What about rentals?"
                # replaces; "how widely is it used" keeps it.
                keep = 1.0 if _REFERS_BACK.search(emphasis) else 0.25
                terms = [Term(t.group, t.weight * 2, t.content, t.focal or t.content, t.comparison) if t.group in new
                         else Term(t.group, t.weight * (keep if t.focal else 1.0), t.content, False, t.comparison)
                         for t in terms]
        total = sum(t.weight for t in terms) or 1.0
        # The focus: the question's most specific metric if it names one (a glossary concept is
        # the surest sign of what is asked), else its most specific name or Chinese word.
        # Both may be given (Atlas, gross margin): a passage must mention one of them.
        metrics = [t for t in terms if t.focal and len(t.group) > 1]
        names = [t for t in terms if t.focal and len(t.group) == 1]
        foci = [max(ts, key=lambda t: t.weight).group for ts in (metrics, names) if ts]
        focus = tuple(dict.fromkeys(m for g in foci for m in g)) if foci else None
        # The financial measure asked for must be in the sentence itself (a name may come from the
        # sentence before): "Atlas revenue grew 24%" does not answer a question about gross margin.
        measures = [t for t in metrics if is_measure(t.group)]
        metric = max(measures, key=lambda t: t.weight).group if measures else None
        # ...and what it is measured of, when the question names it (Atlas, Premier Agent): in the
        # sentence, the one before, or the analyst's question. (Chinese words are not held to this:
        # they often paraphrase rather than name.)
        said_by = _speaker_words(hits)
        latin = {n for n in proper_names(question)
                 if n not in said_by and not any(len(n) >= 3 and w.startswith(n) for w in said_by)}  # Tim/Timothy
        owner = max((t for t in names if t.group[0] in latin), key=lambda t: t.weight, default=None) if metric else None
        comparisons = [t.group for t in terms if t.comparison]
        subject = max((t for t in terms if t.focal), key=lambda t: t.weight, default=None)
        models = model_names(question)
        years = years_in(question)
        quarters = quarters_in(question)
        full_year = bool(FULL_YEAR.search(question)) and not quarters
        one_quarter = bool(quarters) and not FULL_YEAR.search(question)
        wants_guidance = bool(ASKS_GUIDANCE.search(emphasis or question))
        strong, weak = expected_kinds(question)
        top = max(h.score for h in hits) or 1.0
        scored: list[Pick] = []
        for hit in hits:
            prior = hit.score / top
            past = not forward and asks_about_past(question, years, hit.chunk.meta.period if hit.chunk.meta else None)
            # The analyst's question is context for the answer sentences of its exchange (and so is
            # the sentence before, below); the rest of a passage holds unrelated statements.
            question_tokens_ = set(tokenize(hit.chunk.question or "")) if hit.chunk.section == "qa" else set()
            question_low = (hit.chunk.question or "").lower() if hit.chunk.section == "qa" else ""
            passage_low = hit.chunk.text.lower()
            passage_tokens = set(tokenize(hit.chunk.text))
            if focus is not None and not _covers(focus, passage_low, passage_tokens):
                if reasons is not None:
                    reasons[(hit.chunk.start, hit.chunk.end)] = f"passage lacks the focus term {focus[0]!r}"
                continue
            context = ""  # the previous answer sentence: "这里使用了50万颗芯片" follows "Project Rainier 是..."
            # The period the passage is speaking of: "For the full fiscal year 2025, net revenues were
            # ... Non-GAAP net income was $149.5 million" -- the second figure is a full-year one too.
            period = None
            # The analyst's own words (questions, and the statements around them) answer nothing,
            # unless the question asks what the analyst said.
            about_analyst = bool(ABOUT_ANALYST.search(question)) or _names_an_analyst(question, hit)
            asked = "" if about_analyst else re.sub(r"\s+", "", hit.chunk.question or "")
            for sent in split(hit.chunk.text, hit.chunk.start):
                if (sent.is_question and not about_analyst) or (asked and re.sub(r"\s+", "", sent.text) in asked):
                    context = ""
                    continue
                low = sent.text.lower()
                sent_tokens = set(tokenize(sent.text))
                local_low, local_tokens = context + " " + low, sent_tokens | set(tokenize(context))
                context = low
                year_only = speaks_of_a_year_only(sent.text)
                if year_only:
                    period = "year"
                elif names_a_quarter(sent.text):
                    period = "quarter"
                in_sent = [t for t in terms if _covers(t.group, low, sent_tokens)]
                # Names and metrics carry over from the sentence before ("Voyage ... The total
                # consideration was $220 million"); ordinary words there are another statement's.
                around = [t for t in terms if t not in in_sent and (
                    (t.focal and len(t.group) == 1 and _covers(t.group, local_low, local_tokens))
                    or _covers(t.group, question_low, question_tokens_))]
                coverage = (sum(t.weight for t in in_sent) + 0.5 * sum(t.weight for t in around)) / total
                quantities = extract(sent.text)
                have = frozenset(q.kind for q in quantities)
                why = None
                # A metric must be in the sentence itself; a name may come from the sentence before.
                # In an answer the metric may be the analyst's ("what portion of opex was energy?" --
                # "It's roughly 13%"), when the sentence names no metric of its own.
                borrow = question_low and not any(not is_aspect(g) for g in groups(low))
                focus_here = ((local_low + " " + question_low, local_tokens | question_tokens_) if borrow
                              else (local_low, local_tokens))
                if focus is not None and not _covers(focus, *focus_here):
                    why = f"lacks the focus term {focus[0]!r}"
                elif metric is not None and not (_covers(metric, low, sent_tokens) or (
                        borrow and _covers(metric, question_low, question_tokens_))):
                    why = f"lacks the metric {metric[0]!r}"
                elif owner is not None and not _covers(owner.group, *focus_here):
                    why = f"does not say whose {metric[0]!r} ({owner.group[0]!r})"
                elif coverage < self.min_coverage:
                    why = f"covers too little of the question ({coverage:.2f})"
                elif (forward or wants_guidance) and not FORWARD.search(sent.text):
                    why = "the question asks for guidance or a later period; the sentence is not forward-looking"
                elif forward and quarters and not (quarters & quarters_in(sent.text)):
                    why = "the question asks about a later quarter the sentence does not name"
                elif past and leads_with_guidance(sent.text, first_figure_at(quantities)):
                    why = "the question asks about a past period; the sentence is guidance"
                elif full_year and names_a_quarter(sent.text) and not FULL_YEAR.search(sent.text):
                    why = "the question asks about a full year; the sentence about a quarter"
                elif one_quarter and year_only:
                    why = "the question asks about a quarter; the sentence about a full year"
                elif comparisons and not any(_covers(g, low, sent_tokens) for g in comparisons):
                    why = "makes no comparison (同比/year over year...)"
                elif other_model(models, sent_tokens):
                    why = "names another model generation"
                elif other_years(years, sent.text) or other_quarters(quarters, sent.text):
                    why = "speaks of another year or quarter"
                elif strong and not matches(have, strong):
                    why = f"holds no number of kind {sorted(strong)}"
                if why is not None:
                    if reasons is not None:
                        reasons[(sent.start, sent.end)] = why
                    continue
                # A wanted kind of number counts fully when the question demands it, a little when it
                # only hints at it; a numberless sentence rarely answers a question about numbers.
                if strong:
                    num = 0.25
                elif weak:
                    # Each wanted kind present counts ("revenue ... and how fast did it grow" wants money
                    # and a percentage).
                    got = sum(matches(have, {k}) for k in weak)
                    num = 0.2 * got / len(weak) if got else (-0.1 if not have else 0.0)
                else:
                    num = 0.0
                # Naming the quarter or year the question asks about is a sign of the right sentence
                # ("仅第四季度我们就环比增加了 1.2 吉瓦" for "And in the fourth quarter alone?").
                # The figure belongs to what is asked when the subject precedes it closely
                # ("Premier Agent revenue decreased 13%"), not when named in a later clause
                # ("IMT revenue was $457 million, down 5%, driven by ... Premier Agent").
                near = subject is not None and _precedes(subject, low, first_figure_at(quantities))
                num += 0.05 if near else 0.0
                when = 0.1 if quarters & quarters_in(sent.text) else 0.0
                when += 0.05 if years & years_in(sent.text) else 0.0
                when += 0.1 if full_year and period == "year" else 0.0
                score = 0.6 * coverage + num + 0.15 * prior + when
                # An editor's summary restates what was said; quote the speaker when both say it.
                score -= 0.05 if hit.chunk.section == "summary" else 0.0
                if reasons is not None:
                    reasons[(sent.start, sent.end)] = (f"scored {score:.3f} (coverage {coverage:.2f}, number {num:+.2f}, "
                                                       f"rank prior {prior:.2f}, period {when:+.2f})")
                scored.append(Pick(hit, sent, score, have))
        scored.sort(key=lambda p: -p.score)
        if not scored or scored[0].score < self.min_score:
            return []
        picks = [scored[0]]
        wanted = strong or weak
        for p in scored[1:]:
            if len(picks) >= self.max_sentences:
                break
            # A second sentence only when it is nearly as good, about the focus itself, and brings
            # a wanted number the first lacks.
            if (p.score >= 0.9 * picks[0].score and wanted and matches(p.kinds - picks[0].kinds, wanted)
                    and (focus is None or _covers(focus, p.sentence.text.lower(), set(tokenize(p.sentence.text))))):
                picks.append(p)
        return picks


def _covers(group: tuple[str, ...], sent_lower: str, sent_tokens: set[str]) -> bool:
    for term in group:
        if term in sent_tokens:  # a question token, already stemmed (stems do not re-stem to themselves)
            return True
        if re.search(r"[\u4e00-\u9fff]", term):
            if term in sent_lower:
                return True
        else:
            # Latin terms by their tokens, so plurals and word order do not matter
            # ("remaining performance obligations" / "remaining performance obligation").
            toks = tokenize(term)
            if toks and all(t in sent_tokens for t in toks):
                return True
    return False


def _names_an_analyst(question: str, hit: Hit) -> bool:
    """The question names an analyst of the exchange ("what did Keith Weiss say"), so the analyst's
    words are what is asked for."""
    low = question.lower()
    for sp in hit.chunk.speakers:
        if sp.role == "analyst" and sp.name:
            parts = [p for p in re.split(r"\W+", sp.name.lower()) if len(p) > 2]
            if parts and parts[-1] in re.findall(r"\w+", low):
                return True
    return False


def _precedes(term: Term, sent_lower: str, figure_at: int | None, window: int = 60) -> bool:
    """A phrasing of `term` ends within `window` characters before the sentence's first figure."""
    if figure_at is None:
        return False
    before = sent_lower[max(0, figure_at - window):figure_at]
    return _covers(term.group, before, set(tokenize(before)))


_TITLES = frozenset("ceo cfo coo cto president chairman chair founder management analyst".split())


def _speaker_words(hits: list[Hit]) -> set[str]:
    """Tokens of the speakers' names, titles and firms: they say who spoke, not what a figure is of."""
    out = set(_TITLES)
    for h in hits:
        for sp in h.chunk.speakers:
            out.update(tokenize(" ".join(x for x in (sp.name, sp.title, sp.firm) if x)))
    return out
