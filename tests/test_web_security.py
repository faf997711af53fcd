"""The page and the API docs under their Content-Security-Policy, in a real headless Chromium:
everything still works, and the browser reports no blocked script, style, image or request.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ONBOARDING_COMMENTS, ForkedUvicornServer, UvicornServer
from tests.test_web import CHROMEDRIVER, CHROMIUM, FLAGS, by_id, ready, wait


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, service_forker: Forker, shared_cache_dir: str
) -> Iterator[UvicornServer]:
    service = ForkedUvicornServer(
        service_forker,
        cache_dir=shared_cache_dir,
        data_dir=tmp_path_factory.mktemp("csp") / "data",
        max_steps=2,
        max_side=64,
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def violations(driver: WebDriver) -> list[str]:
    """What the browser refused because of the policy (it logs each as a console error)."""
    messages = [str(entry.get("message", "")) for entry in driver.get_log("browser")]
    return [m for m in messages if "Content Security Policy" in m or "Refused to" in m]


def test_the_page_works_under_its_policy(browser: WebDriver, server: UvicornServer) -> None:
    browser.get(server.url + "/")
    ready(browser)
    assert by_id(browser, "who").text.startswith("user-")
    storage = browser.execute_script("return JSON.stringify(localStorage)")
    assert "tm_" + "auth" not in storage and "token" not in storage  # no token in page storage
    readable = browser.execute_script("return document.cookie")
    assert "tm_csrf=" in readable and "tm_auth" not in readable  # HttpOnly: scripts cannot
    assert "tm_auth" in {c["name"] for c in browser.get_cookies()}
    by_id(browser, "start-btn").click()
    wait(browser).until(ec.visibility_of_element_located((By.ID, "onboard-image")))
    wait(browser).until(
        lambda d: d.execute_script("return document.getElementById('onboard-image').naturalWidth")
    )
    by_id(browser, "chat-input").send_keys(ONBOARDING_COMMENTS[0])
    by_id(browser, "chat-send").click()
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg.agent .chip.like")))
    by_id(browser, "finish-btn").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "onboard-status"), "finished"))
    by_id(browser, "tab-board").click()  # chips with strength meters, the chart's bars
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".chip .meter span")))
    widths = browser.execute_script(
        "return [...document.querySelectorAll('.chip .meter span, .chart-row [class^=bar-]')]"
        ".map(e => e.style.width)"
    )
    assert widths and all(w.endswith("%") for w in widths), widths  # styles were applied
    by_id(browser, "tab-generate").click()
    assert violations(browser) == []
    framed = browser.execute_script(
        "return fetch('/').then(r => r.headers.get('content-security-policy'))"
    )
    assert "frame-ancestors 'none'" in framed
    browser.execute_script(  # an injected inline script is refused, and that is seen here
        "const s = document.createElement('script'); s.textContent = 'window.pwned = 1';"
        "document.body.appendChild(s);"
    )
    assert browser.execute_script("return window.pwned") is None
    assert any("inline script" in v for v in violations(browser))


def test_the_api_docs_render_offline_under_their_policy(
    browser: WebDriver, server: UvicornServer
) -> None:
    browser.get(server.url + "/docs")
    wait(browser).until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".swagger-ui .info .title"), "tastemaker"
        )
    )
    assert browser.find_elements(By.CSS_SELECTOR, ".opblock")  # the operations are listed
    assert violations(browser) == []
