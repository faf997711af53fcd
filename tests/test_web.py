"""The web page end to end in a real headless Chromium (Debian's chromium + chromium-driver,
installed by scripts/install-browser.sh; never a browser download), driven by Selenium against
the real service on 127.0.0.1. Screenshots land in the test's temp dir for review.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ONBOARDING_COMMENTS as COMMENTS
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, service_forker: Forker, shared_cache_dir: str
) -> Iterator[UvicornServer]:
    service = ForkedUvicornServer(
        service_forker, cache_dir=shared_cache_dir, data_dir=tmp_path_factory.mktemp("web") / "data"
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``TASTEMAKER_SHOTS`` to keep them for review, else a temp dir."""
    kept = os.environ.get("TASTEMAKER_SHOTS")
    if not kept:
        return tmp_path_factory.mktemp("screenshots")
    Path(kept).mkdir(parents=True, exist_ok=True)
    return Path(kept)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium is not installed: run scripts/install-browser.sh (make test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait(driver: WebDriver, seconds: float = 30) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, seconds)


def ready(driver: WebDriver) -> None:
    """Wait until the page's scripts have loaded what it shows first (``body[data-ready]``)."""
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))


def by_id(driver: WebDriver, element_id: str) -> WebElement:
    return driver.find_element(By.ID, element_id)


def shoot(driver: WebDriver, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    driver.get_screenshot_as_file(str(path))
    return path


def chip_texts(driver: WebDriver) -> list[str]:
    """Read in one script call: the board re-renders, so element handles go stale."""
    script = "return [...document.querySelectorAll('.category .chip')].map(c => c.innerText)"
    return [str(t).strip() for t in driver.execute_script(script)]


def no_horizontal_scroll(driver: WebDriver) -> bool:
    width = driver.execute_script("return document.documentElement.scrollWidth")
    return int(width) <= int(driver.execute_script("return window.innerWidth"))


@pytest.mark.slow
def test_onboard_edit_and_generate_in_the_browser(
    browser: WebDriver, server: UvicornServer, shots: Path
) -> None:
    browser.set_window_size(1280, 900)
    browser.get(server.url + "/")
    ready(browser)
    assert by_id(browser, "who").text.startswith("user-")  # a local user made for this browser

    # Onboarding: the chat beside the image.
    by_id(browser, "start-btn").click()
    wait(browser).until(ec.visibility_of_element_located((By.ID, "onboard-image")))
    for number, comment in enumerate(COMMENTS, start=1):
        replies = len(browser.find_elements(By.CSS_SELECTOR, ".msg.agent"))
        by_id(browser, "chat-input").send_keys(comment)
        by_id(browser, "chat-send").click()
        wait(browser).until(
            lambda d, n=replies: len(d.find_elements(By.CSS_SELECTOR, ".msg.agent")) > n
        )
        wait(browser).until(lambda d: d.find_element(By.ID, "chat-input").is_enabled())
        if number == 2:  # a reload mid-onboarding picks the conversation up where it was
            browser.refresh()
            wait(browser).until(
                lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
            )
            wait(browser).until(lambda d: d.find_element(By.ID, "chat-input").is_enabled())
            assert COMMENTS[1] in by_id(browser, "chat-log").text
        if number >= 8 and by_id(browser, "onboard-status").text == "enough to finish":
            break
    assert browser.find_elements(By.CSS_SELECTOR, ".msg.agent .chip.like")
    assert browser.execute_script("return document.getElementById('onboard-image').naturalWidth")
    shoot(browser, shots, "laptop-1-onboarding")
    by_id(browser, "finish-btn").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "onboard-status"), "finished"))
    assert "Profile version" in by_id(browser, "notice").text

    # The board: chips by category, likes apart from dislikes, chart; edit and delete in place.
    by_id(browser, "tab-board").click()
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".category .chip")))
    version = by_id(browser, "board-version").text
    assert browser.find_elements(By.CSS_SELECTOR, ".chip.like")
    assert browser.find_elements(By.CSS_SELECTOR, ".chip.dislike")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".chart-row")) >= 4
    shoot(browser, shots, "laptop-2-board")
    first = browser.find_element(By.CSS_SELECTOR, ".category .chip")
    text = first.text
    first.click()
    editor = browser.find_element(By.CSS_SELECTOR, ".editor")
    field = editor.find_element(By.CSS_SELECTOR, "input[type=text]")
    field.clear()
    field.send_keys(text + " edited")
    editor.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "board-version").text != version)
    assert text + " edited" in chip_texts(browser)
    browser.find_element(By.CSS_SELECTOR, ".category .chip").click()
    deleted = browser.find_element(By.CSS_SELECTOR, ".category .chip").text
    browser.find_element(By.CSS_SELECTOR, ".editor .danger").click()
    wait(browser).until(lambda d: deleted not in chip_texts(d))
    by_id(browser, "search-input").send_keys("light")
    by_id(browser, "search-input").submit()
    wait(browser).until(ec.visibility_of_element_located((By.ID, "search-results")))
    assert browser.find_elements(By.CSS_SELECTOR, "#search-results .chip")

    # Generation: live progress, the personalized image beside the plain one.
    by_id(browser, "tab-generate").click()
    by_id(browser, "gen-prompt").send_keys("a lighthouse at dusk")
    steps = by_id(browser, "gen-steps")
    steps.clear()
    steps.send_keys("6")
    browser.execute_script("document.getElementById('gen-size').value = '64'")
    by_id(browser, "gen-seed").send_keys("3")
    # The samplers come from the service's schema, by their A1111 names.
    sampler = (By.CSS_SELECTOR, "#gen-sampler option[value='Euler a']")
    wait(browser).until(ec.presence_of_element_located(sampler))
    Select(by_id(browser, "gen-sampler")).select_by_value("Euler a")
    # Sizes above the service's largest side (512 px on a CPU) are not offered, only refused.
    sizes = [o.get_attribute("value") for o in Select(by_id(browser, "gen-size")).options]
    assert "512" in sizes and "768" not in sizes and "1024" not in sizes
    by_id(browser, "gen-submit").click()
    wait(browser, 120).until(ec.text_to_be_present_in_element((By.ID, "gen-status"), "Done."))
    png = browser.execute_async_script(
        "const done = arguments[0];"
        "fetch(`/v1/generations/${state.job}/images/0`).then((r) => r.arrayBuffer())"
        ".then((b) => done(new TextDecoder('latin1').decode(b)));"
    )
    assert "Sampler: Euler a" in png  # the PNG's A1111 parameters name the sampler chosen
    for image in ("img-personal", "img-plain"):
        script = f"return document.getElementById('{image}').naturalWidth"
        wait(browser).until(lambda d, s=script: d.execute_script(s))
    assert by_id(browser, "gen-bar").get_attribute("style") == "width: 100%;"
    assert browser.find_elements(By.CSS_SELECTOR, "#applied .chip")
    shoot(browser, shots, "laptop-3-generate")
    by_id(browser, "feedback-comment").send_keys("love the soft pastel colours")
    by_id(browser, "feedback-like").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "notice"), "Thanks"))
    assert "soft pastel colours" in by_id(browser, "notice").text

    # A long generation can be cancelled from the page; it stops long before its 100 steps.
    steps.clear()
    steps.send_keys("100")
    by_id(browser, "gen-submit").click()
    wait(browser, 60).until(ec.text_to_be_present_in_element((By.ID, "gen-status"), "Step"))
    by_id(browser, "gen-cancel").click()
    wait(browser, 60).until(ec.text_to_be_present_in_element((By.ID, "gen-status"), "Cancelled."))
    assert not by_id(browser, "gen-cancel").is_displayed()

    # Phone width: every panel fits without sideways scrolling.
    browser.set_window_size(390, 844)
    for tab in ("tab-onboard", "tab-board", "tab-generate"):
        by_id(browser, tab).click()
        assert no_horizontal_scroll(browser), tab
        shoot(browser, shots, f"phone-{tab}")
    print(f"screenshots in {shots}")


def test_train_my_style_on_the_board_and_the_weight_slider(
    browser: WebDriver, server: UvicornServer, shots: Path
) -> None:
    """Runs after the onboarding test (same browser user, who now has liked images)."""
    browser.get(server.url + "/")
    ready(browser)
    by_id(browser, "tab-board").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "style-state"), "No style token"))
    by_id(browser, "style-train").click()
    wait(browser, 240).until(
        ec.text_to_be_present_in_element((By.ID, "style-state"), "Style token <user-")
    )
    assert "steps on" in by_id(browser, "style-state").text
    shoot(browser, shots, "laptop-4-style-token")
    by_id(browser, "tab-generate").click()
    slider = by_id(browser, "gen-style")
    assert slider.get_attribute("value") == "1"
    browser.execute_script(
        "const s = arguments[0]; s.value = '0.5'; s.dispatchEvent(new Event('input'));", slider
    )
    assert by_id(browser, "gen-style-value").text == "0.5"
