"""The wallboard end to end in a real browser: Debian's chromium, headless, driven by
selenium through Debian's chromedriver. Calls go through the emulator into the flow
runtime and the router (memory backend); the page must show them. Every wait is on the
DOM (WebDriverWait), never a sleep.

The screenshot lands in the test's tmp dir; with FSAPP_UPDATE_SCREENSHOT=1 it also
replaces docs/wallboard.png (what docs/wallboard.md shows)."""
import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from fsapp.live.board import Thresholds
from fsapp.live.wallboard import Wallboard
from fsapp.routing.model import AgentStatus
from fsapp.sim import Wait
from liveline import MOH, LiveLine

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
HOSTILE_QUEUE = "<b>support</b>"

ROUTING = f"""
queues:
  sales: {{strategy: top-down, moh-sound: "{MOH}", offer-timeout: 5}}
  "{HOSTILE_QUEUE}": {{moh-sound: "{MOH}"}}
  billing: {{moh-sound: "{MOH}"}}
agents:
  "1001": {{contact: user/1001, status: Available, wrap-up-time: 1}}
  "1002": {{contact: user/1002, status: Logged Out}}
  "<img src=x onerror=alert(1)>": {{contact: user/2001, status: On Break}}
""" + "".join(f'  "{n}": {{contact: user/{n}, status: Available}}\n' for n in range(1003, 1013)) + """
tiers:
  - {queue: sales, agent: "1001"}
"""


def browser(tmp_path):
    if not (CHROMIUM and DRIVER):
        if os.environ.get("FSAPP_REQUIRE_SERVICES") == "1":
            pytest.fail("chromium / chromedriver missing: apt-get install chromium chromium-driver "
                        "(Makefile TEST_DEBS)")
        pytest.skip("chromium / chromedriver not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1600,1000",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--lang=zh-CN"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@pytest.fixture
def board(tmp_path):
    line = LiveLine.open(tmp_path / "line", routing=ROUTING)
    wall = Wallboard(line.router.config, line.router.backend,
                     Thresholds(waiting_warn=1, longest_wait_warn=600), title="12345 热线").start()
    server = wall.serve("127.0.0.1:0")
    driver = browser(tmp_path)
    driver.get(f"http://127.0.0.1:{server.address[1]}/")
    yield line, wall, server, driver
    driver.quit()
    wall.stop()
    server.stop(timeout=1)
    line.close()


def text_of(driver, css: str) -> str:
    """textContent of the first match, read in the page (the board redraws: no stale handles)."""
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : ''", css)


def class_of(driver, css: str) -> str:
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.className : ''", css)


def until(driver, what: str, predicate, timeout: float = 30):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: predicate(d), message=what)


def card(queue: str) -> str:
    return f'.queue[data-queue="{queue}"]'


def test_the_board_shows_calls_as_they_happen(board, tmp_path):
    line, wall, server, driver = board
    until(driver, "the first snapshot", lambda d: text_of(d, card("sales") + " .waiting b") == "0")
    assert "签出" in text_of(driver, '.count[data-state="logged_out"]')
    # hostile names are text, never markup
    assert text_of(driver, f'.queue[data-queue="{HOSTILE_QUEUE}"] .name') == HOSTILE_QUEUE
    assert not driver.find_elements(By.CSS_SELECTOR, ".queue .name b")
    assert not driver.find_elements(By.CSS_SELECTOR, ".agent img")
    assert driver.execute_script("return document.querySelector('.agent[data-agent^=\"<img\"] .who').textContent") \
        == "<img src=x onerror=alert(1)>"

    line.agent("1001", ring_s=0.2, talk_s=120)
    first = line.place([Wait(120)], caller_id="13800138000")
    until(driver, "1001 on the call", lambda d: "on_call" in class_of(d, '.agent[data-agent="1001"]'))
    until(driver, "answered today", lambda d: text_of(d, card("sales") + " .answered b") == "1")
    assert text_of(driver, card("sales") + " .sl b") == "100%"

    waiting = [line.place([Wait(120)], caller_id=f"1391111000{i}") for i in range(2)]
    until(driver, "two callers waiting", lambda d: text_of(d, card("sales") + " .waiting b") == "2")
    until(driver, "the alarm colour", lambda d: "alarm" in class_of(d, card("sales")))
    line.router.backend.set_status("1005", AgentStatus.ON_BREAK, time.time())
    until(driver, "1005 on break", lambda d: "break" in class_of(d, '.agent[data-agent="1005"]'))
    until(driver, "the longest wait ticking", lambda d: text_of(d, card("sales") + " .longest b") not in ("", "0:00"))
    wall.set_alarm("waiting:sales", {"rule": "waiting", "subject": "sales", "since": time.time(),
                                     "message": "队列 sales 等待超过 1 人 / queue sales: more than 1 caller waiting"})
    until(driver, "the alarm banner", lambda d: "等待超过" in text_of(d, "#alarms .alarm"))
    shot = tmp_path / "wallboard.png"
    driver.save_screenshot(str(shot))
    if os.environ.get("FSAPP_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, ROOT / "docs" / "wallboard.png")

    # a laptop and a large screen: everything fits the width, nothing scrolls sideways
    for width, height in ((1280, 720), (3840, 2160)):
        driver.set_window_size(width, height)
        until(driver, f"the layout at {width}x{height}", lambda d: d.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"))
        assert text_of(driver, card("sales") + " .waiting b") == "2"

    # the same data as JSON
    with urllib.request.urlopen(f"http://127.0.0.1:{server.address[1]}/board.json", timeout=10) as reply:
        data = json.loads(reply.read())
    assert data["queues"]["sales"]["waiting"] == 2 and data["queues"]["sales"]["answered"] == 1
    assert data["agents"]["1001"]["state"] == "on_call"

    for caller in waiting:                                   # both give up
        line.router.esl.uuid_kill(caller.report.uuid)
    until(driver, "abandoned today", lambda d: text_of(d, card("sales") + " .abandoned b") == "2")
    assert text_of(driver, card("sales") + " .waiting b") == "0"
    assert text_of(driver, card("sales") + " .sl b") == "33%"
    line.router.esl.uuid_kill(first.report.uuid)
    until(driver, "1001 in wrap-up or free again",
          lambda d: class_of(d, '.agent[data-agent="1001"]').split()[-1] in ("wrap_up", "available"))


def test_alarms_show_as_a_banner_and_go_away(board):
    line, wall, server, driver = board
    until(driver, "the first snapshot", lambda d: text_of(d, card("sales") + " .waiting b") == "0")
    wall.set_alarm("waiting:sales", {"rule": "waiting", "subject": "sales", "since": time.time(),
                                     "message": "队列 sales 等待超过 10 人 <img src=x onerror=alert(1)>"})
    until(driver, "the banner", lambda d: "等待超过 10 人" in text_of(d, "#alarms .alarm"))
    assert "<img" in text_of(driver, "#alarms .alarm") and not driver.find_elements(By.CSS_SELECTOR, "#alarms img")
    wall.set_alarm("waiting:sales", None)
    until(driver, "the banner gone", lambda d: not d.find_elements(By.CSS_SELECTOR, "#alarms .alarm"))


def test_token_is_required_when_set(board):
    line, wall, server, driver = board
    wall.token = "s3cret"
    driver.get(f"http://127.0.0.1:{server.address[1]}/")
    assert "token required" in driver.page_source
    driver.get(f"http://127.0.0.1:{server.address[1]}/?token=s3cret")
    until(driver, "the board with its token", lambda d: text_of(d, card("sales") + " .waiting b") == "0")
