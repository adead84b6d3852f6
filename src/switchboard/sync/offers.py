"""Manual provisioning: directory users in scope that an admin may add ("From directory").

Runs record such users as skipped with code ``manual_provisioning``; the offers are those of
the latest full reconcile and the rounds after it, less users the portal now holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, SyncRun, SyncRunItem, User
from switchboard.portal.actors import Actor

OFFERED = "manual_provisioning"
LEFT = "out_of_scope"
SHOWN = ("name", "email", "office", "location")


@dataclass(frozen=True)
class Offer:
    directory_id: str
    username: str | None
    run_number: int  # the account's number of the run that offered the user
    seen_at: datetime
    # As the run saw them (empty for offers recorded before runs kept them).
    name: str = ""
    email: str = ""
    office: str = ""
    location: str = ""

    def matches(self, words: str) -> bool:
        """Each word of ``words`` is in the name, email, username or office (ignoring case)."""
        text = " ".join((self.name, self.email, self.username or "", self.office)).casefold()
        return all(word in text for word in words.casefold().split())


def search(found: list[Offer], words: str) -> list[Offer]:
    """The offers that match every word of ``words``; all of them when it is blank."""
    return [o for o in found if o.matches(words)] if words.strip() else found


def list_offers(session: Session, actor: Actor, account: Account) -> list[Offer]:
    actor.require_read(account.id)
    since = session.scalar(
        select(SyncRun.id)
        .where(
            SyncRun.account_id == account.id,
            SyncRun.kind == "full",
            SyncRun.dry_run.is_(False),
            SyncRun.status != "failed",
        )
        .order_by(SyncRun.id.desc())
        .limit(1)
    )
    if since is None:
        return []
    rows = session.execute(
        select(
            SyncRunItem.directory_id,
            SyncRunItem.username,
            SyncRun.number,
            SyncRun.started_at,
            SyncRunItem.error_code,
            SyncRunItem.details,
        )
        .join(SyncRun, SyncRun.id == SyncRunItem.run_id)
        .where(
            SyncRun.account_id == account.id,
            SyncRun.id >= since,
            SyncRun.dry_run.is_(False),
            SyncRunItem.error_code.in_((OFFERED, LEFT)),
        )
        .order_by(SyncRun.id, SyncRunItem.id)
    )
    latest: dict[str, Offer] = {}
    for directory_id, username, number, started_at, code, details in rows:
        if not directory_id:
            continue
        if code == LEFT:  # a later run found the user outside the synced groups
            latest.pop(directory_id, None)
        else:
            shown = {k: str(v) for k, v in (details or {}).items() if k in SHOWN}
            latest[directory_id] = Offer(directory_id, username, number, started_at, **shown)
    held = set(
        session.scalars(
            select(User.directory_id).where(
                User.account_id == account.id, User.directory_id.in_(list(latest))
            )
        )
    )
    return sorted(
        (o for d, o in latest.items() if d not in held),
        key=lambda o: ((o.name or o.username or "").casefold(), o.directory_id),
    )
