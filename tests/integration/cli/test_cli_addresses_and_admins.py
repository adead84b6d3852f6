"""The CLI shares the address rules and the first sign-in rule with the API and the UI."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app
from switchboard.db.models import Location, Principal

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(container: Container) -> Run:
    env = {
        "SWITCHBOARD_DATABASE_URL": container.settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(container.settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
    }

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, list(args), env=env, input=stdin)
        return result.exit_code, result.stdout, " ".join(result.stderr.split())

    return invoke


LONDON = ("--street", "10 Downing St", "--city", "London", "--country", "GB")


def test_a_london_location_needs_no_region_and_a_us_one_does(
    run: Run,
    container: Container,
) -> None:
    assert run("accounts", "create", "globex", "--name", "Globex")[0] == 0
    code, _, err = run(
        "locations", "create", "globex", "London", *LONDON, "--postal-code", "ABC",
        "--time-zone", "Europe/London",
    )  # fmt: skip
    assert code == 2 and "Postal code 'ABC' is not valid for the United Kingdom" in err
    code, _, _ = run(
        "locations", "create", "globex", "London", *LONDON, "--postal-code", "sw1a 2aa",
        "--time-zone", "Europe/London",
    )  # fmt: skip
    assert code == 0
    code, _, err = run(
        "locations", "create", "globex", "Chicago", "--street", "1 Main St", "--city", "Chicago",
        "--postal-code", "60601", "--country", "US", "--time-zone", "America/Chicago",
    )  # fmt: skip
    assert code == 2 and "State is required for an address in the United States" in err
    with container.unit_of_work() as session:
        london = session.scalars(select(Location).where(Location.name == "London")).one()
        assert (london.region, london.postal_code) == ("", "SW1A 2AA")


def test_a_password_given_at_creation_is_changed_at_first_sign_in(
    run: Run,
    container: Container,
) -> None:
    assert run("accounts", "create", "globex", "--name", "Globex")[0] == 0
    for email, extra in (("it@globex.example", ()), ("ops@provider.example", ("--keep-password",))):
        role = (
            ("--role", "account_admin", "--account", "globex")
            if "globex" in email
            else ("--role", "provider_admin")
        )
        code, _, _ = run(
            "admin", "create", "--email", email, *role, "--password-stdin", *extra,
            stdin="a long initial password\n",
        )  # fmt: skip
        assert code == 0
    with container.unit_of_work() as session:
        rows = session.execute(select(Principal.email, Principal.must_change_password))
        forced = {row.email: row.must_change_password for row in rows.all()}
    assert forced == {"it@globex.example": True, "ops@provider.example": False}
