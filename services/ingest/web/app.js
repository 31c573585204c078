// docstream's page: plain ES module, no build step. It speaks the public API only: REST on
// this origin, the gateway's WebSocket for live progress.

const $ = (selector) => document.querySelector(selector);
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const state = { token: localStorage.getItem("docstream.token") || "", wsUrl: "", rows: new Map(),
                sockets: new Map(), open: null, next: null };

class ApiError extends Error {
  constructor(problem, status) {
    super(`${problem.reason || status}: ${problem.detail || problem.title || "request failed"}`);
    this.reason = problem.reason; this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok && response.status !== 207) throw new ApiError(typeof body === "object" ? body : {}, response.status);
  return body;
}

// Right after an upload the gateway already streams a document that the read model (folded
// a moment later) does not know yet: a 404 then means "not yet", so ask again briefly.
async function soon(call, tries = 10) {
  for (let i = 1; ; i++) {
    try { return await call(); } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404 || i >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

function showError(message) {
  const p = document.createElement("p");
  p.textContent = message;
  $("#errors").append(p);
}

// --- progress: pages move the extraction part of the bar, then analysis, then done ---

function percent(doc) {
  if (doc.status === "completed") return 100;
  const progress = doc.progress || {};
  if (["analyzed"].includes(doc.status)) return 95;
  if (["analyzing"].includes(doc.status)) return 85;
  if (doc.status === "extracted") return 80;
  if (progress.stage === "extraction" && progress.total) return 5 + Math.round(75 * progress.done / progress.total);
  return doc.status === "extracting" ? 5 : 0;
}

function stageText(doc) {
  const p = doc.progress || {};
  if (doc.status === "extracting" && p.total) return `extracting page ${p.done} of ${p.total}`;
  if (doc.status === "failed") return `failed: ${(doc.error || {}).reason || doc.reason || "unknown"}`;
  const pages = doc.pages ?? (doc.extraction || {}).pages;
  if (doc.status === "completed" && pages !== undefined) return `completed · ${pages} page${pages === 1 ? "" : "s"}`;
  return doc.status;
}

function fold(doc, event) {
  // The live events, applied to the row's copy (the read model folds the same facts).
  const next = { ...doc };
  const data = event.data || {};
  switch (event.type) {
    case "extraction.started": next.status = "extracting"; break;
    case "extraction.progressed": next.status = "extracting"; next.progress = data; break;
    case "extraction.completed": next.status = "extracted"; next.progress = { stage: "extraction", done: data.metadata.pages, total: data.metadata.pages }; break;
    case "analysis.started": next.status = "analyzing"; break;
    case "analysis.completed": next.status = "analyzed"; break;
    case "document.completed": next.status = "completed"; break;
    case "document.failed": next.status = "failed"; next.error = data; break;
    case "document.cancelled": next.status = "cancelled"; break;
    case "document.deleted": next.status = "deleted"; break;
  }
  return next;
}

// --- the list ---

function row(doc) {
  let li = state.rows.get(doc.id)?.element;
  if (!li) {
    li = document.createElement("li");
    li.dataset.id = doc.id;
    li.innerHTML = `<button class="open" type="button"></button><span class="status"></span>
      <div><progress max="100" value="0"></progress><div class="stage"></div></div>`;
    li.querySelector("button.open").addEventListener("click", () => openDocument(doc.id));
    $("#documents").prepend(li);
  }
  const name = doc.filename || doc.id;
  li.querySelector("button.open").textContent = name;
  li.querySelector("button.open").setAttribute("aria-label", `Open ${name}`);
  const status = li.querySelector(".status");
  status.textContent = doc.status; status.className = `status ${doc.status}`;
  const bar = li.querySelector("progress");
  bar.value = percent(doc);
  bar.setAttribute("aria-label", `${name}: ${bar.value}%`);
  li.querySelector(".stage").textContent = stageText(doc);
  state.rows.set(doc.id, { element: li, doc });
  if (!TERMINAL.has(doc.status)) watch(doc.id);
}

function watch(id) {
  if (state.sockets.has(id) || !state.wsUrl) return;
  const socket = new WebSocket(`${state.wsUrl}/ws/documents/${id}?token=${encodeURIComponent(state.token)}`);
  state.sockets.set(id, socket);
  socket.addEventListener("message", (message) => {
    const msg = JSON.parse(message.data);
    const current = state.rows.get(id)?.doc || { id };
    if (msg.type === "snapshot" && msg.document) row({ ...current, ...msg.document });
    else if (msg.type === "event") row(fold(current, msg.event));
  });
  socket.addEventListener("close", async () => {
    state.sockets.delete(id);
    try {  // the final state as the read model has it (pages, reason)
      const doc = await api(`/v1/documents/${id}`);
      row(doc);
      if (state.open === id) renderDetail(doc);
    } catch (error) { /* deleted or gone: the row keeps its last state */ }
  });
}

async function loadList(more = false) {
  const query = new URLSearchParams({ limit: "50" });
  if (more && state.next) query.set("cursor", state.next);
  const page = await api(`/v1/documents?${query}`);
  for (const doc of [...page.items].reverse()) row(doc);
  state.next = page.next;
  $("#more").hidden = !page.next;
}

// --- upload ---

async function upload(files) {
  $("#errors").replaceChildren();
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("file", file, file.name);
  form.append("analyze", $("#analyze").checked ? "true" : "false");
  if ($("#ocr").value.trim()) form.append("ocr_languages", $("#ocr").value.trim());
  try {
    const answer = await api("/v1/documents", { method: "POST", body: form });
    const items = answer.items ? answer.items : [{ filename: answer.filename, document: answer }];
    for (const item of items) {
      if (item.document) row({ id: item.document.id, filename: item.filename || item.document.filename, status: "queued" });
      else showError(`${item.filename}: ${item.problem.reason}: ${item.problem.detail}`);
    }
  } catch (error) {
    showError(`Upload refused — ${error.message}`);
  }
}

// --- one document ---

function fact(name, value) {
  if (value === undefined || value === null || value === "") return "";
  const dt = document.createElement("dt"); dt.textContent = name;
  const dd = document.createElement("dd"); dd.textContent = value;
  return [dt, dd];
}

function renderDetail(doc) {
  const x = doc.extraction || {}; const a = doc.analysis || {}; const usage = a.usage || {};
  $("#detail-title").textContent = doc.filename || doc.id;
  $("#facts").replaceChildren(...[
    fact("Status", stageText(doc)), fact("Pages", x.pages), fact("Language", x.language),
    fact("Words", x.words), fact("Characters", x.chars), fact("Type", x.detected_type),
    fact("Read by", x.extractor), fact("Tables", x.tables), fact("Created", doc.created_at),
    fact("Error", doc.error ? `${doc.error.reason}: ${doc.error.message}` : ""),
    fact("Tokens", usage.calls ? `${usage.input_tokens} in, ${usage.output_tokens} out (${usage.calls} calls)` : ""),
    fact("Estimated cost", usage.calls ? `$${Number(usage.estimated_cost_usd).toFixed(4)}` : ""),
  ].flat().filter(Boolean));
  const analysis = $("#analysis");
  analysis.replaceChildren();
  if (a.summary) {
    const parts = [["h3", "Summary"], ["p", a.summary]];
    if (a.sentiment) parts.push(["p", `Sentiment: ${a.sentiment.label} (${a.sentiment.score})`]);
    if ((a.topics || []).length) parts.push(["p", `Topics: ${a.topics.join(", ")}`]);
    for (const [tag, text] of parts) { const el = document.createElement(tag); el.textContent = text; analysis.append(el); }
    if ((a.key_points || []).length) {
      const h = document.createElement("h3"); h.textContent = "Key points";
      const ul = document.createElement("ul");
      for (const point of a.key_points) { const li = document.createElement("li"); li.textContent = point; ul.append(li); }
      analysis.append(h, ul);
    }
  }
  const body = $("#pages tbody");
  body.replaceChildren(...(x.page_info || []).map((p) => {
    const tr = document.createElement("tr");
    for (const value of [p.number, p.chars, p.extractor || "", p.ocr_confidence ?? "", (p.warnings || []).join("; ")]) {
      const td = document.createElement("td"); td.textContent = value; tr.append(td);
    }
    return tr;
  }));
  $("#cancel").disabled = TERMINAL.has(doc.status);
}

async function openDocument(id) {
  state.open = id;
  $("#detail").hidden = false;
  try {
    const doc = await soon(() => api(`/v1/documents/${id}`));
    renderDetail(doc);
    $("#detail-title").focus();
    $("#text").textContent = "";
    if (doc.text_blob || doc.status === "completed") {
      const response = await fetch(`/v1/documents/${id}/text`, { headers: { Authorization: `Bearer ${state.token}`, Range: "bytes=0-65535" } });
      if (response.ok) $("#text").textContent = await response.text();
    }
  } catch (error) { showError(error.message); }
}

async function command(path, body) {
  $("#errors").replaceChildren();
  try {
    await soon(() => api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) }));
    watch(state.open);
  } catch (error) { showError(error.message); }
}

// --- wiring ---

async function start() {
  $("#token").value = state.token;
  $("#who").textContent = state.token ? `signed in as ${state.token.split(".")[1] || "?"}` : "";
  if (!state.token) return;
  try { await loadList(); } catch (error) { showError(error.message); }
}

async function main() {
  state.wsUrl = (await (await fetch("/web/config.json")).json()).ws_url;
  $("#token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("#token").value.trim();
    localStorage.setItem("docstream.token", state.token);
    $("#documents").replaceChildren(); state.rows.clear();
    start();
  });
  const drop = $("#drop"); const picker = $("#files");
  drop.addEventListener("click", () => picker.click());
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); picker.click(); } });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload([...e.dataTransfer.files]); });
  picker.addEventListener("change", () => { upload([...picker.files]); picker.value = ""; });
  $("#more").addEventListener("click", () => loadList(true));
  $("#close").addEventListener("click", () => { $("#detail").hidden = true; state.open = null; });
  $("#cancel").addEventListener("click", () => command(`/v1/documents/${state.open}/cancel`));
  $("#reprocess").addEventListener("click", () => command(`/v1/documents/${state.open}/reprocess`));
  await start();
}

main();
