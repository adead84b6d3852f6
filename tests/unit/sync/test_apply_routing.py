"""What the applier does with items it does not carry out: nothing reaches the portal."""

from __future__ import annotations

from typing import cast

from sqlalchemy.orm import Session

from switchboard.db.models import Account
from switchboard.portal.actors import Actor, Role
from switchboard.sync.apply import apply_items
from switchboard.sync.mapping import Desired, LocationRef
from switchboard.sync.plan import Action, PlanItem

HQ = LocationRef(1, "HQ")
ADA = Desired("ada@contoso.example", "Ada", "Lovelace", "ada@contoso.example", HQ)
ACTOR = Actor(label="directory-sync", role=Role.ACCOUNT_ADMIN, account_id=1, directory=True)


class NoDatabase:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the applier touched the session ({name})")


def _apply(
    items: list[PlanItem], *, dry_run: bool = False, hold: bool = False
) -> list[tuple[str, str, str | None]]:
    records = apply_items(
        cast(Session, NoDatabase()),
        ACTOR,
        Account(id=1),
        items,
        dry_run=dry_run,
        hold_deletions=hold,
        hold_creates=hold,
    )
    return [(r.action, r.state, r.error_code) for r in records]


def test_unchanged_users_are_counted_not_logged_and_errors_fail() -> None:
    items = [
        PlanItem(Action.SKIP, "a", "a", 1, code="unchanged"),
        PlanItem(Action.SKIP, "b", "b", code="manual_provisioning"),
        PlanItem(Action.ERROR, "c", "c", code="invalid_email", message="bad"),
    ]
    assert _apply(items) == [
        ("skip", "skipped", "manual_provisioning"),
        ("error", "failed", "invalid_email"),
    ]


def test_a_dry_run_plans_every_change_and_makes_none() -> None:
    items = [
        PlanItem(Action.CREATE, "a", "a", desired=ADA),
        PlanItem(Action.DELETE, "b", "b", 2),
    ]
    assert _apply(items, dry_run=True) == [
        ("create", "planned", None),
        ("delete", "planned", None),
    ]


def test_held_deletions_and_creates_wait_for_approval() -> None:
    items = [
        PlanItem(Action.CREATE, "a", "a", desired=ADA),
        PlanItem(Action.DELETE, "b", "b", 2),
    ]
    assert _apply(items, hold=True) == [
        ("create", "pending", None),
        ("delete", "pending", None),
    ]
