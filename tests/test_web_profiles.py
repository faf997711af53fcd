"""The page's profile picker in a real headless Chromium against the real service (as
``tests/test_web_generations.py`` drives it): a named profile made over HTTP shows in the
picker; picking it sends the page's calls to it (a generation is made there, not in the
default); the choice survives a reload; and after picking the default again, Re-roll and
Variation of that image still go to the profile it was made in; at phone width the sticky header
keeps its two rows with the picker. Screenshots at desktop and phone width land in
``TASTEMAKER_SHOTS`` (default: the test's temp dir) for review."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from tests.doubles.uvicorn_server import UvicornServer
from tests.test_web import browser, by_id, no_horizontal_scroll, ready, shoot, shots, wait  # noqa: F401
from tests.test_web_generations import click_in_row, generate_from_form, new_done_row, rows

PROFILE = "zines"
# The page's own session (cookie and CSRF token), outside its picker: plain HTTP calls.
CALL = """const done = arguments[arguments.length - 1];
const [method, path, body] = arguments;
const headers = {Accept: "application/json", "X-CSRF-Token": csrfToken()};
if (body) headers["Content-Type"] = "application/json";
fetch(path, {method, headers, body: body ? JSON.stringify(body) : undefined})
  .then(async r => done({status: r.status, body: await r.json().catch(() => null)}),
        e => done({status: 0, body: String(e)}));"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornServer]:
    service = UvicornServer(tmp_path_factory.mktemp("web-profiles") / "data")
    service.start()
    yield service
    service.stop()


def call(driver: WebDriver, method: str, path: str, body: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = driver.execute_async_script(CALL, method, path, body)
    return answer


def pick(driver: WebDriver, name: str) -> None:
    """Choose ``name`` in the picker: the page reloads in that profile."""
    old = driver.find_element(By.TAG_NAME, "body")
    Select(by_id(driver, "profile-select")).select_by_value(name)
    wait(driver).until(ec.staleness_of(old))
    ready(driver)
    assert Select(by_id(driver, "profile-select")).first_selected_option.text == name


def made_in(driver: WebDriver, generation_id: str) -> str | None:
    found = call(driver, "GET", f"/v1/generations/{generation_id}")
    assert found["status"] == 200, found
    profile: str | None = found["body"]["profile"]
    return profile


def test_pick_a_profile_generate_in_it_and_re_roll_keeps_it(
    browser: WebDriver,  # noqa: F811
    server: UvicornServer,
    shots: Path,  # noqa: F811
) -> None:
    browser.set_window_size(1280, 900)
    browser.get(server.url + "/")
    ready(browser)
    assert not by_id(browser, "profile-pick").is_displayed()  # no choice, no picker

    made = call(browser, "POST", "/v1/profiles", {"name": PROFILE})
    assert made["status"] == 201, made
    liked = call(
        browser,
        "POST",
        f"/v1/preferences?profile={PROFILE}",
        {"text": "teal palette", "polarity": "like", "category": "color", "strength": 0.9},
    )
    assert liked["status"] == 201, liked
    browser.refresh()
    ready(browser)
    assert by_id(browser, "profile-pick").is_displayed()
    options = [o.text for o in Select(by_id(browser, "profile-select")).options]
    assert options == ["default", PROFILE]

    # Picked, it is remembered; the board reads that profile (its one attribute).
    pick(browser, PROFILE)
    assert browser.execute_script("return localStorage.getItem('tm_profile')") == PROFILE
    by_id(browser, "tab-board").click()
    wait(browser).until(lambda d: "teal palette" in d.find_element(By.ID, "board").text)
    shoot(browser, shots, "profiles-board-desktop")

    # A generation from the form goes to the picked profile, not the default.
    by_id(browser, "tab-generate").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "gens-empty").is_displayed())
    first = generate_from_form(browser, "a zine cover")
    assert made_in(browser, first["id"]) == PROFILE
    assert f"profile {PROFILE}" in first["text"]
    applied = browser.execute_script("return document.getElementById('applied').textContent")
    assert "teal palette" in applied  # the profile's attribute was planned for the image

    # Back on the default (the Generate tab reopens): the image is still listed under its
    # profile, and Re-roll and Variation make theirs there, not in the picked default.
    pick(browser, "default")
    assert browser.execute_script("return localStorage.getItem('tm_profile')") is None
    wait(browser).until(lambda d: d.find_element(By.ID, "panel-generate").is_displayed())
    wait(browser).until(lambda d: any(r["id"] == first["id"] for r in rows(d)))

    click_in_row(browser, first["id"], "Re-roll")
    rerolled = wait(browser, 180).until(lambda d: new_done_row(d, {first["id"]}))
    assert rerolled["seed"] != first["seed"] and "a zine cover" in rerolled["text"]
    assert made_in(browser, rerolled["id"]) == PROFILE

    click_in_row(browser, first["id"], "Variation")
    varied = wait(browser, 180).until(lambda d: new_done_row(d, {first["id"], rerolled["id"]}))
    assert "img2img, strength 0.35" in varied["text"]
    assert made_in(browser, varied["id"]) == PROFILE
    assert call(browser, "GET", "/v1/references")["body"] == []  # the default got no upload
    zines_refs = call(browser, "GET", f"/v1/references?profile={PROFILE}")["body"]
    assert len(zines_refs) == 1

    assert no_horizontal_scroll(browser)
    shoot(browser, shots, "profiles-desktop")
    browser.execute_script("document.getElementById('gens').scrollIntoView()")
    shoot(browser, shots, "profiles-desktop-history")
    browser.set_window_size(390, 844)
    browser.execute_script("window.scrollTo(0, 0)")
    assert no_horizontal_scroll(browser)
    shoot(browser, shots, "profiles-phone")
    browser.execute_script("document.getElementById('gens').scrollIntoView()")
    shoot(browser, shots, "profiles-phone-history")

    # A deleted profile's images stay listed, without actions that would land elsewhere.
    assert call(browser, "DELETE", f"/v1/profiles/{PROFILE}")["status"] == 204
    by_id(browser, "tab-generate").click()
    wait(browser).until(
        lambda d: all("its profile was deleted" in r["text"] for r in rows(d)) and rows(d)
    )
    buttons = browser.find_elements(By.CSS_SELECTOR, "#gens .gen button")
    assert [b.text for b in buttons] == []


# What lies at an element's centre is the element itself (or inside it): on screen, not covered.
HIT = """const e = arguments[0], b = e.getBoundingClientRect();
const at = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
return b.left >= 0 && b.right <= innerWidth && !!at && (at === e || e.contains(at));"""


def header_height(driver: WebDriver) -> float:
    height: float = driver.execute_script(
        "return document.querySelector('header.topbar').getBoundingClientRect().height"
    )
    return height


def test_phone_header_keeps_two_rows_with_the_profile_picker(
    browser: WebDriver,  # noqa: F811
    server: UvicornServer,
    shots: Path,  # noqa: F811
) -> None:
    """The picker joins the user id and the account links on the first row, above the tabs,
    rather than pushing the sticky header to a third row on a phone."""
    browser.set_window_size(390, 844)
    browser.get(server.url + "/")
    ready(browser)
    assert not by_id(browser, "profile-pick").is_displayed()
    alone = header_height(browser)

    assert call(browser, "POST", "/v1/profiles", {"name": "prints"})["status"] == 201
    browser.refresh()
    ready(browser)
    account = [by_id(browser, i) for i in ("profile-pick", "who", "signin-btn", "signout-btn")]
    assert all(e.is_displayed() for e in account)
    shoot(browser, shots, "profiles-header-phone")
    assert header_height(browser) <= alone  # as compact as without the picker: two rows
    tabs_top = by_id(browser, "tab-onboard").rect["y"]
    assert all(e.rect["y"] + e.rect["height"] <= tabs_top for e in account)  # one row, above
    assert all(browser.execute_script(HIT, e) for e in account)
    assert no_horizontal_scroll(browser)

    by_id(browser, "signin-btn").click()  # the links still work there
    assert by_id(browser, "token-gate").is_displayed()
    by_id(browser, "gate-cancel").click()
    assert not by_id(browser, "token-gate").is_displayed()
    assert call(browser, "DELETE", "/v1/profiles/prints")["status"] == 204
