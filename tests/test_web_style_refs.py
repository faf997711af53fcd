"""Style references on the web page (issue 23): drop images onto the board, generate with the
ticked ones, and see which references a generation used; in a real headless Chromium against
the real service (as ``tests/test_web.py`` drives it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from tests.doubles.uvicorn_server import UvicornServer
from tests.test_web import browser, by_id, ready, shoot, wait  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornServer]:
    service = UvicornServer(tmp_path_factory.mktemp("web-refs") / "data")
    service.start()
    yield service
    service.stop()


def test_drop_references_on_the_board_and_generate_with_them(
    browser: WebDriver,  # noqa: F811
    server: UvicornServer,
    tmp_path: Path,
) -> None:
    browser.set_window_size(1280, 900)
    browser.get(server.url + "/")
    ready(browser)
    by_id(browser, "tab-board").click()
    good = tmp_path / "sunset.png"
    Image.new("RGB", (80, 60), (250, 120, 30)).save(good)
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")

    by_id(browser, "refs-input").send_keys(str(good))
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#refs .ref img[src]")))
    assert browser.find_element(By.CSS_SELECTOR, "#refs .ref-use").is_selected()
    by_id(browser, "refs-input").send_keys(str(bad))
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "notice"), "notes.png"))
    assert "not an image" in by_id(browser, "notice").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#refs .ref")) == 1  # nothing kept
    shoot(browser, tmp_path, "board-references")

    by_id(browser, "tab-generate").click()
    by_id(browser, "gen-prompt").send_keys("a lighthouse at dusk")
    steps = by_id(browser, "gen-steps")
    steps.clear()
    steps.send_keys("2")
    browser.execute_script("document.getElementById('gen-size').value = '64'")
    browser.execute_script("document.getElementById('gen-plain').checked = false")
    browser.execute_script("document.getElementById('gen-ref-mode').value = 'full'")
    by_id(browser, "gen-submit").click()
    wait(browser, 180).until(ec.presence_of_element_located((By.ID, "refs-used")))
    used = by_id(browser, "refs-used").text
    assert "1 of your dropped images" in used and "full" in used and "scale 0.6" in used
    shoot(browser, tmp_path, "generation-references")

    before = browser.find_element(By.CSS_SELECTOR, "#refs .ref")
    by_id(browser, "tab-board").click()
    wait(browser).until(ec.staleness_of(before))  # the board re-renders its references
    wait(browser).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#refs .ref button"))).click()
    wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#refs .ref"))
