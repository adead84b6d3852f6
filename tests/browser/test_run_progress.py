"""A reconcile watched in a real browser: against the Entra ID emulator, slowed down by its
latency and small delta pages, the run page shows the phase and counts change, then the outcome
in place of the progress, without reloading."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.portal.actors import Role
from switchboard.sync.policy import SyncPolicy
from tests.emulator_control import DEFAULT_DELTA_PAGE_SIZE, control
from tests.integration.sync.emulator_account import connect_account
from tests.ui_support import PASSWORD, make_admin

pytestmark = pytest.mark.browser

ADMIN = "admin@acme.example"
SEED = SeedOptions(users=40, groups=2, seed=5)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    state: Path = tmp_path_factory.mktemp("progress-emulator")
    with running(state, seed=SEED) as server:
        yield server


def slow_down(emulator: RunningEmulator, *, latency_ms: int, delta_page_size: int) -> None:
    """Every Graph answer waits; the delta links a reconcile takes first come in many pages."""
    with control(emulator) as ctl:
        assert ctl.patch("/faults", json={"latency_ms": latency_ms}).status_code == 200
        assert ctl.patch("/settings", json={"delta_page_size": delta_page_size}).status_code == 200


def test_a_reconcile_shows_its_progress_live(
    page: Page,
    live_server: str,
    container: Container,
    emulator: RunningEmulator,
    a11y: Callable[[], None],
) -> None:
    emu = emulator.emulator
    emulator.call(lambda: emu.reset(SEED))
    groups = sorted(emu.directory.groups)
    connect_account(container, emulator, SyncPolicy(groups=groups, default_location="HQ"))
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    slow_down(emulator, latency_ms=250, delta_page_size=2)
    try:
        page.goto(live_server + "/accounts/acme/directory")
        page.get_by_label("Email").fill(ADMIN)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Reconcile now").click()
        expect(page).to_have_url(re.compile(r"/accounts/acme/directory/runs/\d+$"))
        progress = page.locator("#progress")
        expect(progress).to_be_visible()
        read = progress.locator('[data-count="read"]')
        expect(read).to_have_text("0")  # still taking the delta links, page by page
        phase = page.locator("#phase")
        expect(phase).to_contain_text("Reading the directory")
        expect(page.locator("#still-running")).to_contain_text("update as it goes")
        a11y()  # the state the script made
        # Nothing reloads the page: a mark set now must survive until the end.
        page.evaluate("window.stillTheSamePage = true")
        # The seed has a few users the mapping refuses: the run ends partial, with its errors.
        # When it finishes, its outcome replaces the progress in place: no reload, no click.
        expect(page.locator("#progress")).to_have_count(0, timeout=60_000)
        assert page.evaluate("window.stillTheSamePage") is True
        expect(page.locator("#run-status")).to_contain_text(re.compile("succeeded|partial"))
        announced = page.get_by_role("status").filter(has_text="The run has finished")
        expect(announced).to_have_count(1)
        created = page.locator("#counts")
        expect(created).to_contain_text(re.compile(r"create \d+"))
        a11y()
        if page.locator("#error-groups").count():
            expect(page.locator("#error-groups")).to_contain_text("Fix:")
    finally:
        slow_down(emulator, latency_ms=0, delta_page_size=DEFAULT_DELTA_PAGE_SIZE)
