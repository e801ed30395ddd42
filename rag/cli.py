"""The `rag` command: thin argument handling over the library; `RagError`s become clear messages."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from rag.errors import RagError
from rag.ingest.text import squash


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
        if c.analyst or c.analyst_firm:
            print(f"   analyst: {c.analyst or '?'}{' (' + c.analyst_firm + ')' if c.analyst_firm else ''}")
        body = squash(c.text)
        print("   " + (body if args.full or len(body) <= 300 else body[:300] + "…") + "\n")
    return 0


def _settings(args: argparse.Namespace):  # -> Settings
    from rag.config import get_settings

    settings = get_settings()
    if getattr(args, "index_dir", None):
        settings.index_dir = args.index_dir
    return settings


def _cmd_index(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rag.build import build_index, documents_table

    settings = _settings(args)
    if args.verify:
        return _verify(settings.index_dir)
    sources = [Path(s) for s in args.sources] or list(settings.sources)
    from rag.app import make_embedder, publisher

    # Progress is ours, a line per block of passages with an ETA (to a log file too), not the model's bars.
    embedder = make_embedder(settings, show_progress=False)

    def once() -> None:
        report = build_index(
            sources,
            settings.index_dir,
            embedder,
            max_tokens=settings.chunk_max_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            keep_missing=args.keep_missing,
            rebuild=args.rebuild,
            approx_threshold=settings.approx_threshold,
            publish=publisher(settings),
            progress=None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True)),
        )
        args.rebuild = False  # a --rebuild applies to the first build of a watch only
        for e in report.errors:
            print(f"skipped: {e}", file=sys.stderr)
        if report.documents:
            print(documents_table(report.documents))
        # Unknown company or period is never silent: each such file is named with the sidecar that fixes it.
        for r in report.documents:
            for w in r["warnings"]:
                if r["metadata_missing"] and ".meta.json" in w:
                    print(f"warning: {r['file']}: {w}", file=sys.stderr)
        if args.verbose:
            for w in report.warnings:
                print(f"warning: {w}", file=sys.stderr)
        print(report.summary(), flush=True)

    if not args.watch:
        once()
        return 0
    from rag.watch import watch

    print(f"watching {', '.join(map(str, sources))} (Ctrl-C to stop)", file=sys.stderr)
    try:
        watch(sources, once, interval=args.interval, on_error=lambda e: print(f"error: {e}", file=sys.stderr))
    except KeyboardInterrupt:
        pass
    return 0


def _verify(index_dir) -> int:
    """Hash every file of the live version; 1 (and each damaged file named) when one is damaged."""
    from rag.store import verify_live

    version, checked, problems = verify_live(index_dir)
    for p in problems:
        print(f"damaged: {p}", file=sys.stderr)
    if problems:
        print(f"{index_dir}: version {version}: {len(problems)} damaged or missing file(s); "
              f"`rag index` rebuilds it", flush=True)
        return 1
    print(f"{index_dir}: version {version}: all {checked} files match their digests", flush=True)
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    if not 1 <= args.top_k <= 50:
        raise ValueError("--top-k must be between 1 and 50")
    from rag.app import load_index_for, make_embedder

    settings = _settings(args)
    embedder = make_embedder(settings)
    index = load_index_for(settings, embedder)
    hits = index.dense(embedder.embed_queries([args.query])[0], args.top_k)
    chunks = index.chunks_of([row for row, _ in hits])
    rows = []
    for rank, (row, score) in enumerate(hits, 1):
        c = chunks[row]
        m = c.meta
        rows.append({
            "rank": rank, "score": round(score, 4), "chunk_id": c.id, "doc_id": c.doc_id,
            "company": m.company if m else None, "ticker": m.ticker if m else None,
            "period": m.period if m else None, "section": c.section,
            "speakers": [s.name for s in c.speakers if s.name], "start": c.start, "end": c.end, "text": c.text,
        })
    if args.json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    for r in rows:
        who = ", ".join(r["speakers"]) or "-"
        print(f"{r['rank']}. {r['score']:.3f} {r['ticker'] or r['doc_id']} {r['period'] or ''} {r['section']} "
              f"[{r['start']}:{r['end']}] {who}")
        body = squash(r["text"])
        print("   " + (body if len(body) <= 300 else body[:300] + "…") + "\n")
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from rag.app import load_assistant
    from rag.retrieve import Filters

    settings = _settings(args)
    history = None
    if args.history:
        try:
            history = json.loads(open(args.history, encoding="utf-8").read())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{args.history}: cannot read chat history: {e}") from e
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise ValueError(f"{args.history}: history must be a JSON list of {{role, content}} objects")
    assistant = load_assistant(settings)
    stream = not args.json and args.backend != "extractive" and sys.stdout.isatty()
    reply = assistant.ask(
        args.question,
        history=history,
        top_k=args.top_k or settings.top_k,
        filters=Filters(ticker=args.ticker, period=args.period),
        backend=args.backend,
        on_delta=(lambda d: print(d, end="", flush=True)) if stream else None,
    )
    if args.json:
        json.dump(reply.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if stream:
        print("\n")
    if reply.original_question:
        print(f"(question read as: {reply.question})")
    print(reply.answer)
    if reply.repair:
        print(f"({'unsupported numbers removed' if reply.repair == 'repaired' else 'LLM answer replaced by the extractive one'}: "
              f"{', '.join(reply.unsupported) or 'no citation'})")
    for c in reply.citations or reply.related:
        label = "related" if reply.abstained else f"[{c.n}]"
        print(f"\n{label} {c.company or c.doc_id} {c.period or ''} {c.section} {c.speaker or ''} "
              f"({c.doc_id} {c.start}-{c.end})")
        print("    " + squash(c.quote))
    return 0


def _case_sources(args: argparse.Namespace) -> list:  # -> list[Path]
    """Where eval cases' documents are: --sources, else seeds/ and ../shared/transcripts (and what
    eval/corpus.toml adds for a case file)."""
    from pathlib import Path

    from rag.config import PROJECT_ROOT

    return [Path(s) for s in (args.sources or [PROJECT_ROOT / "seeds", PROJECT_ROOT.parent / "shared" / "transcripts"])]


def _cmd_train_reader(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from rag.answer import READ_POOL
    from rag.app import make_embedder
    from rag.config import PROJECT_ROOT
    from rag.evaluate import load_cases, prepare
    from rag.reader import WEIGHTS
    from rag.reader.train import Dataset, collect, fit

    if args.cross_fit and args.keep_candidates:
        raise ValueError("--cross-fit refits the whole reader; it does not go with --keep-candidates")
    settings = _settings(args)
    cases = [c for c in load_cases([Path(p) for p in (args.cases or [PROJECT_ROOT / "eval" / "cases"])])
             if c.split == "dev"]  # never the test split
    if args.limit:
        cases = cases[: args.limit]
    sources = _case_sources(args)
    embedder = make_embedder(settings)
    ds = Dataset()
    for file in sorted({c.file for c in cases}):
        group = [c for c in cases if c.file == file]
        # Features are read off retrieval: no earlier weights are needed (or read).
        assistant, _, _ = prepare(file, group, sources, settings, embedder, args.index_dir, with_reader=False)
        collect(assistant, group, max(settings.top_k, READ_POOL), ds)  # as many passages as `ask` reads
    keep = None
    if args.keep_candidates:
        from rag.reader import load_weights

        keep = load_weights(settings.reader_weights)
        print(f"candidate model kept from {settings.reader_weights or WEIGHTS}; fitting the answerability model only")
    weights, report = fit(ds, folds=args.folds, keep=keep, adapt=not args.no_adapter)
    print(f"dev cases {len(ds.real())} (+{len(ds.cases) - len(ds.real())} with the answer held out; "
          f"{len(set(ds.groups))} companies), candidates {weights.info['candidates']}, "
          f"positives {weights.info['positives']}; C = {report['C']}; best candidate right "
          f"{report['ranked']:.3f} ({'the kept model' if keep else 'out of fold'}); second sentence at >= "
          f"{report['second'][0]:g} x the best's probability ({report['second'][1]:g} x for a question asking two things)")
    print("\nthreshold | cases right (figures) | best sentence right | abstention precision | abstention recall | "
          "abstained | answerable abstained")
    for r in report["curve"]:
        chosen = abs(r["threshold"] - report["threshold"]) < 1e-9
        if not chosen and round(r["threshold"] * 100) % 5:
            continue  # every 0.05, and the chosen point
        mark = "  <- chosen" if chosen else ""
        print(f"{r['threshold']:.2f} | {r['numbers']:.3f} | {r['right']:.3f} | {r['abstention_precision']:.3f} | "
              f"{r['abstention_recall']:.3f} | {r['abstained']:.3f} | {r['answerable_abstained']:.3f}{mark}")
    chosen = next(r for r in report["curve"] if abs(r["threshold"] - report["threshold"]) < 1e-9)
    print(f"chosen threshold {report['threshold']:.2f}: right {chosen['numbers']:.3f}, abstention precision "
          f"{chosen['abstention_precision']:.3f}, recall {chosen['abstention_recall']:.3f}")
    if args.threshold is not None:
        from dataclasses import replace

        if not 0.0 <= args.threshold <= 1.0:
            print(f"error: --threshold must be between 0 and 1, not {args.threshold}", file=sys.stderr)
            return 2
        weights = replace(weights, threshold=args.threshold, info={**weights.info, "threshold_given": args.threshold,
                                                                   "threshold_out_of_fold": report["threshold"]})
        print(f"threshold set to {args.threshold:.2f} (the out-of-fold choice was {report['threshold']:.2f})")
    out = Path(args.out) if args.out else WEIGHTS
    out.write_text(json.dumps(weights.to_dict(), indent=1) + "\n", encoding="utf-8")
    print(f"weights: {out}")
    if args.cross_fit:
        from rag.reader.train import cross_fit

        folder = Path(args.cross_fit)
        folder.mkdir(parents=True, exist_ok=True)
        for i, (companies, w) in enumerate(cross_fit(ds, args.folds, args.threshold, not args.no_adapter)):
            d = w.to_dict()
            d["info"] = {**d["info"], "cross_fit_companies": companies}
            (folder / f"fold-{i}.json").write_text(json.dumps(d, indent=1) + "\n", encoding="utf-8")
            print(f"fold {i}: fitted without {len(companies)} companies, threshold {w.threshold:.2f}")
        print(f"cross-fitted weights: {folder} (`rag eval --cross-fit {folder}`)")
    return 0


def _cross_fitted(folder) -> dict:
    """Company -> the weights of the fold fitted without it (`rag train-reader --cross-fit`)."""
    from rag.reader import load_weights

    out = {}
    paths = sorted(folder.glob("fold-*.json"))
    if not paths:
        raise ValueError(f"{folder}: no fold-*.json weights; run `rag train-reader --cross-fit {folder}`")
    for path in paths:
        w = load_weights(path)
        for company in w.info.get("cross_fit_companies", []):
            out[company] = w
    return out


def _run_cross_fitted(assistant, group, texts, folds: dict, backend: str, top_k: int) -> list:
    """Dev cases answered by the reader fitted without their company; test cases by the shipped one
    (no fold saw a test case). A dev case of a company no fold held (never read by the fit: its
    question is out of the index) keeps the shipped reader."""
    from rag.evaluate import run_cases
    from rag.reader import Reader
    from rag.reader.train import company

    shipped = assistant.picker
    readers: dict[int, object] = {}
    results = []
    try:
        for case in group:
            w = folds.get(company(case)) if case.split == "dev" else None
            if w is not None:
                if id(w) not in readers:
                    readers[id(w)] = Reader(w, shipped.idf, shipped.sentence_vectors)
                assistant.reader = readers[id(w)]
            else:
                assistant.reader = shipped
            results += run_cases(assistant, [case], texts, backend=backend, top_k=top_k)
    finally:
        assistant.reader = shipped
    return results


def _cmd_eval(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from rag import eval_report
    from rag.app import make_embedder
    from rag.config import PROJECT_ROOT
    from rag.evaluate import (
        by_split,
        by_tag,
        load_cases,
        metrics,
        prepare,
        run_baseline,
        run_cases,
    )

    settings = _settings(args)
    case_paths = [Path(p) for p in (args.cases or [PROJECT_ROOT / "eval" / "cases"])]
    cases = [c for c in load_cases(case_paths) if args.split in ("all", c.split)]
    sources = _case_sources(args)
    embedder = make_embedder(settings)
    all_results, base_results = [], []
    # Each case file is answered over its own documents, so "not in the index" means what it says.
    folds = _cross_fitted(Path(args.cross_fit)) if args.cross_fit else {}
    for file in sorted({c.file for c in cases}):
        group = [c for c in cases if c.file == file]
        assistant, docs, texts = prepare(file, group, sources, settings, embedder, args.use_index or args.index_dir,
                                         as_is=bool(args.use_index))
        if folds:
            all_results += _run_cross_fitted(assistant, group, texts, folds, args.backend, settings.top_k)
        else:
            all_results += run_cases(assistant, group, texts, backend=args.backend, top_k=settings.top_k)
        if not args.no_baseline:
            base_results += run_baseline(embedder, group, texts, top_k=settings.top_k)
    splits = by_split(all_results)
    overall, baseline = splits["all"], metrics(base_results) if base_results else {"cases": 0}
    # The targets are judged on the test split (never tuned on); a dev-only run is checked on dev.
    gated = "test" if splits["test"]["cases"] else "dev"
    base_gated = metrics([r for r in base_results if r.case.split == gated]) if base_results else {"cases": 0}
    fails = eval_report.check_thresholds(splits[gated], base_gated, Path(args.thresholds), dev=splits["dev"])
    payload = {
        "backend": args.backend, "case_files": sorted({c.file for c in cases}), "model": embedder.model_id,
        "overall": overall, "baseline": baseline, "splits": splits, "gated_on": gated,
        "per_tag": by_tag(all_results), "threshold_failures": fails,
    }
    stamp = time.strftime("%Y%m%dT%H%M%S")
    print(eval_report.table({**splits, "baseline": baseline}))
    print()
    print(eval_report.table(payload["per_tag"]))
    written = eval_report.write(Path(args.report), stamp, payload, eval_report.failures(all_results))
    print(f"\nreports: {', '.join(str(p) for p in written)}")
    for f in fails:
        print(f"below threshold: {f}", file=sys.stderr)
    return 1 if fails else 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from api.app import create_app

    settings = _settings(args)
    settings.host = args.host or settings.host
    settings.port = args.port or settings.port
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("api").setLevel(args.log_level.upper())
    print(f"serving http://{settings.host}:{settings.port}/ (index {settings.index_dir})", file=sys.stderr, flush=True)
    app = create_app(settings, reload_interval=args.reload_interval, max_answers=args.max_answers)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, timeout_graceful_shutdown=5)
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

    from pathlib import Path

    i = sub.add_parser("index", help="build or update the index from transcripts (incremental)")
    i.add_argument("sources", nargs="*", help="transcript files or folders (default: seeds/)")
    i.add_argument("--index-dir", type=Path, default=None, help="index folder (default: index/, or RAG_INDEX_DIR)")
    i.add_argument("--keep-missing", action="store_true", help="keep documents whose files are gone")
    i.add_argument("--rebuild", action="store_true", help="re-embed everything (e.g. after a model change)")
    i.add_argument("--watch", action="store_true", help="keep watching the sources and rebuild on changes")
    i.add_argument("--interval", type=float, default=2.0, help="seconds between checks with --watch")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    i.add_argument("--verify", action="store_true",
                   help="only check the live version's files against their digests (exit 1 when damaged)")
    i.add_argument("--verbose", action="store_true", help="print parser warnings")
    i.set_defaults(func=_cmd_index)

    s = sub.add_parser("search", help="dense search over the index, for inspection")
    s.add_argument("query")
    s.add_argument("--top-k", type=int, default=5)
    s.add_argument("--json", action="store_true")
    s.add_argument("--index-dir", type=Path, default=None)
    s.set_defaults(func=_cmd_search)

    a = sub.add_parser("ask", help="ask a question; prints a cited, number-checked answer")
    a.add_argument("question")
    a.add_argument("--json", action="store_true", help="print the reply object")
    a.add_argument("--history", help="JSON file with earlier turns: [{role, content}, ...]")
    a.add_argument("--top-k", type=int, default=None)
    a.add_argument("--ticker")
    a.add_argument("--period", help="fiscal period, e.g. FY2025Q4")
    a.add_argument("--backend", default="extractive", help="extractive (default), openai or llama-cpp")
    a.add_argument("--index-dir", type=Path, default=None)
    a.set_defaults(func=_cmd_ask)

    from rag.config import PROJECT_ROOT

    t = sub.add_parser("train-reader", help="fit the extractive reader on the dev split of the eval cases")
    t.add_argument("--cases", nargs="+", help="case files or folders (default: eval/cases); only dev cases are read")
    t.add_argument("--sources", nargs="+", help="where the cases' documents are (default: seeds/ and ../shared/transcripts)")
    t.add_argument("--index-dir", type=Path, default=None, help="default: a cached index per document set under eval/.index")
    t.add_argument("--out", help="weights file (default: rag/reader/weights.json)")
    t.add_argument("--limit", type=int, default=None, help="only the first N dev cases (a quick check)")
    t.add_argument("--folds", type=int, default=5, help="cross-validation folds, grouped by company")
    t.add_argument("--threshold", type=float, default=None,
                   help="abstain below this answerability instead of the out-of-fold choice (one chosen by "
                        "sweeping `rag eval --split dev` over the whole pipeline)")
    t.add_argument("--keep-candidates", action="store_true",
                   help="keep the current weights' candidate model (RAG_READER_WEIGHTS, else the shipped "
                        "file) and fit only the answerability model over its probabilities")
    t.add_argument("--cross-fit", metavar="DIR", default=None,
                   help="also fit the whole recipe once per fold of companies without them, into DIR, for "
                        "`rag eval --cross-fit DIR` (dev cases answered by a reader that never saw their company)")
    t.add_argument("--no-adapter", action="store_true",
                   help="fit no adapter for the question's vector (an ablation: the adapted similarity is the plain one)")
    t.set_defaults(func=_cmd_train_reader)

    e = sub.add_parser("eval", help="run the evaluation cases and report metrics")
    e.add_argument("--cases", nargs="+", help="case files or folders (default: eval/cases)")
    e.add_argument("--sources", nargs="+", help="where the cases' documents are (default: seeds/ and ../shared/transcripts)")
    e.add_argument("--backend", default="extractive")
    e.add_argument("--index-dir", type=Path, default=None, help="default: a cached index per document set under eval/.index")
    e.add_argument("--use-index", type=Path, default=None,
                   help="answer every case file over this index as it is, without building (e.g. the whole "
                        "large corpus as distractors); gold documents must be in it")
    e.add_argument("--report", default=str(PROJECT_ROOT / "eval" / "reports"))
    e.add_argument("--thresholds", default=str(PROJECT_ROOT / "eval" / "thresholds.toml"))
    e.add_argument("--no-baseline", action="store_true", help="skip the fixed-size-chunk baseline")
    e.add_argument("--cross-fit", metavar="DIR", default=None,
                   help="answer each dev case by the reader fitted without its company (`rag train-reader "
                        "--cross-fit DIR`): dev figures as on unseen companies; test cases as shipped")
    e.add_argument("--split", choices=("all", "dev", "test"), default="all",
                   help="which cases to run: tune on dev, report on test (default: both, side by side)")
    e.set_defaults(func=_cmd_eval)

    v = sub.add_parser("serve", help="start the chat service (web page, /chat, OpenAI-compatible /v1)")
    v.add_argument("--host", default=None, help="default: 127.0.0.1, or RAG_HOST")
    v.add_argument("--port", type=int, default=None, help="default: 8000, or RAG_PORT")
    v.add_argument("--index-dir", type=Path, default=None, help="default: index/, or RAG_INDEX_DIR")
    v.add_argument("--reload-interval", type=float, default=1.0,
                   help="seconds between checks for a replaced index (0: no live reload)")
    v.add_argument("--max-answers", type=int, default=1, choices=range(1, 65), metavar="N",
                   help="extractive answers computed at once; more requests wait in order (default 1)")
    v.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    v.set_defaults(func=_cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (RagError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
