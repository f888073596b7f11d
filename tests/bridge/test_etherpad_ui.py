"""A person in a real browser: the host page takes Chromium into the shared pad, typing in Etherpad's
own UI reaches the file. Debian's chromium and chromium-driver (tools/system_deps.sh), driven with
selenium; the Etherpad, the plugin and wopi-proxy are all real."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bridge.etherpad_flow import BridgeFlow, wait_until
from tests.bridge import test_etherpad_bridge as _bridge

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.timeout(240)

# The Etherpad bridge's fixtures: a `serve` with short timings, its API, the editor, a tenant per test.
bridge_server, bridge_api, secret, editor, flow = (_bridge.bridge_server, _bridge.bridge_api, _bridge.secret,
                                                   _bridge.editor, _bridge.flow)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    if not CHROMIUM or not CHROMEDRIVER:
        if os.environ.get("WOPI_PROXY_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium and chromedriver are required (Debian packages chromium, chromium-driver)")
        pytest.skip("chromium or chromedriver is not installed (tools/system_deps.sh installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER,
                                              log_output=str(tmp_path / "chromedriver.log")), options=options)
    driver.set_page_load_timeout(90)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_person_types_in_etherpads_own_ui_and_the_file_is_saved(flow: BridgeFlow, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    path = flow.folder / "minutes.txt"
    path.write_bytes(b"Minutes of the meeting\n")
    session = flow.session("minutes.txt", "ann", name="Ann Example")
    browser.get(session.host_page_url)
    wait = WebDriverWait(browser, 90)
    assert "/p/" in browser.current_url, f"{browser.current_url}\n{browser.page_source[:2000]}\n{flow.log()}"
    assert session.access_token not in browser.current_url
    wait.until(ready.frame_to_be_available_and_switch_to_it((By.NAME, "ace_outer")))
    wait.until(ready.frame_to_be_available_and_switch_to_it((By.NAME, "ace_inner")))
    body = wait.until(ready.presence_of_element_located((By.ID, "innerdocbody")))
    wait.until(lambda _: "Minutes of the meeting" in body.text)
    body.click()
    body.send_keys(Keys.CONTROL, Keys.END)
    body.send_keys(" typed in Chromium")
    wait_until(lambda: b"typed in Chromium" in path.read_bytes(), "the save of the browser's typing", timeout=90,
               details=lambda: f"{path.read_bytes()!r}\n{flow.log()}\n--- etherpad ---\n{flow.etherpad.log()[-3000:]}")
    assert path.read_bytes().startswith(b"Minutes of the meeting")
    browser.switch_to.default_content()
    assert "Ann Example" in browser.execute_script("return (window.pad && pad.getUserName && pad.getUserName()) || ''")
