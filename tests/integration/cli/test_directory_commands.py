"""``switchboard directory`` end to end against a real database, through Typer's runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import select
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app
from switchboard.connection import app_certificates
from switchboard.db.models import DirectoryRegistration, User
from switchboard.directory.stored_credentials import credentials_for_auth
from switchboard.portal import accounts, users
from switchboard.portal.actors import Actor, Role
from switchboard.portal.locations import find_location_by_name
from switchboard.portal.schemas import UserIn
from tests import factories

TENANT = "6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"
CLIENT = "11111111-2222-4333-8444-555555555555"
GROUPS = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b, 1c0a7b5d-2e3f-4a71-9b8c-0d1e2f3a4b5c"

Run = Callable[..., tuple[int, str, str]]


def flat(text: str) -> str:
    """Rich wraps long messages to the terminal width; compare the words."""
    return " ".join(text.split())


@pytest.fixture
def run(container: Container) -> Run:
    env = {
        "SWITCHBOARD_DATABASE_URL": container.settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(container.settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
    }
    runner = CliRunner()
    with container.unit_of_work() as s:
        factories.tenant(s, "acme")

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args), env=env, input=stdin)
        return result.exit_code, result.stdout, result.stderr

    return invoke


def connect(run: Run, *extra: str) -> dict[str, object]:
    code, out, err = run(
        "directory",
        "connect",
        "acme",
        "--tenant-id",
        TENANT,
        "--client-id",
        CLIENT,
        "--groups",
        GROUPS,
        *extra,
        "--json",
    )
    assert code == 0, err
    found: dict[str, object] = json.loads(out)
    return found


def test_connect_show_certificate_settings_and_disconnect(run: Run, container: Container) -> None:
    out = connect(
        run,
        "--two-way",
        "--mode",
        "jit",
        "--location-rule",
        "Chicago=HQ",
        "--location-rule",
        "NYC=branch",
        "--default-location",
        "hq",
        "--extension-attribute",
        "extensionAttribute5",
    )
    settings = out["settings"]
    assert isinstance(settings, dict)
    assert settings["groups"] == [g.strip() for g in GROUPS.split(",")]
    assert settings["direction"] == "two_way"
    assert settings["mode"] == "jit"
    assert settings["location_rules"] == {"chicago": "HQ", "nyc": "Branch"}
    assert settings["default_location"] == "HQ"
    assert settings["write_back"]["extension_to"] == "extensionAttribute5"
    assert out["required_permissions"] == [
        "User.Read.All",
        "GroupMember.Read.All",
        "User.ReadWrite.All",
    ]
    assert "PRIVATE KEY" not in json.dumps(out)

    code, pem, _ = run("directory", "certificate", "acme")
    assert code == 0
    cert = x509.load_pem_x509_certificate(pem.encode())
    shown = out["certificate"]
    assert isinstance(shown, dict)
    assert app_certificates.info(pem).thumbprint_sha1 == shown["thumbprint_sha1"]
    assert cert.subject.rfc4514_string() == "CN=Switchboard acme"
    # The key the CLI sealed opens with the same SWITCHBOARD_SECRET_KEY in the server.
    with container.unit_of_work() as s:
        (cred,) = credentials_for_auth(s.scalars(select(DirectoryRegistration)).one())
    assert cred.certificate_pem == pem

    code, text, _ = run("directory", "show", "acme")
    assert code == 0
    assert TENANT in text and "jit" in text and "chicago=HQ" in text

    # The rules given replace the old ones; other settings stay.
    code, out_text, err = run(
        "directory", "settings", "acme", "--location-rule", "Remote=Branch", "--one-way", "--json"
    )
    assert code == 0, err
    changed = json.loads(out_text)["settings"]
    assert changed["location_rules"] == {"remote": "Branch"}
    assert changed["direction"] == "one_way"
    assert changed["mode"] == "jit"

    code, out_text, _ = run("directory", "rotate", "acme", "--json")
    assert code == 0
    nxt = json.loads(out_text)["next_certificate"]["thumbprint_sha1"]
    code, next_pem, _ = run("directory", "certificate", "acme", "--next")
    assert code == 0 and app_certificates.info(next_pem).thumbprint_sha1 == nxt
    code, _, err = run("directory", "promote", "acme")
    assert code == 1 and "has not been proven yet" in flat(err)

    sync = Actor(label="directory-sync", role=Role.PROVIDER_ADMIN, directory=True)
    with container.unit_of_work() as s:
        acme = accounts.get_account(s, sync, "acme")
        hq = find_location_by_name(s, acme, "HQ")
        assert hq is not None
        users.create_user(
            s,
            sync,
            acme,
            UserIn(
                first_name="Ada",
                last_name="Lovelace",
                email="ada@acme.example.com",
                location_id=hq.id,
            ),
            directory_id="aaaaaaaa-0000-4000-8000-000000000001",
        )
    code, _, _ = run("directory", "disconnect", "acme", stdin="n\n")
    assert code == 1  # declined at the prompt: nothing happens
    code, text, _ = run("directory", "disconnect", "acme", "--yes")
    assert code == 0
    assert "1 directory users are now local users" in flat(text)
    with container.unit_of_work() as s:
        assert [(u.source, u.directory_id) for u in s.scalars(select(User))] == [("local", None)]
        assert s.scalar(select(DirectoryRegistration)) is None
    code, _, err = run("directory", "show", "acme")
    assert code == 1 and "not connected to Entra ID" in flat(err)


def test_custom_cloud_with_a_ca_bundle_file(run: Run, tmp_path: Path) -> None:
    ca = app_certificates.generate(
        "Emulator Root", datetime(2026, 1, 15, tzinfo=UTC)
    ).certificate_pem
    bundle = tmp_path / "ca.pem"
    bundle.write_text(ca)
    out = connect(
        run,
        "--authority-url",
        "https://127.0.0.1:8443",
        "--graph-url",
        "https://127.0.0.1:8444/",
        "--ca-bundle",
        str(bundle),
    )
    assert (out["cloud"], out["authority_url"], out["graph_url"]) == (
        "custom",
        "https://127.0.0.1:8443",
        "https://127.0.0.1:8444",
    )
    assert out["ca_bundle_pem"] == ca


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("--location-rule", "Chicago"), 2, "--location-rule: 'Chicago' is not VALUE=LOCATION"),
        (("--location-rule", "Paris=Paris Office"), 2, "names no location of account 'acme'"),
        (("--mode", "hourly"), 2, "mode"),
        (("--mode", "batched"), 2, "batched mode needs a schedule"),
        (("--cloud", "usgov", "--graph-url", "https://graph.example.test"), 2, "'custom'"),
        (("--map", "location=shoeSize"), 2, "mapping.location: 'shoeSize' is not a user property"),
        (("--extension-attribute", "extensionAttribute0"), 2, "extensionAttribute1 to"),
    ],
)
def test_connect_errors_are_clear(run: Run, args: tuple[str, ...], code: int, words: str) -> None:
    got, _, err = run(
        "directory",
        "connect",
        "acme",
        "--tenant-id",
        TENANT,
        "--client-id",
        CLIENT,
        "--groups",
        GROUPS,
        *args,
    )
    assert got == code
    assert words in flat(err)


def test_bad_guid_and_second_connect(run: Run) -> None:
    code, _, err = run(
        "directory",
        "connect",
        "acme",
        "--tenant-id",
        "contoso",
        "--client-id",
        CLIENT,
        "--groups",
        GROUPS,
    )
    assert code == 2 and "tenant_id: 'contoso' is not a GUID" in flat(err)
    connect(run)
    code, _, err = run(
        "directory",
        "connect",
        "acme",
        "--tenant-id",
        TENANT,
        "--client-id",
        CLIENT,
        "--groups",
        GROUPS,
    )
    assert code == 1 and "already connected" in flat(err)
    code, _, err = run("directory", "settings", "acme")
    assert code == 2 and "nothing to change" in flat(err)


def test_connect_needs_groups_or_all_users(run: Run) -> None:
    base = ("directory", "connect", "acme", "--tenant-id", TENANT, "--client-id", CLIENT)
    code, _, err = run(*base)
    assert code == 2
    assert "choose at least one group, or sync all users explicitly" in flat(err)
    code, _, err = run(*base, "--groups", "")
    assert code == 2
    assert "choose at least one group, or sync all users explicitly" in flat(err)
    code, _, err = run(*base, "--groups", GROUPS, "--all-users")
    assert code == 2 and "not both" in flat(err)
    code, out, err = run(*base, "--all-users", "--json")
    assert code == 0, err
    settings = json.loads(out)["settings"]
    assert settings["all_users"] is True and settings["groups"] == []
    code, out, _ = run("directory", "show", "acme")
    assert "(all users of the tenant)" in flat(out)


def test_settings_switch_between_groups_and_all_users(run: Run) -> None:
    connect(run)
    code, out, err = run("directory", "settings", "acme", "--all-users", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["settings"]["all_users"] is True and body["settings"]["groups"] == []
    # Never synced yet: the first reconcile uses the new settings, none starts now.
    assert body["reconcile_run_number"] is None
    code, out, err = run("directory", "settings", "acme", "--groups", GROUPS, "--json")
    assert code == 0, err
    settings = json.loads(out)["settings"]
    assert settings["all_users"] is False and len(settings["groups"]) == 2
    code, _, err = run("directory", "settings", "acme", "--groups", " , ")
    assert code == 2
    assert "choose at least one group, or sync all users explicitly" in flat(err)
