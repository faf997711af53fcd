// Generation: the form, its live progress and Cancel, the PALP cost, the result beside the plain
// image with what was applied, and feedback with its read-back. Uses core.js.
"use strict";

function setProgress(step, total, text) {
  $("gen-bar").style.width = `${total ? Math.round((100 * step) / total) : 0}%`;
  $("gen-status").textContent = text;
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

$("gen-style").addEventListener("input", () => { $("gen-style-value").textContent = $("gen-style").value; });

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

function progressText(step, total) {
  // With the plain image the job counts both renders (2 × steps): say which one and its own step.
  const steps = Number($("gen-steps").value) || total;
  if (total > steps && step > steps) return `Plain image: step ${step - steps} of ${steps}`;
  return `Step ${Math.min(step, steps)} of ${steps}`;
}

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
