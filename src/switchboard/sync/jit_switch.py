"""Switching an account into or out of jit mode acts on its subscriptions at once.

Every way of changing the sync settings (UI, API, CLI) saves them through
``connection.registration.update_settings`` and then, once that has committed, calls
``after_mode_change``. Entering jit creates the account's Graph subscriptions now instead of at
the scheduler's next tick; Graph validates the notification endpoint while it creates them, so
this runs outside any transaction. Leaving jit: the ``JitEnded`` listener forgot and deleted
them when the change committed; ``maintain`` clears whatever is left. A failure is told in
words; the mode stays saved, and the scheduler's subscription upkeep tries again later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from switchboard.sync import subscription_upkeep
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.ports import SyncServices

Outcome = Literal["subscribed", "no_public_url", "failed", "left"]


@dataclass(frozen=True)
class JitSwitch:
    """What switching the mode did to the account's change-notification subscriptions."""

    outcome: Outcome
    created: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def note(self, slug: str) -> str:
        """The sentence an admin reads after saving the settings."""
        if self.outcome == "left":
            return (
                "Just in time is off: the account's change-notification subscriptions, if any,"
                " were removed."
            )
        if self.outcome == "subscribed":
            return (
                "Just in time is on: subscribed to Entra ID's change notifications"
                f" ({', '.join(self.created) or 'users, groups'}); a change in the directory"
                " now reaches the portal within a second or so."
            )
        if self.outcome == "no_public_url":
            return (
                "Just in time is on, but Switchboard cannot subscribe to Entra ID's change"
                " notifications from here: SWITCHBOARD_PUBLIC_URL is not set (the portal's https"
                " address as Graph reaches it). A running portal or worker that has it"
                " subscribes on its next tick; until one does, the account syncs only by its"
                " daily safety-net rounds."
            )
        return (
            "Just in time is on, but subscribing to Entra ID's change notifications failed: "
            + "; ".join(self.problems)
            + ". The scheduler tries again on its next tick; `switchboard directory"
            f" subscriptions {slug} --ensure` tries now."
        )


def after_mode_change(
    services: SyncServices, account_id: int, before: SyncPolicy, after: SyncPolicy
) -> JitSwitch | None:
    """Create or remove the subscriptions when the mode entered or left jit; None otherwise.
    Call after the settings change has committed."""
    entered = after.mode == "jit" and before.mode != "jit"
    left = before.mode == "jit" and after.mode != "jit"
    if not (entered or left):
        return None
    if left:
        report = subscription_upkeep.maintain(services, account_id)
        return JitSwitch("left", problems=report.errors)
    if services.settings.public_url is None:
        return JitSwitch("no_public_url")
    report = subscription_upkeep.maintain(services, account_id)
    if report.errors:
        return JitSwitch("failed", created=report.created, problems=report.errors)
    return JitSwitch("subscribed", created=report.created + report.recreated)
