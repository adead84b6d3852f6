"""The fleet page and the Overview's sync health card, for each role, over a fleet with a held
run, a failing connection test and a stale account, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.portal.actors import Role
from tests.integration import fleet_seed
from tests.ui_support import make_admin, sign_in


def fleet_rows(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-account="([^"]+)">', html)


def row_of(html: str, slug: str) -> str:
    found = re.search(rf'data-account="{slug}">(.*?)</tr>', html, re.S)
    assert found is not None, slug
    return found.group(1)


def test_a_provider_admin_sees_the_fleet_and_filters_it(
    container: Container, app_client: TestClient
) -> None:
    fleet_seed.seed(container)
    make_admin(container, "ops@provider.example", Role.PROVIDER_ADMIN)
    sign_in(app_client, "ops@provider.example")
    accounts = app_client.get("/accounts")
    assert '<a href="/fleet"' in accounts.text  # in the navigation
    page = app_client.get("/fleet")
    assert page.status_code == 200
    order = fleet_rows(page.text)
    assert order[:5] == ["failing", "held", "nosubs", "stale", "twoway"]
    assert sorted(order[5:]) == ["healthy", "plain"]
    assert "5 of 7 accounts need attention" in page.text
    held = row_of(page.text, "held")
    assert '<a href="/accounts/held">' in held
    assert 'href="/accounts/held/directory/runs/2"' in held
    assert "run #2 waits for approval (for 2 h)" in held
    failing = row_of(page.text, "failing")
    assert "test failed" in failing and "the last run (#2) failed" in failing
    assert "stale: no completed run for 47 h" in row_of(page.text, "stale")
    assert "healthy" in row_of(page.text, "healthy")
    filtered = app_client.get("/fleet?attention=1")
    assert fleet_rows(filtered.text) == order[:5]
    assert 'aria-current="page"' in filtered.text


def test_account_admins_and_viewers_see_their_own_row_without_a_link_to_the_fleet(
    container: Container, app_client: TestClient
) -> None:
    fleet_seed.seed(container)
    for role in (Role.ACCOUNT_ADMIN, Role.ACCOUNT_VIEWER):
        email = f"{role.value}@held.example"
        make_admin(container, email, role, "held")
        app_client.cookies.clear()
        sign_in(app_client, email)
        overview = app_client.get("/accounts/held")
        assert 'href="/fleet"' not in overview.text
        page = app_client.get("/fleet")
        assert page.status_code == 200
        assert fleet_rows(page.text) == ["held"]
        assert "/accounts/failing" not in page.text and "/accounts/stale" not in page.text
        assert fleet_rows(app_client.get("/fleet?attention=1").text) == ["held"]


def test_the_overview_shows_the_health_card_and_a_banner_for_a_held_run(
    container: Container, app_client: TestClient
) -> None:
    fleet_seed.seed(container)
    make_admin(container, "ops@provider.example", Role.PROVIDER_ADMIN)
    sign_in(app_client, "ops@provider.example")
    held = app_client.get("/accounts/held").text
    banner = re.search(r'<div class="alert alert-warn" id="held-banner".*?</div>', held, re.S)
    assert banner is not None
    assert 'href="/accounts/held/directory/runs/2">run #2</a>' in banner.group(0)
    assert 'id="sync-health"' in held and "needs attention" in held

    failing = app_client.get("/accounts/failing").text
    assert 'id="held-banner"' not in failing
    assert "test failed" in failing and "no token: the certificate is not uploaded" in failing
    assert "ada@contoso.example: the email of ada is taken" in failing

    healthy = app_client.get("/accounts/healthy").text
    assert 'id="held-banner"' not in healthy and 'id="attention"' not in healthy
    assert 'href="/accounts/healthy/directory/runs/1">#1</a>' in healthy

    plain = app_client.get("/accounts/plain").text
    assert "Not connected to Entra ID" in plain
