"""``switchboard directory groups`` and the synced groups by name in ``directory show``,
against the Entra ID emulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app
from switchboard.emulator.server import RunningEmulator
from tests.integration.group_picker_support import (
    connect_acme,
    delete_group,
    emulated_tenant,
    group_ids,
    reset,
)

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with emulated_tenant(tmp_path_factory.mktemp("group-picker-cli")) as server:
        yield server


@pytest.fixture
def run(container: Container) -> Run:
    env = {
        "SWITCHBOARD_DATABASE_URL": container.settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(container.settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": "test-secret-key-not-for-production",
        "COLUMNS": "200",
    }
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.stdout, result.stderr

    return invoke


@pytest.fixture
def groups(container: Container, emulator: RunningEmulator) -> dict[str, str]:
    reset(emulator)
    ids = group_ids(emulator)
    connect_acme(container, emulator, ids["Sales"], ids["Finance"])
    return ids


def test_groups_by_name_as_a_table_and_as_json(run: Run, groups: dict[str, str]) -> None:
    code, out, err = run("directory", "groups", "acme", "--search", "s")
    assert code == 0, err
    assert "Sales" in out and "Support" in out and groups["Sales"] in out
    code, out, err = run("directory", "groups", "acme", "--search", "sal", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["name"], r["id"], r["nested_groups"]) for r in rows] == [
        ("Sales", groups["Sales"], 1)
    ]
    assert isinstance(rows[0]["members"], int) and rows[0]["members"] > 0


def test_a_bad_search_is_refused_in_words(run: Run, groups: dict[str, str]) -> None:
    code, _out, err = run("directory", "groups", "acme", "--search", "z" * 101)
    assert code == 2
    assert "at most 100 characters" in " ".join(err.split())


def test_show_names_the_synced_groups_next_to_their_ids(
    run: Run, emulator: RunningEmulator, groups: dict[str, str]
) -> None:
    code, out, err = run("directory", "show", "acme")
    assert code == 0, err
    flat = " ".join(out.split())
    assert f"Sales ({groups['Sales']}), Finance ({groups['Finance']})" in flat
    delete_group(emulator, groups["Finance"])
    code, out, _err = run("directory", "show", "acme", "--json")
    body = json.loads(out)
    assert [g["label"] for g in body["groups_detail"]] == [
        "Sales",
        f"deleted group {groups['Finance']}",
    ]


def test_settings_shows_the_new_groups_by_name(run: Run, groups: dict[str, str]) -> None:
    code, out, err = run("directory", "settings", "acme", "--groups", groups["Support"])
    assert code == 0, err
    assert f"Support ({groups['Support']})" in " ".join(out.split())
