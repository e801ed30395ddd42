"""Limits every request meets before routing: body size (413), a JSON content type for any body (415),
and JSON bodies that are UTF-8 and nested at most `MAX_JSON_DEPTH` levels (400 on /v1/, else 422).
Each error names the part of the request and the limit, in the service's one error shape."""

from __future__ import annotations

import re
from email.message import Message as _MimeHeader

import numpy as np
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import OPENAI_PREFIX, error_body

# The largest legitimate body is a chat UI resending a long conversation (OpenAI-style messages are
# not capped in number; the last 20 turns are kept): 4 MiB leaves room for that, and is small enough
# that a hostile body is refused before it is buffered whole.
MAX_BODY_BYTES = 4 * 1024 * 1024
# Our own bodies nest 4 levels (messages -> content parts); OpenAI extras such as tool schemas go
# deeper. Unbounded nesting reaches the parser's recursion limit, so it is refused with the rule.
MAX_JSON_DEPTH = 64

# A JSON string, escapes included (written unrolled so long strings don't backtrack).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings don't count).
    Vectorised: a 4 MiB body of brackets is measured in milliseconds, without parsing it."""
    marks = np.frombuffer(_JSON_STRING.sub(b"", body), dtype=np.uint8)
    step = ((marks == ord("[")) | (marks == ord("{"))).astype(np.int32)
    step -= ((marks == ord("]")) | (marks == ord("}"))).astype(np.int32)
    return int(np.cumsum(step).max(initial=0))


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    header = _MimeHeader()
    header["content-type"] = content_type
    sub = header.get_content_subtype()
    return header.get_content_maintype() == "application" and (sub == "json" or sub.endswith("+json"))


def _status(scope: Scope) -> int:
    # The same convention as schema validation errors (api/errors.py): OpenAI clients expect 400.
    return 400 if scope.get("path", "").startswith(OPENAI_PREFIX) else 422


def _reject(status: int, field: str, message: str, code: str) -> JSONResponse:
    return JSONResponse(error_body(f"{field}: {message}", "invalid_request_error", code, field,
                                   fields=[{"field": field, "message": message, "type": code}]),
                        status_code=status)


def _too_large(limit: int) -> JSONResponse:
    return _reject(413, "body", f"the request body must be at most {limit} bytes ({limit // 1024 // 1024} MiB)",
                   "body_too_large")


def check_body(body: bytes, content_type: str | None, scope: Scope,
               max_depth: int = MAX_JSON_DEPTH) -> JSONResponse | None:
    """The error reply for a body the routes must not see, else None."""
    if not body:
        return None
    if not is_json(content_type):
        shown = (content_type or "none")[:80]
        return _reject(415, "Content-Type", f"request bodies must be application/json (got {shown!r})",
                       "unsupported_media_type")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        return _reject(_status(scope), "body", f"the body must be UTF-8 JSON: byte 0x{body[e.start]:02x} at "
                                               f"position {e.start} is not valid UTF-8", "invalid_utf8")
    # Fewer brackets than the limit cannot nest past it: most bodies skip the measurement.
    depth = 0 if body.count(b"[") + body.count(b"{") <= max_depth else json_depth(body)
    if depth > max_depth:
        return _reject(_status(scope), "body", f"JSON nested {depth} levels deep; at most {max_depth} levels are "
                                               "accepted", "json_too_deep")
    return None


class RequestLimits:
    """Pure ASGI: reads the body (at most `max_body` bytes, refusing early on a larger Content-Length),
    checks it, then hands it to the app unchanged; later `receive` calls (a client disconnecting
    from a stream) pass through."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app, self.max_body, self.max_depth = app, max_body, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                await _reject(400, "Content-Length", "must be a whole number of bytes", "invalid_header")(
                    scope, receive, send)
                return
            if int(length) > self.max_body:  # refused before a byte of it is read
                await _too_large(self.max_body)(scope, receive, send)
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before sending its body: nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_body:  # a chunked body with no Content-Length
                await _too_large(self.max_body)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        error = check_body(bytes(body), headers.get("content-type"), scope, self.max_depth)
        if error is not None:
            await error(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
