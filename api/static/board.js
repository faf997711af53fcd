// "Your taste": the preference board by category with the editor in place, the chart, adding,
// search, the version history with Restore, and the style token. Uses core.js.
"use strict";

const CATEGORIES = ["color", "lighting", "composition", "style", "medium", "texture", "mood",
  "detail", "perspective", "subject", "other"];

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

// -- style token: its state on the board, training as a job ---------------------------------

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
