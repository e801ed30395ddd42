// The chat page: streams answers from POST /chat (Server-Sent Events read with fetch + ReadableStream),
// renders [n] citations as buttons, and opens a cited passage highlighted in its transcript.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { history: [], busy: false, controller: null, docs: new Map(), active: null };
const MAX_HISTORY = 20;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const hasCJK = (s) => /[\u3400-\u9fff]/.test(s || "");

// ------------------------------------------------------------------------------ start-up

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body.error && body.error.message) || `${url}: HTTP ${r.status}`);
  return body;
}

async function loadStatus() {
  const pill = $("status");
  try {
    const r = await fetch("/health");
    const h = await r.json();
    if (!h.index || !h.index.loaded) {
      pill.textContent = "index unavailable 索引不可用";
      pill.className = "status bad";
      pill.title = (h.index && h.index.error) || (h.error && h.error.message) || "";
      return;
    }
    const calls = h.index.documents === 1 ? "call" : "calls";
    pill.textContent = `${h.index.documents} ${calls} · ${h.index.chunks} passages`;
    pill.className = "status " + (h.status === "ok" ? "ok" : "warn");
    pill.title = `index ${h.index.version}\nmodel ${h.model.id}` + (h.index.error ? `\n${h.index.error}` : "");
  } catch (e) {
    pill.textContent = "offline 离线";
    pill.className = "status bad";
  }
}

async function loadModels() {
  try {
    const models = await getJSON("/v1/models");
    const sel = $("backend");
    sel.replaceChildren(...models.data.map((m) => el("option", { value: m.id }, m.id)));
  } catch (e) { /* keep the extractive default */ }
}

async function loadDocuments() {
  try {
    const d = await getJSON("/documents");
    const byTicker = new Map();
    for (const doc of d.documents) {
      const key = doc.ticker || "";
      if (key && !byTicker.has(key)) byTicker.set(key, doc);
    }
    const sel = $("ticker");
    for (const [ticker, doc] of [...byTicker].sort()) {
      const names = [doc.company, ...(doc.aliases || [])].filter(Boolean);
      sel.append(el("option", { value: ticker }, `${ticker} · ${[...new Set(names)].join(" / ")}`));
    }
    suggest(d.documents);
  } catch (e) { /* the status pill already says what is wrong */ }
}

function suggest(documents) {
  const box = $("suggestions");
  const picks = [];
  for (const doc of documents.slice(0, 6)) {
    const zhName = (doc.aliases || []).find(hasCJK) || (hasCJK(doc.company) ? doc.company : null);
    if (doc.language === "zh" && zhName) picks.push(`${zhName}的营收是多少？`);
    else if (doc.company) picks.push(`What did ${doc.company} say about revenue?`);
    if (picks.length >= 3) break;
  }
  box.replaceChildren(...[...new Set(picks)].map((q) =>
    el("button", { type: "button", class: "chip", onclick: () => { $("input").value = q; send(); } }, q)));
}

// ----------------------------------------------------------------------------- streaming

// Yields {event, data} for each Server-Sent Event in a fetch response body.
async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // keep-alive comment
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "event") event = val;
        else if (field === "data") data.push(val);
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

async function send(evt) {
  if (evt) evt.preventDefault();
  const input = $("input");
  const message = input.value.trim();
  if (!message || state.busy) return;
  $("empty")?.remove();
  input.value = "";
  addUser(message);
  const bubble = addAssistant();
  setBusy(true);
  const body = {
    message,
    history: state.history.slice(-MAX_HISTORY),
    backend: $("backend").value || "extractive",
    stream: true,
  };
  if ($("ticker").value) body.filters = { ticker: $("ticker").value };
  state.controller = new AbortController();
  let streamed = "";
  try {
    const r = await fetch("/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal: state.controller.signal,
    });
    if (!r.ok) {
      const err = await r.json().catch(() => ({}));
      throw new Error((err.error && err.error.message) || `HTTP ${r.status}`);
    }
    let final = null;
    for await (const { event, data } of readEvents(r)) {
      if (event === "delta") {
        streamed += data.text;
        bubble.answer.textContent = streamed;
        bubble.answer.classList.remove("pending");
        scrollChat();
      } else if (event === "reply") {
        final = data;
      } else if (event === "error") {
        throw new Error(data.error ? data.error.message : "the answer failed");
      }
    }
    if (!final) throw new Error("the stream ended without a reply");
    renderReply(bubble, final);
    state.history.push({ role: "user", content: message }, { role: "assistant", content: final.answer });
  } catch (e) {
    bubble.answer.classList.remove("pending");
    if (e.name === "AbortError") {
      bubble.answer.textContent = streamed || "(stopped 已停止)";
    } else {
      bubble.node.classList.add("error");
      bubble.answer.textContent = `Error 出错：${e.message}`;
    }
  } finally {
    setBusy(false);
    state.controller = null;
    input.focus();
  }
}

function setBusy(busy) {
  state.busy = busy;
  $("send").disabled = busy;
  $("stop").hidden = !busy;
}

function scrollChat() {
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
}

// ------------------------------------------------------------------------------ rendering

function addUser(text) {
  $("messages").append(el("div", { class: "msg user" }, el("div", { class: "bubble" }, text)));
  scrollChat();
}

function addAssistant() {
  const answer = el("div", { class: "answer pending" }, "Searching the transcripts… 正在检索…");
  const meta = el("div", { class: "meta" });
  const sources = el("div", { class: "sources" });
  const node = el("div", { class: "msg assistant" }, el("div", { class: "bubble" }, meta, answer, sources));
  $("messages").append(node);
  scrollChat();
  return { node, answer, meta, sources };
}

function badge(text, kind, title) {
  return el("span", { class: `badge ${kind}`, title }, text);
}

function renderReply(bubble, reply) {
  bubble.node.classList.toggle("abstained", reply.abstained);
  const byN = new Map(reply.citations.map((c) => [c.n, c]));
  // The answer with each [n] as a button that opens the passage.
  const parts = [];
  let last = 0;
  for (const m of reply.answer.matchAll(/\[(\d{1,2})\]/g)) {
    parts.push(reply.answer.slice(last, m.index));
    const c = byN.get(Number(m[1]));
    parts.push(c ? citeButton(c) : m[0]);
    last = m.index + m[0].length;
  }
  parts.push(reply.answer.slice(last));
  bubble.answer.replaceChildren(...parts);

  const badges = [];
  if (reply.abstained) {
    badges.push(badge("Not in the transcripts · 未找到答案", "abstain", "The indexed calls don't answer this question"));
  } else if (reply.verified) {
    badges.push(badge("✓ Numbers verified · 数字已核对", "verified", "Every number was found in the passage it cites"));
  } else {
    badges.push(badge("⚠ Unverified numbers · 数字未核实", "unverified", "A number was not found in its cited passage"));
  }
  const removed = reply.unsupported && reply.unsupported.length ? `: ${reply.unsupported.join(", ")}` : "";
  if (reply.repair === "repaired") {
    badges.push(badge("Unsupported claims removed · 已删除无依据的内容", "warn", `numbers not in the sources${removed}`));
  } else if (reply.repair === "replaced") {
    badges.push(badge("LLM answer replaced by quotes · 已改用原文摘录", "warn",
      reply.error ? `LLM failed: ${reply.error}` : `the LLM answer could not be checked${removed}`));
  }
  if (reply.original_question) badges.push(badge(`Read as 理解为：${reply.question}`, "note"));
  if (reply.backend !== "extractive") badges.push(badge(reply.backend, "note"));
  bubble.meta.replaceChildren(...badges);

  const list = reply.abstained ? reply.related : reply.citations;
  if (list.length) {
    const title = reply.abstained ? "Nearest passages 相关段落" : "Sources 来源";
    bubble.sources.replaceChildren(el("div", { class: "sources-title" }, title),
      ...list.map((c) => sourceRow(c, reply.abstained)));
  }
  scrollChat();
}

function citeButton(c) {
  return el("button", {
    type: "button", class: "cite", dataset: { n: String(c.n), doc: c.doc_id },
    title: `${label(c)} — click to open 点击查看原文`, onclick: () => openCitation(c),
  }, `[${c.n}]`);
}

function label(c) {
  return [c.company || c.doc_id, c.period, c.speaker].filter(Boolean).join(" · ");
}

function sourceRow(c, related) {
  const quote = c.quote.replace(/\s+/g, " ");
  return el("button", { type: "button", class: "source", onclick: () => openCitation(c) },
    el("span", { class: "source-n" }, related ? "·" : `[${c.n}]`),
    el("span", { class: "source-body" },
      el("span", { class: "source-label" }, `${label(c)} · ${c.section}`),
      el("span", { class: "source-quote" }, quote.length > 220 ? quote.slice(0, 217) + "…" : quote)));
}

// ------------------------------------------------------------------------- the transcript

async function documentText(docId) {
  if (!state.docs.has(docId)) {
    state.docs.set(docId, getJSON(`/documents/${encodeURIComponent(docId)}`).catch((e) => {
      state.docs.delete(docId);
      throw e;
    }));
  }
  return state.docs.get(docId);
}

async function openCitation(c) {
  const viewer = $("viewer");
  viewer.hidden = false;
  document.body.classList.add("viewing");
  $("doc-title").textContent = label(c);
  $("doc-meta").textContent = `${c.doc_id} · ${c.section} · [${c.start}:${c.end}]`;
  const view = $("doc-view");
  const note = $("doc-note");
  note.hidden = true;
  view.replaceChildren(el("p", { class: "loading" }, "Loading the transcript… 正在加载原文…"));
  document.querySelectorAll(".cite.active").forEach((b) => b.classList.remove("active"));
  document.querySelectorAll(`.cite[data-n="${c.n}"][data-doc="${c.doc_id}"]`).forEach((b) => b.classList.add("active"));
  let doc;
  try {
    doc = await documentText(c.doc_id);
  } catch (e) {
    // The transcript file is gone: show the passage the reply carries.
    note.hidden = false;
    note.textContent = `${e.message} — showing the cited passage only. 仅显示引用段落。`;
    view.replaceChildren(el("div", { class: "passage" }, el("mark", { class: "quote" }, c.quote)));
    return;
  }
  $("doc-title").textContent = [doc.company || doc.doc_id, doc.period, doc.call_date].filter(Boolean).join(" · ");
  if (doc.changed_since_indexed || doc.text.slice(c.start, c.end) !== c.quote) {
    note.hidden = false;
    note.textContent = "The file changed since it was indexed: the highlight may be off. 文件在建立索引后有改动，高亮位置可能有偏差。";
  }
  // The cited chunk is shaded, the sentence relied on is marked.
  const chunk = (doc.chunk_spans || []).find((s) => s.chunk_id === c.chunk_id) || { start: c.start, end: c.end };
  const cs = Math.min(chunk.start, c.start);
  const ce = Math.max(chunk.end, c.end);
  const t = doc.text;
  const mark = el("mark", { class: "quote", id: "highlight" }, t.slice(c.start, c.end));
  const passage = el("span", { class: "passage" }, t.slice(cs, c.start), mark, t.slice(c.end, ce));
  view.replaceChildren(t.slice(0, cs), passage, t.slice(ce));
  view.lang = doc.language === "zh" ? "zh-CN" : "en";
  mark.scrollIntoView({ block: "center", behavior: "smooth" });
}

function closeViewer() {
  $("viewer").hidden = true;
  document.body.classList.remove("viewing");
  document.querySelectorAll(".cite.active").forEach((b) => b.classList.remove("active"));
}

function newChat() {
  if (state.controller) state.controller.abort();
  state.history = [];
  $("messages").replaceChildren();
  closeViewer();
  $("input").focus();
}

// ------------------------------------------------------------------------------- wiring

document.addEventListener("DOMContentLoaded", () => {
  $("ask").addEventListener("submit", send);
  $("input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) send(e);
  });
  $("stop").addEventListener("click", () => state.controller && state.controller.abort());
  $("close-viewer").addEventListener("click", closeViewer);
  $("new-chat").addEventListener("click", newChat);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeViewer(); });
  loadStatus();
  loadModels();
  loadDocuments();
  setInterval(loadStatus, 30000);
  $("input").focus();
});
