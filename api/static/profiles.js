// The profile picker: which of the person's named profiles (GET /v1/profiles; docs/design.md,
// "Named profiles") the page reads and writes. The choice goes out as ?profile= on every call
// (core.js's api), is remembered in localStorage, and a change reloads the page so that every
// panel (onboarding, taste, references, generation) shows that profile. Uses core.js.
"use strict";

function useProfile(name) {
  state.profile = name && name !== DEFAULT_PROFILE ? name : null;
  if (state.profile) localStorage.setItem("tm_profile", state.profile);
  else localStorage.removeItem("tm_profile");
  state.session = localStorage.getItem(sessionKey());
}

// Fills the picker, shown once there is a choice; a remembered profile that is gone (deleted,
// or another person's name) falls back to the default before anything else is read.
async function loadProfiles() {
  const profiles = await api("GET", "/v1/profiles", undefined, null);
  if (state.profile && !profiles.some((p) => p.name === state.profile)) {
    notice(`Profile “${state.profile}” is gone: showing your default profile.`);
    useProfile(null);
  }
  $("profile-select").replaceChildren(...profiles.map((p) => el("option", { value: p.name,
    title: `version ${p.version} · ${p.attribute_count} attribute${p.attribute_count === 1 ? "" : "s"}` }, p.name)));
  $("profile-select").value = state.profile || DEFAULT_PROFILE;
  $("profile-pick").classList.toggle("alone", profiles.length < 2);
}

// After the reload the same tab is open again (clicked, so that it loads as a click does).
function reopenPanel() {
  const panel = sessionStorage.getItem("tm_panel");
  sessionStorage.removeItem("tm_panel");
  if (panel) $(`tab-${panel}`)?.click();
}

$("profile-select").addEventListener("change", () => {
  useProfile($("profile-select").value);
  sessionStorage.setItem("tm_panel", document.querySelector(".tab.active")?.dataset.panel || "onboard");
  location.reload();
});
