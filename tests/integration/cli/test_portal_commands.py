"""The CLI end to end against a real database, through Typer's runner."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app
from switchboard.portal.api_tokens import authenticate_token

# Runs the CLI with the given arguments (and stdin): (exit code, stdout, stderr).
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(container: Container) -> Run:
    env = {
        "SWITCHBOARD_DATABASE_URL": container.settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(container.settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
    }
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args), env=env, input=stdin)
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_bootstrap_operator_and_account_objects(run: Run, container: Container) -> None:
    code, out, _ = run(
        "admin", "create", "--email", "op@example.com", "--role", "provider_admin", "--json"
    )
    assert code == 0
    token = json.loads(out)["token"]
    with container.unit_of_work() as s:
        assert authenticate_token(s, token).email == "op@example.com"

    assert run("accounts", "create", "globex", "--name", "Globex")[0] == 0
    code, _, _ = run(
        "locations",
        "create",
        "globex",
        "HQ",
        "--street",
        "1 Main St",
        "--city",
        "Chicago",
        "--region",
        "IL",
        "--postal-code",
        "60601",
        "--country",
        "US",
        "--time-zone",
        "America/Chicago",
    )
    assert code == 0
    code, out, _ = run(
        "numbers", "add", "globex", "+13125550100", "+13125550101", "--location", "hq", "--json"
    )
    assert code == 0 and [n["e164"] for n in json.loads(out)] == ["+13125550100", "+13125550101"]
    code, _, _ = run(
        "users",
        "create",
        "globex",
        "--email",
        "ada@globex.example",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--location",
        "HQ",
        "--number",
        "+13125550100",
    )
    assert code == 0
    code, out, _ = run("users", "list", "globex", "--json")
    users = json.loads(out)
    assert code == 0 and users[0]["email"] == "ada@globex.example"
    assert users[0]["phone_numbers"] == ["+13125550100"]

    code, out, _ = run(
        "admin",
        "create",
        "--email",
        "it@globex.example",
        "--role",
        "account_admin",
        "--account",
        "globex",
        "--json",
    )
    assert code == 0 and json.loads(out)["account"] == "globex"


def test_bad_input_gets_a_clear_error_and_nonzero_exit(run: Run) -> None:
    code, _, err = run("accounts", "create", "Bad Slug!", "--name", "X")
    assert code == 2 and "slug" in err and "lower-case" in err
    code, _, err = run("admin", "create", "--email", "x@example.com", "--role", "account_admin")
    assert code == 2 and "needs an account" in err
    assert run("accounts", "create", "acme", "--name", "Acme")[0] == 0
    code, _, err = run("accounts", "create", "acme", "--name", "Acme again")
    assert code == 1 and "already exists" in err
    code, _, err = run("numbers", "add", "acme", "+1555", "--location", "HQ")
    assert code == 2 and "not found" in err  # no such location yet
    code, _, err = run("users", "list", "nope")
    assert code == 1 and "not found" in err
