"""A real headless Chromium (Debian's, installed by ``make install``) driven by Playwright, with
the network cut: the page under test must need none of it."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Software WebGL (SwiftShader) so the map draws on a machine without a GPU; no background
# traffic (the machine's closed network would refuse it, noisily).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_path() -> str:
    """The browser, or a failure (never a skip): CI installs it with the project's set-up."""
    path = os.environ.get("CRIMEMAP_CHROMIUM") or shutil.which("chromium")
    if path is None:
        pytest.fail("Chromium is not installed: `make install` installs Debian's chromium")
    return path


@dataclass
class PageLog:
    """What the page did: console errors, uncaught exceptions and requests off this machine."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    seconds_to_ready: float | None = None


@contextmanager
def offline_page(url: str, *, ready: str, width: int = 1280, height: int = 800) -> Iterator[Any]:
    """The page at ``url`` in headless Chromium with no network, once the JavaScript expression
    ``ready`` is true; yields ``(page, log)``."""
    from playwright.sync_api import sync_playwright

    log = PageLog()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=list(CHROMIUM_ARGS)
        )
        try:
            context = browser.new_context(offline=True, viewport={"width": width, "height": height})
            page = context.new_page()
            page.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: log.errors.append(str(error)))
            page.on(
                "request",
                lambda r: None if r.url.startswith(LOCAL_SCHEMES) else log.requests.append(r.url),
            )
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_function(ready, timeout=60_000)
            log.seconds_to_ready = time.perf_counter() - started
            yield page, log
        finally:
            browser.close()


def distinct_colours(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours or [])
