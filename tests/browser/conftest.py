"""A real server and Debian's Chromium for the browser tests.

The app is served by uvicorn in a background thread over the parametrized test database
(SQLite file and PostgreSQL), and Playwright drives /usr/bin/chromium against it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from switchboard.bootstrap import Container
from tests.browser import accessibility
from tests.live_server import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Module scope: Playwright's sync API keeps an event loop running in the main thread while it
# is open, which would break later tests that start their own loop.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is missing; `make chromium` installs Debian's Chromium")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def live_server(container: Container) -> Iterator[str]:
    """The base URL of the app served on a free local port for the length of one test."""
    with serve(container) as base:
        yield base


@pytest.fixture
def axe_findings() -> accessibility.Findings:
    """What axe-core found in the test's pages; `a11y` checks the state in front of the test."""
    return accessibility.Findings()


@pytest.fixture
def a11y(page: Page, axe_findings: accessibility.Findings) -> Callable[[], None]:
    """Call to check the page as a script left it (every loaded page is checked anyway)."""
    return lambda: accessibility.check(page, axe_findings)


@pytest.fixture
def page(browser: Browser, axe_findings: accessibility.Findings) -> Iterator[Page]:
    """A page whose every document is checked by axe-core: a violation fails the test."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    watched = accessibility.watch(context)
    opened = context.new_page()
    yield opened
    if not opened.is_closed() and opened.url.startswith("http"):
        accessibility.check(opened, watched)  # the state the test ended on
    context.close()
    watched.violations.extend(axe_findings.violations)
    assert not watched.violations, "axe-core found accessibility violations:\n" + watched.report()
