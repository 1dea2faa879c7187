"""Drive `citewise ui` in Debian's headless Chromium (Selenium): used by the browser test and by
``scripts/ui_screenshots.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_ui(
    index: Path, *, env: dict[str, str], log_path: Path, timeout: float = 120, attempts: int = 3
) -> Iterator[str]:
    """Run ``citewise ui --index INDEX --port <free>`` until the block ends; yields its URL.

    A port taken by another process between :func:`free_port` and Streamlit's bind is retried
    on a new port, up to ``attempts`` launches in all.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        cmd = [str(BIN / "citewise"), "ui", "--index", str(index), "--port", str(port)]
        with open(log_path, "wb") as log:
            # A new session: teardown stops citewise and the streamlit child it started, and only them.
            proc = subprocess.Popen(
                cmd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            url = f"http://127.0.0.1:{port}"
            try:
                _wait_healthy(url, proc, log_path, timeout)
            except RuntimeError:
                if attempt < attempts and "already in use" in log_path.read_text(errors="replace"):
                    continue
                raise
            yield url
            return
        finally:
            _stop(proc)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"citewise ui exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"citewise ui not healthy after {timeout}s: {log_path.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextmanager
def chromium(profile_dir: Path, *, width: int = 1400, height: int = 1000) -> Iterator[WebDriver]:
    """A headless Chromium with a throw-away profile under ``profile_dir``."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, css: str, timeout: float = 60) -> WebElement:
    """The first visible element matching ``css``, waiting up to ``timeout`` seconds."""
    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def wait_for_text(driver: WebDriver, css: str, text: str, timeout: float = 60) -> WebElement:
    """The first element matching ``css`` whose text contains ``text``."""

    def found(d: WebDriver) -> WebElement | bool:
        for element in d.find_elements(By.CSS_SELECTOR, css):
            if text in element.text:
                return element
        return False

    return WebDriverWait(driver, timeout).until(found)  # type: ignore[no-any-return]


def open_app(driver: WebDriver, url: str, timeout: float = 120) -> None:
    """Load the app and wait until the chat input is ready."""
    driver.get(url)
    wait_for(driver, '[data-testid="stChatInputTextArea"]', timeout)


def choose_mode(driver: WebDriver, label: str, timeout: float = 60) -> None:
    """Pick the answer mode radio option whose label contains ``label``; wait until it is selected
    and the app's rerun after the change has finished."""
    option = wait_for_text(driver, '[data-testid="stSidebar"] label', label)
    option.click()
    radio = option.find_element(By.CSS_SELECTOR, 'input[type="radio"]')
    WebDriverWait(driver, timeout).until(lambda _: radio.is_selected())
    wait_idle(driver, timeout)


def wait_idle(driver: WebDriver, timeout: float = 60) -> None:
    """Wait until Streamlit shows no running script (its status widget is gone)."""
    WebDriverWait(driver, timeout).until(
        ec.invisibility_of_element_located((By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))
    )


def ask(driver: WebDriver, question: str, timeout: float = 300) -> WebElement:
    """Type ``question`` into the chat input, send it and wait for the answer's sources expander."""
    box = wait_for(driver, '[data-testid="stChatInputTextArea"]')
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    return wait_for_text(driver, '[data-testid="stExpander"] summary', "Sources (", timeout)


def answer_text(driver: WebDriver) -> str:
    """Text of the last assistant message."""
    messages = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stChatMessage"]')
    return messages[-1].text if messages else ""


def expand(element: WebElement, timeout: float = 30) -> WebElement:
    """Open an expander by clicking its summary; returns its ``details`` element once open."""
    details = element.find_element(By.XPATH, "./ancestor::details[1]")
    element.click()
    WebDriverWait(details.parent, timeout).until(lambda _: details.get_attribute("open") is not None)
    return details


_CONTENT_HEIGHT = """
let best = document.documentElement.scrollHeight;
for (const el of document.querySelectorAll('*')) {
  const style = getComputedStyle(el);
  const main = el.clientHeight >= window.innerHeight * 0.6;  // the page scroller, not a panel
  if (main && /(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 4) {
    best = Math.max(best, el.scrollHeight + (window.innerHeight - el.clientHeight));
  }
}
return best;
"""


# Calls back once fonts are loaded and two frames have been painted at the new size.
_PAINTED = """
const done = arguments[arguments.length - 1];
document.fonts.ready.then(() => requestAnimationFrame(() => requestAnimationFrame(() => done(true))));
"""


def screenshot(driver: WebDriver, path: Path, *, height: int | None = None, max_height: int = 2600) -> Path:
    """Save a PNG of the page; the viewport grows to ``height``, else to the page's scrolled height."""
    width = int(driver.execute_script("return window.innerWidth"))
    height = min(height or int(driver.execute_script(_CONTENT_HEIGHT)), max_height)
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # type: ignore[attr-defined]
    driver.execute_async_script(_PAINTED)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]
    return path
