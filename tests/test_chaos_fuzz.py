"""The API under hostile input (bench/chaos_fuzz.py in small): a short schemathesis run over the ASGI
app, and one test per kind of hostile request: oversized and chunked bodies (413 naming the limit),
deep JSON, invalid UTF-8, wrong content types, doc ids that try path traversal, library errors that
carry server paths. Also the checks themselves, so the guard is known to fail when it should."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import redact_paths
from api.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_depth
from bench.chaos_fuzz_checks import Tally, error_problem, leaks, request_text
from rag.build import build_index
from rag.config import Settings, get_settings
from rag.embed import FakeEmbedder

DATA = Path(__file__).parent / "data"
DOCS = ["ACME_FY24Q2_en.txt", "GLBX_FY23Q3_en.txt"]
TOKEN = "fuzz-token"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fuzz")
    src, idx = root / "src", root / "index"
    src.mkdir()
    for name in DOCS:
        shutil.copy(DATA / name, src / name)
    build_index([src], idx, FakeEmbedder())
    return src, idx


def _app(corpus: tuple[Path, Path]) -> Any:
    src, idx = corpus
    app = create_app(reload_interval=0)
    settings = Settings(embed_model="fake", index_dir=idx, sources=[src], admin_token=TOKEN)
    app.dependency_overrides[get_settings] = lambda: settings
    return app


@pytest.fixture(scope="module")
def client(corpus: tuple[Path, Path]) -> Iterator[TestClient]:
    with TestClient(_app(corpus), raise_server_exceptions=False) as c:
        yield c


def _error(r: Any) -> dict[str, Any]:
    assert "Traceback" not in r.text, r.text
    return r.json()["error"]


# ------------------------------------------------------------------------------ schemathesis


def test_generated_requests_get_no_5xx_no_leak_and_named_4xx(corpus: tuple[Path, Path]) -> None:
    import schemathesis
    from schemathesis.python import asgi

    from bench.chaos_fuzz import fuzz_schema

    src, idx = corpus
    schema = schemathesis.openapi.from_asgi("/openapi.json", _app(corpus))
    tally = Tally()
    try:
        ops = fuzz_schema(schema, 200, tally, lambda case: case.call(timeout=30),
                          secrets=[str(idx), str(src), str(idx.parent)], seed=13)
    finally:
        asgi.shutdown_lifespans()
    assert {"POST /chat", "POST /v1/chat/completions", "GET /search", "GET /documents/{doc_id}"} <= set(ops)
    assert tally.requests >= 200
    assert tally.statuses and max(tally.statuses) < 500
    assert not tally.failures, tally.failures[:5]
    assert not tally.transport, tally.transport[:5]
    assert any(400 <= s < 500 for s in tally.statuses) and any(s == 200 for s in tally.statuses)


# ----------------------------------------------------------------------------- body limits


def test_a_body_over_the_limit_is_413_naming_the_limit(client: TestClient) -> None:
    body = b'{"message":"' + b"x" * MAX_BODY_BYTES + b'"}'
    for path, payload in (("/chat", body), ("/v1/chat/completions", body), ("/health", body)):
        r = client.request("POST" if path != "/health" else "GET", path, content=payload,
                           headers=JSON)
        assert r.status_code == 413, (path, r.text[:200])
        err = _error(r)
        assert err["param"] == "body" and str(MAX_BODY_BYTES) in err["message"]


def test_a_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def pieces() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body arrives
        yield b'{"message":"'
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 1):
            yield b"x" * (1 << 20)
        yield b'"}'

    r = client.post("/chat", content=pieces(), headers=JSON)
    assert r.status_code == 413 and str(MAX_BODY_BYTES) in _error(r)["message"]


def test_a_body_at_the_limit_reaches_validation(client: TestClient) -> None:
    body = b'{"message":"' + b"x" * (MAX_BODY_BYTES - 14) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    r = client.post("/chat", content=body, headers=JSON)
    assert r.status_code == 422 and _error(r)["param"] == "message" and "4000" in _error(r)["message"]


# ------------------------------------------------------------------------------ deep JSON


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[{{{"}]}') == 3
    assert json_depth(b'{"a": "\\"[[[", "b": [[]]}') == 3
    assert json_depth(b"[" * 10_000 + b"]" * 10_000) == 10_000
    assert json_depth(b'"just a string"') == 0


def test_json_nested_10000_deep_is_refused_naming_the_limit(client: TestClient) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    r = client.post("/chat", content=f'{{"message":"q","filters":{deep}}}', headers=JSON)
    assert r.status_code == 422
    err = _error(r)
    assert err["param"] == "body" and str(MAX_JSON_DEPTH) in err["message"] and "10001" in err["message"]
    objects = '{"a":' * 10_000 + "1" + "}" * 10_000
    r = client.post("/v1/chat/completions", content=objects, headers=JSON)
    assert r.status_code == 400 and _error(r)["param"] == "body"


def test_json_depth_limit_is_inclusive(client: TestClient) -> None:
    def body(extra_depth: int) -> bytes:  # the outer object is one level
        return json.dumps({"messages": [{"role": "user", "content": "revenue?"}],
                           "extra": json.loads("[" * extra_depth + "]" * extra_depth)}).encode()

    ok = client.post("/v1/chat/completions", content=body(MAX_JSON_DEPTH - 1), headers=JSON)
    assert ok.status_code == 200, ok.text[:200]
    over = client.post("/v1/chat/completions", content=body(MAX_JSON_DEPTH), headers=JSON)
    assert over.status_code == 400 and f"{MAX_JSON_DEPTH + 1} levels" in _error(over)["message"]
    brackets = client.post("/chat", json={"message": "[" * 1000 + "{" * 1000})
    assert brackets.status_code == 200  # brackets in a string are text, not nesting


# ------------------------------------------------------------------------- UTF-8, media types


@pytest.mark.parametrize("raw", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe4\xb8", b"caf\xe9"])
def test_invalid_utf8_is_refused_naming_the_body(client: TestClient, raw: bytes) -> None:
    r = client.post("/chat", content=b'{"message":"x' + raw + b'"}', headers=JSON)
    assert r.status_code == 422 and _error(r)["param"] == "body" and "UTF-8" in _error(r)["message"]
    r = client.post("/v1/chat/completions", content=b'{"messages":[{"role":"user","content":"' + raw + b'"}]}',
                    headers=JSON)
    assert r.status_code == 400 and _error(r)["param"] == "body"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None, "application/jsonx"])
def test_a_body_that_is_not_json_is_415_naming_the_content_type(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/chat", content=b'{"message":"revenue?"}', headers=headers)
    assert r.status_code == 415, r.text[:200]
    err = _error(r)
    assert err["param"] == "Content-Type" and "application/json" in err["message"]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/merge-patch+json"])
def test_json_media_types_are_accepted(client: TestClient, content_type: str) -> None:
    r = client.post("/chat", content=b'{"message":"What was ACME revenue?"}', headers={"content-type": content_type})
    assert r.status_code == 200 and r.json()["citations"]


# --------------------------------------------------------------------------- doc-id traversal


def test_doc_ids_that_try_path_traversal_read_nothing(client: TestClient, corpus: tuple[Path, Path]) -> None:
    src, idx = corpus
    first_line = (src / DOCS[0]).read_text().splitlines()[0]
    tries = ["..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd", "%2Fetc%2Fpasswd",
             quote(str(src / DOCS[0]), safe=""), quote(str(idx / "CURRENT"), safe=""), "ACME_FY24Q2_en%00",
             "ACME_FY24Q2_en%00.txt", "%00", "..%5C..%5Cwindows", "ACME_FY24Q2_en%2F..%2FGLBX_FY23Q3_en",
             "%252e%252e%252fetc%252fpasswd", "ACME_FY24Q2_en.txt", "%2E%2E"]
    for doc_id in tries:
        r = client.get(f"/documents/{doc_id}")
        assert r.status_code == 404, (doc_id, r.text[:200])
        err = _error(r)
        assert err["param"] == "doc_id" and err["code"] == "document_not_found", (doc_id, err)
        assert "root:" not in r.text and first_line not in r.text
        # the id is echoed back (the client's own text); nothing else of the server's paths is
        assert not leaks(r.content, request_text("GET", f"/documents/{doc_id}", None), [str(idx), str(src)])
    assert client.get("/documents/ACME_FY24Q2_en").status_code == 200  # the real id still works


def test_static_files_do_not_climb_out(client: TestClient) -> None:
    for path in ("/static/..%2F..%2Fapi%2Fstate.py", "/static/%2e%2e/%2e%2e/pyproject.toml"):
        r = client.get(path)
        assert r.status_code == 404 and "ServiceState" not in r.text and "[build-system]" not in r.text


# ------------------------------------------------------------------------ errors name a field


def test_routing_and_auth_errors_name_what_was_wrong(client: TestClient) -> None:
    assert _error(client.get("/nowhere"))["param"] == "path"
    r = client.request("PROPFIND", "/chat")
    assert r.status_code == 405 and _error(r)["param"] == "method" and "POST" in _error(r)["message"]
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert _error(client.post("/admin/reindex", headers=headers))["param"] == "Authorization"
    r = client.get("/search", params={"q": "revenue", "": "x"})
    assert r.status_code == 422 and _error(r)["param"] == "query"


def test_library_errors_reach_the_client_without_server_paths(corpus: tuple[Path, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.answer import Assistant
    from rag.errors import RagError

    def fail(self: Any, *a: Any, **kw: Any) -> None:
        raise RagError("cannot read /srv/secret/index/v-1/chunks.jsonl: truncated")

    with TestClient(_app(corpus), raise_server_exceptions=False) as c:
        monkeypatch.setattr(Assistant, "ask", fail)
        r = c.post("/chat", json={"message": "q"})
    assert r.status_code == 500
    assert "/srv/secret" not in r.text and "chunks.jsonl: truncated" in r.json()["error"]["message"]


def test_a_failed_reindex_reports_file_names_not_paths(corpus: tuple[Path, Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.errors import RagError

    def failing_build(*a: Any, **kw: Any) -> None:
        raise RagError("/srv/private/sources/ACME.txt: cannot read the transcript")

    monkeypatch.setattr("rag.build.build_index", failing_build)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(_app(corpus)) as c:
        assert c.post("/admin/reindex", headers=auth).status_code == 202
        deadline = time.monotonic() + 20
        while (run := c.get("/admin/reindex", headers=auth).json())["status"] == "running":
            assert time.monotonic() < deadline, "the reindex never finished"
            time.sleep(0.05)
    assert run["status"] == "failed"
    assert "ACME.txt: cannot read the transcript" in run["errors"][-1] and "/srv/private" not in json.dumps(run)


def test_redact_paths_keeps_the_last_component_and_leaves_other_slashes() -> None:
    assert redact_paths("/tmp/x/index: no index; run `rag index --index-dir /tmp/x/index`") == \
        "index: no index; run `rag index --index-dir index`"
    assert redact_paths("No such file: '/work/main/seeds/年报.txt'") == "No such file: '年报.txt'"
    assert redact_paths("3/4 of a/b") == "3/4 of a/b"


# ------------------------------------------------------------------------------ the checks


def test_the_checks_catch_traces_paths_and_unnamed_errors() -> None:
    trace = b'{"detail":"Traceback (most recent call last):\\n  File \\"/srv/app.py\\", line 3"}'
    assert leaks(trace, request_text("GET", "/x", None))
    assert leaks(b'{"error":{"message":"cannot open /home/svc/index/x.json"}}', "GET /x")
    assert leaks(b'{"dir":"/opt/idx/v1"}', "GET /health", secrets=["/opt/idx"])
    # the client's own text echoed back is not a leak
    echoed = b'{"error":{"message":"no document \'/etc/passwd\'"}}'
    assert not leaks(echoed, request_text("GET", "/documents/%2Fetc%2Fpasswd", None))
    assert error_problem(404, b'{"error":{"message":"Not Found","param":null}}')
    assert error_problem(400, b"Invalid HTTP request received.")
    assert error_problem(422, b'{"error":{"message":"q: too long","param":"q",'
                              b'"fields":[{"field":"q","type":"string_too_long"}]}}')
    assert error_problem(422, b'{"error":{"message":"q: at most 4000 characters","param":"q",'
                              b'"fields":[{"field":"q","type":"string_too_long"}]}}') is None
    tally = Tally()
    tally.record("x", 500, b"{}", "GET /x")
    tally.record("y", 200, b'event: error\ndata: {"error":{"type":"server_error"}}\n\n', "", "text/event-stream")
    assert len(tally.server_errors) == 2 and tally.row("x").lost
