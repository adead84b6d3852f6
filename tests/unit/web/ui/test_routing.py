"""Where the login page may send the browser back to."""

from __future__ import annotations

import pytest

from switchboard.web.ui.forms import input_name
from switchboard.web.ui.routing import login_url, safe_next


@pytest.mark.parametrize(
    "hostile",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/ok\r\nSet-Cookie: x=1",
        "",
        None,
    ],
)
def test_anything_but_a_local_path_becomes_the_root(hostile: str | None) -> None:
    assert safe_next(hostile) == "/"


def test_local_paths_with_queries_are_kept() -> None:
    assert safe_next("/accounts/acme/users?q=ada&page=2") == "/accounts/acme/users?q=ada&page=2"
    assert login_url("/accounts/acme") == "/login?next=%2Faccounts%2Facme"
    assert login_url("/") == "/login"


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("address.postal_code", "postal_code"),
        ("phone_numbers.0", "phone_numbers"),
        ("numbers.3", "numbers"),
        ("email", "email"),
        (None, None),
    ],
)
def test_error_fields_map_to_form_inputs(field: str | None, name: str | None) -> None:
    assert input_name(field) == name
