"""The chat page in a real headless browser (Debian chromium + chromedriver, driven by selenium):
ask a seed question, watch the answer and its citation appear, open `[1]` and see the cited passage
highlighted in the transcript; an unanswerable question shows the abstention badge."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.build import build_index
from rag.embed import FakeEmbedder
from tests.test_api_server import start_server, stop_server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "AMZN_FY25Q4_zh.txt"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOT = Path("/tmp/web.png")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1400,900"]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("web")
    src, idx = root / "src", root / "index"
    src.mkdir()
    shutil.copy(SEED, src / SEED.name)
    build_index([src], idx, FakeEmbedder())
    proc, base = start_server(idx, src, root / "server.log")
    try:
        yield base
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: apt-get install -y chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extras")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="rag-web-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _ask(driver, question: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "input")
    box.clear()
    box.send_keys(question)
    box.send_keys(Keys.ENTER)


def _wait(driver, cond, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(cond)


def test_ask_see_citation_open_highlight(browser, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    d.get(base_url + "/")
    _wait(d, lambda d: "1 call" in d.find_element(By.ID, "status").text)
    _ask(d, "亚马逊的积压订单是多少？")
    _wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant .answer .cite"))
    answer = d.find_element(By.CSS_SELECTOR, ".msg.assistant .answer").text
    assert "2440" in answer and "[1]" in answer
    assert d.find_element(By.CSS_SELECTOR, ".msg.user .bubble").text == "亚马逊的积压订单是多少？"
    assert d.find_element(By.CSS_SELECTOR, ".msg.assistant .badge.verified").is_displayed()
    source = d.find_element(By.CSS_SELECTOR, ".msg.assistant .sources .source")
    assert "亚马逊" in source.text and "FY2025Q4" in source.text

    d.find_element(By.CSS_SELECTOR, '.msg.assistant .answer .cite[data-n="1"]').click()
    mark = _wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#doc-view mark.quote"))[0]
    assert d.find_element(By.ID, "viewer").is_displayed()
    assert "2440" in mark.text and mark.text.strip() in source.text
    assert "FY2025Q4" in d.find_element(By.ID, "doc-title").text
    # The whole transcript is there, and the mark is scrolled into the visible part of the panel.
    view = d.find_element(By.ID, "doc-view")
    assert len(view.text) > 2000
    _wait(d, lambda d: d.execute_script(
        "const m = document.querySelector('#doc-view mark.quote').getBoundingClientRect();"
        "const v = document.getElementById('doc-view').getBoundingClientRect();"
        "return m.top >= v.top && m.bottom <= v.bottom;"), timeout=10)
    d.save_screenshot(str(SCREENSHOT))
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_abstention_badge(browser, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    d.get(base_url + "/")
    _ask(d, "What is the weather on Mars?")
    badge = _wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant .badge.abstain"))[0]
    assert badge.is_displayed() and "Not in the transcripts" in badge.text
    assert "don't say" in d.find_element(By.CSS_SELECTOR, ".msg.assistant .answer").text
