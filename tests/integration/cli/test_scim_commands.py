"""``switchboard scim`` end to end against a real database, through Typer's runner."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app
from switchboard.connection import registration
from switchboard.portal.accounts import get_account
from switchboard.scim import tokens
from switchboard.scim.errors import ScimError
from switchboard.sync.policy import SyncPolicy
from tests import factories

Run = Callable[..., tuple[int, str, str]]
OP = factories.OPERATOR


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def env(container: Container) -> dict[str, str]:
    with container.unit_of_work() as s:
        factories.tenant(s, "acme")
    return {
        "SWITCHBOARD_DATABASE_URL": container.settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(container.settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
        "SWITCHBOARD_PUBLIC_URL": "",
    }


@pytest.fixture
def run(env: dict[str, str]) -> Run:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None, **more: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args), env={**env, **more}, input=stdin)
        return result.exit_code, result.stdout, result.stderr

    return invoke


def opens(container: Container, token: str) -> bool:
    try:
        with container.unit_of_work() as s:
            tokens.authenticate(s, "acme", f"Bearer {token}")
    except ScimError:
        return False
    return True


def test_connect_token_show_settings_revoke_and_disconnect(run: Run, container: Container) -> None:
    code, out, err = run(
        "scim",
        "connect",
        "acme",
        "--client",
        "entra",
        "--deprovision",
        "delete",
        "--location-from",
        "locality",
        "--location-rule",
        "Chicago=Branch",
        "--rate-limit",
        "60",
        "--json",
    )
    assert code == 0, err
    shown = json.loads(out)
    assert shown["connected"] is True
    assert shown["client"] == "entra"
    assert shown["deprovision"] == "delete"
    assert shown["location_attribute"] == "locality"
    assert shown["location_rules"] == {"chicago": "Branch"}
    assert shown["default_location"] == "HQ"
    assert shown["rate_limit"] == 60
    assert shown["url"] == "http://127.0.0.1:8000/scim/v2/acme"
    assert "SWITCHBOARD_PUBLIC_URL is not set" in flat(err)

    code, out, err = run("scim", "token", "acme", "--json")
    assert code == 0, err
    issued = json.loads(out)
    assert set(issued) == {"token", "url"}
    assert issued["url"] == "http://127.0.0.1:8000/scim/v2/acme"
    assert opens(container, issued["token"])

    code, out, _ = run(
        "scim", "token", "acme", "--overlap-hours", "0", SWITCHBOARD_PUBLIC_URL="https://v.example"
    )
    assert code == 0
    assert "URL (Tenant URL / Base URL): https://v.example/scim/v2/acme" in out
    second = out.split("Token (shown once, keep it safe): ")[1].split()[0]
    assert opens(container, second) and not opens(container, issued["token"])

    code, out, _ = run("scim", "show", "acme")
    assert code == 0
    assert "Entra provisioning" in out and "chicago=Branch" in out
    # Its secret part is never shown (the token's random tail may itself hold an "_").
    assert second not in out and second[-16:] not in out
    listed = json.loads(run("scim", "show", "acme", "--json")[1])
    assert [t["state"] for t in listed["tokens"]] == ["active", "revoked"]

    code, out, err = run(
        "scim", "settings", "acme", "--client", "okta", "--default-location", "", "--json"
    )
    assert code == 0, err
    changed = json.loads(out)
    assert changed["client"] == "okta"
    assert changed["default_location"] is None
    assert changed["deprovision"] == "delete"  # not given: kept

    code, out, _ = run("scim", "revoke", "acme", "--token-id", str(listed["tokens"][0]["id"]))
    assert code == 0 and "revoked" in out
    assert not opens(container, second)

    code, out, _ = run("scim", "disconnect", "acme", stdin="n\n")
    assert code != 0
    code, out, _ = run("scim", "disconnect", "acme", "--yes")
    assert code == 0, out
    assert "no longer takes users over SCIM" in flat(out)
    assert json.loads(run("scim", "show", "acme", "--json")[1])["connected"] is False


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("connect", "acme", "--client", "azure"), "client: Input should be 'entra' or 'okta'"),
        (("connect", "acme", "--client", "entra", "--rate-limit", "3"), "rate_limit"),
        (("connect", "acme", "--client", "entra", "--location-rule", "Chicago"), "VALUE=LOCATION"),
        (
            ("connect", "acme", "--client", "entra", "--default-location", "Mars"),
            "no location named 'Mars'",
        ),
        (("token", "acme"), "does not take users over SCIM"),
        (("settings", "acme", "--rate-limit", "50"), "does not take users over SCIM"),
        (("disconnect", "acme", "--yes"), "does not take users over SCIM"),
        (("show", "nosuch"), "account 'nosuch' not found"),
    ],
)
def test_mistakes_say_what_to_do(run: Run, args: tuple[str, ...], words: str) -> None:
    code, out, err = run("scim", *args)
    assert code != 0
    assert words in flat(err), err
    assert "Traceback" not in out + err


def test_overlap_beyond_a_week_and_unknown_tokens_are_refused(run: Run) -> None:
    assert run("scim", "connect", "acme", "--client", "okta")[0] == 0
    code, _, err = run("scim", "token", "acme", "--overlap-hours", "200")
    assert code == 2
    assert "0 to 168 hours" in flat(err)
    code, _, err = run("scim", "revoke", "acme", "--token-id", "999")
    assert code == 1
    assert "SCIM token 999 not found" in flat(err)
    code, _, err = run("scim", "connect", "acme", "--client", "entra")
    assert code == 1
    assert "already takes its users over SCIM" in flat(err)


def test_graph_and_scim_refuse_each_other(run: Run, container: Container) -> None:
    assert run("scim", "connect", "acme", "--client", "entra")[0] == 0
    code, _, err = run(
        "directory",
        "connect",
        "acme",
        "--tenant-id",
        "6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9",
        "--client-id",
        "11111111-2222-4333-8444-555555555555",
        "--all-users",
    )
    assert code == 1
    assert "disconnect SCIM on the Directory tab first" in flat(err)
    assert run("scim", "disconnect", "acme", "--yes")[0] == 0
    with container.unit_of_work() as s:
        registration.connect(
            s,
            OP,
            get_account(s, OP, "acme"),
            registration.RegistrationIn(
                tenant_id="6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9",
                client_id="11111111-2222-4333-8444-555555555555",
                settings=SyncPolicy(all_users=True),
            ),
        )
    code, _, err = run("scim", "connect", "acme", "--client", "okta")
    assert code == 1
    assert "connected to Entra ID over Microsoft Graph" in flat(err)
    shown = run("scim", "show", "acme")[1]
    assert "connected to Entra ID over Microsoft Graph" in flat(shown)
