"""Changes of one directory user by the directory sync: a batch of one of ``bulk``, so one user
or 100,000 go through the same rules, writes, audit and events; and linking, which adopts an
existing portal user as the directory user.

Each takes an actor of the directory sync, the only caller allowed to change what Entra ID
owns, and raises the error that refused the change.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from switchboard.db.models import Account, User
from switchboard.portal.actors import Actor, Role
from switchboard.portal.errors import Conflict, PortalError
from switchboard.portal.schemas import UserPatch
from switchboard.portal.users import writes
from switchboard.portal.users.admin import update_user
from switchboard.portal.users.bulk import (
    DirectoryFields,
    NewDirectoryUser,
    Relocation,
    provision_many,
    relocate_many,
    require_sync,
    update_many,
)
from switchboard.portal.users.queries import get_user, synced_user_id
from switchboard.portal.users.rules import AccountKeys


def sync_actor(account: Account, run_number: int | None = None) -> Actor:
    """Least privilege: the sync may change one account, nothing else. ``run_number``: the run
    it acts for, recorded on its audit entries."""
    return Actor(
        label="directory-sync",
        role=Role.ACCOUNT_ADMIN,
        account_id=account.id,
        directory=True,
        run_number=run_number,
    )


def _one(session: Session, actor: Actor, account: Account, outcome: int | PortalError) -> User:
    if isinstance(outcome, PortalError):
        raise outcome
    return get_user(session, actor, account, outcome)


def provision(session: Session, actor: Actor, account: Account, entry: NewDirectoryUser) -> User:
    """Create a directory user (extension picked from the dial plan)."""
    keys = AccountKeys.load(session, account, [entry.data], [entry.directory_id])
    (outcome,) = provision_many(session, actor, account, keys, [entry])
    return _one(session, actor, account, outcome)


def apply_directory_fields(
    session: Session, actor: Actor, account: Account, entry: DirectoryFields
) -> User:
    """Bring the fields Entra ID owns, and the disabled flag, in line with the directory."""
    keys = AccountKeys.load(session, account, [entry.data], [])
    (outcome,) = update_many(session, actor, account, keys, [entry])
    return _one(session, actor, account, outcome)


def relocate(session: Session, actor: Actor, account: Account, entry: Relocation) -> User:
    """The directory moved the user: delete and recreate at the new location.

    Extension and license carry over; the old location's numbers are released; voicemails and
    recordings follow the user to its new record.
    """
    keys = AccountKeys.load(session, account, [entry.data], [])
    (outcome,) = relocate_many(session, actor, account, keys, [entry])
    return _one(session, actor, account, outcome)


def link(
    session: Session,
    actor: Actor,
    account: Account,
    directory_id: str,
    entry: DirectoryFields,
) -> User:
    """Adopt an existing portal user as the directory user: linked, not duplicated; then
    ``entry`` brings what Entra ID owns in line."""
    require_sync(actor, account, "only the directory sync can do this")
    user = get_user(session, actor, account, entry.user_id)
    if user.directory_id not in (None, directory_id):
        raise Conflict(
            f"portal user {user.username} is already synced from another Entra ID user",
            field="directory_id",
            code="already_linked",
        )
    if synced_user_id(session, account.id, directory_id) not in (None, user.id):
        raise Conflict(
            "another portal user is already synced from this Entra ID user",
            field="directory_id",
            code="already_linked",
        )
    user.directory_id = directory_id
    user.source = "directory"
    writes.changed(
        session, actor, account.id, [(user.id, ["source", "directory_id"])], action="user.linked"
    )
    location_id = entry.data.location_id
    if user.location_id != location_id:
        # Linking puts the user where the directory says; numbers of the old place go back.
        update_user(
            session,
            actor,
            account,
            user.id,
            UserPatch(
                location_id=location_id,
                phone_numbers=[n.e164 for n in user.numbers if n.location_id == location_id],
            ),
        )
    return apply_directory_fields(session, actor, account, entry)
