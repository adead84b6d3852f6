"""Two accounts connected to one Entra tenant: allowed (a customer may split its users), but
usually a mistake (a tenant id copied from the wrong customer), so it is said at once.

An account admin learns only that another account uses the tenant, never which one; the
provider's operators see the accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, DirectoryRegistration
from switchboard.portal.actors import Actor, Role

ADMIN_WARNING = (
    "another account of your provider already uses this tenant; both will sync users from it."
    " If the tenant id was copied from another customer, disconnect and connect the right one"
)


@dataclass(frozen=True)
class TenantSharing:
    """Who else uses the tenant: ``accounts`` is empty for anyone but an operator."""

    shared: bool
    accounts: list[tuple[str, str]]  # (slug, name), for operators only

    def warnings(self) -> list[str]:
        if not self.shared:
            return []
        if not self.accounts:
            return [ADMIN_WARNING]
        names = ", ".join(f"{name} ({slug})" for slug, name in self.accounts)
        return [
            f"this tenant is already connected to another account: {names}; both will sync"
            " users from it"
        ]


def tenant_sharing(
    session: Session, actor: Actor, account: Account, tenant_id: str
) -> TenantSharing:
    """Other accounts (not terminated) connected to ``tenant_id``."""
    rows = session.execute(
        select(Account.slug, Account.name)
        .join(DirectoryRegistration, DirectoryRegistration.account_id == Account.id)
        .where(
            func.lower(DirectoryRegistration.tenant_id) == tenant_id.strip().lower(),
            Account.id != account.id,
            Account.status != "terminated",
        )
        .order_by(Account.slug)
    ).all()
    operator = actor.role is Role.PROVIDER_ADMIN
    return TenantSharing(bool(rows), [(s, n) for s, n in rows] if operator else [])
