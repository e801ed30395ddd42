"""The chat service (api/) through FastAPI's TestClient, over tiny hand-written transcripts indexed
with the fake embedder: every endpoint, every validation rule, streaming, admin, live reload."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.build import build_index
from rag.config import Settings, get_settings
from rag.embed import FakeEmbedder
from rag.errors import RagError

DATA = Path(__file__).parent / "data"
DOCS = ["ACME_FY24Q2_en.txt", "GLBX_FY23Q3_en.txt", "WIDG_FY25Q1_en.txt", "SEED_FY25Q4_zh.txt"]
NEW_DOC = "COLA_FY21Q4_en_ectsum.txt"
TOKEN = "s3cret-token"


def make_corpus(root: Path) -> tuple[Path, Path]:
    """A sources folder with four transcripts and an index built over it with the fake embedder."""
    src, idx = root / "src", root / "index"
    src.mkdir()
    for name in DOCS:
        shutil.copy(DATA / name, src / name)
    build_index([src], idx, FakeEmbedder())
    return src, idx


def client_for(settings: Settings, reload_interval: float = 0.1, **kw: Any) -> TestClient:
    app = create_app(reload_interval=reload_interval)
    app.dependency_overrides[get_settings] = lambda: settings
    return TestClient(app, **kw)


def wait_for(cond: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def sse_events(text: str) -> list[tuple[str, Any]]:
    """(event, parsed data) for each Server-Sent Event in a body; comments are skipped."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if data:
            raw = "\n".join(data)
            out.append((event, raw if raw == "[DONE]" else json.loads(raw)))
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def client(corpus: tuple[Path, Path]) -> Iterator[TestClient]:
    """A read-only service shared by the tests that change nothing on disk."""
    src, idx = corpus
    settings = Settings(embed_model="fake", index_dir=idx, sources=[src], admin_token=TOKEN)
    with client_for(settings) as c:
        yield c


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[TestClient, Path, Path]]:
    """A service over its own corpus, for tests that rebuild or break the index."""
    src, idx = make_corpus(tmp_path)
    settings = Settings(embed_model="fake", index_dir=idx, sources=[src], admin_token=TOKEN)
    with client_for(settings) as c:
        yield c, src, idx


# ------------------------------------------------------------------------------------ /chat


def test_chat_returns_the_reply_object(client: TestClient) -> None:
    r = client.post("/chat", json={"message": "What was ACME revenue?"})
    assert r.status_code == 200, r.text
    reply = r.json()
    assert set(reply) >= {"answer", "abstained", "verified", "question", "original_question", "backend", "repair",
                          "unsupported", "citations", "related", "scope", "timings_ms"}
    assert reply["abstained"] is False and reply["verified"] is True and reply["backend"] == "extractive"
    assert "$1.2 billion" in reply["answer"] and "[1]" in reply["answer"]
    c = reply["citations"][0]
    assert set(c) == {"n", "chunk_id", "doc_id", "company", "ticker", "period", "speaker", "section", "text",
                      "quote", "start", "end", "score"}
    assert c["n"] == 1 and c["doc_id"] == "ACME_FY24Q2_en" and c["ticker"] == "ACME" and c["quote"] in c["text"]


def test_chat_abstains_when_the_transcripts_do_not_say(client: TestClient) -> None:
    reply = client.post("/chat", json={"message": "What is the weather on Mars?"}).json()
    assert reply["abstained"] is True and reply["citations"] == []
    assert "don't say" in reply["answer"] and reply["related"]


def test_chat_follow_up_uses_history(client: TestClient) -> None:
    history = [{"role": "user", "content": "What was ACME revenue?"},
               {"role": "assistant", "content": "Acme Corp FY2024Q2: Revenue was $1.2 billion [1]"}]
    reply = client.post("/chat", json={"message": "And operating margin?", "history": history}).json()
    assert reply["original_question"] == "And operating margin?"
    assert "ACME" in reply["question"]


def test_chat_filters_restrict_the_passages(client: TestClient) -> None:
    reply = client.post("/chat", json={"message": "What was revenue?", "filters": {"ticker": "WIDG"}, "top_k": 3}).json()
    assert not reply["abstained"]
    assert {c["ticker"] for c in reply["citations"]} == {"WIDG"} and "$274 million" in reply["answer"]


def test_chat_stream_sends_deltas_then_one_reply(client: TestClient) -> None:
    r = client.post("/chat", json={"message": "示例公司的积压订单是多少？", "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    kinds = [e for e, _ in events]
    assert kinds[-1] == "reply" and kinds.count("reply") == 1 and set(kinds[:-1]) == {"delta"}
    reply = events[-1][1]
    assert "".join(d["text"] for e, d in events if e == "delta") == reply["answer"]
    assert "2440" in reply["answer"] and reply["citations"] and reply["verified"] is True


def test_chat_stream_of_an_abstention(client: TestClient) -> None:
    events = sse_events(client.post("/chat", json={"message": "What is the weather on Mars?", "stream": True}).text)
    assert events[-1][0] == "reply" and events[-1][1]["abstained"] is True


# ----------------------------------------------------------------------------- validation


def _fields(r: Any) -> set[str]:
    body = r.json()
    assert "error" in body and body["error"]["message"], body
    assert "Traceback" not in r.text
    return {f["field"] for f in body["error"].get("fields", [])} | {body["error"]["param"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 4001}, "message"),
        ({}, "message"),
        ({"message": 42}, "message"),
        ({"message": "q", "history": [{"role": "user", "content": "hi"}] * 21}, "history"),
        ({"message": "q", "history": [{"role": "robot", "content": "hi"}]}, "history.0.role"),
        ({"message": "q", "history": "not a list"}, "history"),
        ({"message": "q", "top_k": 0}, "top_k"),
        ({"message": "q", "top_k": 51}, "top_k"),
        ({"message": "q", "top_k": "many"}, "top_k"),
        ({"message": "q", "filters": {"colour": "red"}}, "filters"),
        ({"message": "q", "filters": {"section": "intro"}}, "filters"),
        ({"message": "q", "filters": {"period": "someday"}}, "filters"),
        ({"message": "q", "backend": "gpt-99"}, "backend"),
        ({"message": "q", "stream": "perhaps"}, "stream"),
        ({"message": "q", "temperature": 0.2}, "temperature"),
    ],
)
def test_chat_validation_names_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    r = client.post("/chat", json=body)
    assert r.status_code == 422, r.text
    assert field in _fields(r)


def test_chat_limits_are_inclusive(client: TestClient) -> None:
    ok = {"message": "x" * 4000, "history": [{"role": "user", "content": "hi"}] * 20, "top_k": 50}
    assert client.post("/chat", json=ok).status_code == 200
    assert client.post("/chat", json={"message": "revenue?", "top_k": 1}).status_code == 200


def test_unknown_filter_key_is_named(client: TestClient) -> None:
    r = client.post("/chat", json={"message": "q", "filters": {"colour": "red", "ticker": "ACME"}})
    assert r.status_code == 422 and "colour" in r.json()["error"]["message"]


def test_malformed_json_is_a_422_naming_the_body(client: TestClient) -> None:
    r = client.post("/chat", content=b'{"message": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "body" in _fields(r)


# -------------------------------------------------------------------------- LLM backends


class ScriptedLLM:
    """A generator that streams fixed pieces (or fails), standing in for an LLM backend."""

    name = "scripted"

    def __init__(self, pieces: list[str], fail: bool = False) -> None:
        self.pieces, self.fail = pieces, fail

    def generate(self, question: str, sources: list[Any], lang: str, candidates: Any = ()) -> Iterator[str]:
        if self.fail:
            from rag.llm import GeneratorError

            raise GeneratorError("cannot connect to http://127.0.0.1:9/v1/chat/completions")
        yield from self.pieces


@pytest.fixture
def llm_client(corpus: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr("rag.app.make_generators", lambda settings: {
        "scripted": ScriptedLLM(["Revenue was ", "$1.2 billion", ", up 12% [1]."]),
        "liar": ScriptedLLM(["Revenue was 987,654 widgets [1]."]),
        "down": ScriptedLLM([], fail=True),
    })
    src, idx = corpus
    with client_for(Settings(embed_model="fake", index_dir=idx, sources=[src])) as c:
        yield c


def test_llm_backend_streams_its_deltas(llm_client: TestClient) -> None:
    r = llm_client.post("/chat", json={"message": "What was ACME revenue?", "backend": "scripted", "stream": True})
    events = sse_events(r.text)
    streamed = "".join(d["text"] for e, d in events if e == "delta")
    reply = events[-1][1]
    assert events[-1][0] == "reply" and reply["backend"] == "scripted" and reply["verified"] is True
    assert reply["citations"][0]["doc_id"] == "ACME_FY24Q2_en"
    # Streamed text is released claim by claim, only once its numbers are found in the passage it
    # cites: either the whole checked answer streamed, or the claim was withheld and replaced.
    # Source [1] here does not hold "$1.2 billion": the claim is withheld, nothing unverified is
    # streamed, and the reply is the extractive answer that does hold it.
    assert reply["repair"] == "replaced" and streamed == "" and "$1.2 billion" in reply["answer"]


def test_unsupported_numbers_are_repaired_and_counted(llm_client: TestClient) -> None:
    reply = llm_client.post("/chat", json={"message": "What was ACME revenue?", "backend": "liar"}).json()
    # Its only claim holds a number no passage has: nothing is left to repair, so it is replaced.
    assert reply["repair"] == "replaced" and "987,654" not in reply["answer"]
    metrics = llm_client.get("/metrics").text
    assert 'rag_verification_failures_total{backend="liar"} 1' in metrics


def test_backend_failure_falls_back_to_the_extractive_answer(llm_client: TestClient) -> None:
    r = llm_client.post("/chat", json={"message": "What was ACME revenue?", "backend": "down"})
    assert r.status_code == 200
    reply = r.json()
    assert reply["backend"] == "down" and reply["repair"] == "replaced" and "cannot connect" in reply["error"]
    assert "$1.2 billion" in reply["answer"]
    events = sse_events(llm_client.post("/chat", json={"message": "What was ACME revenue?", "backend": "down",
                                                       "stream": True}).text)
    assert events[-1][0] == "reply" and events[-1][1]["repair"] == "replaced"


def test_a_library_error_is_translated_not_leaked(llm_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.answer import Assistant
    from rag.errors import RagError

    def fail(self: Any, *a: Any, **kw: Any) -> None:
        raise RagError("the library refused")

    monkeypatch.setattr(Assistant, "ask", fail)
    r = llm_client.post("/chat", json={"message": "What was ACME revenue?", "backend": "scripted"})
    body = r.json()
    assert r.status_code == 500 and body["error"]["message"] == "the library refused" and "Traceback" not in r.text
    events = sse_events(llm_client.post("/chat", json={"message": "What was ACME revenue?", "backend": "scripted",
                                                       "stream": True}).text)
    assert events[-1][0] == "error" and events[-1][1]["status"] == 500


def test_models_list_the_backends(llm_client: TestClient) -> None:
    models = llm_client.get("/v1/models").json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["extractive", "scripted", "liar", "down"]
    assert all(m["object"] == "model" for m in models["data"])
    assert llm_client.get("/v1/models/scripted").json()["id"] == "scripted"
    assert llm_client.get("/v1/models/nope").status_code == 404


# ------------------------------------------------------------------ OpenAI-compatible API


def test_completion_shape(client: TestClient) -> None:
    r = client.post("/v1/chat/completions", json={
        "model": "extractive", "temperature": 0.1, "max_tokens": 200,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What was ACME revenue?"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-") and body["model"] == "extractive"
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    assert content.startswith(body["reply"]["answer"]) and "[1]" in content and "Sources:" in content
    assert body["citations"][0]["doc_id"] == "ACME_FY24Q2_en" and body["citations"] == body["reply"]["citations"]
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_completion_history_and_content_parts(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json={"model": "extractive", "messages": [
        {"role": "user", "content": "What was ACME revenue?"},
        {"role": "assistant", "content": "Revenue was $1.2 billion [1]"},
        {"role": "user", "content": [{"type": "text", "text": "And operating margin?"}]},
    ]}).json()
    assert body["reply"]["original_question"] == "And operating margin?" and "ACME" in body["reply"]["question"]


def test_completion_stream_chunks(client: TestClient) -> None:
    r = client.post("/v1/chat/completions", json={
        "model": "extractive", "stream": True, "messages": [{"role": "user", "content": "示例公司的积压订单是多少？"}]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == ("message", "[DONE]")
    chunks = [d for _, d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "2440" in text and "[1]" in text and "来源" in text
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["choices"][0]["delta"] == {}
    assert last["citations"][0]["doc_id"] == "SEED_FY25Q4_zh" and last["reply"]["verified"] is True
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, 404, "model"),
        ({"model": "extractive", "messages": []}, 400, "messages"),
        ({"model": "extractive"}, 400, "messages"),
        ({"model": "extractive", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]},
         400, "messages.1.role"),
        ({"model": "extractive", "messages": [{"role": "user", "content": " "}]}, 400, "messages.0.content"),
        ({"model": "extractive", "messages": [{"role": "user", "content": "x" * 4001}]}, 400, "messages.0.content"),
        ({"model": "extractive", "messages": [{"role": "user", "content": "q"}], "top_k": 99}, 400, "top_k"),
        ({"model": "extractive", "messages": [{"role": "user", "content": "q"}], "filters": {"x": "y"}}, 400, "filters"),
    ],
)
def test_completion_errors_are_openai_style(client: TestClient, body: dict[str, Any], status: int, param: str) -> None:
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"} and err["param"] == param
    if status == 404:
        assert err["code"] == "model_not_found" and "extractive" in err["message"]


def test_completion_keeps_the_latest_twenty_turns(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.answer import Assistant

    seen: dict[str, Any] = {}
    real_ask = Assistant.ask

    def recording_ask(self: Any, question: str, history: Any = None, **kw: Any) -> Any:
        seen["history"] = history
        return real_ask(self, question, history=history, **kw)

    monkeypatch.setattr(Assistant, "ask", recording_ask)
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(40)]
    messages.append({"role": "user", "content": "What was ACME revenue?"})
    assert client.post("/v1/chat/completions", json={"model": "extractive", "messages": messages}).status_code == 200
    assert len(seen["history"]) == 20 and seen["history"][0]["content"] == "turn 20"


# --------------------------------------------------------------------- search, documents


def test_search_ranks_passages_with_scores(client: TestClient) -> None:
    body = client.get("/search", params={"q": "backlog growth", "top_k": 3}).json()
    results = body["results"]
    assert 1 <= len(results) <= 3 and [r["rank"] for r in results] == list(range(1, len(results) + 1))
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert {"chunk_id", "doc_id", "ticker", "period", "section", "speakers", "start", "end", "text", "dense",
            "lexical"} <= set(results[0])
    assert "backlog" in results[0]["text"].lower() or "积压" in results[0]["text"]


def test_search_filters(client: TestClient) -> None:
    body = client.get("/search", params={"q": "revenue", "ticker": "glbx", "period": "Q3 2023"}).json()
    assert body["results"] and {r["ticker"] for r in body["results"]} == {"GLBX"}
    assert body["filters"] == {"ticker": "glbx", "period": "FY2023Q3"}


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "q"), ({"q": ""}, "q"), ({"q": " "}, "q"), ({"q": "x", "top_k": 0}, "top_k"),
     ({"q": "x", "top_k": 51}, "top_k"), ({"q": "x", "period": "soon"}, "period"),
     ({"q": "x", "section": "intro"}, "section"), ({"q": "x", "colour": "red"}, "colour")],
)
def test_search_validation(client: TestClient, params: dict[str, Any], field: str) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 422, r.text
    assert field in _fields(r)


def test_documents_list(client: TestClient) -> None:
    body = client.get("/documents").json()
    assert body["count"] == 4
    docs = {d["doc_id"]: d for d in body["documents"]}
    assert set(docs) == {"ACME_FY24Q2_en", "GLBX_FY23Q3_en", "WIDG_FY25Q1_en", "SEED_FY25Q4_zh"}
    acme = docs["ACME_FY24Q2_en"]
    assert acme["company"] == "Acme Corp" and acme["ticker"] == "ACME" and acme["period"] == "FY2024Q2"
    assert acme["language"] == "en" and acme["source"] == "ACME_FY24Q2_en.txt" and acme["chunks"] == 4
    assert sum(d["chunks"] for d in docs.values()) == body["chunks"]


def test_document_text_highlights_a_citation(client: TestClient) -> None:
    reply = client.post("/chat", json={"message": "示例公司的积压订单是多少？"}).json()
    c = reply["citations"][0]
    doc = client.get(f"/documents/{c['doc_id']}").json()
    assert doc["text"][c["start"]:c["end"]] == c["quote"]
    assert doc["changed_since_indexed"] is False and doc["language"] == "zh"
    assert doc["turns"] and all(doc["text"][t["start"]:t["end"]] == t["text"] for t in doc["turns"])
    span = next(s for s in doc["chunk_spans"] if s["chunk_id"] == c["chunk_id"])
    assert doc["text"][span["start"]:span["end"]] == c["text"] and span["start"] <= c["start"] < c["end"] <= span["end"]
    assert {"name", "role"} <= set(doc["turns"][0]["speaker"])


def test_documents_flag_missing_metadata_and_serve_the_bilingual_reading_text(tmp_path: Path) -> None:
    src, idx = tmp_path / "src", tmp_path / "index"
    src.mkdir()
    for name in ("ACME_Q2_2026_bilingual.json", "notes.txt", "GLBX_FY23Q3_en.txt"):
        shutil.copy(DATA / name, src / name)
    build_index([src], idx, FakeEmbedder())
    settings = Settings(embed_model="fake", index_dir=idx, sources=[src], admin_token=TOKEN)
    with client_for(settings) as c:
        docs = {d["doc_id"]: d for d in c.get("/documents").json()["documents"]}
        assert docs["notes"]["metadata_missing"] == ["company", "ticker", "period"]
        assert any("notes.meta.json" in w for w in docs["notes"]["warnings"])
        assert docs["ACME_Q2_2026_bilingual"]["metadata_missing"] == []
        assert docs["ACME_Q2_2026_bilingual"]["language"] == "en+zh"
        # Citations of the JSON copy slice the text /documents/{id} serves, in either language.
        for question in ("What was Acme's product revenue?", "艾克米的产品收入是多少？"):
            reply = c.post("/chat", json={"message": question}).json()
            cited = [x for x in reply["citations"] if x["doc_id"] == "ACME_Q2_2026_bilingual"]
            doc = c.get("/documents/ACME_Q2_2026_bilingual").json()
            assert cited and all(doc["text"][x["start"]:x["end"]] == x["quote"] for x in cited), reply["answer"]
            assert all(doc["text"][t["start"]:t["end"]] == t["text"] for t in doc["turns"])


def test_unknown_document_is_404(client: TestClient) -> None:
    r = client.get("/documents/NOPE_FY20Q1_en")
    assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"


def test_document_whose_file_is_gone(fresh: tuple[TestClient, Path, Path]) -> None:
    c, src, _ = fresh
    (src / "WIDG_FY25Q1_en.txt").unlink()
    r = c.get("/documents/WIDG_FY25Q1_en")
    assert r.status_code == 404 and "no longer readable" in r.json()["error"]["message"]


# ------------------------------------------------------------------ health, metrics, page


def test_health(client: TestClient) -> None:
    h = client.get("/health").json()
    assert h["status"] == "ok"
    assert h["index"]["loaded"] is True and h["index"]["documents"] == 4 and h["index"]["chunks"] > 4
    assert h["index"]["version"].startswith("v-") and h["index"]["version"] == h["index"]["current_pointer"]
    assert h["model"] == {"id": "fake-hash-64", "loaded": True, "dim": 64}
    assert h["backends"][0] == "extractive"


def _metric_lines(client: TestClient) -> dict[str, str]:
    text = client.get("/metrics").text
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_metrics(client: TestClient) -> None:
    before = _metric_lines(client)
    client.post("/chat", json={"message": "What was ACME revenue?"})
    client.post("/chat", json={"message": "What is the weather on Mars?"})
    client.post("/chat", json={"message": ""})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert int(lines['rag_http_requests_total{method="POST",route="/chat",status="200"}']) >= 2
    assert int(lines['rag_http_requests_total{method="POST",route="/chat",status="422"}']) >= 1
    assert int(lines['rag_abstentions_total{backend="extractive"}']) >= 1
    assert int(lines['rag_answers_total{backend="extractive"}']) >= 2
    # A verified extractive answer is not a verification failure (the client is shared: compare counts).
    key = 'rag_verification_failures_total{backend="extractive"}'
    assert int(lines[key]) == int(before.get(key, 0))
    assert int(lines['rag_http_request_duration_seconds_count{route="/chat"}']) >= 3
    assert lines['rag_http_request_duration_seconds_bucket{route="/chat",le="+Inf"}'] == \
        lines['rag_http_request_duration_seconds_count{route="/chat"}']
    assert lines["rag_index_documents"] == "4" and lines["rag_index_loaded"] == "1"
    assert "# TYPE rag_http_request_duration_seconds histogram" in text


def test_web_page_and_static_files(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/static/app.js"' in page.text and 'id="input"' in page.text
    assert "readEvents" in client.get("/static/app.js").text
    assert client.get("/static/style.css").status_code == 200


def test_openapi_has_request_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/chat", "/v1/chat/completions"):
        content = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert content["examples"], path
    examples = spec["paths"]["/chat"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert examples["question"]["value"]["message"] == "亚马逊的积压订单是多少？"
    assert {"/search", "/documents", "/documents/{doc_id}", "/health", "/metrics", "/admin/reindex",
            "/v1/models"} <= set(spec["paths"])


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


def test_no_stack_trace_reaches_the_client(corpus: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.answer import Assistant

    def boom(self: Any, *a: Any, **kw: Any) -> None:
        raise RuntimeError("secret internals at /srv/app.py line 12")

    src, idx = corpus
    with client_for(Settings(embed_model="fake", index_dir=idx, sources=[src]), raise_server_exceptions=False) as c:
        monkeypatch.setattr(Assistant, "ask", boom)
        for body in ({"message": "q"}, {"message": "q", "stream": True}):
            r = c.post("/chat", json=body)
            assert "secret" not in r.text and "Traceback" not in r.text
            assert "internal server error" in r.text
        assert c.post("/chat", json={"message": "q"}).status_code == 500


# ----------------------------------------------------------------------- missing / broken index


def test_missing_index_is_503_with_a_reason_then_recovers(tmp_path: Path) -> None:
    idx, src = tmp_path / "index", tmp_path / "src"
    src.mkdir()
    shutil.copy(DATA / "ACME_FY24Q2_en.txt", src)
    with client_for(Settings(embed_model="fake", index_dir=idx, sources=[src])) as c:
        for method, url, body in (("post", "/chat", {"message": "What was ACME revenue?"}), ("get", "/documents", None),
                                  ("get", "/search?q=revenue", None), ("get", "/documents/ACME_FY24Q2_en", None),
                                  ("post", "/v1/chat/completions",
                                   {"model": "extractive", "messages": [{"role": "user", "content": "q"}]})):
            r = c.request(method.upper(), url, json=body)
            assert r.status_code == 503, (url, r.text)
            assert "no index built yet" in r.json()["error"]["message"]
        h = c.get("/health")
        assert h.status_code == 503 and h.json()["status"] == "unavailable"
        assert c.get("/v1/models").status_code == 200
        # Building the index while the service runs brings it up without a restart.
        build_index([src], idx, FakeEmbedder())
        wait_for(lambda: c.get("/health").status_code == 200, what="the new index to load")
        assert c.post("/chat", json={"message": "What was ACME revenue?"}).json()["citations"]


def test_index_of_another_model_is_503(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    build_index([DATA / "ACME_FY24Q2_en.txt"], idx, FakeEmbedder(dim=32))
    with client_for(Settings(embed_model="fake", index_dir=idx)) as c:
        r = c.post("/chat", json={"message": "What was ACME revenue?"})
        assert r.status_code == 503 and "fake-hash-32" in r.json()["error"]["message"]
        assert c.get("/health").json()["index"]["error"]


def test_failed_reload_keeps_serving_the_old_index(fresh: tuple[TestClient, Path, Path]) -> None:
    c, _, idx = fresh
    good = (idx / "CURRENT").read_text()
    (idx / "CURRENT").write_text("v-does-not-exist\n")
    wait_for(lambda: c.get("/health").json()["status"] == "degraded", what="the failed reload to show")
    h = c.get("/health").json()
    assert h["index"]["loaded"] and h["index"]["error"] and h["reload"]["failures"] >= 1
    assert c.post("/chat", json={"message": "What was ACME revenue?"}).status_code == 200
    (idx / "CURRENT").write_text(good)
    wait_for(lambda: c.get("/health").json()["status"] == "ok", what="recovery")


# ------------------------------------------------------------------------------------ admin


def test_admin_disabled_without_a_token(corpus: tuple[Path, Path]) -> None:
    src, idx = corpus
    with client_for(Settings(embed_model="fake", index_dir=idx, sources=[src], admin_token=None)) as c:
        for method in ("POST", "GET"):
            r = c.request(method, "/admin/reindex", headers={"Authorization": "Bearer anything"})
            assert r.status_code == 403 and "RAG_ADMIN_TOKEN" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 403), ({"Authorization": TOKEN}, 401),
     ({"Authorization": f"Basic {TOKEN}"}, 401), ({"Authorization": "Bearer "}, 401)],
)
def test_admin_rejects_bad_credentials(client: TestClient, headers: dict[str, str], status: int) -> None:
    for method in ("POST", "GET"):
        r = client.request(method, "/admin/reindex", headers=headers)
        assert r.status_code == status and r.json()["error"]["message"]
    assert client.get("/admin/reindex", headers={}).headers.get("www-authenticate") == "Bearer"


def test_reindex_swaps_in_a_new_document(fresh: tuple[TestClient, Path, Path]) -> None:
    c, src, _ = fresh
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert c.get("/admin/reindex", headers=auth).json()["status"] == "never"
    before = c.get("/health").json()["index"]["version"]
    shutil.copy(DATA / NEW_DOC, src / NEW_DOC)
    r = c.post("/admin/reindex", headers=auth)
    assert r.status_code == 202 and r.json()["status"] in ("running", "succeeded")
    wait_for(lambda: c.get("/admin/reindex", headers=auth).json()["status"] != "running", what="the reindex")
    run = c.get("/admin/reindex", headers=auth).json()
    assert run["status"] == "succeeded", run
    assert run["added"] == ["COLA_FY21Q4_en_ectsum"] and run["unchanged"] == 4 and run["errors"] == []
    assert run["started_at"] and run["finished_at"] and "1 added" in run["summary"]
    assert run["serving_version"] == run["version"] != before
    assert "COLA_FY21Q4_en_ectsum" in {d["doc_id"] for d in c.get("/documents").json()["documents"]}
    reply = c.post("/chat", json={"message": "How much free cash flow was delivered?"}).json()
    assert "$11.3 billion" in reply["answer"]


def test_reindex_conflict_and_failure(fresh: tuple[TestClient, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    c, _, _ = fresh
    auth = {"Authorization": f"Bearer {TOKEN}"}
    release = threading.Event()

    def slow_failing_build(*a: Any, **kw: Any) -> None:
        release.wait(10)
        raise RagError("sources/: cannot read the transcripts")

    monkeypatch.setattr("rag.build.build_index", slow_failing_build)
    assert c.post("/admin/reindex", headers=auth).status_code == 202
    r = c.post("/admin/reindex", headers=auth)
    assert r.status_code == 409 and r.json()["status"] == "running"
    release.set()
    wait_for(lambda: c.get("/admin/reindex", headers=auth).json()["status"] != "running", what="the reindex")
    run = c.get("/admin/reindex", headers=auth).json()
    assert run["status"] == "failed" and "cannot read the transcripts" in run["errors"][-1]
    assert c.get("/health").json()["status"] == "ok"  # the live index is untouched


# ------------------------------------------------------------------------------ live reload


def test_index_replaced_on_disk_while_requests_run(fresh: tuple[TestClient, Path, Path]) -> None:
    """Another process's `rag index` (here: a thread) writes a new version into the same folder while
    requests run; none fails and the new document is served afterwards."""
    c, src, idx = fresh
    failures: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def hammer(i: int) -> None:
        while not stop.is_set():
            if i % 2:
                r = c.post("/chat", json={"message": "What was ACME revenue?"})
                ok = r.status_code == 200 and "$1.2 billion" in r.json()["answer"]
            else:
                r = c.get("/documents")
                ok = r.status_code == 200 and r.json()["count"] in (4, 5)
            statuses.append(r.status_code)
            if not ok:
                failures.append(f"{r.status_code} {r.text[:200]}")

    workers = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.3)
        shutil.copy(DATA / NEW_DOC, src / NEW_DOC)
        builder = threading.Thread(target=build_index, args=([src], idx, FakeEmbedder()))
        builder.start()
        builder.join()
        wait_for(lambda: c.get("/documents").json()["count"] == 5, what="the new version to be served")
        time.sleep(0.3)
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert not failures, failures[:3]
    assert len(statuses) > 20
    h = c.get("/health").json()
    assert h["reload"]["reloads"] >= 1 and h["index"]["documents"] == 5
    assert h["index"]["version"] == (idx / "CURRENT").read_text().strip()


def test_completion_tells_when_an_llm_answer_was_replaced(llm_client: TestClient) -> None:
    body = llm_client.post("/v1/chat/completions", json={
        "model": "liar", "messages": [{"role": "user", "content": "What was ACME revenue?"}]}).json()
    content = body["choices"][0]["message"]["content"]
    assert "987,654" not in content and body["reply"]["repair"] in ("repaired", "replaced")
    assert "(Claims with numbers" in content or "(The model's answer could not be checked" in content


def test_the_same_call_from_two_sources_is_one_call_and_cited_once(tmp_path: Path) -> None:
    """A structured JSON copy of a call beside another source's transcript of it: one call in
    /documents; an answer cites one of them for a sentence both hold, and slices the JSON file exactly."""
    import json

    src, idx = tmp_path / "src", tmp_path / "index"
    src.mkdir()
    shutil.copy(DATA / "GLBX_FY23Q3_en.txt", src / "GLBX_FY23Q3_en.txt")
    call = {"prepared_remarks": [
        {"speaker": "Operator", "speech": "Welcome to the Globex Third Quarter 2023 Conference Call."},
        {"speaker": "Alice B. Smith", "speech": "Revenue rose 9% to $4.5 billion, a record for the third quarter.\n"
                                                "We opened a plant in Ohio."},
        {"speaker": "Bob Jones", "speech": "We returned $1 billion to shareholders."}],
        "q_and_a": [], "participants": ["Alice B. Smith--CEO", "Bob Jones--CFO"]}
    (src / "GLBX_q3_2023.txt").write_text(json.dumps(call, indent=1), encoding="utf-8")
    build_index([src], idx, FakeEmbedder())
    settings = Settings(embed_model="fake", index_dir=idx, sources=[src], admin_token=TOKEN)
    with client_for(settings) as c:
        body = c.get("/documents").json()
        assert body["count"] == 2 and body["calls"] == 1
        assert all(d["call"] == ["GLBX_FY23Q3_en", "GLBX_q3_2023"] for d in body["documents"])
        reply = c.post("/chat", json={"message": "How much did Globex revenue rise in Q3 2023?"}).json()
        quotes = [" ".join(x["quote"].split()) for x in reply["citations"]]
        assert any("$4.5 billion" in q for q in quotes) and len(set(quotes)) == len(quotes), reply
        for x in reply["citations"]:
            doc = c.get(f"/documents/{x['doc_id']}").json()
            assert doc["text"][x["start"]:x["end"]] == x["quote"]
        assert c.get("/documents/GLBX_q3_2023").json()["text"] == (src / "GLBX_q3_2023.txt").read_text(encoding="utf-8")
