"""Pages in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium),
against a real engine on the simulated PBX. Every test leaves screenshots in
test-artifacts/screenshots/."""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.http.conftest import Api, users_yaml

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _chromium() -> tuple[str, str]:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    assert Path(binary).exists() and Path(driver).exists(), "apt-get install -y chromium chromium-driver (./dev test does it)"
    return binary, driver


@pytest.fixture
def browser(request):
    binary, driver = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to see Content-Security-Policy refusals
    drv = webdriver.Chrome(service=Service(driver), options=options)
    drv.set_page_load_timeout(30)
    shots: list[str] = []

    def shot(name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{len(shots) + 1:02d}-{name}.png"
        drv.save_screenshot(str(path))
        shots.append(str(path))
        return path

    drv.shot = shot
    yield drv
    try:
        shot("end")
        refused = [e["message"] for e in drv.get_log("browser") if "Content Security Policy" in e["message"]]
    finally:
        drv.quit()
    assert not refused, f"the page broke its Content-Security-Policy: {refused}"


@pytest.fixture
async def web_engine(make_engine, tmp_path):
    (tmp_path / "users.yaml").write_text(users_yaml())
    flows = Path(__file__).resolve().parents[2] / "ivr_flows"
    engine = await make_engine(n_agents=2, engine_yaml=f"flows:\n  directory: {flows}\n  default_flow: demo_line\n")
    async with aiohttp.ClientSession() as session:
        yield Api(engine, session)
