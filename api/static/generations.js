// Your generations (issue 28.6), under the Generate panel: the signed-in person's generations,
// newest first (GET /v1/generations), each with Re-roll (the same body, a new seed), Variation
// (the image uploaded as a reference and redrawn at strength 0.35: img2img) and Taste strip
// (the same seed at β = vp_degree 0, 0.5, 0.85 and 1.2, side by side, as A1111's X/Y grid
// compares one setting). Every job is a plain POST of the body the service hands back with each
// generation, in the profile that generation was made in (its `profile`, whichever profile the
// picker shows; none when that profile was deleted). Uses core.js's $, api, el, notice,
// followEvents, csrfToken, withProfile.
"use strict";

const VARIATION_STRENGTH = 0.35;
const STRIP = [[0, "β 0 · no attributes"], [0.5, "β 0.5"], [0.85, "β 0.85 · default"], [1.2, "β 1.2"]];
const SUBMIT_TRIES = 300; // a full queue (429) is retried once a second, for at most 5 minutes

function gensStatus(text) { $("gens-status").textContent = text; }

function smallButton(label, onclick) {
  return el("button", { type: "button", class: "small", onclick }, label);
}

async function loadGenerations() {
  const list = await api("GET", "/v1/generations?limit=20");
  $("gens-empty").classList.toggle("hidden", list.length > 0);
  $("gens").replaceChildren(...list.map(generationItem));
}

function describeGeneration(generation) {
  const body = generation.request || {};
  const parts = [generation.status === "done" ? `seed ${generation.seed}` : generation.status];
  if (body.init_image) parts.push(`img2img, strength ${body.strength ?? 0.6}`);
  if (body.vp_degree !== undefined) parts.push(`β ${body.vp_degree}`);
  if (generation.profile === null) parts.push("its profile was deleted");
  else if (generation.profile !== DEFAULT_PROFILE || state.profile) parts.push(`profile ${generation.profile}`);
  parts.push(new Date(generation.created_at).toLocaleString());
  return parts.join(" · ");
}

function generationItem(generation) {
  const done = generation.status === "done" && generation.image_urls.length > 0;
  const again = Boolean(generation.request) && generation.profile !== null;
  const thumb = done ? el("img", { src: generation.image_urls[0], alt: generation.prompt })
    : el("span", { class: "gen-none" }, generation.status);
  return el("li", { class: "gen", "data-id": generation.id, "data-seed": generation.seed ?? "",
    "data-profile": generation.profile ?? "" },
    el("div", { class: "gen-thumb" }, thumb),
    el("div", { class: "gen-body" },
      el("span", { class: "gen-prompt" }, generation.prompt),
      el("span", { class: "gen-meta muted" }, describeGeneration(generation)),
      el("span", { class: "gen-actions" },
        again ? smallButton("Re-roll", () => reroll(generation)) : "",
        done && again ? smallButton("Variation", () => variation(generation)) : "",
        done && again ? smallButton("Taste strip", () => tasteStrip(generation)) : "")));
}

// The generation's own body with some fields changed; `undefined` leaves a field out.
function bodyLike(generation, changes) {
  const body = { ...generation.request, ...changes };
  for (const [name, value] of Object.entries(changes)) if (value === undefined) delete body[name];
  return body;
}

async function submit(body, profile) {
  for (let attempt = 1; ; attempt += 1) {
    try { return await api("POST", "/v1/generations", body, profile); }
    catch (error) {
      if (error.status !== 429 || attempt >= SUBMIT_TRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function finished(accepted) {
  return new Promise((resolve, reject) => {
    followEvents(accepted.events_url, (name, data) => {
      if (name === "done") resolve(data);
      if (name === "error") reject(new Error(data.detail || data.status));
    }).then(() => reject(new Error("the generation's events ended early")), reject);
  });
}

async function run(label, body, profile) {
  gensStatus(`${label}…`);
  const accepted = await submit(body, profile);
  await loadGenerations();
  const done = await finished(accepted);
  await loadGenerations();
  gensStatus(`${label}: seed ${done.seed}`);
  return done;
}

async function reroll(generation) {
  try { await run("Re-roll", bodyLike(generation, { seed: undefined }), generation.profile); }
  catch (error) { gensStatus("newest first"); notice(error.message); }
}

async function variation(generation) {
  try {
    gensStatus("Variation…");
    const image = await fetch(generation.image_urls[0]);
    if (!image.ok) throw new Error(`image: ${image.status}`);
    const reference = await fetch(withProfile("/v1/references", generation.profile), {
      method: "POST", body: await image.blob(), headers: {
        Accept: "application/json", "X-CSRF-Token": csrfToken(), "Content-Type": "image/png" } });
    const uploaded = await reference.json().catch(() => ({}));
    if (!reference.ok) throw new Error(uploaded.detail || `upload: ${reference.status}`);
    await run("Variation", bodyLike(generation, { seed: undefined, candidates: undefined,
      num_images: undefined, include_plain: false, init_image: uploaded.id, strength: VARIATION_STRENGTH }),
      generation.profile);
  } catch (error) { gensStatus("newest first"); notice(error.message); }
}

async function tasteStrip(generation) {
  const base = bodyLike(generation, { seed: generation.seed, candidates: undefined,
    num_images: undefined, include_plain: false });
  const cells = STRIP.map(([beta, label]) => {
    const frame = el("div", { class: "image-frame" }, el("div", { class: "placeholder" }, "queued"));
    return { beta, frame, figure: el("figure", { class: "strip-cell", "data-beta": String(beta) },
      frame, el("figcaption", {}, label)) };
  });
  $("strip").replaceChildren(...cells.map((cell) => cell.figure));
  $("strip-caption").textContent = `“${generation.prompt}”, seed ${generation.seed}: only the taste ` +
    "strength β changes (the weight of your liked and disliked attributes; 0 leaves them out).";
  $("strip-card").classList.remove("hidden");
  $("strip-card").scrollIntoView({ block: "nearest" });
  try {
    gensStatus("Taste strip…");
    const jobs = [];
    for (const cell of cells) jobs.push({ cell, accepted: await submit({ ...base, vp_degree: cell.beta }, generation.profile) });
    const made = await Promise.all(jobs.map(async ({ cell, accepted }) => {
      const done = await finished(accepted);
      cell.frame.replaceChildren(el("img", { src: done.image_urls[0], alt: `β ${cell.beta}` }));
      return done;
    }));
    if (!made.some((done) => done.plan && (done.plan.positive_text || done.plan.negative_text))) {
      $("strip-caption").textContent += " You have no liked or disliked attributes yet, so β changes nothing.";
    }
    gensStatus("Taste strip: done");
    await loadGenerations();
  } catch (error) { gensStatus("newest first"); notice(error.message); }
}

$("strip-close").addEventListener("click", () => $("strip-card").classList.add("hidden"));
$("tab-generate").addEventListener("click", () => loadGenerations().catch((error) => notice(error.message)));
