"""Service functions the directory sync uses on portal users (still the one write path).

They build on portal.users and require an actor of the directory sync, the only caller allowed
to change what Entra ID owns.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, Media, User
from switchboard.portal import audit
from switchboard.portal.actors import Actor, Role
from switchboard.portal.errors import Conflict, ValidationFailed
from switchboard.portal.schemas import UserIn, UserPatch
from switchboard.portal.users import (
    create_user,
    delete_user,
    get_user,
    set_directory_status,
    update_user,
)


def sync_actor(account: Account) -> Actor:
    """Least privilege: the sync may change one account, nothing else."""
    return Actor(
        label="directory-sync", role=Role.ACCOUNT_ADMIN, account_id=account.id, directory=True
    )


def _require_sync(actor: Actor) -> None:
    if not actor.directory:
        raise ValidationFailed("only the directory sync can do this", field="source")


def provision(
    session: Session,
    actor: Actor,
    account: Account,
    data: UserIn,
    *,
    directory_id: str,
    enabled: bool,
) -> User:
    """Create a directory user (extension picked from the dial plan)."""
    _require_sync(actor)
    user = create_user(session, actor, account, data, directory_id=directory_id)
    if not enabled:
        set_directory_status(session, actor, account, user.id, enabled=False)
    return user


def apply_directory_fields(
    session: Session,
    actor: Actor,
    account: Account,
    user_id: int,
    data: UserIn,
    *,
    enabled: bool,
) -> User:
    """Bring the fields Entra ID owns, and the disabled flag, in line with the directory."""
    _require_sync(actor)
    patch = UserPatch(
        username=data.username,
        first_name=data.first_name,
        last_name=data.last_name,
        email=data.email,
    )
    update_user(session, actor, account, user_id, patch)
    return set_directory_status(session, actor, account, user_id, enabled=enabled)


def link(
    session: Session,
    actor: Actor,
    account: Account,
    user_id: int,
    directory_id: str,
    data: UserIn,
    *,
    enabled: bool,
) -> User:
    """Adopt an existing portal user as the directory user: linked, not duplicated."""
    _require_sync(actor)
    user = get_user(session, actor, account, user_id)
    if user.directory_id not in (None, directory_id):
        raise Conflict(
            f"portal user {user.username} is already synced from another Entra ID user",
            field="directory_id",
            code="already_linked",
        )
    taken = session.scalar(
        select(User.id).where(
            User.account_id == account.id, User.directory_id == directory_id, User.id != user.id
        )
    )
    if taken is not None:
        raise Conflict(
            "another portal user is already synced from this Entra ID user",
            field="directory_id",
            code="already_linked",
        )
    user.directory_id = directory_id
    user.source = "directory"
    audit.record(
        session,
        actor,
        "user.linked",
        account_id=account.id,
        object_type="user",
        object_id=user.id,
        fields=["source", "directory_id"],
    )
    if user.location_id != data.location_id:
        # Linking puts the user where the directory says; numbers of the old place go back.
        update_user(
            session,
            actor,
            account,
            user.id,
            UserPatch(
                location_id=data.location_id,
                phone_numbers=[n.e164 for n in user.numbers if n.location_id == data.location_id],
            ),
        )
    return apply_directory_fields(session, actor, account, user.id, data, enabled=enabled)


def relocate(
    session: Session,
    actor: Actor,
    account: Account,
    user_id: int,
    data: UserIn,
    *,
    enabled: bool,
) -> User:
    """The directory moved the user: delete and recreate at the new location.

    Extension and license carry over; the old location's numbers are released; voicemails and
    recordings follow the user to its new record.
    """
    _require_sync(actor)
    old = get_user(session, actor, account, user_id)
    directory_id = old.directory_id
    if directory_id is None:
        raise ValidationFailed("only directory users are relocated by the sync", field="source")
    extension = old.extension
    license_name = old.license.name if old.license else None
    media_ids = list(session.scalars(select(Media.id).where(Media.user_id == old.id)))
    delete_user(session, actor, account, old.id)
    new = create_user(
        session,
        actor,
        account,
        data.model_copy(
            update={"extension": extension, "license": license_name, "phone_numbers": []}
        ),
        directory_id=directory_id,
    )
    for media in session.scalars(select(Media).where(Media.id.in_(media_ids))):
        media.user_id = new.id
    if not enabled:
        set_directory_status(session, actor, account, new.id, enabled=False)
    audit.record(
        session,
        actor,
        "user.relocated",
        account_id=account.id,
        object_type="user",
        object_id=new.id,
        fields=["location_id", "phone_numbers"],
    )
    return new
