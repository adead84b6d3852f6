"""A preview of an account's sync settings, saved or changed but not yet saved.

The changes are validated exactly as a save would validate them (``registration``), and the
preview itself (``sync.preview``) reads the scope without writing anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from switchboard.connection.registration import get_registration, patched_policy
from switchboard.db.models import Account
from switchboard.portal.actors import Actor
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.ports import SyncServices
from switchboard.sync.preview import ScopePreview, preview_account


def preview_settings(
    services: SyncServices, actor: Actor, slug: str, changes: Mapping[str, Any] | None = None
) -> ScopePreview:
    """What a full reconcile would make of the users in scope, with ``changes`` (a merge patch
    of the settings, as ``update_settings`` takes) applied first when given."""
    if not changes:
        return preview_account(services, actor, slug)

    def adjust(session: Session, account: Account, _saved: SyncPolicy) -> SyncPolicy:
        registration = get_registration(session, actor, account)
        return patched_policy(session, account, registration, changes)

    return preview_account(services, actor, slug, adjust=adjust)
