"""The `rag` command: thin argument handling over the library; `RagError`s become clear messages."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from rag.errors import RagError


def _cmd_chunks(args: argparse.Namespace) -> int:
    from rag.chunk import chunk_transcript
    from rag.config import get_settings
    from rag.ingest import read_transcript

    settings = get_settings()
    t = read_transcript(args.file)
    chunks = chunk_transcript(
        t,
        max_tokens=args.max_tokens or settings.chunk_max_tokens,
        overlap_tokens=settings.chunk_overlap_tokens if args.max_tokens is None else min(
            settings.chunk_overlap_tokens, args.max_tokens // 4
        ),
    )
    for w in t.warnings:
        print(f"warning: {t.meta.source}: {w}", file=sys.stderr)
    if args.json:
        json.dump([c.to_dict() for c in chunks], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    m = t.meta
    print(f"{m.source}: {m.company or '?'} ({m.ticker or '?'}) {m.period or '?'} {m.call_date or ''} "
          f"lang={m.language} layout={m.layout}")
    print(f"{len(t.turns)} turns, {sum(1 for c in chunks if c.section == 'qa' and c.question and c.part == 0)} "
          f"Q&A exchanges, {len(chunks)} chunks\n")
    for i, c in enumerate(chunks, 1):
        who = ", ".join(f"{s.name or '?'} ({s.role})" for s in c.speakers)
        flags = " [boilerplate]" if c.boilerplate else ""
        print(f"#{i} {c.id} {c.section} part {c.part} [{c.start}:{c.end}]{flags}")
        print(f"   speakers: {who}")
        if c.question and c.analyst is not None or c.analyst_firm:
            print(f"   analyst: {c.analyst or '?'}{' (' + c.analyst_firm + ')' if c.analyst_firm else ''}")
        body = " ".join(c.text.split())
        print("   " + (body if args.full or len(body) <= 300 else body[:300] + "…") + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Earnings-call Q&A assistant")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("chunks", help="show how a transcript is read and chunked")
    c.add_argument("file", help="transcript file")
    c.add_argument("--json", action="store_true", help="print a JSON array of chunks")
    c.add_argument("--full", action="store_true", help="print whole chunk texts")
    c.add_argument("--max-tokens", type=int, default=None, help="chunk size limit (approx. tokens)")
    c.set_defaults(func=_cmd_chunks)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
