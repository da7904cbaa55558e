"""The operator console in a real headless browser: Debian's chromium, driven by Selenium through
Debian's chromedriver (nothing is downloaded), against `maskbot console` started as operators
start it. Screenshots of every page go to $CONSOLE_SCREENSHOTS (docs/console.md's, in docs/console/, come from here), else
to the test's temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from storage.cameras import add_counts, announce
from storage.database import Database
from storage.repository import Repository, utc_now
from tests.support import unavailable
from tests.support.bot_harness import free_port
from tests.support.console_data import TOKEN, face_crops, registry_with_challenger, seed
from tests.support.fake_watcher import watcher_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = f"no {CHROMIUM} and {CHROMEDRIVER} (Debian's chromium and chromium-driver; .ci/run installs them)"
        unavailable(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # Headless, and no calls home: this machine's network is closed and tests must not depend on one.
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.fixture
def watcher():
    """A camera watcher's live view, on a thread of this process."""
    with watcher_in_thread(TOKEN) as running:
        yield running


@pytest.fixture
def console(tmp_path, shared_data, watcher):
    """`maskbot console` on a seeded data folder with a camera whose watcher is `watcher`; yields
    its address, the repository and the feedback."""
    data = tmp_path / "data"
    database = Database(f"sqlite:///{data / 'maskbot.db'}")
    repository = Repository(database)
    registry = registry_with_challenger(data / "models")
    reference = json.loads((registry.champion_dir() / "metadata.json").read_text())["class_mix"]
    feedback = seed(repository, face_crops(shared_data), reference)
    now = utc_now()
    # Half an hour at a door: a few people a minute, now and then one without a mask or wearing it wrong.
    add_counts(
        database,
        "door",
        {
            now - timedelta(minutes=ago): {
                "with_mask": 2 + ago % 3,
                "without_mask": ago % 4 // 3,
                "mask_weared_incorrect": ago % 10 // 9,
            }
            for ago in range(30)
        },
    )
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(data), "CONSOLE_TOKEN": TOKEN}
    env.pop("DATABASE_URL", None)
    env.pop("MODEL_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "console", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    address = f"http://127.0.0.1:{port}"
    announce(database, "door", watcher.url, now)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{address}/login", timeout=1)
            break
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the console did not start:\n{server.communicate()[0]}")
            time.sleep(0.2)
    yield address, repository, feedback
    server.terminate()
    output = server.communicate(timeout=30)[0]
    database.dispose()
    assert server.returncode == 0, output
    assert TOKEN not in output


def test_an_operator_logs_in_reviews_crops_and_looks_at_every_page(browser, console, watcher, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as expected
    from selenium.webdriver.support.ui import WebDriverWait

    address, repository, feedback = console
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    def shoot(name: str) -> None:
        path = shots / f"{name}.png"
        browser.save_screenshot(str(path))
        assert path.read_bytes().startswith(b"\x89PNG")

    def click(css: str) -> None:
        # In the middle of the window: never under the sticky bar of review buttons.
        element = browser.find_element(By.CSS_SELECTOR, css)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def arrives(title: str) -> None:
        WebDriverWait(browser, 10).until(expected.title_contains(title))

    def says(text: str) -> None:
        # A click that submits a form returns before the next page is there: wait for its note
        # (reading the note of the page being left would find it gone from under the reader).
        WebDriverWait(browser, 10).until(expected.text_to_be_present_in_element((By.CSS_SELECTOR, "p.note"), text))

    def status(feedback_id: int) -> str:
        return next(i.review_status for i in repository.feedback_items() if i.feedback_id == feedback_id)

    browser.get(f"{address}/review")
    assert browser.title.startswith("Log in")
    shoot("login")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    click("form.login button[type=submit]")
    arrives("Review")
    cookie = browser.get_cookie("maskbot_console")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    images = browser.find_elements(By.CSS_SELECTOR, ".card .pick img")
    assert len(images) == 5
    # Every crop was fetched and decoded: a broken image has no natural width.
    assert all(browser.execute_script("return arguments[0].naturalWidth", image) == 128 for image in images)
    # The heat map of a card is drawn when its "Where the model looks" is opened.
    assert len(browser.find_elements(By.CSS_SELECTOR, ".card details.heat img")) == 5
    click(".card details.heat summary")
    heat = browser.find_element(By.CSS_SELECTOR, ".card details.heat img")
    WebDriverWait(browser, 10).until(lambda _: browser.execute_script("return arguments[0].naturalWidth", heat) > 0)
    shoot("review")

    first, second, third = feedback.corrections
    for feedback_id in (first, second):
        click(f'input[name="id"][value="{feedback_id}"]')
    click('.bulk button[value="accept"]')
    says("2 marked accepted.")
    # The keyboard: focus the third correction's card and press "r" to reject it.
    card = browser.find_element(By.CSS_SELECTOR, f'.card[data-id="{third}"]')
    browser.execute_script("arguments[0].focus()", card)
    card.send_keys("r")
    says("1 marked rejected.")
    assert [status(i) for i in (first, second, third)] == ["accepted", "accepted", "rejected"]
    assert status(feedback.confirmation) == status(feedback.forgotten) == "pending"
    remaining = browser.find_elements(By.CSS_SELECTOR, ".card")
    assert sorted(int(c.get_attribute("data-id")) for c in remaining) == [feedback.confirmation, feedback.forgotten]

    browser.get(f"{address}/drift?days=28")
    assert browser.title.startswith("Drift")
    chart = browser.find_element(By.CSS_SELECTOR, "img.chart")
    assert browser.execute_script("return arguments[0].naturalWidth", chart) > 0
    assert browser.find_elements(By.CSS_SELECTOR, "table.days .level.drift")
    shoot("drift")

    browser.get(f"{address}/cameras")
    assert browser.find_element(By.CSS_SELECTOR, "table.cameras .state.live").text == "live"
    shoot("cameras")
    click('a[href="/cameras/door"]')
    arrives("door")
    live = browser.find_element(By.CSS_SELECTOR, "img.live")
    assert live.get_attribute("src") == f"{address}/cameras/door/live.mjpg"
    # Frames came through the console's relay and were decoded, the chart was drawn.
    WebDriverWait(browser, 10).until(lambda _: browser.execute_script("return arguments[0].naturalWidth", live) == 320)
    chart = browser.find_element(By.CSS_SELECTOR, "img.chart")
    assert browser.execute_script("return arguments[0].naturalWidth", chart) == 720
    assert not browser.find_element(By.ID, "live-error").is_displayed()
    shoot("camera")
    click("p.faces a.button")
    arrives("door")
    shown = browser.find_element(By.CSS_SELECTOR, "img.live")
    assert shown.get_attribute("src").endswith("live.mjpg?faces=shown")
    WebDriverWait(browser, 10).until(lambda _: browser.execute_script("return arguments[0].naturalWidth", shown) == 320)
    assert watcher.seen[-1].query == {"faces": ["shown"]}

    browser.get(f"{address}/models")
    assert browser.title.startswith("Models")
    shoot("models")
    click('a[href="/models/promote?version=v3"]')
    arrives("Promote v3")
    assert "gate failed" in browser.find_element(By.CSS_SELECTOR, ".gate").text
    shoot("promote")
    browser.get(f"{address}/models/rollback")
    assert "Roll back from v2 to v1?" in browser.find_element(By.TAG_NAME, "h1").text
    shoot("rollback")

    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{address}/review?status=accepted")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, "the review page scrolls sideways on a phone"
    shoot("review-phone")
    shutil.rmtree(tmp_path / "data" / "crops", ignore_errors=True)
