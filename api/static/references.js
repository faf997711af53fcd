// Style references: images dropped on the board; the ticked ones are sent as style_ref_ids.
// Uses core.js.
"use strict";

async function uploadReference(file) {
  const response = await fetch(withProfile("/v1/references"), { method: "POST", body: file, headers: {
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
