// tastemaker's page, its plumbing: the shared state, calls to the /v1 API, notices and the small
// DOM helpers every other script of the page uses. Plain JS, no build: index.html loads the
// scripts in order (core.js first, main.js last) and they share these top-level names.
"use strict";

const $ = (id) => document.getElementById(id);
const DEFAULT_PROFILE = "default";
// The token lives in an HttpOnly cookie (never in page storage); changes echo the CSRF cookie.
// `profile`: the named profile the page reads and writes (profiles.js; null is the default),
// kept in localStorage with one onboarding session per profile.
const state = { profile: localStorage.getItem("tm_profile"), session: null, job: null, refs: new Set() };
state.session = localStorage.getItem(sessionKey());

// -- the chosen profile ---------------------------------------------------------------------

// The default profile keeps the key it always had, so a session from before profiles resumes.
function sessionKey(profile = state.profile) {
  return profile && profile !== DEFAULT_PROFILE ? `tm_session:${profile}` : "tm_session";
}

function rememberSession(id) {
  state.session = id;
  if (id) localStorage.setItem(sessionKey(), id);
  else localStorage.removeItem(sessionKey());
}

// `path` in `profile` (the chosen one unless named): every route takes ?profile=NAME, and the
// default is what leaving it out means.
function withProfile(path, profile = state.profile) {
  if (!profile || profile === DEFAULT_PROFILE) return path;
  return `${path}${path.includes("?") ? "&" : "?"}profile=${encodeURIComponent(profile)}`;
}

// -- plumbing -------------------------------------------------------------------------------

function notice(text, ok = false) {
  const box = $("notice");
  box.textContent = text;
  box.classList.toggle("ok", ok);
  box.classList.toggle("hidden", !text);
  if (text) setTimeout(() => { if (box.textContent === text) box.classList.add("hidden"); }, 6000);
}

async function api(method, path, body, profile = state.profile) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(withProfile(path, profile), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
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
  const response = await fetch(withProfile(url)); // a reference's image is its profile's
  if (!response.ok) throw new Error(`image ${url}: ${response.status}`);
  if (img.dataset.objectUrl) URL.revokeObjectURL(img.dataset.objectUrl);
  img.dataset.objectUrl = URL.createObjectURL(await response.blob());
  img.src = img.dataset.objectUrl;
  img.hidden = false;
}

function clearNotice() {
  $("notice").textContent = "";
  $("notice").classList.add("hidden");
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
