"""Who is acting, and what they may touch. Every service call receives an Actor."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from switchboard.portal.errors import Forbidden, NotFound


class Role(StrEnum):
    PROVIDER_ADMIN = "provider_admin"
    ACCOUNT_ADMIN = "account_admin"
    ACCOUNT_VIEWER = "account_viewer"


@dataclass(frozen=True)
class Actor:
    """The caller of a service function.

    ``label`` is what the audit trail records; ``account_id`` scopes account roles to one account.
    ``directory`` marks the directory sync path, the only one allowed to change the fields Entra ID
    owns on directory users; ``run_number`` names the sync run it acts for (audit entries link it).
    """

    label: str
    role: Role
    account_id: int | None = None
    principal_id: int | None = None
    directory: bool = False
    run_number: int | None = None  # the account's sync run acting, for the audit trail

    def can_read(self, account_id: int) -> bool:
        return self.role is Role.PROVIDER_ADMIN or self.account_id == account_id

    def can_write(self, account_id: int) -> bool:
        if self.role is Role.PROVIDER_ADMIN:
            return True
        return self.role is Role.ACCOUNT_ADMIN and self.account_id == account_id

    def require_read(self, account_id: int) -> None:
        # Another tenant's account is reported as missing, so its existence is not revealed.
        if not self.can_read(account_id):
            raise NotFound("account not found", code="account_not_found")

    def require_write(self, account_id: int) -> None:
        self.require_read(account_id)
        if not self.can_write(account_id):
            raise Forbidden(f"the role {self.role.value} can only read this account")

    def require_provider(self) -> None:
        if self.role is not Role.PROVIDER_ADMIN:
            raise Forbidden("only a provider_admin can do this")


def system_actor(label: str = "system") -> Actor:
    """The operator at the command line, or the process itself (retention purge)."""
    return Actor(label=label, role=Role.PROVIDER_ADMIN)
