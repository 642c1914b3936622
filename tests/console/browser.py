"""Headless Debian Chromium driven by selenium through Debian's chromedriver; no browser is downloaded.

`make test` installs the packages when it can (Makefile `browser`); where they are missing the browser
tests skip, saying why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", Path(__file__).parent / "screenshots"))
# The flags this machine needs (env notes): no sandbox as root, no GPU, and no connection to Google's hosts.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1360,900")


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return (f"{path} is missing: install Debian's {package} (`make browser` does it as root with apt), "
                    "then run the console's browser tests again")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: `make install` (requirements-dev.txt)"
    return None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A WebDriver for a new headless Chromium with an empty profile, always quit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, name: str) -> Path:
    """Save the whole page as SCREENSHOTS/<name>.png (for review); the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1360, max(900, min(int(height) + 40, 4000)))
    driver.save_screenshot(str(path))
    driver.set_window_size(1360, 900)
    print(f"screenshot: {path}")
    return path


def until(check: Callable[[], Any], what: str, timeout: float = 20.0, every: float = 0.2,
          between: Callable[[], None] | None = None) -> Any:
    """Poll `check` until it returns something truthy (calling `between` after each miss, e.g. a reload)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)
        if between is not None:
            between()


def skip_without_browser() -> None:
    why = missing()
    if why is not None:
        pytest.skip(why)


def click_and_load(driver: Any, element: Any, timeout: float = 30.0) -> None:
    """Click a link or a form's button and wait until the next page has replaced this one."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()

    def replaced(_: Any) -> bool:
        # Chromium reports the old page's node either as stale or as "does not belong to the document".
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    WebDriverWait(driver, timeout).until(replaced)
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.readyState") == "complete")
