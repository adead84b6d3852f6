"""The rules every change of users keeps, on their own (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from switchboard.db.models import Account
from switchboard.portal.errors import Conflict, NotFound
from switchboard.portal.users.rules import (
    AccountKeys,
    DirectoryValues,
    Extensions,
    created_fields,
    new_row,
    status_of,
)

ACCOUNT = Account(id=7, slug="acme", name="Acme", extension_length=2)
HQ = 1
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


class InUse:
    """Answers the one query the allocator makes once the dial plan's end is reached."""

    def __init__(self, extensions: set[str]) -> None:
        self.extensions = extensions
        self.asked = 0

    def scalars(self, _query: Any) -> set[str]:
        self.asked += 1
        return self.extensions


def _session(extensions: set[str] | None = None) -> Session:
    return cast(Session, InUse(extensions or set()))


def values(name: str = "ada", location_id: int = HQ) -> DirectoryValues:
    return DirectoryValues(
        f"{name}@contoso.example", "Ada", "Lovelace", f"{name}@contoso.example", location_id
    )


def keys(**held: int) -> AccountKeys:
    """Keys of an account where each named user (name: id) holds its username and email."""
    k = AccountKeys(ACCOUNT, {HQ}, {}, {}, set())
    for name, user_id in held.items():
        v = values(name)
        k.hold(user_id, v.username.casefold(), v.email.casefold(), f"dir-{name}")
    return k


def test_extensions_follow_the_highest_from_one_followed_by_zeros() -> None:
    assert Extensions(7, 4, None).next_free(_session()) == "1000"
    ext = Extensions(7, 2, 41)
    assert [ext.next_free(_session()) for _ in range(3)] == ["42", "43", "44"]


def test_extensions_fill_gaps_past_the_end_reading_those_in_use_once() -> None:
    session = InUse({"10", "11", "13", "99"})
    ext = Extensions(7, 2, 99)
    assert [ext.next_free(cast(Session, session)) for _ in range(3)] == ["12", "14", "15"]
    assert session.asked == 1


def test_a_full_dial_plan_is_a_conflict_that_says_so() -> None:
    ext = Extensions(7, 2, 99)
    with pytest.raises(Conflict) as exc:
        ext.next_free(_session({str(n) for n in range(10, 100)}))
    assert exc.value.code == "extensions_exhausted"
    assert exc.value.message == "every extension of the dial plan is in use"


@given(st.sets(st.integers(10, 99), max_size=89), st.integers(1, 30))
def test_extensions_handed_out_are_free_distinct_and_in_the_plan(
    used: set[int], wanted: int
) -> None:
    in_use = {str(n) for n in used}
    ext = Extensions(7, 2, max(used, default=None))
    handed: list[str] = []
    for _ in range(min(wanted, 90 - len(used))):
        handed.append(ext.next_free(_session(in_use)))
    assert len(set(handed)) == len(handed)
    assert not set(handed) & in_use
    assert all(len(e) == 2 and e.isdigit() and e[0] != "0" for e in handed)


def test_keys_are_compared_ignoring_case_and_a_user_may_keep_its_own() -> None:
    k = keys(ada=1)
    shouting = DirectoryValues("ADA@contoso.example", "A", "L", "x@contoso.example", HQ)
    with pytest.raises(Conflict) as exc:
        k.check_free(shouting, None)
    assert (exc.value.field, exc.value.message) == (
        "username",
        "another user of this account already has username",
    )
    k.check_free(shouting, 1)
    with pytest.raises(Conflict) as exc:
        k.check_key("email", "Ada@Contoso.example", 2)
    assert exc.value.field == "email"


def test_a_new_user_needs_a_free_directory_id_and_a_location_of_the_account() -> None:
    k = keys(ada=1)
    with pytest.raises(Conflict) as exc:
        k.check_new(values("grace"), "dir-ada")
    assert exc.value.field == "directory_id"
    with pytest.raises(NotFound) as missing:
        k.check_new(values("grace", location_id=99), None)
    assert missing.value.message == "location 99 not found in account 'acme'"
    assert missing.value.code == "location_not_found"
    k.check_new(values("grace"), "dir-grace")


def test_keys_held_by_a_batch_are_taken_for_its_later_entries() -> None:
    k = keys()
    k.check_new(values("ada"), "dir-ada")
    k.hold(-1, "ada@contoso.example", "ada@contoso.example", "dir-ada")
    with pytest.raises(Conflict):
        k.check_new(values("ada"), "dir-other")


def test_a_new_row_and_the_fields_its_audit_event_names() -> None:
    row = new_row(
        7,
        values("Ada"),
        extension="1000",
        license_id=None,
        status=status_of(True),
        directory_id=None,
        stamp=STAMP,
    )
    assert (row["username_key"], row["source"], row["status"]) == (
        "ada@contoso.example",
        "local",
        "active",
    )
    assert created_fields(row) == [
        "username",
        "first_name",
        "last_name",
        "email",
        "location_id",
        "extension",
    ]
    disabled = new_row(
        7,
        values("ada"),
        extension="1001",
        license_id=3,
        status=status_of(False),
        directory_id="dir-ada",
        stamp=STAMP,
    )
    assert (disabled["source"], disabled["status"]) == ("directory", "disabled_in_directory")
    assert created_fields(disabled)[-2:] == ["license", "status"]
