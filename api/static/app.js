// tastemaker's page: onboarding chat, preference board, generation. Plain JS over the /v1 API.
"use strict";

const CATEGORIES = ["color", "lighting", "composition", "style", "medium", "texture", "mood",
  "detail", "perspective", "subject", "other"];
const $ = (id) => document.getElementById(id);
const state = { token: localStorage.getItem("tm_token"), session: localStorage.getItem("tm_session"), job: null };

// -- plumbing -------------------------------------------------------------------------------

function notice(text, ok = false) {
  const box = $("notice");
  box.textContent = text;
  box.classList.toggle("ok", ok);
  box.classList.toggle("hidden", !text);
  if (text) setTimeout(() => { if (box.textContent === text) box.classList.add("hidden"); }, 6000);
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.detail || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

async function authorizedImage(img, url) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) throw new Error(`image ${url}: ${response.status}`);
  if (img.dataset.objectUrl) URL.revokeObjectURL(img.dataset.objectUrl);
  img.dataset.objectUrl = URL.createObjectURL(await response.blob());
  img.src = img.dataset.objectUrl;
  img.hidden = false;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(child));
  return node;
}

function chip(attribute, { small = false, onclick } = {}) {
  const node = el("span", { class: `chip ${attribute.polarity}${small ? " small" : ""}`, title: `${attribute.category} · strength ${attribute.strength}` },
    attribute.text);
  if (!small) node.append(el("span", { class: "meter" }, el("span", { style: `width:${Math.round(attribute.strength * 100)}%` })));
  if (onclick) node.addEventListener("click", onclick);
  return node;
}

// -- auth -----------------------------------------------------------------------------------

async function ensureUser() {
  if (state.token) {
    try { const me = await api("GET", "/v1/me"); $("who").textContent = me.id; return true; }
    catch (error) { if (error.status !== 401) throw error; state.token = null; localStorage.removeItem("tm_token"); }
  }
  try {
    const created = await api("POST", "/v1/users");
    state.token = created.token;
    localStorage.setItem("tm_token", created.token);
    $("who").textContent = created.id;
    return true;
  } catch (error) {
    if (error.status === 403) { $("token-gate").classList.remove("hidden"); document.querySelector("main").classList.add("hidden"); return false; }
    throw error;
  }
}

$("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.token = $("token-input").value.trim();
  try {
    const me = await api("GET", "/v1/me");
    localStorage.setItem("tm_token", state.token);
    $("who").textContent = me.id;
    $("token-gate").classList.add("hidden");
    document.querySelector("main").classList.remove("hidden");
    await loadOnboarding();
  } catch (error) { notice(error.message); }
});

// -- tabs -----------------------------------------------------------------------------------

function showPanel(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.panel === name);
  for (const panel of document.querySelectorAll(".panel")) panel.classList.toggle("hidden", panel.id !== `panel-${name}`);
  if (name === "board") loadBoard().catch((error) => notice(error.message));
}
for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showPanel(tab.dataset.panel));

// -- onboarding -----------------------------------------------------------------------------

function say(role, text, learned = []) {
  const item = el("li", { class: `msg ${role}` }, text);
  if (learned.length) item.append(el("div", { class: "learned" }, learned.map((a) => chip(a, { small: true }))));
  $("chat-log").append(item);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
}

function showImage(image, finished = false) {
  const img = $("onboard-image");
  if (!image) {
    img.hidden = true;
    $("onboard-placeholder").textContent = finished ? "Onboarding finished — see “Your taste”" : "Start to see the first image";
    $("onboard-caption").textContent = finished ? "Onboard again any time to teach me more." : "—";
    return;
  }
  img.src = image.url;
  img.alt = image.description;
  img.hidden = false;
  $("onboard-caption").textContent = image.description;
}

function setChatEnabled(active, canFinish = false, done = false) {
  for (const id of ["chat-input", "chat-send", "skip-btn", "finish-btn"]) $(id).disabled = !active;
  $("start-btn").classList.toggle("hidden", active);
  $("start-btn").textContent = done ? "Onboard again" : "Start onboarding";
  const badge = $("onboard-status");
  badge.textContent = done ? "finished" : active ? (canFinish ? "enough to finish" : "in progress") : "not started";
  badge.classList.toggle("ready", canFinish || done);
}

async function loadOnboarding() {
  if (!state.session) return;
  try {
    const transcript = await api("GET", `/v1/onboarding/${state.session}`);
    $("chat-log").replaceChildren();
    for (const message of transcript.messages) if (message.kind !== "show" || message.role === "user") say(message.role, message.text);
    const last = transcript.messages.filter((m) => m.role === "agent").pop();
    if (last && last.kind === "show") say("agent", last.text);
    showImage(transcript.image, transcript.status !== "active");
    setChatEnabled(transcript.status === "active", false, transcript.status !== "active");
  } catch (error) {
    if (error.status === 404) { state.session = null; localStorage.removeItem("tm_session"); } else notice(error.message);
  }
}

$("start-btn").addEventListener("click", async () => {
  try {
    const started = await api("POST", "/v1/onboarding");
    state.session = started.id;
    localStorage.setItem("tm_session", started.id);
    $("chat-log").replaceChildren();
    say("agent", started.message);
    showImage(started.image);
    setChatEnabled(true);
    $("chat-input").focus();
  } catch (error) { notice(error.message); }
});

async function send(text) {
  if (!text.trim()) return;
  say("user", text);
  $("chat-input").value = "";
  $("chat-send").disabled = true;
  try {
    const turn = await api("POST", `/v1/onboarding/${state.session}/messages`, { text });
    say("agent", turn.reply, turn.extracted);
    if (turn.done) { showImage(null, true); setChatEnabled(false, false, true); notice("Profile saved. See it under “Your taste”.", true); }
    else { showImage(turn.image); setChatEnabled(true, turn.can_finish); }
  } catch (error) { notice(error.message); $("chat-send").disabled = false; }
}

$("chat-form").addEventListener("submit", (event) => { event.preventDefault(); send($("chat-input").value); });
$("chat-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); send($("chat-input").value); }
});
$("skip-btn").addEventListener("click", () => send("skip"));
$("finish-btn").addEventListener("click", async () => {
  try {
    const finished = await api("POST", `/v1/onboarding/${state.session}/finish`);
    say("agent", finished.message);
    showImage(null, true);
    setChatEnabled(false, false, true);
    notice(`Profile version ${finished.profile_version} saved with ${finished.attribute_count} attributes.`, true);
  } catch (error) { notice(error.message); }
});

// -- preference board -----------------------------------------------------------------------

function editor(attribute) {
  const text = el("input", { type: "text", value: attribute.text, maxlength: "80", "aria-label": "Text" });
  const category = el("select", { "aria-label": "Category" }, CATEGORIES.map((c) => el("option", { value: c }, c)));
  category.value = attribute.category;
  const polarity = el("select", { "aria-label": "Polarity" }, el("option", { value: "like" }, "like"), el("option", { value: "dislike" }, "dislike"));
  polarity.value = attribute.polarity;
  const strength = el("input", { type: "range", min: "0", max: "1", step: "0.1", value: String(attribute.strength), "aria-label": "Strength" });
  const box = el("div", { class: "editor" }, text, category, polarity, el("label", { class: "strength" }, "strength", strength),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "danger", onclick: async () => {
        try { await api("DELETE", `/v1/preferences/${attribute.id}`); await loadBoard(); } catch (error) { notice(error.message); }
      } }, "Delete"),
      el("button", { type: "button", onclick: () => box.remove() }, "Cancel"),
      el("button", { type: "button", class: "primary", onclick: async () => {
        try {
          await api("PATCH", `/v1/preferences/${attribute.id}`, { text: text.value, category: category.value, polarity: polarity.value, strength: Number(strength.value) });
          await loadBoard();
        } catch (error) { notice(error.message); }
      } }, "Save")));
  return box;
}

function renderChart(groups) {
  const rows = CATEGORIES.map((c) => {
    const group = groups.find((g) => g.category === c) || { likes: [], dislikes: [] };
    return { category: c, likes: group.likes.length, dislikes: group.dislikes.length };
  }).filter((r) => r.likes || r.dislikes);
  const most = Math.max(1, ...rows.map((r) => Math.max(r.likes, r.dislikes)));
  $("chart").replaceChildren(...rows.map((r) => el("div", { class: "chart-row", title: `${r.likes} likes, ${r.dislikes} dislikes` },
    el("span", { class: "label" }, r.category),
    el("div", { class: "half left" }, el("div", { class: "bar-dislike", style: `width:${(100 * r.dislikes) / most}%` })),
    el("div", { class: "half" }, el("div", { class: "bar-like", style: `width:${(100 * r.likes) / most}%` })))));
  if (!rows.length) $("chart").replaceChildren(el("p", { class: "none" }, "No attributes yet."));
}

// -- style token: its state on the board, training as a job, its weight when generating ------

async function loadStyle() {
  const tokens = await api("GET", "/v1/styles");
  const token = tokens.find((t) => !t.negative);
  $("style-state").textContent = token
    ? `Style token ${token.name}: ${token.steps} steps on ${token.image_count} images (profile v${token.profile_version ?? "–"}, ${token.model}).`
    : "No style token yet.";
}

$("style-train").addEventListener("click", async () => {
  $("style-train").disabled = true;
  try {
    const accepted = await api("POST", "/v1/styles", {});
    await followEvents(accepted.events_url, async (name, data) => {
      if (name === "progress") $("style-state").textContent = data.status === "queued" ? "Training: waiting in the queue…" : `Training: step ${data.step} of ${data.total}…`;
      if (name === "error") notice(data.detail);
      if (name === "done") await loadStyle();
    });
  } catch (error) { notice(error.message); }
  finally { $("style-train").disabled = false; }
});
$("gen-style").addEventListener("input", () => { $("gen-style-value").textContent = $("gen-style").value; });

async function loadBoard() {
  loadStyle().catch((error) => notice(error.message));
  const body = await api("GET", "/v1/preferences");
  $("board-version").textContent = `profile version ${body.version}`;
  renderChart(body.groups);
  $("board-empty").classList.toggle("hidden", body.groups.length > 0);
  $("board").replaceChildren(...body.groups.map((group) => {
    const card = el("div", { class: "card category", "data-category": group.category },
      el("h3", {}, group.category, el("span", { class: "muted" }, String(group.likes.length + group.dislikes.length))));
    for (const [title, items] of [["Likes", group.likes], ["Dislikes", group.dislikes]]) {
      const chips = el("div", { class: "chips" });
      for (const attribute of items) {
        chips.append(chip(attribute, { onclick: () => {
          card.querySelector(".editor")?.remove();
          card.append(editor(attribute));
        } }));
      }
      if (!items.length) chips.append(el("span", { class: "none" }, "none yet"));
      card.append(el("div", { class: "side" }, el("div", { class: "side-title" }, title), chips));
    }
    return card;
  }));
}

$("add-category").append(...CATEGORIES.map((c) => el("option", { value: c }, c)));
$("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "/v1/preferences", { text: $("add-text").value, category: $("add-category").value,
      polarity: $("add-polarity").value, strength: Number($("add-strength").value) });
    $("add-text").value = "";
    await loadBoard();
  } catch (error) { notice(error.message); }
});
$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = $("search-input").value.trim();
  const box = $("search-results");
  if (!q) { box.classList.add("hidden"); return; }
  try {
    const hits = await api("GET", `/v1/preferences/search?q=${encodeURIComponent(q)}&limit=8`);
    box.replaceChildren(el("strong", {}, `Closest to “${q}”:`),
      ...(hits.length ? hits.map((h) => chip(h.attribute, { small: true })) : [el("span", { class: "none" }, "nothing yet")]));
    box.classList.remove("hidden");
  } catch (error) { notice(error.message); }
});

// -- generation -----------------------------------------------------------------------------

function setProgress(step, total, text) {
  $("gen-bar").style.width = `${total ? Math.round((100 * step) / total) : 0}%`;
  $("gen-status").textContent = text;
}

async function followEvents(url, onEvent) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" } });
  if (!response.ok) throw new Error(`events: ${response.status}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const name = (block.match(/^event: (.*)$/m) || [])[1];
      const data = (block.match(/^data: (.*)$/m) || [])[1];
      if (name && data) onEvent(name, JSON.parse(data));
    }
  }
}

function renderApplied(generation) {
  const decisions = generation.plan ? generation.plan.decisions : [];
  const used = decisions.filter((d) => d.used);
  const dropped = decisions.filter((d) => !d.used);
  const asChips = (items) => el("div", { class: "chips" }, items.length ? items.map((d) => chip({ ...d }, { small: true })) : [el("span", { class: "none" }, "none")]);
  $("applied").replaceChildren(
    el("strong", {}, "Applied from your taste"), asChips(used),
    el("details", {}, el("summary", {}, `${dropped.length} not applied, and why`),
      el("ul", {}, dropped.map((d) => el("li", {}, `${d.text} — ${d.reason}`)))),
    ...(generation.model && generation.model.startsWith("tiny") ? [el("p", { class: "model-note" },
      "This service runs the tiny demo model: random weights, so its images are noise. Set TASTEMAKER_MODEL to a real Stable Diffusion model.")] : []),
    el("p", { class: "muted" }, `seed ${generation.seed} · ${generation.aesthetic ? generation.aesthetic.note : ""} · ${(generation.timings.total || 0).toFixed(2)} s`));
}

$("gen-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { prompt: $("gen-prompt").value, negative_prompt: $("gen-negative").value, steps: Number($("gen-steps").value),
    vp_degree: Number($("gen-vp").value), aesthetic_steps: Number($("gen-aesthetic").value),
    style_weight: Number($("gen-style").value), mode: $("gen-mode").value, include_plain: $("gen-plain").checked };
  if ($("gen-seed").value !== "") body.seed = Number($("gen-seed").value);
  if ($("gen-size").value !== "") body.width = body.height = Number($("gen-size").value);
  $("gen-submit").disabled = true;
  $("feedback").classList.add("hidden");
  setProgress(0, 1, "Queued…");
  try {
    const accepted = await api("POST", "/v1/generations", body);
    state.job = accepted.id;
    await followEvents(accepted.events_url, async (name, data) => {
      if (name === "progress") setProgress(data.step, data.total, data.status === "queued" ? "Waiting in the queue…" : `Step ${data.step} of ${data.total}`);
      if (name === "error") { setProgress(0, 1, `Failed: ${data.detail}`); notice(data.detail); }
      if (name === "done") {
        setProgress(1, 1, "Done.");
        renderApplied(data);
        await authorizedImage($("img-personal"), data.image_urls[0]);
        if (data.plain_image_urls.length) await authorizedImage($("img-plain"), data.plain_image_urls[0]);
        else $("img-plain").hidden = true;
        $("feedback").classList.remove("hidden");
      }
    });
  } catch (error) { setProgress(0, 1, error.message); notice(error.message); }
  finally { $("gen-submit").disabled = false; }
});

async function feedback(liked) {
  const comment = $("feedback-comment").value.trim();
  try {
    const answer = await api("POST", `/v1/generations/${state.job}/feedback`, comment ? { liked, comment } : { liked });
    const learned = answer.extracted.map((a) => a.text).join(", ");
    notice(`Thanks! Profile version ${answer.profile_version}${learned ? ` — learned: ${learned}` : ""}.`, true);
    $("feedback-comment").value = "";
    $("feedback").classList.add("hidden");
  } catch (error) { notice(error.message); }
}
$("feedback-like").addEventListener("click", () => feedback(true));
$("feedback-dislike").addEventListener("click", () => feedback(false));

// -- start ----------------------------------------------------------------------------------

(async () => {
  try {
    if (await ensureUser()) await loadOnboarding();
    document.body.dataset.ready = "true";
  } catch (error) { notice(`Cannot reach the service: ${error.message}`); }
})();
