"""The page's account (issue 27, item 12) in a real headless Chromium: a new browser's profile
shows its token once; a person with a profile made elsewhere (an operator's `users create`, or
another browser) opens it with "Use a token"; signing out does not make a new profile unasked;
a wrong token is said so. Desktop and phone width. And PALP on the page (item 13): its steps,
its cost, and a refusal that names it."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_web)

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.doubles.uvicorn_server import UvicornServer
from tests.test_web import browser, by_id, no_horizontal_scroll, ready, server, shoot, shots, wait  # noqa: F401


def call(server: UvicornServer, method: str, path: str, body: object, token: str = "") -> dict:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def text_of(driver: WebDriver, element_id: str) -> str:
    """Read in a script: the page reloads after a sign-in, so element handles go stale."""
    return str(
        driver.execute_script(f"return document.getElementById('{element_id}')?.textContent")
    )


def gate_open(driver: WebDriver) -> bool:
    script = (
        "const g = document.getElementById('token-gate');"
        "return !!g && !g.classList.contains('hidden')"
    )
    return bool(driver.execute_script(script))


def board_texts(driver: WebDriver) -> list[str]:
    script = "return [...document.querySelectorAll('.category .chip')].map(c => c.innerText)"
    return [str(t).strip() for t in driver.execute_script(script)]


@pytest.mark.slow
def test_token_shown_once_sign_in_elsewhere_and_sign_out(
    browser: WebDriver, server: UvicornServer, shots: Path
) -> None:
    # An operator made alice (as `tastemaker users create alice` does) with one liked attribute.
    alice = call(server, "POST", "/v1/users", {"id": "alice-web"})["token"]
    call(server, "POST", "/v1/preferences", {"text": "teal palette", "polarity": "like"}, alice)

    # 1. A new browser: a profile of its own, and its token shown once.
    browser.delete_all_cookies()
    browser.set_window_size(1280, 900)
    browser.get(server.url + "/")
    browser.execute_script("localStorage.clear()")
    browser.get(server.url + "/")
    ready(browser)
    mine = by_id(browser, "who").text
    assert mine.startswith("user-")
    assert by_id(browser, "token-once").is_displayed()
    icon = browser.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
    with urllib.request.urlopen(str(icon), timeout=30) as response:  # the tab's icon (item 17)
        assert response.headers["content-type"].startswith("image/svg+xml")
    token = by_id(browser, "token-once-value").text
    assert token.startswith("tm_") and len(token) > 20
    shoot(browser, shots, "account-1-token-once")
    by_id(browser, "token-once-close").click()
    assert not by_id(browser, "token-once").is_displayed()
    browser.refresh()
    ready(browser)
    assert by_id(browser, "who").text == mine  # the same profile, and the token is not shown again
    assert not by_id(browser, "token-once").is_displayed()

    # 2. A wrong token is said so; the page stays on the gate.
    by_id(browser, "signin-btn").click()
    wait(browser).until(gate_open)
    by_id(browser, "token-input").send_keys("tm_not-a-real-token")
    by_id(browser, "token-form").submit()
    wait(browser).until(lambda d: "not valid" in text_of(d, "notice"))
    assert by_id(browser, "token-gate").is_displayed()

    # 3. alice's token opens alice's profile, her board included.
    by_id(browser, "token-input").clear()
    by_id(browser, "token-input").send_keys(alice)
    by_id(browser, "token-form").submit()
    wait(browser).until(lambda d: text_of(d, "who") == "alice-web")
    ready(browser)
    by_id(browser, "tab-board").click()
    wait(browser).until(lambda d: any("teal palette" in t for t in board_texts(d)))
    shoot(browser, shots, "account-2-alice-board")

    # 4. Sign out: the gate, and a reload makes no new profile unasked.
    by_id(browser, "signout-btn").click()
    wait(browser).until(gate_open)
    browser.refresh()
    wait(browser).until(gate_open)
    assert by_id(browser, "gate-new").is_displayed()
    assert not browser.find_element(By.TAG_NAME, "main").is_displayed()

    # 5. At phone width the gate fits; the first browser's token brings its profile back.
    browser.set_window_size(390, 844)
    assert no_horizontal_scroll(browser)
    shoot(browser, shots, "account-3-gate-phone")
    by_id(browser, "token-input").send_keys(token)
    by_id(browser, "token-form").submit()
    wait(browser).until(lambda d: text_of(d, "who") == mine)
    ready(browser)
    assert no_horizontal_scroll(browser)
    shoot(browser, shots, "account-4-back-phone")


@pytest.mark.slow
def test_palp_on_the_page_shows_its_steps_and_cost_and_a_refusal_names_it(
    browser: WebDriver, server: UvicornServer
) -> None:
    """Issue 27, item 13: PALP as shipped on the page fits the job limit, shows what it will
    cost, and a request over the limit is refused in words that name PALP."""
    browser.set_window_size(1280, 900)
    browser.get(server.url + "/")
    ready(browser)
    if gate_open(browser):  # signed out by the test above: start a new profile
        by_id(browser, "gate-new").click()
        wait(browser).until(lambda d: not gate_open(d))
    by_id(browser, "tab-generate").click()
    assert not by_id(browser, "gen-palp-row").is_displayed()
    Select(by_id(browser, "gen-mode")).select_by_value("palp")
    assert by_id(browser, "gen-palp-row").is_displayed()
    assert (
        by_id(browser, "gen-size").get_attribute("value") == "512"
    )  # the model's own counts 1024²
    cost = by_id(browser, "gen-palp-cost").text
    assert "trains 100 steps" in cost and "M pixel-steps" in cost

    steps = by_id(browser, "gen-palp-steps")
    steps.clear()
    steps.send_keys("2000")
    by_id(browser, "gen-prompt").send_keys("a sketch of a lighthouse")
    by_id(browser, "gen-submit").click()
    wait(browser).until(lambda d: "PALP steps fit" in text_of(d, "notice"))
    assert "PALP training" in text_of(browser, "notice")
