"""Editing a connection while connected (cloud, hosts, CA bundle; never tenant or app) and the
warning when two accounts use one tenant: through the API and the service."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import connection_edit
from switchboard.db.models import AuditEvent, DirectoryRegistration
from switchboard.directory.auth import trust_context
from switchboard.directory.connections import GraphConnections
from switchboard.emulator.keys_and_certificates import self_signed_certificate
from tests.integration.connection import test_registration
from tests.integration.connection.test_registration import CLIENT, GROUP, TENANT, Env

env = test_registration.env  # the fixture: accounts acme and globex with their admins' tokens

CONNECT = {"tenant_id": TENANT, "client_id": CLIENT, "settings": {"groups": [GROUP]}}
CUSTOM = {
    "cloud": "custom",
    "authority_url": "https://login.test",
    "graph_url": "https://graph.test",
}


def ca_pem() -> str:
    return self_signed_certificate("test ca")[1].decode()


def stored(container: Container) -> DirectoryRegistration:
    with container.unit_of_work() as s:
        row = s.scalars(select(DirectoryRegistration)).one()
        s.expunge(row)
        return row


def test_cloud_hosts_and_ca_change_while_connected_keeping_the_certificate(env: Env) -> None:
    assert env.call("PUT", "/registration", json=CONNECT).status_code == 201
    before = stored(env.container)
    with env.container.unit_of_work() as s:
        s.get(DirectoryRegistration, before.id).last_test = {"ok": True}  # type: ignore[union-attr]
    bundle = ca_pem()
    answer = env.call("PATCH", "/connection", json={**CUSTOM, "ca_bundle_pem": bundle})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cloud"] == "custom" and body["authority_url"] == "https://login.test"
    assert body["last_test"] is None  # to be tested again
    after = stored(env.container)
    assert after.certificate_pem == before.certificate_pem
    assert after.private_key_encrypted == before.private_key_encrypted
    assert after.ca_bundle_pem is not None and "BEGIN CERTIFICATE" in after.ca_bundle_pem
    with env.container.unit_of_work() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "directory.connection_updated")
        ).one()
        assert set(event.fields or []) >= {"cloud", "authority_url", "graph_url", "ca_bundle_pem"}
    # Only the hosts: the bundle stays; an empty bundle removes it; back to a public cloud.
    moved = env.call("PATCH", "/connection", json={"graph_url": "https://graph2.test:8443"})
    assert moved.json()["graph_url"] == "https://graph2.test:8443"
    assert moved.json()["ca_bundle_pem"] is not None
    cleared = env.call("PATCH", "/connection", json={"ca_bundle_pem": ""})
    assert cleared.json()["ca_bundle_pem"] is None
    public = env.call("PATCH", "/connection", json={"cloud": "usgov"})
    assert public.json()["authority_url"] == "https://login.microsoftonline.us"
    assert stored(env.container).certificate_pem == before.certificate_pem


def test_tenant_and_app_are_fixed_and_bad_hosts_refused(env: Env) -> None:
    env.call("PUT", "/registration", json=CONNECT)
    other = "22222222-2222-4333-8444-555555555555"
    for field in ("tenant_id", "client_id"):
        refused = env.call("PATCH", "/connection", json={field: other})
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["field"] == field and "disconnect and connect again" in error["message"]
    same = env.call("PATCH", "/connection", json={"tenant_id": TENANT.lower()})
    assert same.status_code == 200
    bad = env.call("PATCH", "/connection", json={**CUSTOM, "authority_url": "http://x"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "authority_url"
    ca_on_global = env.call("PATCH", "/connection", json={"ca_bundle_pem": ca_pem()})
    assert ca_on_global.status_code == 422
    assert env.call("PATCH", "/connection", headers=env.viewer, json=CUSTOM).status_code == 403
    other_account = env.call("PATCH", "/connection", headers=env.other_admin, json=CUSTOM)
    assert other_account.status_code == 404


def test_a_second_account_on_the_same_tenant_is_warned(env: Env, app_client: TestClient) -> None:
    first = env.call("PUT", "/registration", json=CONNECT)
    assert first.json()["warnings"] == []
    globex = "/api/v1/accounts/globex/directory/registration"
    second = app_client.put(
        globex, headers=env.other_admin, json={**CONNECT, "tenant_id": TENANT.lower()}
    )
    assert second.status_code == 201, second.text
    (warning,) = second.json()["warnings"]
    assert "another account of your provider already uses this tenant" in warning
    assert "acme" not in warning.lower()
    operator = app_client.get(globex, headers=env.provider).json()["warnings"]
    assert len(operator) == 1 and "(acme)" in operator[0]


def test_retired_trust_gets_new_connections() -> None:
    pool = GraphConnections(max_connections=2)
    bundle = ca_pem()
    old = pool.client(trust_context(bundle))
    edited = connection_edit.EditedConnection(
        registration=DirectoryRegistration(), changed=["graph_url"], old_ca_bundle_pem=bundle
    )
    connection_edit.retire_old_connections(pool, edited)
    assert pool.client(trust_context(bundle)) is not old
    assert not old.is_closed  # a run still holding it finishes with it
    pool.close()
    assert old.is_closed
