"""The page's "Which do you prefer?" view in a real headless Chromium (issue 22): two images side
by side, a click or ←/→ picks one, "Neither" and "Skip", and what the model now thinks the person
likes and dislikes, learned from the choices (a person who likes warm palettes)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_web)

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer
from tests.test_web import browser, by_id, no_horizontal_scroll, ready, server, shoot, shots, wait  # noqa: F401

WARM = {"sunset-hills", "golden-sea", "desert-noon", "spotlit-figure", "earth-stripes"}


def shown(driver: WebDriver) -> tuple[str, str]:
    """The gallery ids of the two images on screen."""
    sides = driver.execute_script(
        "return ['left', 'right'].map(s => document.getElementById(`pair-${s}-img`).src)"
    )
    return str(sides[0]).rsplit("/", 1)[-1], str(sides[1]).rsplit("/", 1)[-1]


def choices(driver: WebDriver) -> int:
    return int(by_id(driver, "pair-count").text.split()[0])


def answered(driver: WebDriver, before: tuple[str, str], count: int) -> None:
    wait(driver).until(lambda d: choices(d) == count and shown(d) != before)


@pytest.mark.slow
def test_pick_between_two_images_in_the_browser(
    browser: WebDriver, server: UvicornServer, shots: Path
) -> None:
    browser.set_window_size(1280, 900)
    browser.get(server.url + "/")
    ready(browser)
    by_id(browser, "pair-btn").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "pair-view").is_displayed())
    wait(browser).until(
        lambda d: d.execute_script("return document.getElementById('pair-right-img').naturalWidth")
    )
    first = shown(browser)
    assert first[0] != first[1]
    assert by_id(browser, "pair-left-caption").text  # the description under each image
    assert not by_id(browser, "taste-summary").is_displayed()
    shoot(browser, shots, "pairs-1-first")

    by_id(browser, "pair-left").click()  # a click on the image
    answered(browser, first, 1)
    second = shown(browser)
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)  # the keyboard
    answered(browser, second, 2)
    third = shown(browser)
    by_id(browser, "pair-neither").click()
    answered(browser, third, 3)
    fourth = shown(browser)
    by_id(browser, "pair-skip").click()  # skipping teaches nothing, and moves on
    answered(browser, fourth, 3)
    seen = {frozenset(p) for p in (first, second, third, fourth)}
    assert len(seen) == 4

    while choices(browser) < 15:  # a person who likes warm palettes
        left, right = before = shown(browser)
        count = choices(browser)  # before the click: the answer may land before a later read
        if left in WARM:
            by_id(browser, "pair-left").click()
        elif right in WARM:
            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
        else:
            by_id(browser, "pair-neither").click()
        answered(browser, before, count + 1)
        assert frozenset(shown(browser)) not in seen
        seen.add(frozenset(shown(browser)))

    assert by_id(browser, "taste-summary").is_displayed()
    liked = [
        str(src).rsplit("/", 1)[-1]
        for src in browser.execute_script(
            "return [...document.querySelectorAll('#taste-likes img')].map(i => i.src)"
        )
    ]
    disliked = browser.execute_script(
        "return [...document.querySelectorAll('#taste-dislikes img')].map(i => i.src)"
    )
    assert len(liked) == 3 and len(disliked) == 3 and set(liked) <= WARM, liked
    assert not {str(s).rsplit("/", 1)[-1] for s in disliked} & WARM
    shoot(browser, shots, "pairs-2-learned")

    browser.set_window_size(390, 844)  # a phone: side by side still, no sideways scrolling
    assert no_horizontal_scroll(browser)
    shoot(browser, shots, "pairs-3-phone")


@pytest.fixture(scope="module")
def asking_server(
    tmp_path_factory: pytest.TempPathFactory, service_forker: Forker, shared_cache_dir: str
) -> Iterator[UvicornServer]:
    """A service asking after any pick against the model's lean, at most once per 2 choices
    (at the default, 0.6, active selection seldom shows a pair the model is that sure of)."""
    service = ForkedUvicornServer(
        service_forker,
        cache_dir=shared_cache_dir,
        data_dir=tmp_path_factory.mktemp("web-why") / "data",
        why_surprise=0.5,
        why_every=2,
    )
    service.start()
    yield service
    service.stop()


@pytest.mark.slow
def test_a_surprising_pick_asks_why_under_the_pair(
    browser: WebDriver, asking_server: UvicornServer, shots: Path
) -> None:
    browser.delete_all_cookies()
    browser.set_window_size(1280, 900)
    browser.get(asking_server.url + "/")
    ready(browser)
    by_id(browser, "pair-btn").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "pair-view").is_displayed())
    form = by_id(browser, "why-form")
    for count in range(12):  # the cool one when there is a warm one: against what it learned
        if form.is_displayed():
            break
        before = shown(browser)
        side = "pair-right" if before[0] in WARM else "pair-left"
        by_id(browser, side).click()
        answered(browser, before, count + 1)
    assert form.is_displayed(), "no question in 12 picks"
    assert by_id(browser, "why-question").text == "What made you pick that one?"
    shoot(browser, shots, "pairs-4-why")
    by_id(browser, "why-text").send_keys("the icy blue palette won me over", Keys.ENTER)
    wait(browser).until(lambda d: by_id(d, "why-noted").text.startswith("Noted: +"))
    assert "icy blue" in by_id(browser, "why-noted").text and not form.is_displayed()
