"""The page's rough edges, in the real browser at laptop and phone width: the add form guesses
the category, the editor opens in view where the chip is, the chart shows numbers, search
refreshes after an edit, notices belong to their tab, progress counts each render's own steps,
and the history view restores a version. Asserts layout (in view, no overflow), not only text;
screenshots land in the test's temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer
from tests.test_web import browser, by_id, no_horizontal_scroll, ready, shoot, shots, wait

__all__ = ["browser", "shots"]  # fixtures shared with test_web.py

IN_VIEW = """
const r = arguments[0].getBoundingClientRect();
return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;
"""
TRUNCATED = """
return [...document.querySelectorAll('button, label, select, .tab')]
  .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.id || e.textContent.trim().slice(0, 30));
"""


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, service_forker: Forker, shared_cache_dir: str
) -> Iterator[UvicornServer]:
    service = ForkedUvicornServer(
        service_forker,
        cache_dir=shared_cache_dir,
        data_dir=tmp_path_factory.mktemp("web-finish") / "data",
    )
    service.start()
    yield service
    service.stop()


_PAGE_POST = """
const [path, body, done] = arguments;
const cookie = document.cookie.split("; ").find((c) => c.startsWith("tm_csrf=")) || "=";
const csrf = cookie.split("=")[1];
fetch(path, {
  method: "POST",
  headers: {"Content-Type": "application/json", "X-CSRF-Token": decodeURIComponent(csrf)},
  body: JSON.stringify(body),
}).then((r) => done(r.status));
"""


def _post(browser: WebDriver, path: str, body: dict[str, object]) -> None:
    """A request as the page makes it: the HttpOnly session cookie plus the CSRF header."""
    status = browser.execute_async_script(_PAGE_POST, path, body)
    assert status in (200, 201), status


def _category_of(driver: WebDriver, text: str) -> str | None:
    script = """
    for (const card of document.querySelectorAll('.category'))
      for (const chip of card.querySelectorAll('.chip'))
        if (chip.innerText.trim() === arguments[0]) return card.dataset.category;
    return null;"""
    return driver.execute_script(script, text)  # type: ignore[no-any-return]


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)], ids=["laptop", "phone"])
def test_board_and_generation_fit_and_finish(
    browser: WebDriver, server: UvicornServer, shots: Path, size: tuple[int, int]
) -> None:
    width, height = size
    name = "laptop" if width > 800 else "phone"
    browser.delete_all_cookies()
    browser.set_window_size(width, height)
    browser.get(server.url + "/")
    browser.execute_script("localStorage.clear()")
    browser.refresh()
    ready(browser)
    for text, category, polarity in [
        ("teal palette", "color", "like"),
        ("warm golden light", "lighting", "like"),
        ("cluttered composition", "composition", "dislike"),
        ("neon glow", "color", "like"),
    ]:
        body = {"text": text, "category": category, "polarity": polarity}
        _post(browser, "/v1/preferences", body)

    # A notice from one tab is gone on the next.
    browser.execute_script("document.getElementById('notice').textContent = 'x'")
    browser.execute_script("document.getElementById('notice').classList.remove('hidden')")
    by_id(browser, "tab-board").click()
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".category .chip")))
    assert not by_id(browser, "notice").is_displayed()

    # The chart shows numbers.
    counts = browser.execute_script(
        "return [...document.querySelectorAll('.chart-row .count')].map(c => c.innerText)"
    )
    assert "2" in counts and "1" in counts

    # Search, then add without choosing a category: guessed, and the results refresh.
    by_id(browser, "search-input").send_keys("grain")
    by_id(browser, "search-input").submit()
    wait(browser).until(ec.visibility_of_element_located((By.ID, "search-results")))
    assert by_id(browser, "add-category").get_attribute("value") == ""
    by_id(browser, "add-text").send_keys("film grain")
    by_id(browser, "add-form").submit()
    wait(browser).until(lambda d: _category_of(d, "film grain") is not None)
    assert _category_of(browser, "film grain") == "texture"
    wait(browser).until(lambda d: "film grain" in d.find_element(By.ID, "search-results").text)

    # The editor opens right where the chip is, in view.
    chips = browser.find_elements(By.CSS_SELECTOR, ".category .chip")
    target = chips[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", target)
    target.click()
    editor = browser.find_element(By.CSS_SELECTOR, ".editor")
    wait(browser).until(lambda d: d.execute_script(IN_VIEW, editor))
    gap = browser.execute_script(
        "return arguments[1].getBoundingClientRect().top"
        " - arguments[0].getBoundingClientRect().bottom",
        target,
        editor,
    )
    assert 0 <= gap < 120, gap
    assert no_horizontal_scroll(browser)
    assert browser.execute_script(TRUNCATED) == []
    shoot(browser, shots, f"{name}-board-editor")
    editor.find_element(By.XPATH, ".//button[text()='Cancel']").click()

    # History: each change listed; restoring version 1 makes a new version equal to it.
    history = by_id(browser, "history")
    assert len(history.find_elements(By.CSS_SELECTOR, ".version")) == 5
    browser.find_element(By.XPATH, "//li[.//span[text()='v5']]//button[text()='Changes']").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "history-changes"), "film grain"))
    browser.find_element(By.XPATH, "//li[.//span[text()='v1']]//button[text()='Restore']").click()
    wait(browser).until(
        ec.text_to_be_present_in_element((By.ID, "board-version"), "profile version 6")
    )
    # the notice follows the board's reload (board.js restoreVersion): wait for it, not race it
    restored = ec.text_to_be_present_in_element((By.ID, "notice"), "restored as version 6")
    wait(browser).until(restored)
    assert _category_of(browser, "neon glow") is None and _category_of(browser, "teal palette")
    shoot(browser, shots, f"{name}-board-history")

    # Generation: progress counts each render's own steps.
    by_id(browser, "tab-generate").click()
    assert not by_id(browser, "notice").is_displayed()
    browser.execute_script(
        "window.statusTexts = [];"
        "new MutationObserver(() => window.statusTexts.push("
        "document.getElementById('gen-status').textContent))"
        ".observe(document.getElementById('gen-status'), {childList: true, characterData: true,"
        " subtree: true});"
    )
    by_id(browser, "gen-prompt").send_keys("a lighthouse at dusk")
    steps = by_id(browser, "gen-steps")
    steps.clear()
    steps.send_keys("3")
    browser.execute_script("document.getElementById('gen-size').value = '64'")
    by_id(browser, "gen-submit").click()
    wait(browser, 120).until(ec.text_to_be_present_in_element((By.ID, "gen-status"), "Done."))
    seen = browser.execute_script("return window.statusTexts")
    assert not [t for t in seen if "of 6" in t], seen  # never the two renders' sum
    # A tiny render is over before the events show a step: the page's own wording, checked
    # with the counts a 20-step job with the plain image reports (40 in all).
    texts = browser.execute_script(
        "document.getElementById('gen-steps').value = '20';"
        "return [progressText(13, 40), progressText(23, 40), progressText(7, 20)]"
    )
    assert texts == ["Step 13 of 20", "Plain image: step 3 of 20", "Step 7 of 20"]
    feedback = by_id(browser, "feedback")
    buttons = feedback.find_elements(By.TAG_NAME, "button")
    tops = {round(b.rect["y"]) for b in buttons}
    assert len(tops) == 1  # the two reaction buttons sit on one row
    assert no_horizontal_scroll(browser)
    shoot(browser, shots, f"{name}-generate")
    print(f"screenshots in {shots}")


def test_phone_onboarding_keeps_the_image_and_the_input_in_view(
    browser: WebDriver, server: UvicornServer, shots: Path
) -> None:
    browser.set_window_size(390, 844)
    browser.get(server.url + "/")
    browser.execute_script("localStorage.clear()")
    browser.refresh()
    ready(browser)
    by_id(browser, "start-btn").click()
    wait(browser).until(ec.visibility_of_element_located((By.ID, "onboard-image")))
    log = by_id(browser, "chat-log").text
    assert "Finish" in log and "'done'" not in log  # the page has a button for it
    for comment in ("I love the warm orange light", "the clutter bothers me"):
        replies = len(browser.find_elements(By.CSS_SELECTOR, ".msg.agent"))
        by_id(browser, "chat-input").send_keys(comment)
        by_id(browser, "chat-send").click()
        wait(browser).until(
            lambda d, n=replies: len(d.find_elements(By.CSS_SELECTOR, ".msg.agent")) > n
        )
        wait(browser).until(lambda d: d.find_element(By.ID, "chat-input").is_enabled())
    header = browser.execute_script(
        "return document.querySelector('.topbar').getBoundingClientRect().bottom"
    )
    image_top = browser.execute_script(
        "return document.getElementById('onboard-image').getBoundingClientRect().top"
    )
    shoot(browser, shots, "phone-onboarding")
    assert image_top >= header - 1, (image_top, header)  # not under the sticky header
    assert browser.execute_script(IN_VIEW, by_id(browser, "chat-input"))
    assert no_horizontal_scroll(browser)
    assert browser.execute_script(TRUNCATED) == []
