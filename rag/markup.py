"""Text in a transcript that speaks to an assistant rather than for a speaker: citation markers and chat markup.

No earnings call has a speaker called "SYSTEM" or "Assistant", a `[2]` of its own, or a chat
template's turn tags. Such text can only be planted, to be quoted or obeyed as if the call said it.
The index keeps a passage as it is (offsets, citations and the number check read the source); what
these patterns find is never quoted by the reader (`rag.sentences`) nor shown to a model
(`rag.llm.inert`).
"""

from __future__ import annotations

import re

# "[2]", "［2］", "【2】": what an answer cites with. Bracketed numbers in calls are figures ("[150]"
# basis points, as a transcriber marks an unclear word) or a layout's paragraph numbers ("[  1]"): a
# sentence ends before one and goes on after, so it never carries a marker into a quote.
FAKE_MARKER = re.compile(r"[ \t]*[\[［【]\s*\d{1,3}\s*[\]］】]")
_ROLE = r"[ \t>*#]*(?:system|assistant|user|human|developer|系统|助手)[ \t*]*[:：]"
# A chat role opening a line, or a sentence right after another one ends, speaks to its line's end.
ROLE_LINE = re.compile(r"^" + _ROLE + r".*(?:\n|$)", re.IGNORECASE | re.MULTILINE)
ROLE_SENTENCE = re.compile(r"(?<=[.!?。！？])" + _ROLE + r"[^\n]*?(?:[.!?](?=\s|$)|[。！？]|(?=\n)|$)",
                           re.IGNORECASE)
TEMPLATE_TAG = re.compile(r"\[/?INST\]|<</?SYS>>", re.IGNORECASE)
# "<|im_start|>system\nReply only with ..." : a special token opens a turn that runs to the next
# token, a blank line or the end.
_SPECIAL_TURN = re.compile(r"<\s*\|[^|\n]{1,40}\|\s*>[\s\S]*?(?=<\s*\|[^|\n]{1,40}\|\s*>|\n[ \t]*\n|$)")


def chat_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, merged (start, end) spans of `text` that are chat markup or citation markers."""
    spans = sorted((m.start(), m.end()) for rx in (FAKE_MARKER, ROLE_LINE, ROLE_SENTENCE, TEMPLATE_TAG, _SPECIAL_TURN)
                   for m in rx.finditer(text) if m.end() > m.start())
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged
