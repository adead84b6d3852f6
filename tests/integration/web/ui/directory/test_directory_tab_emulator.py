"""The Directory tab against the Entra ID emulator: connect with custom hosts, upload the
downloaded certificate, test the connection (a missing permission named with how to grant it),
rotate and promote the certificate, then reconcile over real Graph calls."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import app_certificates
from switchboard.db.models import User
from switchboard.emulator.apps import parse_roles
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.actors import Role
from tests import factories
from tests.ui_support import csrf, make_admin, sign_in
from tests.wiring import Adapters

SEED = SeedOptions(users=24, groups=3, seed=11)
BASE = "/accounts/acme/directory"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    state: Path = tmp_path_factory.mktemp("ui-emulator")
    with running(state, seed=SEED) as server:
        yield server


@pytest.fixture
def adapters() -> Adapters:
    """Microsoft Graph (the emulator here); runs started from the UI finish before the
    redirect answers."""
    return {"jobs": InlineJobRunner()}


def test_connect_test_rotate_and_reconcile_through_the_ui(
    app_client: TestClient, container: Container, emulator: RunningEmulator
) -> None:
    emu = emulator.emulator
    emulator.call(lambda: emu.reset(SEED))
    group = sorted(emu.directory.groups)[0]
    with container.unit_of_work() as s:
        factories.tenant(s)
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    token = csrf(app_client, "/accounts/acme")
    client_id = str(uuid.uuid4())

    def post(path: str, **data: str) -> str:
        response = app_client.post(
            BASE + path, data={"csrf_token": token, **data}, follow_redirects=False
        )
        assert response.status_code == 303, response.text
        return str(response.headers["location"])

    # The wizard: custom hosts (the emulator), the ids, then connect; then the groups.
    post_ok = app_client.post
    answers = {
        "csrf_token": token,
        "tenant_id": emulator.tenant_id,
        "client_id": client_id,
        "cloud": "custom",
        "authority_url": emulator.url,
        "graph_url": emulator.url,
        "ca_bundle_pem": emulator.ca_path.read_text(),
    }
    for step in ("cloud", "hosts", "ids"):
        assert post_ok(BASE + "/wizard", data={**answers, "step": step}).status_code == 200
    assert post("/wizard", **{**answers, "step": "permissions"}).endswith("#finish-setup")
    post(
        "/settings",
        groups=group,
        direction="one_way",
        provisioning="automatic",
        mode="on_demand",
    )
    # The customer's admin uploads the downloaded certificate but forgets a permission.
    pem = app_client.get(BASE + "/certificate").text
    emulator.call(
        lambda: emu.apps.register(
            client_id, certificate_pem=pem, roles=parse_roles("User.Read.All")
        )
    )
    assert post("/test").endswith("done=directory-tested#connection-test")
    page = app_client.get(BASE).text
    assert "connection failing" in page
    failed = re.findall(r'<li class="check-failed"[^>]*>(.*?)</li>', page, re.S)
    assert len(failed) == 1 and "GroupMember.Read.All" in failed[0]
    assert "API permissions" in failed[0] and "Grant admin consent" in failed[0]
    assert "Passed:</strong> token" in page

    emulator.call(
        lambda: emu.apps.register(
            client_id,
            certificate_pem=pem,
            roles=parse_roles("User.Read.All,GroupMember.Read.All"),
        )
    )
    post("/test")
    page = app_client.get(BASE).text
    assert "connection works" in page and "all checks passed" in page
    assert "check-failed" not in page

    # Rotation: the next certificate is proven by a test before it is promoted.
    post("/certificate/rotate")
    nxt = app_client.get(BASE + "/certificate?which=next").text
    emulator.call(
        lambda: emu.apps.register(
            client_id,
            certificate_pem=nxt,
            roles=parse_roles("User.Read.All,GroupMember.Read.All"),
        )
    )
    post("/test")
    post("/certificate/promote")
    page = app_client.get(BASE).text
    assert app_certificates.info(nxt).thumbprint_sha1 in page
    assert "Promote next certificate" not in page

    run = post("/reconcile")
    result = app_client.get(run).text
    assert "still running" not in result
    with container.unit_of_work() as s:
        created = list(s.scalars(select(User).where(User.source == "directory")))
    assert created
    for user in created:
        assert f'href="/accounts/acme/users/{user.id}"' in result
