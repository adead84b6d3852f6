"""Listing SCIM users and groups on SQLite and PostgreSQL: stable pages, sorting, group filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db.scim_models import ScimGroup, ScimGroupMember, ScimUser
from switchboard.scim.filters import group_condition, user_condition
from switchboard.scim.listing import list_query, page
from tests import factories

START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def accounts(container: Container) -> tuple[Container, int, int]:
    with container.unit_of_work() as session:
        acme = factories.account(session, "acme")
        globex = factories.account(session, "globex")
        return container, acme.id, globex.id


def add_user(
    session: Session,
    account_id: int,
    user_name: str,
    *,
    family: str | None = None,
    external_id: str | None = None,
    minutes: int = 0,
) -> str:
    scim_id = str(uuid.uuid4())
    session.add(
        ScimUser(
            id=scim_id,
            account_id=account_id,
            user_name=user_name,
            user_name_key=user_name.casefold(),
            family_name=family,
            family_name_key=family.casefold() if family else None,
            external_id=external_id,
            active=True,
            created_at=START + timedelta(minutes=minutes),
            updated_at=START + timedelta(minutes=minutes),
        )
    )
    return scim_id


def user_ids(session: Session, account_id: int, filter_text: str) -> set[str]:
    return set(
        session.scalars(
            select(ScimUser.id).where(
                ScimUser.account_id == account_id, user_condition(filter_text)
            )
        )
    )


def test_pages_neither_repeat_nor_skip_when_sort_keys_tie(
    accounts: tuple[Container, int, int],
) -> None:
    container, acme, globex = accounts
    with container.unit_of_work() as session:
        ours = {
            add_user(session, acme, f"user{n}", family=["Ng", "Smith", None][n % 3])
            for n in range(25)
        }
        for n in range(5):
            add_user(session, globex, f"other{n}", family="Ng")
    q = list_query({"sortBy": "name.familyName", "count": "7"}, "User")
    seen: list[ScimUser] = []
    with container.unit_of_work() as session:
        query = select(ScimUser).where(ScimUser.account_id == acme)
        for start in range(1, 30, 7):
            total, rows = page(session, query, start, q.count, order=q.order_by())
            assert total == 25
            seen.extend(rows)
        assert page(session, query, 1, 0, order=q.order_by()) == (25, [])
    assert [r.id for r in seen] == list(dict.fromkeys(r.id for r in seen))
    assert {r.id for r in seen} == ours
    # Ascending: Ng, then Smith, then the users with no family name.
    families = [r.family_name for r in seen]
    assert families == ["Ng"] * 9 + ["Smith"] * 8 + [None] * 8


def test_sorting_is_by_code_points_ignoring_case_and_descending_puts_absent_first(
    accounts: tuple[Container, int, int],
) -> None:
    container, acme, _ = accounts
    names = ["zoë", "Émile", "alice", "Ödön", "李", "Bob", "ÅSA"]
    with container.unit_of_work() as session:
        for name in names:
            add_user(session, acme, name, family=name if name != "Bob" else None)
    expected = sorted(names, key=str.casefold)
    with container.unit_of_work() as session:
        query = select(ScimUser).where(ScimUser.account_id == acme)
        up = list_query({"sortBy": "userName"}, "User")
        _, rows = page(session, query, 1, 100, order=up.order_by())
        assert [r.user_name for r in rows] == expected
        down = list_query({"sortBy": "name.familyName", "sortOrder": "descending"}, "User")
        _, rows = page(session, query, 1, 100, order=down.order_by())
        named = sorted((n for n in names if n != "Bob"), key=str.casefold, reverse=True)
        assert [r.family_name for r in rows] == [None, *named]
        # startIndex past the end: the total, no resources.
        assert page(session, query, 50, 10) == (len(names), [])


def test_case_exact_and_case_insensitive_matching(accounts: tuple[Container, int, int]) -> None:
    container, acme, globex = accounts
    with container.unit_of_work() as session:
        mixed = add_user(session, acme, "a_b%c@x", external_id="AbC-1")
        plain = add_user(session, acme, "axbyc@x", external_id="abc-2")
        add_user(session, globex, "a_b%c@y", external_id="AbC-1")
    with container.unit_of_work() as session:
        assert user_ids(session, acme, 'externalId co "bC"') == {mixed}
        assert user_ids(session, acme, 'externalId co "BC"') == set()
        assert user_ids(session, acme, 'externalId sw "ab"') == {plain}
        assert user_ids(session, acme, 'externalId ew "C-1"') == {mixed}
        assert user_ids(session, acme, 'externalId eq "abc-1"') == set()
        # % and _ are characters, not wildcards.
        assert user_ids(session, acme, 'userName co "_b%"') == {mixed}
        assert user_ids(session, acme, 'userName sw "A_"') == {mixed}
        assert user_ids(session, acme, 'userName eq "A_B%C@X"') == {mixed}
        assert user_ids(session, acme, 'not (externalId co "bC")') == {plain}


def test_dates_filter_by_instant(accounts: tuple[Container, int, int]) -> None:
    container, acme, _ = accounts
    with container.unit_of_work() as session:
        early = add_user(session, acme, "early", minutes=0)
        late = add_user(session, acme, "late", minutes=90)
    with container.unit_of_work() as session:
        assert user_ids(session, acme, 'meta.lastModified gt "2026-01-15T10:00:00Z"') == {late}
        assert user_ids(session, acme, 'meta.created le "2026-01-15T10:00:00+01:00"') == {early}
        assert user_ids(session, acme, 'meta.created eq "2026-01-15T09:00:00"') == {early}


def test_group_filters_look_at_members(accounts: tuple[Container, int, int]) -> None:
    container, acme, globex = accounts
    with container.unit_of_work() as session:
        ada = add_user(session, acme, "ada")
        bob = add_user(session, acme, "bob")
        groups = {}
        for account_id, name, members in (
            (acme, "Sales", [ada, bob]),
            (acme, "Support", [bob]),
            (acme, "Empty", []),
            (globex, "Sales", []),
        ):
            group = ScimGroup(
                id=str(uuid.uuid4()),
                account_id=account_id,
                display_name=name,
                display_name_key=name.casefold(),
                created_at=START,
                updated_at=START,
            )
            session.add(group)
            session.flush()
            session.add_all(ScimGroupMember(group_id=group.id, user_id=m) for m in members)
            groups[(account_id, name)] = group.id
    sales, support, empty = (groups[(acme, n)] for n in ("Sales", "Support", "Empty"))

    def group_ids(filter_text: str) -> set[str]:
        with container.unit_of_work() as session:
            return set(
                session.scalars(
                    select(ScimGroup.id).where(
                        ScimGroup.account_id == acme, group_condition(filter_text)
                    )
                )
            )

    assert group_ids('displayName eq "SALES"') == {sales}
    assert group_ids(f'members[value eq "{ada}"]') == {sales}
    assert group_ids(f'members.value eq "{bob}"') == {sales, support}
    assert group_ids(f'members ne "{ada}"') == {support, empty}
    assert group_ids("members pr") == {sales, support}
    assert group_ids("not (members pr)") == {empty}
    assert group_ids('meta.resourceType eq "Group" and displayName sw "s"') == {sales, support}
    with container.unit_of_work() as session:
        assert user_ids(session, acme, f'groups.value eq "{support}"') == {bob}
        assert user_ids(session, acme, f'groups[value eq "{sales}"]') == {ada, bob}
        query = select(ScimGroup).where(ScimGroup.account_id == acme)
        q = list_query({"sortBy": "displayName", "sortOrder": "descending"}, "Group")
        total, rows = page(session, query, 2, 5, order=q.order_by())
        assert (total, [g.display_name for g in rows]) == (3, ["Sales", "Empty"])
