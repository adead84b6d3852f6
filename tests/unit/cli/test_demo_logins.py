"""What `switchboard demo` prints before it serves: both logins, the account admin's and the
operator's, each with this run's password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from switchboard.cli import demo_command
from switchboard.demo import emulator_process, sample_account


def test_the_demo_prints_the_admin_and_the_operator_login(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    served: list[dict[str, Any]] = []
    monkeypatch.setattr("switchboard.web.server.run", lambda **kw: served.append(kw))
    console = Console(record=True, width=120)
    monkeypatch.setattr(demo_command, "console", console)
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    login = sample_account.DemoLogin(
        email=sample_account.ADMIN_EMAIL,
        password="admin-secret",
        users=13,
        operator_email=sample_account.OPERATOR_EMAIL,
        operator_password="operator-secret",
    )
    tenant = emulator_process.DemoTenant("https://127.0.0.1:8443", "t", tmp_path, owned=True)

    demo_command._serve("127.0.0.1", 8000, tenant, tmp_path, login)

    printed = console.export_text()
    assert "admin        admin@acme.example  password admin-secret" in printed
    assert "operator     operator@provider.example  password operator-secret" in printed
    assert served and served[0]["port"] == 8000
