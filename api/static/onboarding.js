// Onboarding: the chat beside the image, its numbered read-backs (chips from corrections.js)
// and the Liked / Disliked / Neither questions on what the agent could not tell. Uses core.js.
"use strict";

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
    if (error.status === 404) rememberSession(null); else notice(error.message);
  }
}

$("start-btn").addEventListener("click", async () => {
  try {
    const started = await api("POST", "/v1/onboarding");
    rememberSession(started.id);
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

// -- fit and finish: the chat's hints name the page's buttons ----------------------------------

function forThePage(text) {
  // The agent's words are written for a terminal (type 'skip' / 'done'); the page has buttons.
  return text
    .replace("Type 'skip' to skip an image and 'done' to finish.", "Press “Skip image” to skip one and “Finish” when you are done.")
    .replace("type 'done' to finish", "press Finish");
}

function keepImageInView() {
  // On a phone the page scrolls to the input after each send; bring the new image back above it.
  if (window.matchMedia("(max-width: 520px)").matches) $("onboard-image").closest(".image-card").scrollIntoView({ block: "start" });
}
