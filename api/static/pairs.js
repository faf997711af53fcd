// "Which do you prefer?" (issue 22): two gallery images side by side in the onboarding panel.
// Click one or press ←/→; "Neither" and "Skip". After each choice, what the taste model now
// thinks the person likes and dislikes. After a surprising pick, now and then, "What made you
// pick that one?" with a small text box (sent, or skipped). Uses core.js ($, api, el, state,
// notice) and onboarding.js (loadOnboarding).
"use strict";

const pairs = { current: null, busy: false, why: null };
const SUMMARY_SIZE = 3;

async function pairSession() {
  if (state.session) return state.session;
  const started = await api("POST", "/v1/onboarding");
  rememberSession(started.id);
  await loadOnboarding(); // the chat shows the new session's greeting
  return state.session;
}

function showPair(pair) {
  pairs.current = pair;
  $("pair-view").classList.remove("hidden");
  $("pair-btn").classList.add("hidden");
  $("pair-done").classList.toggle("hidden", Boolean(pair));
  for (const id of ["pair-left", "pair-right", "pair-neither", "pair-skip"]) $(id).disabled = !pair;
  if (!pair) return;
  for (const side of ["left", "right"]) {
    const img = $(`pair-${side}-img`);
    img.src = pair[side].url;
    img.alt = pair[side].description;
    $(`pair-${side}-caption`).textContent = pair[side].description;
  }
}

function thumb(ranked) {
  return el("li", { class: "thumb", title: `${ranked.description} (taste match ${ranked.taste_match.toFixed(2)})` },
    el("img", { src: ranked.url, alt: ranked.description }),
    el("span", { class: "caption" }, ranked.description));
}

async function showTaste() {
  const taste = await api("GET", "/v1/preferences/taste");
  $("pair-count").textContent = `${taste.choices} choice${taste.choices === 1 ? "" : "s"}`;
  $("taste-summary").classList.toggle("hidden", !taste.choices);
  if (!taste.choices) return;
  $("taste-likes").replaceChildren(...taste.ranking.slice(0, SUMMARY_SIZE).map(thumb));
  $("taste-dislikes").replaceChildren(...taste.ranking.slice(-SUMMARY_SIZE).reverse().map(thumb));
}

function showWhy(why) {
  pairs.why = why || null;
  $("why-form").classList.toggle("hidden", !why);
  if (!why) return;
  $("why-question").textContent = why.question;
  $("why-text").value = "";
  $("why-noted").textContent = "";
}

async function choose(choice) {
  const pair = pairs.current;
  if (!pair || pairs.busy) return;
  pairs.busy = true;
  try {
    const next = await api("POST", `/v1/onboarding/${state.session}/choices`, { pair_id: pair.pair_id, choice });
    showPair(next);
    showWhy(next && next.why);
    await showTaste();
  } catch (error) {
    notice(error.message);
  } finally {
    pairs.busy = false;
  }
}

$("pair-btn").addEventListener("click", async () => {
  try {
    const session = await pairSession();
    showPair(await api("GET", `/v1/onboarding/${session}/pair`));
    await showTaste();
  } catch (error) { notice(error.message); }
});
$("why-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const why = pairs.why;
  const text = $("why-text").value.trim();
  if (!why || !text) { showWhy(null); return; }
  try {
    const reply = await api("POST", `/v1/onboarding/${state.session}/choices/${why.pair_id}/why`, { text });
    showWhy(null);
    $("why-noted").textContent = reply.message;
    await showTaste();
  } catch (error) { notice(error.message); }
});
$("why-skip").addEventListener("click", () => showWhy(null));
$("pair-left").addEventListener("click", () => choose("left"));
$("pair-right").addEventListener("click", () => choose("right"));
$("pair-neither").addEventListener("click", () => choose("neither"));
$("pair-skip").addEventListener("click", () => choose("skip"));
document.addEventListener("keydown", (event) => {
  if ($("pair-view").classList.contains("hidden") || event.target.closest("input, textarea, select")) return;
  if ($("panel-onboard").classList.contains("hidden")) return;
  if (event.key === "ArrowLeft") { event.preventDefault(); choose("left"); }
  if (event.key === "ArrowRight") { event.preventDefault(); choose("right"); }
});
