// tastemaker's page: onboarding chat, preference board, generation. Plain JS over the /v1 API.
"use strict";

const CATEGORIES = ["color", "lighting", "composition", "style", "medium", "texture", "mood",
  "detail", "perspective", "subject", "other"];
const $ = (id) => document.getElementById(id);
// The token lives in an HttpOnly cookie (never in page storage); changes echo the CSRF cookie.
const state = { session: localStorage.getItem("tm_session"), job: null, refs: new Set() };

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
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
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

function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("tm_csrf="));
  return found ? decodeURIComponent(found.slice("tm_csrf=".length)) : "";
}

async function authorizedImage(img, url) {
  const response = await fetch(url);
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
    else if (key === "style") node.style.cssText = value; // CSSOM: allowed by the page's CSP
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

async function signIn(token) {
  const me = await api("POST", "/v1/session", { token });
  $("who").textContent = me.id;
}

async function ensureUser() {
  const legacy = localStorage.getItem("tm_token"); // from before the cookie: move it there once
  localStorage.removeItem("tm_token");
  if (legacy) { try { await signIn(legacy); return true; } catch (error) { if (error.status !== 401) throw error; } }
  try { const me = await api("GET", "/v1/me"); $("who").textContent = me.id; return true; }
  catch (error) { if (error.status !== 401) throw error; }
  if (localStorage.getItem("tm_signed_out")) { showGate({ open: true }); return false; }
  return newProfile();
}

// An anonymous profile for this browser; its token is shown once so the person can come back.
async function newProfile() {
  try {
    const created = await api("POST", "/v1/users");
    await signIn(created.token);
    localStorage.removeItem("tm_signed_out");
    $("token-once-value").textContent = created.token;
    $("token-once").classList.remove("hidden");
    return true;
  } catch (error) {
    if (error.status === 403) { showGate({ open: false }); return false; }
    throw error;
  }
}

function showGate({ open, cancel = false }) {
  $("gate-closed").classList.toggle("hidden", open);
  $("gate-open").classList.toggle("hidden", !open);
  $("gate-new").classList.toggle("hidden", !open);
  $("gate-cancel").classList.toggle("hidden", !cancel);
  for (const id of ["who", "signin-btn", "signout-btn"]) $(id).classList.toggle("hidden", !cancel); // no one signed in
  $("token-gate").classList.remove("hidden");
  document.querySelector("main").classList.add("hidden");
  $("token-input").focus();
}

function hideGate() {
  $("token-gate").classList.add("hidden");
  document.querySelector("main").classList.remove("hidden");
}

// Another person's profile opens fresh: the onboarding session kept here was the last one's.
function switched() {
  localStorage.removeItem("tm_session");
  location.reload();
}

$("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await signIn($("token-input").value.trim());
    $("token-input").value = "";
    localStorage.removeItem("tm_signed_out");
    switched();
  } catch (error) { notice(error.status === 401 ? "That token is not valid here." : error.message); }
});
$("signin-btn").addEventListener("click", () => showGate({ open: true, cancel: true }));
$("gate-cancel").addEventListener("click", hideGate);
$("gate-new").addEventListener("click", async () => {
  try { localStorage.removeItem("tm_signed_out"); if (await newProfile()) { hideGate(); state.session = null; localStorage.removeItem("tm_session"); await loadOnboarding(); } }
  catch (error) { notice(error.message); }
});
$("signout-btn").addEventListener("click", async () => {
  try { await api("DELETE", "/v1/session"); } catch (error) { notice(error.message); return; }
  localStorage.setItem("tm_signed_out", "1"); // a reload must not make a new profile unasked
  switched();
});
$("token-copy").addEventListener("click", () => navigator.clipboard?.writeText($("token-once-value").textContent).then(
  () => notice("Token copied.", true), () => notice("Copy it by hand: select the token.")));
$("token-once-close").addEventListener("click", () => {
  $("token-once-value").textContent = "";
  $("token-once").classList.add("hidden");
});

// -- tabs -----------------------------------------------------------------------------------

function showPanel(name) {
  clearNotice();
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.panel === name);
  for (const panel of document.querySelectorAll(".panel")) panel.classList.toggle("hidden", panel.id !== `panel-${name}`);
  if (name === "board") loadBoard().catch((error) => notice(error.message));
}
for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showPanel(tab.dataset.panel));

// -- onboarding -----------------------------------------------------------------------------

function say(role, text, learned = [], messageId = null) {
  const item = el("li", { class: `msg ${role}` }, role === "agent" ? forThePage(text) : text);
  const chips = messageId === null ? null : onboardingChips(messageId, learned);
  if (chips) item.append(chips);
  else if (learned.length && messageId === null) item.append(el("div", { class: "learned" }, learned.map((a) => chip(a, { small: true }))));
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
    for (const message of transcript.messages) {
      if (message.kind === "show" && message.role !== "user") continue;
      const learned = message.corrected || message.extracted;
      say(message.role, message.text, learned || [], learned && message.extracted.length ? message.id : null);
    }
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
    const asking = turn.unsure && turn.unsure.length;
    // A comment that only raised questions has no chips yet: the buttons below say it all.
    say("agent", turn.reply, turn.extracted, asking && !turn.extracted.length ? null : turn.extracted_from);
    if (asking) {
      $("chat-log").lastElementChild.append(askBox(turn.extracted_from, turn.unsure));
      $("chat-log").scrollTop = $("chat-log").scrollHeight;
    }
    if (turn.done) { showImage(null, true); setChatEnabled(false, false, true); notice("Profile saved. See it under “Your taste”.", true); }
    else { showImage(turn.image); setChatEnabled(true, turn.can_finish); keepImageInView(); }
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

// -- corrections: chips under a read-back that flip, drop or edit what was understood ---------

// One chip per attribute: its number from the read-back, the text, "like"/"dislike" in words
// (not colour alone), and real buttons. correct(index, action, text) returns the new list.
function correctionChips(extracted, correct) {
  const box = el("div", { class: "learned fixes" });
  const render = (items) => box.replaceChildren(...(items.length ? items.map((a) => fixChip(a, async (action, text) => {
    try { render(await correct(a.index, action, text)); } catch (error) { notice(error.message); }
  }, box)) : [el("span", { class: "none" }, "nothing noted")]));
  box.render = render;
  render(extracted);
  return box;
}

function fixChip(attribute, act, box) {
  const other = attribute.polarity === "like" ? "dislike" : "like";
  const chipNode = el("span", { class: `chip small fix ${attribute.polarity}`, "data-index": String(attribute.index) },
    el("span", { class: "fix-number" }, `${attribute.index + 1}`),
    el("span", { class: "fix-polarity" }, attribute.polarity === "like" ? "+ like" : "− dislike"),
    el("span", { class: "fix-text" }, attribute.text),
    el("button", { type: "button", class: "fix-flip", "aria-label": `Flip “${attribute.text}” to ${other}`,
      onclick: () => act("flip") }, "Flip"),
    el("button", { type: "button", class: "fix-drop", "aria-label": `Drop “${attribute.text}”`,
      onclick: () => act("drop") }, "Drop"),
    el("button", { type: "button", class: "fix-edit", "aria-label": `Edit “${attribute.text}”`,
      onclick: () => { box.querySelector(".fix-editor")?.remove(); chipNode.after(fixEditor(attribute, act)); } }, "Edit"));
  return chipNode;
}

function fixEditor(attribute, act) {
  const input = el("input", { type: "text", value: attribute.text, maxlength: "80", "aria-label": `New text for “${attribute.text}”` });
  const form = el("form", { class: "fix-editor" }, input,
    el("button", { type: "submit", class: "primary" }, "Save"),
    el("button", { type: "button", onclick: () => form.remove() }, "Cancel"));
  form.addEventListener("submit", (event) => { event.preventDefault(); act("edit", input.value.trim()); });
  setTimeout(() => input.focus(), 0);
  return form;
}

// -- questions: what the agent could not tell, answered with Liked / Disliked / Neither --------

// One row per unsure feature of message `messageId`; an answer is a correction on its index
// ("drop" is neither). Answering the question just asked moves on to the next image.
function askBox(messageId, unsure) {
  const box = el("div", { class: "asks", "data-message": String(messageId) });
  const render = (items) => box.replaceChildren(...items.map((item) => el("div", { class: "ask" },
    el("span", { class: "ask-text" }, item.text),
    ...[["like", "Liked"], ["dislike", "Disliked"], ["drop", "Neither"]].map(([action, label]) =>
      el("button", { type: "button", class: `ask-${action}`, "aria-label": `${label}: ${item.text}`,
        onclick: () => answer(item, action) }, label)))));
  async function answer(item, action) {
    try {
      const turn = await api("POST", `/v1/onboarding/${state.session}/messages/${messageId}/corrections`,
        { attribute_index: item.index, action });
      const fresh = onboardingChips(messageId, turn.extracted);
      if (fresh) box.before(fresh);
      render(turn.unsure);
      say("agent", turn.reply);
      if (turn.done) { showImage(null, true); setChatEnabled(false, false, true); }
      else if (turn.image) { showImage(turn.image); setChatEnabled(true, turn.can_finish); keepImageInView(); }
    } catch (error) { notice(error.message); }
  }
  render(unsure);
  return box;
}

// The chips of the person's onboarding message `messageId`: one box per message, reused when a
// typed correction ("fix 1 like") changes an earlier read-back.
function onboardingChips(messageId, extracted) {
  const existing = document.querySelector(`.fixes[data-message="${messageId}"]`);
  if (existing) { existing.render(extracted); return null; }
  const box = correctionChips(extracted, async (index, action, text) => {
    const body = text === undefined ? { attribute_index: index, action } : { attribute_index: index, action, text };
    const turn = await api("POST", `/v1/onboarding/${state.session}/messages/${messageId}/corrections`, body);
    say("agent", turn.reply);
    return turn.extracted;
  });
  box.dataset.message = String(messageId);
  return box;
}

// After feedback the attributes are already in the profile: the chips fix them there.
function showFeedbackReadback(answer) {
  $("feedback-readback")?.remove();
  if (!answer.readback) return;
  let items = answer.extracted.filter((a) => a.id);
  const box = correctionChips(items, async (index, action, text) => {
    const attribute = items.find((a) => a.index === index);
    if (action === "drop") {
      await api("DELETE", `/v1/preferences/${attribute.id}`);
      items = items.filter((a) => a !== attribute);
    } else {
      const change = action === "flip" ? { polarity: attribute.polarity === "like" ? "dislike" : "like", strength: 1 } : { text, strength: 1 };
      const stored = await api("PATCH", `/v1/preferences/${attribute.id}`, change);
      items = items.map((a) => (a === attribute ? { ...a, text: stored.text, polarity: stored.polarity } : a));
    }
    return items;
  });
  $("feedback").after(el("div", { class: "feedback-readback", id: "feedback-readback" }, el("p", {}, answer.readback), box));
}

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
    el("div", { class: "half left" }, el("span", { class: "count" }, String(r.dislikes)), el("div", { class: "bar-dislike", style: `width:${(100 * r.dislikes) / most}%` })),
    el("div", { class: "half" }, el("div", { class: "bar-like", style: `width:${(100 * r.likes) / most}%` }), el("span", { class: "count" }, String(r.likes))))));
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
        chips.append(chip(attribute, { onclick: (event) => openEditorAt(event.currentTarget, card, attribute) }));
      }
      if (!items.length) chips.append(el("span", { class: "none" }, "none yet"));
      card.append(el("div", { class: "side" }, el("div", { class: "side-title" }, title), chips));
    }
    return card;
  }));
  await refreshSearch();
  await loadHistory();
  await loadReferences();
}

// -- style references: images dropped on the board, ticked ones sent as style_ref_ids ---------

async function uploadReference(file) {
  const response = await fetch("/v1/references", { method: "POST", body: file, headers: {
    Accept: "application/json", "X-CSRF-Token": csrfToken(), "Content-Type": file.type || "application/octet-stream" } });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || `${response.status} ${response.statusText}`);
  return data;
}

async function addReferences(files) {
  for (const file of files) {
    try { state.refs.add((await uploadReference(file)).id); }
    catch (error) { notice(`${file.name}: ${error.message}`); }
  }
  await loadReferences();
}

async function loadReferences() {
  const refs = await api("GET", "/v1/references");
  $("refs").replaceChildren(...refs.map((ref) => {
    const image = el("img", { alt: `style reference ${ref.id}` });
    authorizedImage(image, ref.url).catch((error) => notice(error.message));
    const use = el("input", { type: "checkbox", class: "ref-use", "data-id": ref.id });
    use.checked = state.refs.has(ref.id);
    use.addEventListener("change", () => { if (use.checked) state.refs.add(ref.id); else state.refs.delete(ref.id); });
    const remove = async () => {
      try { await api("DELETE", `/v1/references/${ref.id}`); state.refs.delete(ref.id); await loadReferences(); }
      catch (error) { notice(error.message); }
    };
    return el("figure", { class: "ref", "data-id": ref.id }, image,
      el("figcaption", {}, el("label", {}, use, " use"), el("button", { type: "button", onclick: remove }, "remove")));
  }));
}

$("refs-input").addEventListener("change", (event) => addReferences([...event.target.files]));
$("refs-drop").addEventListener("dragover", (event) => { event.preventDefault(); $("refs-drop").classList.add("over"); });
$("refs-drop").addEventListener("dragleave", () => $("refs-drop").classList.remove("over"));
$("refs-drop").addEventListener("drop", (event) => {
  event.preventDefault();
  $("refs-drop").classList.remove("over");
  addReferences([...event.dataTransfer.files]);
});

function describeReferences(refs) {
  if (!refs) return "none";
  const which = refs.origin === "request" ? "your dropped images" : "your liked images";
  if (!refs.applied) return `off (scale 0): ${which} were not used`;
  return `${refs.images.length} of ${which} (${refs.images.join(", ")}) · scale ${refs.scale} · ${refs.mode}`;
}

$("add-category").append(el("option", { value: "" }, "category: guess"), ...CATEGORIES.map((c) => el("option", { value: c }, c)));
$("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "/v1/preferences", { text: $("add-text").value, category: $("add-category").value || undefined,
      polarity: $("add-polarity").value, strength: Number($("add-strength").value) });
    $("add-text").value = "";
    await loadBoard();
  } catch (error) { notice(error.message); }
});
$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  await runSearch();
});

async function runSearch() {
  const q = $("search-input").value.trim();
  const box = $("search-results");
  if (!q) { box.classList.add("hidden"); return; }
  try {
    const hits = await api("GET", `/v1/preferences/search?q=${encodeURIComponent(q)}&limit=8`);
    box.replaceChildren(el("strong", {}, `Closest to “${q}”:`),
      ...(hits.length ? hits.map((h) => chip(h.attribute, { small: true })) : [el("span", { class: "none" }, "nothing yet")]));
    box.classList.remove("hidden");
  } catch (error) { notice(error.message); }
}

// -- generation -----------------------------------------------------------------------------

function setProgress(step, total, text) {
  $("gen-bar").style.width = `${total ? Math.round((100 * step) / total) : 0}%`;
  $("gen-status").textContent = text;
}

async function followEvents(url, onEvent) {
  const response = await fetch(url, { headers: { Accept: "text/event-stream" } });
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
    el("p", { class: "refs-used", id: "refs-used" }, `Style references: ${describeReferences(generation.style_refs)}`),
    el("p", { class: "muted" }, `seed ${generation.seed} · ${generation.aesthetic ? generation.aesthetic.note : ""} · ${(generation.timings.total || 0).toFixed(2)} s`));
}

// PALP: its training steps and what they cost, before anything is sent. A size left to the
// model is counted as 1024² by the service's job limit, so PALP starts at 512 px.
const PALP_PASSES_PER_STEP = 3;
function palpCost() {
  const palp = $("gen-mode").value === "palp";
  $("gen-palp-row").classList.toggle("hidden", !palp);
  $("gen-palp-cost").classList.toggle("hidden", !palp);
  if (!palp) return;
  const side = Number($("gen-size").value) || 1024;
  const steps = Number($("gen-steps").value) * ($("gen-plain").checked ? 2 : 1);
  const training = Number($("gen-palp-steps").value);
  const cost = side * side * (steps + PALP_PASSES_PER_STEP * training);
  $("gen-palp-cost").textContent = `PALP first trains ${training} steps (about ${PALP_PASSES_PER_STEP} UNet passes each at ${side} px), ` +
    `then makes the image; the adapter is kept for this prompt. Cost: ${(cost / 1e6).toFixed(0)} M pixel-steps ` +
    "(the service refuses a job over its limit and says how many PALP steps fit).";
}
$("gen-mode").addEventListener("change", () => {
  if ($("gen-mode").value === "palp" && $("gen-size").value === "") $("gen-size").value = "512";
  palpCost();
});
for (const id of ["gen-size", "gen-steps", "gen-plain", "gen-palp-steps"]) $(id).addEventListener("input", palpCost);

$("gen-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { prompt: $("gen-prompt").value, negative_prompt: $("gen-negative").value, steps: Number($("gen-steps").value),
    vp_degree: Number($("gen-vp").value), aesthetic_steps: Number($("gen-aesthetic").value),
    style_weight: Number($("gen-style").value), mode: $("gen-mode").value, include_plain: $("gen-plain").checked,
    style_ref_scale: Number($("gen-ref-scale").value), style_ref_mode: $("gen-ref-mode").value };
  if (state.refs.size) body.style_ref_ids = [...state.refs];
  if ($("gen-sampler").value !== "") body.sampler = $("gen-sampler").value;
  if (Number($("gen-rescale").value) > 0) body.cfg_rescale = Number($("gen-rescale").value);
  if (body.mode === "palp") body.palp_steps = Number($("gen-palp-steps").value);
  if ($("gen-seed").value !== "") body.seed = Number($("gen-seed").value);
  if ($("gen-size").value !== "") body.width = body.height = Number($("gen-size").value);
  $("gen-submit").disabled = true;
  $("feedback").classList.add("hidden");
  $("feedback-readback")?.remove();
  setProgress(0, 1, "Queued…");
  try {
    const accepted = await api("POST", "/v1/generations", body);
    state.job = accepted.id;
    $("gen-cancel").hidden = false;
    await followEvents(accepted.events_url, async (name, data) => {
      if (name === "progress") setProgress(data.step, data.total, data.status === "queued" ? "Waiting in the queue…" : progressText(data.step, data.total));
      if (name === "error" && data.status === "cancelled") setProgress(0, 1, "Cancelled.");
      else if (name === "error") { setProgress(0, 1, `Failed: ${data.detail}`); notice(data.detail); }
      if (name === "done") {
        setProgress(1, 1, "Done.");
        renderApplied(data);
        await authorizedImage($("img-personal"), data.image_urls[0]);
        if (data.plain_image_urls.length) await authorizedImage($("img-plain"), data.plain_image_urls[0]);
        else $("img-plain").hidden = true;
        $("feedback").classList.remove("hidden");
        loadGenerations().catch(() => {}); // generations.js: the history shows it first
      }
    });
  } catch (error) { setProgress(0, 1, error.message); notice(error.message); }
  finally { $("gen-submit").disabled = false; $("gen-cancel").hidden = true; }
});

$("gen-cancel").addEventListener("click", async () => {
  try { await api("DELETE", `/v1/generations/${state.job}`); setProgress(0, 1, "Cancelling…"); }
  catch (error) { notice(error.message); }
});

async function feedback(liked) {
  const comment = $("feedback-comment").value.trim();
  try {
    const answer = await api("POST", `/v1/generations/${state.job}/feedback`, comment ? { liked, comment } : { liked });
    const learned = answer.extracted.map((a) => a.text).join(", ");
    notice(`Thanks! Profile version ${answer.profile_version}${learned ? ` — learned: ${learned}` : ""}.`, true);
    $("feedback-comment").value = "";
    $("feedback").classList.add("hidden");
    showFeedbackReadback(answer);
  } catch (error) { notice(error.message); }
}
$("feedback-like").addEventListener("click", () => feedback(true));
$("feedback-dislike").addEventListener("click", () => feedback(false));

// -- fit and finish: the chat's hints name the page's buttons ----------------------------------

function forThePage(text) {
  // The agent's words are written for a terminal (type 'skip' / 'done'); the page has buttons.
  return text
    .replace("Type 'skip' to skip an image and 'done' to finish.", "Press “Skip image” to skip one and “Finish” when you are done.")
    .replace("type 'done' to finish", "press Finish");
}

// -- fit and finish: notices per tab, editor in place, search refresh, progress, history -------

function keepImageInView() {
  // On a phone the page scrolls to the input after each send; bring the new image back above it.
  if (window.matchMedia("(max-width: 520px)").matches) $("onboard-image").closest(".image-card").scrollIntoView({ block: "start" });
}

function clearNotice() {
  $("notice").textContent = "";
  $("notice").classList.add("hidden");
}

function openEditorAt(chipNode, card, attribute) {
  card.querySelector(".editor")?.remove();
  const box = editor(attribute);
  chipNode.closest(".side").after(box);  // right below the chip's row, not at the card's end
  box.scrollIntoView({ block: "nearest" });
  box.querySelector("input")?.focus({ preventScroll: true });
}

async function refreshSearch() {
  if (!$("search-results").classList.contains("hidden") && $("search-input").value.trim()) await runSearch();
}

function progressText(step, total) {
  // With the plain image the job counts both renders (2 × steps): say which one and its own step.
  const steps = Number($("gen-steps").value) || total;
  if (total > steps && step > steps) return `Plain image: step ${step - steps} of ${steps}`;
  return `Step ${Math.min(step, steps)} of ${steps}`;
}

async function loadHistory() {
  const versions = await api("GET", "/v1/preferences/versions");
  const current = versions.length ? versions[versions.length - 1].version : 0;
  $("history").replaceChildren(...versions.slice().reverse().map((v) => el("li", { class: "version" },
    el("span", { class: "version-number" }, `v${v.version}`),
    el("span", { class: "version-reason" }, `${v.reason} · ${v.attribute_count} attribute${v.attribute_count === 1 ? "" : "s"}`),
    el("span", { class: "version-actions" },
      v.version > 1 ? el("button", { type: "button", class: "small", onclick: () => showChanges(v.version) }, "Changes") : "",
      v.version !== current ? el("button", { type: "button", class: "small", onclick: () => restoreVersion(v.version) }, "Restore") : el("span", { class: "muted" }, "current")))));
}

async function showChanges(version) {
  try {
    const diff = await api("GET", `/v1/preferences/diff?from=${version - 1}&to=${version}`);
    const lines = [
      ...diff.added.map((a) => `+ ${a.polarity} ${a.text} (${a.category})`),
      ...diff.removed.map((a) => `− ${a.polarity} ${a.text} (${a.category})`),
      ...diff.changed.map((c) => `~ ${c.after.text}: ${c.fields.map((f) => `${f} ${c.before[f]} → ${c.after[f]}`).join(", ")}`),
    ];
    $("history-changes").replaceChildren(el("strong", {}, `Version ${version - 1} → ${version}`),
      el("ul", {}, (lines.length ? lines : ["no attribute changes (images only)"]).map((line) => el("li", {}, line))));
    $("history-changes").classList.remove("hidden");
  } catch (error) { notice(error.message); }
}

async function restoreVersion(version) {
  try {
    const restored = await api("POST", `/v1/preferences/versions/${version}/restore`);
    $("history-changes").classList.add("hidden");
    await loadBoard();
    notice(`Version ${version} restored as version ${restored.version}.`, true);
  } catch (error) { notice(error.message); }
}

// -- start ----------------------------------------------------------------------------------

// The samplers and the largest side the service offers, from its own schema: declared once,
// there (a CPU service allows 512 px by default; larger sizes would only be refused).
async function loadSchemaChoices() {
  const response = await fetch("/openapi.json");
  if (!response.ok) return;
  const schemas = (await response.json()).components.schemas;
  const names = schemas.Sampler?.enum || [];
  const select = $("gen-sampler");
  const [first] = select.options;
  select.replaceChildren(first, ...names.map((name) => el("option", { value: name }, name)));
  const width = schemas.GenerationCreate?.properties?.width?.anyOf?.find((s) => s.maximum);
  if (!width) return;
  for (const option of [...$("gen-size").options]) {
    if (Number(option.value) > width.maximum) option.remove();
  }
}

(async () => {
  try {
    loadSchemaChoices().catch(() => {});
    if (await ensureUser()) await loadOnboarding();
    document.body.dataset.ready = "true";
  } catch (error) { notice(`Cannot reach the service: ${error.message}`); }
})();
