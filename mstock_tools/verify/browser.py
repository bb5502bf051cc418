"""OpenAlgo's web pages in a real headless Chromium, driven through Selenium.

Why Selenium rather than hand-written DevTools calls: it is the standard, well-kept
WebDriver client (waits, element text, screenshots, console logs) and Debian ships a
matching ``chromium-driver``. We always hand it that driver and that browser explicitly, so
Selenium Manager never runs and nothing is downloaded.

The browser reuses the checks' logged-in OpenAlgo session (its cookies), is confined to
loopback (every other address goes to a closed proxy port on 127.0.0.1, and background
networking is off), and runs with a fresh profile in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .stack import LOOPBACK, loopback_url

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVER_PATHS = ("chromedriver", "/usr/lib/chromium/chromedriver", "/usr/lib/chromium-browser/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
    # Anything not on loopback goes to a closed local port and fails at once.
    f"--proxy-server=http://{LOOPBACK}:9",
    "--proxy-bypass-list=127.0.0.1;localhost;[::1]",
)
INSTALL_HINT = (
    "install Chromium and its WebDriver (Debian/Ubuntu: apt-get install chromium chromium-driver) "
    "and Selenium (pip install 'mstock-openalgo[verify]')"
)


class BrowserUnavailable(RuntimeError):
    pass


def find_binaries() -> tuple[str, str]:
    """(chromium, chromedriver) paths, or :class:`BrowserUnavailable` saying what to install."""
    chromium = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)
    driver = next((found for name in DRIVER_PATHS if (found := shutil.which(name) or (os.path.isfile(name) and name))), None)
    if chromium is None or driver is None:
        missing = " and ".join(n for n, v in (("Chromium", chromium), ("chromedriver", driver)) if v is None)
        raise BrowserUnavailable(f"{missing} not found: {INSTALL_HINT}")
    if importlib.util.find_spec("selenium") is None:
        raise BrowserUnavailable(f"the selenium package is not installed: {INSTALL_HINT}")
    return chromium, driver


class Browser:
    def __init__(self, base_url: str, cookies: list[dict[str, str]], out_dir: Path, *, timeout: float = 20.0) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, driver = find_binaries()
        self.base_url = loopback_url(base_url.rstrip("/"))
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="mstock-verify-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self._profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager, should anything call it
        try:
            self.driver = webdriver.Chrome(options=options, service=Service(driver))
        except Exception:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(timeout)
        # Cookies can only be set for the origin the browser is on.
        self.driver.get(loopback_url(f"{self.base_url}/auth/check-setup"))
        for cookie in cookies:
            self.driver.add_cookie({"name": cookie["name"], "value": cookie["value"], "path": cookie.get("path") or "/"})

    def show(self, path: str, ready: Callable[[str], bool]) -> tuple[str, Path]:
        """Open ``path``; wait until ``ready(body text)`` or the timeout; screenshot; return (text, shot)."""
        self.driver.get(loopback_url(self.base_url + path))
        deadline = time.monotonic() + self.timeout
        text = ""
        while time.monotonic() < deadline:
            text = self._body_text()
            if ready(text):
                time.sleep(0.3)  # let the last rows paint before the picture
                text = self._body_text()
                break
            time.sleep(0.25)
        name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()) or "home"
        shot = self.out_dir / f"{name}.png"
        self._full_page_screenshot(shot)
        return text, shot

    def _full_page_screenshot(self, path: Path) -> None:
        """The whole page, not just the window: a long order book scrolls."""
        width, height = self.driver.get_window_size()["width"], self.driver.get_window_size()["height"]
        page_height = int(self.driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)") or height)
        if page_height > height:
            self.driver.set_window_size(width, min(page_height + 100, 8000))
        try:
            self.driver.save_screenshot(str(path))
        finally:
            if page_height > height:
                self.driver.set_window_size(width, height)

    def _body_text(self) -> str:
        from selenium.common.exceptions import WebDriverException

        try:
            return self.driver.find_element("tag name", "body").text
        except WebDriverException:
            return ""

    def console_errors(self) -> str:
        """The page's console errors, as a suffix for a failure message ("" when none)."""
        from selenium.common.exceptions import WebDriverException

        try:
            entries = self.driver.get_log("browser")
        except WebDriverException:  # not every driver keeps console logs; their absence is no failure
            return ""
        errors = [e.get("message", "") for e in entries if e.get("level") == "SEVERE"]
        return f"; console errors: {errors[:5]}" if errors else ""

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)
