"""What bench/chaos_fuzz.py holds every reply to: no 5xx, no stack trace or server path, every 4xx
naming its field (and the limit it broke); plus a raw-socket HTTP client that sends bytes exactly as
given and a /health poller thread. tests/test_chaos_fuzz.py uses the same checks."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

from bench.chaos_common import Row

PART = "fuzz"

# ------------------------------------------------------------------------------ what a reply may not do

_TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"]+", line \d+|\.py", line \d+')
# An absolute path under a directory a server's files live in (request echoes are subtracted below).
_SERVER_PATH = re.compile(r"(?<![\w.])/(?:tmp|home|root|work|usr|var|etc|opt|srv|proc|mnt|app|private|Users)"
                          r"(?:/[^\s'\"`,;:()\[\]{}<>]*)?")
# Error kinds whose rule is a number: the message must say which (pydantic's, and api/limits.py's).
LIMIT_KINDS = {"string_too_long", "string_too_short", "too_long", "too_short", "greater_than", "greater_than_equal",
               "less_than", "less_than_equal", "bytes_too_long", "bytes_too_short", "multiple_of",
               "body_too_large", "json_too_deep"}


def _strings(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _text(raw: bytes) -> str:
    """The text of a body as a reader sees it: JSON strings unescaped, else the bytes decoded."""
    text = raw.decode("utf-8", "replace")
    try:
        return text + "\n" + "\n".join(_strings(json.loads(text)))
    except (ValueError, RecursionError):
        return text


def leaks(reply: bytes, request: str, secrets: Iterable[str] = ()) -> list[str]:
    """Stack traces and server paths in a reply body, less what the request itself carried (an echoed
    doc id '/etc/passwd' is the client's own text, not a leak). `secrets`: paths that must never show."""
    text = _text(reply)
    found = [m.group(0) for m in _TRACEBACK.finditer(text)]
    found += [m.group(0) for m in _SERVER_PATH.finditer(text)]
    found += [s for s in secrets if s and s in text]
    return sorted({f for f in found if f not in request})


def error_problem(status: int, reply: bytes) -> str | None:
    """Why a 4xx reply falls short (None: it names its field, and the limit where one was broken)."""
    if not 400 <= status < 500:
        return None
    try:
        err = json.loads(reply)["error"]
    except (ValueError, KeyError, TypeError):
        return f"{status} is not the JSON error shape: {reply[:80]!r}"
    named = [err.get("param")] + [f.get("field") for f in err.get("fields") or [] if isinstance(f, dict)]
    if not any(isinstance(n, str) and n for n in named):
        return f"{status} names no field: {err.get('message', '')[:100]!r}"
    kinds = {err.get("code")} | {f.get("type") for f in err.get("fields") or [] if isinstance(f, dict)}
    if kinds & LIMIT_KINDS and not re.search(r"\d", str(err.get("message", ""))):
        return f"{status} breaks a limit without saying it: {err.get('message', '')[:100]!r}"
    return None


def server_error_in_stream(content_type: str, reply: bytes) -> bool:
    """A 200 event stream can still carry a failure (`event: error`, a `server_error` object)."""
    return "event-stream" in content_type and (b'"server_error"' in reply or b'"status":5' in reply)


@dataclass
class Tally:
    """What the replies to one kind of request did, with every failure spelled out (the row shows three)."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    unnamed: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    transport: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # figures worth showing (bytes a refused body got in)

    def record(self, what: str, status: int, reply: bytes, request: str, content_type: str = "",
               secrets: Iterable[str] = (), expect: Callable[[int, bytes], str | None] | None = None,
               app_level: bool = True) -> None:
        """One reply. `app_level=False`: a request the HTTP server itself refuses before the app sees
        it (a raw NUL in the request line): its plain-text 400 is not held to the error shape."""
        self.requests += 1
        self.statuses[status] += 1
        if status >= 500 or server_error_in_stream(content_type, reply):
            self.server_errors.append(f"{what} -> {status} {reply[:120]!r}")
        if found := leaks(reply, request, secrets):
            self.leaked.append(f"{what} -> {found[:3]}")
        if app_level and (problem := error_problem(status, reply)):
            self.unnamed.append(f"{what} -> {problem}")
        if expect is not None and (why := expect(status, reply)):
            self.unexpected.append(f"{what} -> {why}")

    @property
    def failures(self) -> list[str]:
        return self.server_errors + self.leaked + self.unnamed + self.unexpected

    def figures(self) -> str:
        by_class = Counter(f"{s // 100}xx" for s in self.statuses.elements() if s < 500)
        # 5xx counts failures inside 200 event streams too
        parts = [f"{self.requests} requests", *(f"{k} {by_class[k]}" for k in sorted(by_class)),
                 f"5xx {len(self.server_errors)}", f"leaks {len(self.leaked)}", f"4xx unnamed {len(self.unnamed)}"]
        if self.unexpected:
            parts.append(f"unexpected {len(self.unexpected)}")
        if self.transport:
            parts.append(f"transport errors {len(self.transport)}")
        return ", ".join(parts + self.notes)

    def row(self, what: str) -> Row:
        problems = self.failures + self.transport  # a request that got no reply at all is a failure too
        return Row(PART, what, self.requests, broke="; ".join(problems[:3]), lost=bool(problems),
                   figures=self.figures())


def request_text(method: str, url: str, body: bytes | str | None) -> str:
    """Everything a client put in a request, decoded the ways a server may echo it."""
    raw = body.encode() if isinstance(body, str) else (body or b"")
    return "\n".join([method, url, unquote(url), unquote_plus(url), _text(raw)])


# --------------------------------------------------------------------------- raw HTTP, /health poll


@dataclass
class Reply:
    status: int  # 0: no reply (the server closed or reset the connection first)
    body: bytes = b""
    content_type: str = ""
    sent: int = 0  # body bytes the client got out before the reply (or the reset)
    error: str = ""


def raw_http(port: int, method: str, target: bytes | str, headers: dict[str, str], body: bytes | Iterable[bytes] = b"",
             timeout: float = 20.0, wait_first: float = 0.0) -> Reply:
    """One request on its own socket, bytes exactly as given (no client-side normalisation of `..`,
    `%2F` or NUL), the body sent from a thread while the reply is read: a server that answers 413 and
    closes before reading a body must still be heard. `wait_first`: seconds to wait for an early reply
    after the headers, before any body is sent (a Content-Length the server refuses at once)."""
    target_b = target.encode() if isinstance(target, str) else target
    if isinstance(body, bytes) and body and not {"content-length", "transfer-encoding"} & {k.lower() for k in headers}:
        headers = {**headers, "Content-Length": str(len(body))}
    head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method.encode(), target_b)
    head += b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items()) + b"\r\n"
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    reply = Reply(0)
    chunks = [body] if isinstance(body, bytes) else body

    def send_body() -> None:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                reply.sent += len(chunk)
        except OSError:
            pass  # the server stopped reading: its reply (or the reset) tells why

    data = b""
    try:
        sock.sendall(head)
        sender = threading.Thread(target=send_body, daemon=True)
        if wait_first:
            sock.settimeout(wait_first)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                pass
            sock.settimeout(timeout)
        if not data:
            sender.start()
        while True:
            got = sock.recv(65536)
            if not got:
                break
            data += got
    except OSError as e:
        reply.error = type(e).__name__
    finally:
        sock.close()
    if data.startswith(b"HTTP/1."):
        head_raw, _, rest = data.partition(b"\r\n\r\n")
        lines = head_raw.split(b"\r\n")
        reply.status = int(lines[0].split()[1])
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.decode("latin-1").partition(":") for ln in lines[1:])}
        reply.content_type = hdrs.get("content-type", "")
        reply.body = rest
    return reply


class HealthPoller(threading.Thread):
    """GET /health every `every` seconds on its own connection until stopped; counts what came back."""

    def __init__(self, base: str, every: float = 0.25, timeout: float = 10.0) -> None:
        super().__init__(name="health-poll", daemon=True)
        self.base, self.every, self.timeout = base, every, timeout
        self.polls, self.ok, self.slowest = 0, 0, 0.0
        self.failures: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base, timeout=self.timeout, trust_env=False) as client:
            while not self._halt.wait(self.every):
                t0 = time.perf_counter()
                try:
                    status = client.get("/health").status_code
                except httpx.HTTPError as e:
                    status, why = 0, f"{type(e).__name__}"
                else:
                    why = f"{status}"
                self.slowest = max(self.slowest, time.perf_counter() - t0)
                self.polls += 1
                if status == 200:
                    self.ok += 1
                else:
                    self.failures.append(why)

    def stop(self) -> None:
        self._halt.set()
        self.join()
