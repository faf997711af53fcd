"""The page's generation history (issue 28.6) in a real headless Chromium against the real
service (as ``tests/test_web.py`` drives it): the history lists a generation, Re-roll makes a new
one with another seed, Variation an img2img one from the result, and the taste strip shows four
labelled images of one seed. Screenshots at desktop and phone width land in
``TASTEMAKER_SHOTS`` (default: the test's temp dir) for review."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.doubles.uvicorn_server import UvicornServer
from tests.test_web import browser, by_id, no_horizontal_scroll, ready, shoot, shots, wait  # noqa: F401

LIKE = """const done = arguments[arguments.length - 1];
fetch("/v1/preferences", {method: "POST", headers: {"Content-Type": "application/json",
  "X-CSRF-Token": csrfToken()}, body: JSON.stringify({text: arguments[0], polarity: "like",
  category: "color", strength: 0.9})}).then(r => done(r.status), e => done(String(e)));"""
PIXEL_SUMS = """return [...document.querySelectorAll(arguments[0])].map(img => {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < data.length; i += 1) sum = (sum * 31 + data[i]) % 1000000007;
  return sum;
});"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornServer]:
    service = UvicornServer(tmp_path_factory.mktemp("web-gens") / "data")
    service.start()
    yield service
    service.stop()


def rows(driver: WebDriver) -> list[dict[str, str]]:
    """Each history row as (id, seed, text), read in one call: the list re-renders."""
    script = (
        "return [...document.querySelectorAll('#gens .gen')].map(r => ({id: r.dataset.id, "
        "seed: r.dataset.seed, text: r.innerText, image: Boolean(r.querySelector('img'))}))"
    )
    return list(driver.execute_script(script))


def generate_from_form(driver: WebDriver, prompt: str) -> dict[str, str]:
    """Generate ``prompt`` from the form (tiny model: 2 steps, 64 px, no plain image) and
    return the history's new row once it is done."""
    by_id(driver, "gen-prompt").send_keys(prompt)
    steps = by_id(driver, "gen-steps")
    steps.clear()
    steps.send_keys("2")
    driver.execute_script("document.getElementById('gen-size').value = '64'")
    driver.execute_script("document.getElementById('gen-plain').checked = false")
    by_id(driver, "gen-submit").click()
    return wait(driver, 180).until(lambda d: new_done_row(d, set()))


def new_done_row(driver: WebDriver, known: set[str]) -> dict[str, str] | None:
    for row in rows(driver):
        if row["id"] not in known and row["image"] and row["seed"]:
            return row
    return None


def click_in_row(driver: WebDriver, row_id: str, label: str) -> None:
    row = driver.find_element(By.CSS_SELECTOR, f'#gens .gen[data-id="{row_id}"]')
    (button,) = [b for b in row.find_elements(By.TAG_NAME, "button") if b.text == label]
    button.click()


def test_history_reroll_variation_and_taste_strip(
    browser: WebDriver,  # noqa: F811
    server: UvicornServer,
    shots: Path,  # noqa: F811
) -> None:
    browser.set_window_size(1280, 900)
    browser.get(server.url + "/")
    ready(browser)
    liked = browser.execute_async_script(LIKE, "teal palette")
    assert liked == 201, liked  # an attribute, so that β changes the image
    by_id(browser, "tab-generate").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "gens-empty").is_displayed())

    # A generation from the form lands at the top of the history.
    first = generate_from_form(browser, "a lighthouse at dusk")
    assert "a lighthouse at dusk" in first["text"] and f"seed {first['seed']}" in first["text"]

    # Re-roll: the same settings, a new seed.
    click_in_row(browser, first["id"], "Re-roll")
    rerolled = wait(browser, 180).until(lambda d: new_done_row(d, {first["id"]}))
    assert rerolled["seed"] != first["seed"] and "a lighthouse at dusk" in rerolled["text"]
    assert rows(browser)[0]["id"] == rerolled["id"]  # newest first

    # Variation: img2img at strength 0.35 from the first image.
    click_in_row(browser, first["id"], "Variation")
    varied = wait(browser, 180).until(lambda d: new_done_row(d, {first["id"], rerolled["id"]}))
    assert "img2img, strength 0.35" in varied["text"]

    # The taste strip: four images of the first seed, labelled by β.
    click_in_row(browser, first["id"], "Taste strip")
    cells = "#strip .strip-cell"
    wait(browser, 240).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, f"{cells} img[src]")) == 4
    )
    labels = [c.text for c in browser.find_elements(By.CSS_SELECTOR, f"{cells} figcaption")]
    assert labels == ["β 0 · no attributes", "β 0.5", "β 0.85 · default", "β 1.2"]
    sums = browser.execute_script(PIXEL_SUMS, f"{cells} img")
    assert len(set(sums)) == 4, sums  # β changes the image: four different pictures
    assert f"seed {first['seed']}" in by_id(browser, "strip-caption").text
    wait(browser).until(lambda d: by_id(d, "gens-status").text == "Taste strip: done")
    strip_rows = [r for r in rows(browser) if "β 1.2" in r["text"]]
    assert strip_rows and strip_rows[0]["seed"] == first["seed"]
    assert no_horizontal_scroll(browser)
    browser.execute_script("document.getElementById('strip-card').scrollIntoView()")
    shoot(browser, shots, "generations-desktop")

    browser.set_window_size(390, 844)
    browser.execute_script("document.getElementById('strip-card').scrollIntoView()")
    assert no_horizontal_scroll(browser)
    shoot(browser, shots, "generations-phone")
    browser.execute_script("document.getElementById('gens').scrollIntoView()")
    shoot(browser, shots, "generations-phone-history")
