// The page's start: the tabs, then the signed-in person's profiles and onboarding. Loaded last.
"use strict";

// -- tabs -----------------------------------------------------------------------------------

function showPanel(name) {
  clearNotice();
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.panel === name);
  for (const panel of document.querySelectorAll(".panel")) panel.classList.toggle("hidden", panel.id !== `panel-${name}`);
  if (name === "board") loadBoard().catch((error) => notice(error.message));
}
for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showPanel(tab.dataset.panel));

// -- start ----------------------------------------------------------------------------------

(async () => {
  try {
    loadSchemaChoices().catch(() => {});
    if (await ensureUser()) {
      await loadProfiles();
      await loadOnboarding();
      reopenPanel();
    }
    document.body.dataset.ready = "true";
  } catch (error) { notice(`Cannot reach the service: ${error.message}`); }
})();
