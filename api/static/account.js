// Who is signed in: the HttpOnly token cookie set from a token or a new anonymous account, the
// sign-in gate, sign out, and the token shown once. Uses core.js.
"use strict";

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

// An anonymous account for this browser; its token is shown once so the person can come back.
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
  for (const id of ["who", "profile-pick", "signin-btn", "signout-btn"]) $(id).classList.toggle("hidden", !cancel); // no one signed in
  $("token-gate").classList.remove("hidden");
  document.querySelector("main").classList.add("hidden");
  $("token-input").focus();
}

function hideGate() {
  $("token-gate").classList.add("hidden");
  document.querySelector("main").classList.remove("hidden");
}

// What this browser kept for the last person: their chosen profile and onboarding sessions.
function forgetPerson() {
  for (const key of Object.keys(localStorage)) {
    if (key === "tm_profile" || key === "tm_session" || key.startsWith("tm_session:")) localStorage.removeItem(key);
  }
  state.profile = null;
  state.session = null;
  state.refs.clear();
}

// Another person's account opens fresh: the onboarding session kept here was the last one's.
function switched() {
  forgetPerson();
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
  try { localStorage.removeItem("tm_signed_out"); if (await newProfile()) { hideGate(); forgetPerson(); await loadProfiles(); await loadOnboarding(); } }
  catch (error) { notice(error.message); }
});
$("signout-btn").addEventListener("click", async () => {
  try { await api("DELETE", "/v1/session"); } catch (error) { notice(error.message); return; }
  localStorage.setItem("tm_signed_out", "1"); // a reload must not make a new account unasked
  switched();
});
$("token-copy").addEventListener("click", () => navigator.clipboard?.writeText($("token-once-value").textContent).then(
  () => notice("Token copied.", true), () => notice("Copy it by hand: select the token.")));
$("token-once-close").addEventListener("click", () => {
  $("token-once-value").textContent = "";
  $("token-once").classList.add("hidden");
});
