"""Fuzzing the API (issue 13, item 4): schemathesis against `/openapi.json` of a running `rag serve`
(fake embedder, the tests/data transcripts), every operation, schema-valid and schema-breaking
requests (10,000 or more in all); then hand-made hostile requests: oversized bodies, JSON nested
10,000 deep, invalid UTF-8, wrong content types, doc ids that try path traversal, and 1,000
connections held open at once. /health is polled in a thread the whole time.

Targets: no 5xx; no stack trace or server file path in any response; every 4xx JSON error names
its field (`param`, `fields[].field`) and, when a limit was broken, the limit; /health answers 200
throughout; the service's memory afterwards within 10% of before.

    .venv/bin/python bench/chaos_fuzz.py [--quick] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench.` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_common import ROOT, Row, rss_mb, start_service, stop_service, table  # noqa: E402
from bench.chaos_fuzz_checks import PART, HealthPoller, Tally, raw_http, request_text  # noqa: E402
# The limits the service enforces, read from it so that a new limit is not a fuzz failure.
from api.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH  # noqa: E402

DATA = ROOT / "tests" / "data"
DOCS = ["ACME_FY24Q2_en.txt", "GLBX_FY23Q3_en.txt", "WIDG_FY25Q1_en.txt", "SEED_FY25Q4_zh.txt"]

# ------------------------------------------------------------------------------- schemathesis


def fuzz_schema(schema: Any, target: int, tally: Tally, call: Callable[[Any], Any],
                secrets: Iterable[str] = (), seed: int | None = None) -> list[str]:
    """Generated requests for every operation of `schema` (positive and negative modes) until `target`
    were sent; returns the operations driven. `call(case)` sends a case and returns the response.
    `seed`: the same requests on every run (a CI guard that must not flake), else fresh ones."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis.errors import Unsatisfiable
    from hypothesis.reporting import with_reporter
    from schemathesis import GenerationMode

    operations = [r.ok() for r in schema.get_all_operations() if hasattr(r, "ok")]
    plan = [(op, mode) for op in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    per_round = max(10, target // (len(plan) * 3))
    seeds = itertools.count(seed or 0)  # one per round of each operation: the rounds differ

    def drive(op: Any, mode: GenerationMode) -> bool:
        """One round of `op` in `mode`; False when the mode has nothing to vary (then it is dropped:
        an operation without inputs cannot be made schema-breaking)."""

        @settings(max_examples=per_round, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False, print_blob=False)
        @given(case=op.as_strategy(generation_mode=mode))
        def one(case: Any) -> None:
            what = f"{case.method} {case.formatted_path}"
            try:
                r = call(case)
            except Exception as e:  # noqa: BLE001 - a dropped connection is counted, not fatal
                tally.transport.append(f"{what}: {type(e).__name__}: {str(e)[:100]}")
                return
            req = r.request
            tally.record(what, r.status_code, r.content, request_text(req.method or "", req.url or "", req.body),
                         (r.headers.get("content-type") or [""])[0], secrets)

        try:
            with with_reporter(lambda *_: None):  # hypothesis would print a reproduction seed per round
                (fixed_seed(next(seeds))(one) if seed is not None else one)()
        except Unsatisfiable:
            return False
        return True

    while plan and tally.requests < target:
        before = tally.requests
        plan = [(op, mode) for op, mode in plan if drive(op, mode)]
        if tally.requests - before < 10:  # the schema's whole space is exhausted
            break
    return [op.label for op in operations]



# ---------------------------------------------------------------------------- hostile requests

Expect = Callable[[int, bytes], "str | None"]
JSON = {"Content-Type": "application/json"}


def expect(statuses: set[int], says: str = "", param: str = "") -> Expect:
    """The reply must have one of `statuses`, and its error must mention `says` and name `param`."""

    def check(status: int, body: bytes) -> str | None:
        if status not in statuses:
            return f"status {status}, expected {sorted(statuses)}: {body[:100]!r}"
        if says and says.encode() not in body:
            return f"the reply does not say {says!r}: {body[:100]!r}"
        if param and f'"param":"{param}"'.encode() not in body.replace(b" ", b""):
            return f"the reply does not name {param!r}: {body[:100]!r}"
        return None

    return check


def _nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def _stream(total: int, piece: int = 1 << 20, chunked: bool = False) -> Iterator[bytes]:
    """`total` bytes of a JSON string's inside, in pieces (HTTP chunk-framed when `chunked`)."""
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        sent += n
        yield (b"%x\r\n" % n + b"a" * n + b"\r\n") if chunked else b"a" * n
    if chunked:
        yield b"0\r\n\r\n"


def hostile_cases(index_dir: Path, src: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of (what, method, target, headers, body, expect[, wait_first, app_level]), by row."""
    big, huge = 10_000_000, 100 * 1024 * 1024
    limit = expect({413}, says=str(MAX_BODY_BYTES), param="body")
    deep = 10_000
    msg = '{"messages":[{"role":"user","content":"revenue?"}],"extra":%s}'
    bad_bytes = {"0xFF": b"\xff", "overlong '/'": b"\xc0\xaf", "lone surrogate": b"\xed\xa0\x80",
                 "cut 3-byte char": b"\xe4\xb8", "latin-1 e-acute": b"caf\xe9"}
    passwd = "..%2F..%2F..%2F..%2Fetc%2Fpasswd"
    not_found = expect({404}, param="doc_id")
    a_source = next(src.iterdir())
    return {
        f"oversized bodies (10 MB message, 100 MB announced, 100 MB chunked; limit {MAX_BODY_BYTES} B)": [
            ("10 MB message", "POST", "/chat", {**JSON, "Content-Length": str(big + 16)},
             _chain(b'{"message":"', _stream(big), b'"}'), limit, 2.0),
            ("100 MB, Content-Length", "POST", "/v1/chat/completions", {**JSON, "Content-Length": str(huge)},
             _stream(huge), limit, 2.0),
            ("100 MB, chunked", "POST", "/chat", {**JSON, "Transfer-Encoding": "chunked"},
             _stream(huge, chunked=True), limit),
            ("5 MB on a GET", "GET", "/health", {**JSON, "Content-Length": str(5 << 20)}, _stream(5 << 20), limit, 2.0),
        ],
        f"JSON nested 10,000 deep (limit {MAX_JSON_DEPTH})": [
            ("arrays in filters", "POST", "/chat", JSON,
             ('{"message":"q","filters":%s}' % _nested(deep)).encode(), expect({422}, str(MAX_JSON_DEPTH), "body")),
            ("objects in history", "POST", "/chat", JSON,
             ('{"message":"q","history":%s}' % ('{"a":' * deep + "1" + "}" * deep)).encode(),
             expect({422}, str(MAX_JSON_DEPTH), "body")),
            ("arrays in an OpenAI extra", "POST", "/v1/chat/completions", JSON, (msg % _nested(deep)).encode(),
             expect({400}, str(MAX_JSON_DEPTH), "body")),
            # `msg` adds one level (its object) around the extra field
            (f"{MAX_JSON_DEPTH + 1} levels", "POST", "/v1/chat/completions", JSON,
             (msg % _nested(MAX_JSON_DEPTH)).encode(), expect({400}, str(MAX_JSON_DEPTH), "body")),
            (f"{MAX_JSON_DEPTH} levels (allowed)", "POST", "/v1/chat/completions", JSON,
             (msg % _nested(MAX_JSON_DEPTH - 1)).encode(), expect({200})),
            ("brackets inside strings", "POST", "/chat", JSON,
             json.dumps({"message": "[" * 1900 + "{" * 1900}).encode(), expect({200})),
        ],
        "invalid UTF-8 (bodies, query, path)": [
            *((f"{name} in /chat", "POST", "/chat", JSON, b'{"message":"x' + raw + b'"}',
               expect({422}, "UTF-8", "body")) for name, raw in bad_bytes.items()),
            *((f"{name} in /v1", "POST", "/v1/chat/completions", JSON,
               b'{"messages":[{"role":"user","content":"' + raw + b'"}]}', expect({400}, "UTF-8", "body"))
              for name, raw in bad_bytes.items()),
            ("%FF%FE in q", "GET", "/search?q=%FF%FE", {}, b"", expect({200})),
            ("%C0%AF in a doc id", "GET", "/documents/%C0%AF", {}, b"", not_found),
        ],
        "wrong Content-Type": [
            *((f"{ct or 'none'} on {path}", "POST", path, {"Content-Type": ct} if ct else {},
               b'{"message":"revenue?","messages":[{"role":"user","content":"revenue?"}]}',
               expect({415}, "application/json", "Content-Type"))
              for path in ("/chat", "/v1/chat/completions")
              for ct in ("text/plain", "application/xml", "multipart/form-data; boundary=x",
                         "application/x-www-form-urlencoded", "", "application/jsonx", "text/json")),
            ("application/json; charset=utf-8 (accepted)", "POST", "/chat",
             {"Content-Type": "application/json; charset=utf-8"}, b'{"message":"revenue?"}', expect({200})),
            ("application/merge-patch+json (accepted)", "POST", "/chat",
             {"Content-Type": "application/merge-patch+json"}, b'{"message":"revenue?"}', expect({200})),
        ],
        "doc ids trying path traversal (../, %2e%2e%2f, absolute, NUL)": [
            *((t, "GET", t, {}, b"", not_found) for t in (
                "/documents/../../etc/passwd", f"/documents/{passwd}", "/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                "/documents/%2e%2e/%2e%2e/etc/passwd", "/documents/%2Fetc%2Fpasswd", "/documents//etc/passwd",
                f"/documents/{a_source}", f"/documents/{index_dir}/CURRENT", "/documents/ACME_FY24Q2_en%00",
                "/documents/ACME_FY24Q2_en%00.txt", "/documents/%00", "/documents/..%5C..%5Cwindows%5Cwin.ini",
                "/documents/....//....//etc/passwd", "/documents/%252e%252e%252fetc%252fpasswd",
                "/documents/ACME_FY24Q2_en/../GLBX_FY23Q3_en", "/documents/~root", "/documents/..",
                f"/documents/{a_source.stem}%2F..%2F..%2F..%2Fpyproject.toml")),
            *((t, "GET", t, {}, b"", expect({404}, param="path")) for t in (
                "/static/../../api/state.py", "/static/..%2F..%2Fapi%2Fstate.py",
                "/static/%2e%2e/%2e%2e/pyproject.toml", f"/static/{passwd}")),
            ("a real doc id (allowed)", "GET", "/documents/ACME_FY24Q2_en", {}, b"", expect({200})),
        ],
        "odd methods, unknown routes, malformed HTTP": [
            ("PROPFIND /chat", "PROPFIND", "/chat", {}, b"", expect({405}, param="method")),
            ("DELETE /documents", "DELETE", "/documents", {}, b"", expect({405}, param="method")),
            ("GET /nowhere", "GET", "/nowhere", {}, b"", expect({404}, param="path")),
            ("Content-Length: -1", "POST", "/chat", {**JSON, "Content-Length": "-1"}, b"", expect({400}), 0, False),
            ("Content-Length: abc", "POST", "/chat", {**JSON, "Content-Length": "abc"}, b"", expect({400}), 0, False),
            ("raw NUL in the target", "GET", b"/documents/a\x00b", {}, b"", expect({400}), 0, False),
            ("raw 0xFF in the target", "GET", b"/documents/\xff\xfe", {}, b"", expect({400}), 0, False),
            ("100 KB query", "GET", "/search?q=" + "a" * 100_000, {}, b"", expect({422}, "4000", "q")),
            ("100 KB header", "GET", "/health", {"X-Filler": "a" * 100_000}, b"", expect({200})),
        ],
    }


def _chain(*parts: bytes | Iterable[bytes]) -> Iterator[bytes]:
    for part in parts:
        yield from ([part] if isinstance(part, bytes) else part)


def run_hostile(port: int, cases: list[tuple[Any, ...]], secrets: Iterable[str]) -> Tally:
    tally = Tally()
    for what, method, target, headers, body, check, *rest in cases:
        wait_first, app_level = (rest + [0.0, True][len(rest):])[:2]
        reply = raw_http(port, method, target, headers, body, wait_first=wait_first)
        shown = target if isinstance(target, str) else target.decode("latin-1")
        sent_text = body if isinstance(body, bytes) else b""
        if reply.status == 0:
            tally.transport.append(f"{what}: no reply ({reply.error or 'closed'}, {reply.sent} body bytes sent)")
            tally.requests += 1
            continue
        tally.record(what, reply.status, reply.body, request_text(method, shown, sent_text), reply.content_type,
                     secrets, check, app_level)
        if not isinstance(body, bytes):  # a streamed body: how much of it got in before the refusal
            tally.notes.append(f"{what}: {reply.sent / 1e6:.1f} MB sent before the {reply.status}")
    return tally


# ------------------------------------------------------------------------- 1,000 open connections


def hold_connections(port: int, n: int, hold_s: float) -> Row:
    """`n` connections opened at once, each with a request left unfinished (no blank line yet), held
    for `hold_s` seconds while a fresh client asks /health; then every request is finished and must
    be answered."""

    async def main() -> tuple[int, list[int], list[tuple[int, float]], Counter[str]]:
        import httpx

        conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        refused: Counter[str] = Counter()
        for start in range(0, n, 100):  # in batches, so the listen backlog is not the thing tested
            opened = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port)
                                            for _ in range(min(100, n - start))), return_exceptions=True)
            for c in opened:
                if isinstance(c, BaseException):
                    refused[type(c).__name__] += 1
                else:
                    conns.append(c)
        for _, w in conns:
            w.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        await asyncio.gather(*(w.drain() for _, w in conns), return_exceptions=True)
        during: list[tuple[int, float]] = []
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10, trust_env=False) as client:
            until = loop.time() + hold_s
            while loop.time() < until:
                t0 = time.perf_counter()
                try:
                    status = (await client.get("/health")).status_code
                except httpx.HTTPError:
                    status = 0
                during.append((status, time.perf_counter() - t0))
                await asyncio.sleep(0.2)
        for _, w in conns:
            w.write(b"Connection: close\r\n\r\n")

        async def status_of(reader: asyncio.StreamReader) -> int:
            try:
                line = await asyncio.wait_for(reader.readline(), 60)
                return int(line.split()[1]) if line.startswith(b"HTTP/") else 0
            except (OSError, TimeoutError, ValueError, IndexError):
                return 0

        statuses = await asyncio.gather(*(status_of(r) for r, _ in conns))
        for _, w in conns:
            w.close()
        return len(conns), list(statuses), during, refused

    opened, statuses, during, refused = asyncio.run(main())
    answered = sum(s == 200 for s in statuses)
    ok_during = sum(s == 200 for s, _ in during)
    slowest = max((t for _, t in during), default=0.0)
    broke = []
    if opened < n:
        broke.append(f"{n - opened} connections refused {dict(refused)}")
    if answered < opened:
        broke.append(f"{opened - answered} held requests not answered 200 ({Counter(statuses)})")
    if ok_during < len(during) or not during:
        broke.append(f"/health while held: {ok_during}/{len(during)} answered 200")
    return Row(PART, f"{n:,} connections held open {hold_s:g} s (unfinished requests), then finished", n,
               broke="; ".join(broke), lost=bool(broke),
               figures=f"opened {opened}, answered 200 after {answered}, /health while held {ok_during}/{len(during)} "
                       f"(slowest {slowest * 1000:.0f} ms)")


# ------------------------------------------------------------------------------------------ run


def _index(root: Path) -> tuple[Path, Path]:
    """The sample transcripts of tests/data, indexed with the fake embedder."""
    from rag.build import build_index
    from rag.embed import FakeEmbedder

    src, idx = root / "src", root / "index"
    src.mkdir()
    for name in DOCS:
        shutil.copy(DATA / name, src / name)
    build_index([src], idx, FakeEmbedder())
    return src, idx


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a few hundred generated requests instead of 10,000")
    p.add_argument("--requests", type=int, default=None, help="generated requests in all (default 10,000; quick 300)")
    p.add_argument("--connections", type=int, default=1000, help="connections held open at once")
    p.add_argument("--hold", type=float, default=None, help="seconds they are held (default 4; quick 2)")
    return p


def run(opts: argparse.Namespace | None = None, quick: bool = False) -> list[Row]:
    """Start the service, fuzz it, check it; one Row per check (part "fuzz")."""
    import requests
    import schemathesis

    opts = opts if opts is not None else parser().parse_args([])
    quick = quick or bool(getattr(opts, "quick", False))
    target = getattr(opts, "requests", None) or (300 if quick else 10_000)
    hold_s = getattr(opts, "hold", None) or (2.0 if quick else 4.0)
    connections = getattr(opts, "connections", None) or 1000
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="chaos-fuzz-") as tmp:
        root = Path(tmp)
        src, idx = _index(root)
        # The hand-set reader weights the fake embedder's tests use (tests/conftest.py).
        proc, base = start_service(idx, [src], root / "serve.log",
                                   extra={"RAG_READER_WEIGHTS": str(DATA / "reader_weights.json")})
        port = int(base.rsplit(":", 1)[1])
        secrets = [str(idx), str(src), str(root), str(ROOT), str(Path.home()), sys.prefix]
        poller = HealthPoller(base)
        try:
            session = requests.Session()
            session.trust_env = False  # no proxy between us and loopback
            for path in ("/documents/ACME_FY24Q2_en", "/search?q=revenue", "/v1/models"):
                session.get(base + path, timeout=30)
            session.post(base + "/chat", json={"message": "What was ACME revenue?"}, timeout=30)
            rss_before = rss_mb(proc.pid)
            poller.start()

            schema = schemathesis.openapi.from_url(f"{base}/openapi.json", timeout=30)
            fuzz = Tally()
            t0 = time.monotonic()
            ops = fuzz_schema(schema, target, fuzz, lambda case: case.call(base_url=base, session=session, timeout=60),
                              secrets)
            rows.append(fuzz.row(f"schemathesis on /openapi.json: {len(ops)} operations, positive + negative "
                                 f"({time.monotonic() - t0:.0f} s)"))
            phases = {"fuzzed": rss_mb(proc.pid)}
            if fuzz.requests < target:
                rows[-1].lost = True
                rows[-1].broke = f"only {fuzz.requests} of {target} requests generated; " + rows[-1].broke

            for what, cases in hostile_cases(idx, src).items():
                rows.append(run_hostile(port, cases, secrets).row(what))
            phases["hostile"] = rss_mb(proc.pid)
            rows.append(hold_connections(port, connections, hold_s))
            time.sleep(1.0)  # connections closed: let the server drop their buffers
            rss_after = rss_mb(proc.pid)
        finally:
            poller.stop()
            alive = proc.poll() is None
            stop_service(proc)
        grew = (rss_after - rss_before) / rss_before
        rows.append(Row(PART, "service memory (RSS) after the run vs before (target: within 10%)", 1,
                        broke="" if grew <= 0.10 else f"grew {grew:.0%}", lost=grew > 0.10,
                        figures=f"before {rss_before:.0f} MB, after {rss_after:.0f} MB ({grew:+.1%}); after the "
                                + ", ".join(f"{k} requests {v:.0f} MB" for k, v in phases.items())))
        rows.append(Row(PART, "/health polled every 0.25 s throughout", poller.polls,
                        broke="; ".join(poller.failures[:3]) + ("" if alive else " service died"),
                        lost=bool(poller.failures) or not alive or poller.polls == 0,
                        figures=f"{poller.ok}/{poller.polls} answered 200, slowest {poller.slowest * 1000:.0f} ms"))
    return rows


def main(argv: list[str] | None = None) -> int:
    rows = run(parser().parse_args(argv))
    print(table(rows))
    return 1 if any(r.lost for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
