"""/api/v1/sync-status: the directory sync health of every account the caller may read."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from switchboard.sync import fleet_health, fleet_status
from switchboard.web.deps import DB, Caller, container

router = APIRouter(tags=["directory sync"])


class RunBriefOut(BaseModel):
    number: int = Field(description="the run's number within its account")
    kind: str = Field(description="full or delta")
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    age_seconds: int = Field(description="seconds since it finished (or started, while running)")
    message: str | None

    @classmethod
    def of(cls, r: fleet_health.RunBrief | None) -> RunBriefOut | None:
        if r is None:
            return None
        return cls(
            number=r.number,
            kind=r.kind,
            trigger=r.trigger,
            status=r.status,
            started_at=r.started_at,
            finished_at=r.finished_at,
            age_seconds=r.age_seconds,
            message=r.message,
        )


class ConnectionOut(BaseModel):
    connected: bool = Field(description="the account has an Entra ID registration")
    last_test: str = Field(description="passed, failed, or never (not tested yet)")
    last_test_message: str | None


class ErrorsOut(BaseModel):
    count: int = Field(description="users the last run failed for")
    first: list[str] = Field(description="the first few of their messages")


class HeldOut(BaseModel):
    count: int = Field(description="runs whose deletions (or creates) wait for approval")
    oldest_number: int | None
    oldest_age_seconds: int | None


class SubscriptionsOut(BaseModel):
    state: str | None = Field(
        description="just-in-time accounts: ok, missing, expiring (within 24 hours) or"
        " expired; null for other modes"
    )
    missing: list[str] = Field(description="the resources (users, groups) without one")
    expires_at: datetime | None = Field(description="when the first of them expires")


class NextRunOut(BaseModel):
    kind: str = Field(description="full or delta when due now; none otherwise")
    at: datetime | None = Field(description="when the next run is due (null: never)")
    due_now: bool
    reason: str


class AccountSyncStatusOut(BaseModel):
    account: str = Field(description="the account's slug")
    name: str
    mode: str | None = Field(description="on_demand, batched or jit; null when not connected")
    connection: ConnectionOut
    last_run: RunBriefOut | None = Field(description="the newest full or delta run")
    last_success: RunBriefOut | None = Field(
        description="the newest full or delta run that did its work (succeeded, or partial:"
        " it failed for some users only)"
    )
    errors: ErrorsOut
    held_runs: HeldOut
    subscriptions: SubscriptionsOut
    next_run: NextRunOut | None = Field(description="null when not connected")
    writebacks_failing: int = Field(description="two-way writes Entra ID refused")
    needs_attention: bool
    reasons: list[str] = Field(description="why it needs attention, in words")

    @classmethod
    def of(cls, h: fleet_health.AccountHealth) -> AccountSyncStatusOut:
        return cls(
            account=h.slug,
            name=h.name,
            mode=h.mode,
            connection=ConnectionOut(
                connected=h.connected,
                last_test="never" if h.test_ok is None else ("passed" if h.test_ok else "failed"),
                last_test_message=h.test_message,
            ),
            last_run=RunBriefOut.of(h.last_run),
            last_success=RunBriefOut.of(h.last_success),
            errors=ErrorsOut(count=h.errors, first=h.first_errors),
            held_runs=HeldOut(
                count=h.held_runs,
                oldest_number=h.oldest_held_number,
                oldest_age_seconds=h.oldest_held_age_seconds,
            ),
            subscriptions=SubscriptionsOut(
                state=h.subscriptions,
                missing=h.subscriptions_missing,
                expires_at=h.subscriptions_expire_at,
            ),
            next_run=(
                NextRunOut(
                    kind=h.next_run.kind,
                    at=h.next_run.at,
                    due_now=h.next_run.due_now,
                    reason=h.next_run.reason,
                )
                if h.next_run is not None
                else None
            ),
            writebacks_failing=h.writebacks_failing,
            needs_attention=h.needs_attention,
            reasons=h.reasons,
        )


class SyncStatusOut(BaseModel):
    items: list[AccountSyncStatusOut] = Field(description="those needing attention first")
    total: int = Field(description="accounts listed")
    needing_attention: int = Field(description="of which need attention")


@router.get("/sync-status")
def sync_status(
    request: Request, session: DB, actor: Caller, needs_attention: bool = False
) -> SyncStatusOut:
    """The directory sync health of each account: a provider admin sees every account, an
    account's admins and viewers their own. ``needs_attention=true`` lists only the accounts
    an operator should look at (failing connection test, failed last run, a held run, stale,
    subscriptions missing or expiring, failing write-backs)."""
    lease = timedelta(seconds=container(request).settings.run_lease_seconds)
    rows = fleet_status.fleet(session, actor, lease=lease)
    shown = [r for r in rows if r.needs_attention] if needs_attention else rows
    return SyncStatusOut(
        items=[AccountSyncStatusOut.of(r) for r in shown],
        total=len(shown),
        needing_attention=sum(1 for r in rows if r.needs_attention),
    )
