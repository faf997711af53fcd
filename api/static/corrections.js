// Chips that fix what was understood: flip, drop or edit each attribute of a read-back (the
// onboarding chat's and the feedback's). Uses core.js.
"use strict";

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
