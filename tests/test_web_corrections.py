"""Correcting what was understood, by clicks, in a real headless Chromium at phone width:
chips under the read-back with Flip / Drop / Edit buttons (text labels, visible keyboard focus),
then the board shows the corrected profile. Same browser setup as tests/test_web.py."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_web)

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from tests.doubles.uvicorn_server import UvicornServer
from tests.test_web import (  # noqa: F401  (fixtures)
    browser,
    by_id,
    no_horizontal_scroll,
    ready,
    server,
    shoot,
    shots,
    wait,
)

# A litotes the reader takes for a complaint, and stores (it is not among the constructions it
# asks about): the wrong extraction these tests correct.
MISREAD = "The fog is no crime, the neon glare is too much"
CHIPS = ".fixes .chip.fix"


def chips(driver: WebDriver, within: str = "#chat-log") -> list[str]:
    """Each chip's visible text, read in one script call (chips re-render after each click)."""
    script = f"return [...document.querySelectorAll('{within} {CHIPS}')].map(c => c.innerText)"
    return [" ".join(str(t).split()) for t in driver.execute_script(script)]


def board(driver: WebDriver) -> dict[str, list[str]]:
    script = (
        "return Object.fromEntries(['like', 'dislike'].map(p => [p, [...document"
        ".querySelectorAll(`.category .chip.${p}`)].map(c => c.innerText.trim())]))"
    )
    found: dict[str, list[str]] = driver.execute_script(script)
    return found


def test_flip_and_drop_chips_at_phone_width_then_the_board_follows(
    browser: WebDriver, server: UvicornServer, shots: Path
) -> None:
    browser.set_window_size(390, 844)
    browser.get(server.url + "/")
    browser.execute_script("localStorage.clear()")  # a person of its own, not test_web's
    browser.get(server.url + "/")
    ready(browser)
    by_id(browser, "start-btn").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "chat-input").is_enabled())
    by_id(browser, "chat-input").send_keys(MISREAD)
    by_id(browser, "chat-send").click()
    wait(browser).until(lambda d: len(chips(d)) == 2)
    assert chips(browser) == [
        "1 − dislike fog Flip Drop Edit",
        "2 − dislike neon glare Flip Drop Edit",
    ], "the offline extractor now reads MISREAD right; pick another construction it gets wrong"
    assert no_horizontal_scroll(browser)

    # Real buttons with text labels; keyboard focus is visible.
    first = browser.find_elements(By.CSS_SELECTOR, CHIPS)[0]
    flip = first.find_element(By.CSS_SELECTOR, "button.fix-flip")
    assert flip.tag_name == "button" and flip.text == "Flip"
    assert flip.get_attribute("aria-label") == "Flip “fog” to like"
    browser.execute_script("arguments[0].focus()", first.find_element(By.CSS_SELECTOR, ".fix-text"))
    by_id(browser, "chat-input").click()
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    focused = browser.switch_to.active_element
    assert focused.tag_name == "button" and "fix-" in (focused.get_attribute("class") or "")
    style = "const s = getComputedStyle(document.activeElement);"
    outline = browser.execute_script(style + " return [s.outlineStyle, s.outlineWidth]")
    assert outline[0] != "none" and float(outline[1].removesuffix("px")) >= 2
    shoot(browser, shots, "phone-corrections-1-read-back")

    flip.click()
    wait(browser).until(lambda d: chips(d)[:1] == ["1 + like fog Flip Drop Edit"])
    browser.find_elements(By.CSS_SELECTOR, CHIPS)[1].find_element(
        By.CSS_SELECTOR, "button.fix-drop"
    ).click()
    wait(browser).until(lambda d: chips(d) == ["1 + like fog Flip Drop Edit"])
    assert "Fixed. Noted now: 1 + fog." in by_id(browser, "chat-log").text
    assert no_horizontal_scroll(browser)
    shoot(browser, shots, "phone-corrections-2-corrected")

    by_id(browser, "finish-btn").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "onboard-status"), "finished"))
    by_id(browser, "tab-board").click()
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".category .chip")))
    assert board(browser) == {"like": ["fog"], "dislike": []}
    shoot(browser, shots, "phone-corrections-3-board")

    # A reload shows the corrected chips under the comment.
    by_id(browser, "tab-onboard").click()
    browser.refresh()
    ready(browser)
    wait(browser).until(lambda d: chips(d) == ["1 + like fog Flip Drop Edit"])


def test_feedback_on_a_generation_reads_back_with_chips(
    browser: WebDriver, server: UvicornServer, shots: Path
) -> None:
    """Runs after the test above, as the same person: their profile has "fog" in it."""
    browser.set_window_size(390, 844)
    by_id(browser, "tab-generate").click()
    by_id(browser, "gen-prompt").send_keys("a foggy harbour")
    steps = by_id(browser, "gen-steps")
    steps.clear()
    steps.send_keys("2")
    browser.execute_script("document.getElementById('gen-size').value = '64'")
    by_id(browser, "gen-submit").click()
    wait(browser, 120).until(ec.text_to_be_present_in_element((By.ID, "gen-status"), "Done."))
    by_id(browser, "feedback-comment").send_keys("love the soft pastel colours")
    by_id(browser, "feedback-like").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "feedback-readback")))
    assert "Noted: 1 + soft pastel colours." in by_id(browser, "feedback-readback").text
    wait(browser).until(
        lambda d: chips(d, "#feedback-readback") == ["1 + like soft pastel colours Flip Drop Edit"]
    )
    assert no_horizontal_scroll(browser)
    shoot(browser, shots, "phone-corrections-4-feedback")
    browser.find_element(By.CSS_SELECTOR, f"#feedback-readback {CHIPS} button.fix-flip").click()
    wait(browser).until(
        lambda d: (
            chips(d, "#feedback-readback") == ["1 − dislike soft pastel colours Flip Drop Edit"]
        )
    )
    by_id(browser, "tab-board").click()
    wait(browser).until(lambda d: "soft pastel colours" in board(d)["dislike"])
    assert board(browser) == {"like": ["fog"], "dislike": ["soft pastel colours"]}


def test_a_question_has_three_buttons_and_an_answer_moves_on(
    browser: WebDriver, server: UvicornServer, shots: Path
) -> None:
    """Issue 21: what the agent could not tell comes with Liked / Disliked / Neither buttons;
    a click answers, the feature joins the read-back's chips, and the next image shows."""
    for width, height, name in ((1280, 900, "desktop"), (390, 844, "phone")):
        browser.set_window_size(width, height)
        browser.get(server.url + "/")
        browser.execute_script("localStorage.clear()")
        browser.get(server.url + "/")
        wait(browser).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
        )
        by_id(browser, "start-btn").click()
        wait(browser).until(lambda d: d.find_element(By.ID, "chat-input").is_enabled())
        caption = by_id(browser, "onboard-caption").text
        by_id(browser, "chat-input").send_keys(ASKED)
        by_id(browser, "chat-send").click()
        wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".ask"))
        [ask] = browser.find_elements(By.CSS_SELECTOR, ".ask")
        assert QUESTION in by_id(browser, "chat-log").text
        assert ask.find_element(By.CSS_SELECTOR, ".ask-text").text == "lens flare"
        buttons = ask.find_elements(By.TAG_NAME, "button")
        assert [b.text for b in buttons] == ["Liked", "Disliked", "Neither"]
        assert buttons[0].get_attribute("aria-label") == "Liked: lens flare"
        assert no_horizontal_scroll(browser)
        shoot(browser, shots, f"{name}-asking-1-question")

        buttons[0].click()
        wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".ask"))
        wait(browser).until(lambda d, shown=caption: by_id(d, "onboard-caption").text != shown)
        assert any("lens flare" in c and "like" in c for c in chips(browser))
        assert "Got it: + lens flare." in by_id(browser, "chat-log").text
        shoot(browser, shots, f"{name}-asking-2-answered")


ASKED = "Love how there's a lens flare on every window. Very understated."
QUESTION = "Quick check — the lens flare: is that something you like?"
