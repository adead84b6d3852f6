"""Directory registration through the REST API and the service, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select, text
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import app_certificates
from switchboard.connection import registration as service
from switchboard.db.models import (
    AuditEvent,
    DirectoryRegistration,
    DirectorySyncState,
    User,
    WriteBackTask,
)
from switchboard.directory.stored_credentials import Credential, credentials_for_auth
from switchboard.portal import accounts, users
from switchboard.portal.actors import Actor, Role
from switchboard.portal.errors import Conflict
from switchboard.portal.locations import find_location_by_name
from switchboard.portal.schemas import UserIn
from switchboard.secrets_at_rest import SecretBox, SecretUnreadable
from tests import factories

TENANT = "6F1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9"
CLIENT = "11111111-2222-4333-8444-555555555555"
GROUP = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"
BASE = "/api/v1/accounts/acme/directory"
PEM_TYPE = "application/x-pem-file"


@dataclass
class Env:
    client: TestClient
    container: Container
    admin: dict[str, str]
    viewer: dict[str, str]
    other_admin: dict[str, str]
    provider: dict[str, str]
    responses: list[str]

    def call(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        response = self.client.request(method, BASE + path, headers=headers or self.admin, **kw)
        self.responses.append(response.text)
        return response


@pytest.fixture
def env(container: Container, app_client: TestClient) -> Env:
    with container.unit_of_work() as s:
        factories.tenant(s, "acme", "312")
        factories.tenant(s, "globex", "415")
    return Env(
        client=app_client,
        container=container,
        admin=factories.bearer(
            factories.token_for(container, "admin@acme.example.com", Role.ACCOUNT_ADMIN, "acme")
        ),
        viewer=factories.bearer(
            factories.token_for(container, "viewer@acme.example.com", Role.ACCOUNT_VIEWER, "acme")
        ),
        other_admin=factories.bearer(
            factories.token_for(container, "admin@globex.example.com", Role.ACCOUNT_ADMIN, "globex")
        ),
        provider=factories.bearer(
            factories.token_for(container, "ops@provider.example.com", Role.PROVIDER_ADMIN)
        ),
        responses=[],
    )


def connect_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "settings": {"groups": [GROUP], "location_rules": {"Chicago": "hq"}},
    }
    body.update(overrides)
    return body


def connected(env: Env, **overrides: Any) -> dict[str, Any]:
    response = env.call("PUT", "/registration", json=connect_body(**overrides))
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def audit_actions(container: Container) -> list[tuple[str, str, list[str]]]:
    with container.unit_of_work() as s:
        return [
            (e.action, e.object_type, e.fields)
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action.startswith(("directory.", "user.unlinked"))
        ]


def assert_no_secrets(env: Env) -> None:
    with env.container.unit_of_work() as s:
        registration = s.scalar(select(DirectoryRegistration))
        keys = (
            [c.private_key_pem for c in credentials_for_auth(registration)]
            if (registration)
            else []
        )
    for body in env.responses:
        assert "PRIVATE KEY" not in body
        for key in keys:
            # Any line of the key's base64 body would give it away.
            for line in key.splitlines()[1:-1]:
                assert line not in body


# --- connect and read ---------------------------------------------------------------------------


def test_connect_generates_a_certificate_and_reads_back_public_facts(env: Env) -> None:
    out = connected(env)
    assert out["tenant_id"] == TENANT.lower()
    assert out["client_id"] == CLIENT
    assert (out["cloud"], out["authority_url"], out["graph_url"]) == (
        "global",
        "https://login.microsoftonline.com",
        "https://graph.microsoft.com",
    )
    assert out["ca_bundle_pem"] is None
    assert out["next_certificate"] is None
    assert out["last_test"] is None
    assert out["required_permissions"] == ["User.Read.All", "GroupMember.Read.All"]
    assert out["settings"]["groups"] == [GROUP]
    # Stored keyed by the case-folded value, pointing at the location's own spelling.
    assert out["settings"]["location_rules"] == {"chicago": "HQ"}
    cert = out["certificate"]
    assert cert["subject"] == "CN=Switchboard acme"
    assert cert["key_bits"] == 3072
    assert set(out) == {
        "tenant_id",
        "client_id",
        "cloud",
        "authority_url",
        "graph_url",
        "ca_bundle_pem",
        "certificate",
        "next_certificate",
        "required_permissions",
        "settings",
        "last_test",
        "created_at",
        "updated_at",
        "warnings",
        "groups_detail",
        "groups_note",
    }
    names = ("groups_detail", "groups_note")  # read from Entra ID on GET only
    assert (out["groups_detail"], out["groups_note"]) == (None, None)
    for headers in (env.admin, env.viewer, env.provider):
        got = env.call("GET", "/registration", headers=headers)
        assert got.status_code == 200
        body = got.json()
        assert {k: v for k, v in body.items() if k not in names} == {
            k: v for k, v in out.items() if k not in names
        }
        # No Entra ID answers here: the group shows by its id, with the reason.
        assert body["groups_detail"] == [
            {"id": GROUP, "name": None, "label": GROUP, "deleted": False}
        ]
        assert body["groups_note"]
    assert audit_actions(env.container) == [
        (
            "directory.connected",
            "directory_registration",
            ["certificate", "client_id", "cloud", "settings", "tenant_id"],
        )
    ]
    assert_no_secrets(env)


def test_certificate_download_is_the_public_pem(env: Env) -> None:
    out = connected(env)
    response = env.call("GET", "/certificate", headers=env.viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(PEM_TYPE)
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="switchboard-acme-'
    )
    assert response.text.startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE" not in response.text
    cert = x509.load_pem_x509_certificate(response.content)
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 729 <= lifetime.days <= 731
    # Valid from the (fixed) clock's now, give or take the small backdate.
    assert cert.not_valid_before_utc <= datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert cert.subject == cert.issuer  # self-signed
    assert (
        app_certificates.info(response.text).thumbprint_sha1
        == out["certificate"]["thumbprint_sha1"]
    )
    assert env.call("GET", "/certificate", params={"which": "next"}).json()["error"]["code"] == (
        "no_next_certificate"
    )
    bad = env.call("GET", "/certificate", params={"which": "old"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "which"


def test_private_key_is_encrypted_at_rest_and_matches_the_certificate(env: Env) -> None:
    connected(env)
    with env.container.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT private_key_encrypted, certificate_pem FROM directory_registrations")
        ).one()
    assert raw[0].startswith("v1:")
    assert "-----BEGIN" not in raw[0] and "PRIVATE KEY" not in raw[0]
    with env.container.unit_of_work() as s:
        registration = s.scalars(select(DirectoryRegistration)).one()
        (current,) = credentials_for_auth(registration)
        assert current.which == "current"
        with pytest.raises(SecretUnreadable, match="SWITCHBOARD_SECRET_KEY changed"):
            credentials_for_auth(registration, secrets=SecretBox("a different key"))
    key = serialization.load_pem_private_key(current.private_key_pem.encode(), password=None)
    cert = x509.load_pem_x509_certificate(raw[1].encode())
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)
    assert current.certificate_pem == raw[1]


def test_custom_cloud_with_a_ca_bundle(env: Env) -> None:
    ca = app_certificates.generate("Test Root", datetime(2026, 1, 1, tzinfo=UTC)).certificate_pem
    out = connected(
        env,
        authority_url="https://127.0.0.1:8443/",
        graph_url="https://Graph.Example.test",
        ca_bundle_pem=ca,
    )
    assert (out["cloud"], out["authority_url"], out["graph_url"]) == (
        "custom",
        "https://127.0.0.1:8443",
        "https://graph.example.test",
    )
    assert out["ca_bundle_pem"] == ca


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"tenant_id": "contoso.onmicrosoft.com"}, "tenant_id", "not a GUID"),
        ({"client_id": "123"}, "client_id", "not a GUID"),
        ({"cloud": "moon"}, "cloud", "global, usgov, china, custom"),
        ({"cloud": "custom", "authority_url": "https://login.example.test"}, "graph_url", "both"),
        (
            {"authority_url": "http://login.example.test", "graph_url": "https://g.example.test"},
            "authority_url",
            "https://",
        ),
        (
            {"authority_url": "https://login.example.test/x", "graph_url": "https://g.test"},
            "authority_url",
            "host part only",
        ),
        (
            {
                "cloud": "custom",
                "authority_url": "https://a.test",
                "graph_url": "https://g.test",
                "ca_bundle_pem": "not a certificate",
            },
            "ca_bundle_pem",
            "not PEM certificates",
        ),
        ({"settings": {"groups": ["sales"]}}, "settings.groups.0", "not a group object id"),
        (
            {"settings": {"mapping": {"location": "favouriteColour"}}},
            "settings.mapping.location",
            "not a user property",
        ),
        (
            {"settings": {"location_rules": {"Paris": "Paris Office"}}},
            "settings.location_rules",
            "'paris' -> 'Paris Office' names no location of account 'acme'",
        ),
        (
            {"settings": {"default_location": "Mars"}},
            "settings.default_location",
            "no location named",
        ),
        ({"settings": {"mode": "sometimes"}}, "settings.mode", "on_demand"),
        ({"secret": "x"}, "secret", "not a known field"),
    ],
)
def test_connect_validation_names_the_field(
    env: Env, overrides: dict[str, Any], field: str, words: str
) -> None:
    response = env.call("PUT", "/registration", json=connect_body(**overrides))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
    with env.container.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(DirectoryRegistration)) == 0


def test_one_registration_per_account(env: Env) -> None:
    connected(env)
    again = env.call("PUT", "/registration", json=connect_body())
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "directory_already_connected"


def test_not_connected_is_a_clear_404(env: Env) -> None:
    for path in ("/registration", "/certificate"):
        response = env.call("GET", path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "directory_not_connected"
        assert "switchboard directory connect acme" in response.json()["error"]["message"]
    patch = env.call("PATCH", "/settings", json={"mode": "jit"})
    assert patch.json()["error"]["code"] == "directory_not_connected"


def test_roles_and_tenants(env: Env) -> None:
    connected(env)
    assert env.call("GET", "/registration", headers=env.viewer).status_code == 200
    for method, path, body in (
        ("PUT", "/registration", connect_body()),
        ("PATCH", "/settings", {"mode": "jit"}),
        ("POST", "/certificate/rotate", None),
        ("POST", "/certificate/promote", None),
        ("DELETE", "/certificate/next", None),
        ("DELETE", "/registration", None),
    ):
        response = env.call(method, path, headers=env.viewer, json=body)
        assert response.status_code == 403, (method, path, response.text)
        theirs = env.call(method, path, headers=env.other_admin, json=body)
        assert theirs.status_code == 404
        assert theirs.json()["error"]["code"] == "account_not_found"
    theirs = env.call("GET", "/certificate", headers=env.other_admin)
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "account_not_found"
    assert env.call("GET", "/registration").json()["settings"]["mode"] == "on_demand"


# --- settings -----------------------------------------------------------------------------------


def test_settings_are_a_merge_patch_validated_as_a_whole(env: Env) -> None:
    connected(env)
    out = env.call(
        "PATCH",
        "/settings",
        json={
            "mode": "batched",
            "schedule_minutes": 30,
            "direction": "two_way",
            "write_back": {"extension_to": "extensionAttribute7"},
            "mapping": {"location": "onPremisesExtensionAttributes.extensionAttribute3"},
            "location_rules": {"New York": "branch"},
            "default_location": "hq",
        },
    )
    assert out.status_code == 200, out.text
    settings = out.json()["settings"]
    assert settings["location_rules"] == {"chicago": "HQ", "new york": "Branch"}
    assert settings["default_location"] == "HQ"
    assert settings["mapping"]["location"] == "onPremisesExtensionAttributes.extensionAttribute3"
    assert settings["mapping"]["first_name"] == "givenName"  # untouched by the patch
    assert settings["write_back"] == {
        "number_to": "businessPhones",
        "extension_to": "extensionAttribute7",
    }
    assert out.json()["required_permissions"][-1] == "User.ReadWrite.All"
    # null removes: a rule, or a setting back to its default.
    out = env.call(
        "PATCH", "/settings", json={"location_rules": {"CHICAGO": None}, "default_location": None}
    )
    assert out.json()["settings"]["location_rules"] == {"new york": "Branch"}
    assert out.json()["settings"]["default_location"] is None
    events = [a for a in audit_actions(env.container) if a[0] == "directory.settings_updated"]
    assert events == [
        (
            "directory.settings_updated",
            "directory_registration",
            [
                "default_location",
                "direction",
                "location_rules",
                "mapping",
                "mode",
                "schedule_minutes",
                "write_back",
            ],
        ),
        (
            "directory.settings_updated",
            "directory_registration",
            ["default_location", "location_rules"],
        ),
    ]


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"groups": [GROUP, "not-a-guid"]}, "groups.1", "'not-a-guid' is not a group object id"),
        ({"mapping": {"email": "emailAddress"}}, "mapping.email", "not a user property"),
        ({"mapping": {"phone": "mobilePhone"}}, "mapping.phone", "Extra inputs"),
        (
            {"location_rules": {"Denver": "Annex"}},
            "location_rules",
            "the rule 'denver' -> 'Annex' names no location",
        ),
        (
            {"write_back": {"extension_to": "extensionAttribute16"}},
            "write_back.extension_to",
            "extensionAttribute1 to extensionAttribute15",
        ),
        (
            {"write_back": {"extension_to": "ipPhone"}},
            "write_back.extension_to",
            "extensionAttribute1",
        ),
        ({"mode": "batched"}, "schedule_minutes", "batched mode needs a schedule"),
        ({"schedule_cron": "every day"}, "schedule_cron", "five fields"),
        ({"schedule_cron": "0 25 * * *"}, "schedule_cron", "hour: 25 is outside 0-23"),
        ({"schedule_cron": "* * * * *"}, "schedule_cron", "at least 5 minutes between them"),
        ({"deletion_guard": {"max_percent": 150}}, "deletion_guard.max_percent", "100"),
        ({"direction": "sideways"}, "direction", "two_way"),
    ],
)
def test_settings_errors_name_the_field_and_change_nothing(
    env: Env, patch: dict[str, Any], field: str, words: str
) -> None:
    before = connected(env)["settings"]
    response = env.call("PATCH", "/settings", json=patch)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, "validation_failed")
    assert words in error["message"]
    assert env.call("GET", "/registration").json()["settings"] == before


def test_settings_body_must_be_an_object(env: Env) -> None:
    connected(env)
    response = env.call("PATCH", "/settings", json=["jit"])
    assert response.status_code == 422


# --- rotation -----------------------------------------------------------------------------------


def _thumbprint(credential: Credential) -> str:
    return app_certificates.info(credential.certificate_pem).thumbprint_sha1


def _credentials(container: Container) -> list[Credential]:
    with container.unit_of_work() as s:
        return credentials_for_auth(s.scalars(select(DirectoryRegistration)).one())


def _record_test(container: Container, proven: list[str], ok: bool = True) -> None:
    with container.unit_of_work() as s:
        account = accounts.get_account(s, factories.OPERATOR, "acme")
        service.record_test_result(
            s,
            factories.OPERATOR,
            account,
            service.ConnectionTestRecord(
                ok=ok, message="token acquired", proven_certificates=proven
            ),
        )


def test_rotation_keeps_the_current_certificate_until_the_next_is_proven(env: Env) -> None:
    first = connected(env)["certificate"]
    rotated = env.call("POST", "/certificate/rotate")
    assert rotated.status_code == 200
    assert rotated.json()["certificate"] == first
    nxt = rotated.json()["next_certificate"]
    assert nxt["thumbprint_sha1"] != first["thumbprint_sha1"]
    again = env.call("POST", "/certificate/rotate")
    assert again.status_code == 409 and again.json()["error"]["code"] == "rotation_pending"

    creds = _credentials(env.container)
    assert [(c.which, _thumbprint(c)) for c in creds] == [
        ("current", first["thumbprint_sha1"]),
        ("next", nxt["thumbprint_sha1"]),
    ]
    download = env.call("GET", "/certificate", params={"which": "next"})
    assert app_certificates.info(download.text).thumbprint_sha1 == nxt["thumbprint_sha1"]

    unproven = env.call("POST", "/certificate/promote")
    assert unproven.status_code == 409
    assert unproven.json()["error"]["code"] == "next_certificate_unproven"
    assert "upload it to the app registration" in unproven.json()["error"]["message"]
    _record_test(env.container, [first["thumbprint_sha1"]])  # only the current one worked
    assert env.call("POST", "/certificate/promote").status_code == 409
    _record_test(env.container, [first["thumbprint_sha1"], nxt["thumbprint_sha1"].lower()])
    assert env.call("GET", "/registration").json()["last_test"]["ok"] is True

    promoted = env.call("POST", "/certificate/promote")
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["certificate"] == nxt
    assert promoted.json()["next_certificate"] is None
    assert [(c.which, _thumbprint(c)) for c in _credentials(env.container)] == [
        ("current", nxt["thumbprint_sha1"])
    ]
    assert creds[1].private_key_pem == _credentials(env.container)[0].private_key_pem
    nothing = env.call("POST", "/certificate/promote")
    assert nothing.json()["error"]["code"] == "no_next_certificate"

    env.call("POST", "/certificate/rotate")
    discarded = env.call("DELETE", "/certificate/next")
    assert discarded.status_code == 200 and discarded.json()["next_certificate"] is None
    assert discarded.json()["certificate"] == nxt
    assert [a[0] for a in audit_actions(env.container)] == [
        "directory.connected",
        "directory.certificate_rotated",
        "directory.tested",
        "directory.tested",
        "directory.certificate_promoted",
        "directory.certificate_rotated",
        "directory.certificate_discarded",
    ]
    assert_no_secrets(env)


# --- disconnect ---------------------------------------------------------------------------------

SYNC = Actor(label="directory-sync", role=Role.PROVIDER_ADMIN, directory=True)


def _directory_users(container: Container) -> list[int]:
    with container.unit_of_work() as s:
        t = accounts.get_account(s, factories.OPERATOR, "acme")
        hq = find_location_by_name(s, t, "HQ")
        assert hq is not None
        made = []
        for n, (first, last) in enumerate((("Ada", "Lovelace"), ("Alan", "Turing"))):
            made.append(
                users.create_user(
                    s,
                    SYNC,
                    t,
                    UserIn(
                        first_name=first,
                        last_name=last,
                        email=f"{first.lower()}@acme.example.com",
                        location_id=hq.id,
                        license="Business Voice",
                    ),
                    directory_id=f"aaaaaaaa-0000-4000-8000-00000000000{n}",
                ).id
            )
        users.set_directory_status(s, SYNC, t, made[1], enabled=False)
        local = users.create_user(
            s,
            factories.OPERATOR,
            t,
            UserIn(
                first_name="Grace",
                last_name="Hopper",
                email="grace@acme.example.com",
                location_id=hq.id,
            ),
        )
        stamp = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
        s.add(DirectorySyncState(account_id=t.id, users_delta_link="https://graph/delta?x=1"))
        for status in ("pending", "failed", "done"):
            s.add(
                WriteBackTask(
                    account_id=t.id,
                    user_id=made[0],
                    directory_id="aaaaaaaa-0000-4000-8000-000000000000",
                    properties={"businessPhones": ["+13125550100"]},
                    status=status,
                    next_attempt_at=stamp,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        return [*made, local.id]


def test_disconnect_leaves_directory_users_as_local_users(env: Env) -> None:
    connected(env)
    ada, alan, grace = _directory_users(env.container)
    locked = env.client.patch(
        f"/api/v1/accounts/acme/users/{ada}", headers=env.admin, json={"first_name": "Augusta"}
    )
    assert locked.status_code == 409
    assert locked.json()["error"]["code"] == "managed_by_directory"

    response = env.call("DELETE", "/registration")
    assert response.status_code == 204
    assert env.call("GET", "/registration").json()["error"]["code"] == "directory_not_connected"
    with env.container.unit_of_work() as s:
        rows = {u.id: u for u in s.scalars(select(User).order_by(User.id))}
        assert {(u.source, u.directory_id, u.status) for u in rows.values()} == {
            ("local", None, "active")
        }
        assert rows[ada].license is not None and rows[ada].extension  # kept as they were
        assert s.scalar(select(func.count()).select_from(DirectoryRegistration)) == 0
        assert s.scalar(select(func.count()).select_from(DirectorySyncState)) == 0
        assert list(s.scalars(select(WriteBackTask.status))) == ["done"]
    unlocked = env.client.patch(
        f"/api/v1/accounts/acme/users/{ada}",
        headers=env.admin,
        json={"first_name": "Augusta", "email": "augusta@acme.example.com"},
    )
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["source"] == "local"
    with env.container.unit_of_work() as s:
        events = list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "user.unlinked")
                .order_by(AuditEvent.id)
            )
        )
        assert [(e.object_id, e.fields) for e in events] == [
            (str(ada), ["directory_id", "source"]),
            (str(alan), ["directory_id", "source", "status"]),
        ]
        assert {e.actor for e in events} == {"principal:admin@acme.example.com"}
        assert grace not in {int(e.object_id) for e in events}
    assert audit_actions(env.container)[-1] == (
        "directory.disconnected",
        "directory_registration",
        ["certificate", "registration", "sync_state", "users", "writebacks"],
    )
    # Connecting again generates a fresh key pair.
    assert connected(env)["certificate"]["thumbprint_sha1"]


def test_unlink_is_refused_for_a_local_user(env: Env) -> None:
    with env.container.unit_of_work() as s:
        acme = accounts.get_account(s, factories.OPERATOR, "acme")
        hq = find_location_by_name(s, acme, "HQ")
        assert hq is not None
        local = users.create_user(
            s,
            factories.OPERATOR,
            acme,
            UserIn(
                first_name="Grace",
                last_name="Hopper",
                email="g@acme.example.com",
                location_id=hq.id,
            ),
        )
        with pytest.raises(Conflict, match="not linked to the directory"):
            users.unlink_from_directory(s, factories.OPERATOR, acme, local.id)
