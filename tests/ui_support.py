"""Helpers for the admin UI tests: admins with passwords, signing in, reading CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.portal import accounts, principals
from switchboard.portal.actors import Role
from tests.factories import OPERATOR

PASSWORD = "correct horse battery staple"


def make_admin(
    container: Container, email: str, role: Role, account_slug: str | None = None
) -> None:
    with container.unit_of_work() as session:
        account = accounts.get_account(session, OPERATOR, account_slug) if account_slug else None
        principals.create_principal(
            session, OPERATOR, email=email, role=role, account=account, password=PASSWORD
        )


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden field {name} in the page"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next_path: str = "/") -> Any:
    form = client.get("/login", params={"next": next_path})
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "login_token": hidden(form.text, "login_token"),
            "next": hidden(form.text, "next"),
        },
        follow_redirects=False,
    )


def csrf(client: TestClient, path: str = "/accounts") -> str:
    return hidden(client.get(path).text, "csrf_token")
