"""The deletion guard's scenarios from the issue, and a large delta backlog under throttling."""

from __future__ import annotations

from resilience.checker import Tracker, check, desired, portal_ids
from resilience.portal import SLUG, Portal
from resilience.report import Row
from resilience.scenarios import Context, finish, prepared


def _held(portal: Portal) -> int | None:
    latest = portal.latest_run()
    return latest[0] if latest is not None and latest[1] == "held" else None


def leave_and_return(ctx: Context, kind: str) -> Row:
    """Users leave a synced group, the run is held, they are added back, then Approve: none of
    them may be deleted."""
    row = Row(f"guard: {ctx.leavers} leave, held, return, approve", kind)
    emu = ctx.emulator
    with prepared(ctx, kind) as portal:
        portal.baseline = portal_ids(portal)
        users, groups = emu.snapshot()
        others = set()
        for gid in ctx.groups[1:]:
            others |= {m for m, k in groups[gid].items() if k == "user"}
        leavers = sorted(
            uid
            for uid, k in groups[ctx.groups[0]].items()
            if k == "user"
            and uid not in others
            and uid in portal.baseline
            and uid in users
            and desired(users[uid], ctx.groups) is not None
        )[: ctx.leavers]
        if len(leavers) < ctx.leavers:
            row.notes.append(f"only {len(leavers)} users could leave the group")
        emu.remove_members(ctx.groups[0], leavers)
        portal.run("directory", "reconcile", SLUG)
        held = _held(portal)
        emu.add_members(ctx.groups[0], leavers)
        if held is None:
            row.misses.append(f"the run with {len(leavers)} deletions was not held")
        else:
            portal.run("directory", "approve", SLUG, str(held))
        now = portal_ids(portal)
        gone = [u for u in leavers if now.get(u) != portal.baseline[u]]
        row.wrongly_deleted += len(gone)
        row.notes.append(f"approve deleted {len(gone)} of {len(leavers)} returned users")
        return finish(row, portal, ctx)


def wrong_scope(ctx: Context, kind: str) -> Row:
    """Scope set to a wrong group: the full run is held; delta rounds over a churning tenant
    must delete nobody who is still in the right scope."""
    row = Row("guard: wrong group, delta rounds", kind)
    emu = ctx.emulator
    with prepared(ctx, kind) as portal:
        portal.baseline = portal_ids(portal)
        tracker = Tracker(emu, ctx.groups)
        tracker.observe()
        portal.set_groups([ctx.spare_group])
        portal.run("directory", "reconcile", SLUG)
        held = _held(portal)
        if held is None:
            row.misses.append("the full run under the wrong group was not held")
        before = len(portal_ids(portal))
        for _ in range(max(ctx.rounds, 4)):
            emu.churn(ctx.churn, ctx.churn_seed())
            tracker.observe()
            portal.run("directory", "delta", SLUG)
        wrong = check(portal, ctx.groups, baseline=portal.baseline, tracker=tracker)
        row.wrongly_deleted += len(wrong.wrongly_deleted)
        row.notes.append(
            f"delta rounds deleted {len(wrong.wrongly_deleted)} users still in the right scope"
            f" ({before} synced users before them)"
        )
        portal.set_groups(ctx.groups)
        held = _held(portal) or held
        if held is not None:
            portal.run("directory", "reject", SLUG, str(held))
        # The final check's own wrong-deletion count would repeat the one above.
        portal.baseline = None
        return finish(row, portal, ctx, tracker)


def backlog(ctx: Context, kind: str) -> Row:
    """A delta backlog of many changes under the emulator's throttling converges within two
    runs (a held run is approved in between, as an admin would)."""
    row = Row(f"delta backlog of {ctx.backlog:,} under throttling", kind)
    emu = ctx.emulator
    with prepared(ctx, kind) as portal:
        portal.baseline = portal_ids(portal)
        tracker = Tracker(emu, ctx.groups)
        tracker.observe()
        emu.churn(ctx.backlog, ctx.churn_seed())
        tracker.observe()
        emu.control("PATCH", "/throttle", {"enabled": True})
        statuses = []
        for _ in range(2):
            portal.run("directory", "delta", SLUG, timeout=1800)
            latest = portal.latest_run()
            statuses.append(latest[1] if latest else "none")
            held = _held(portal)
            if held is not None:
                portal.run("directory", "approve", SLUG, str(held))
            found = check(portal, ctx.groups)
            if not (found.lost or found.stale or found.duplicated):
                break
        row.notes.append("runs: " + ", ".join(statuses))
        found = check(portal, ctx.groups)
        if found.lost or found.stale:
            row.misses.append(
                f"not converged after {len(statuses)} runs:"
                f" {len(found.lost)} missing, {len(found.stale)} stale"
            )
        return finish(row, portal, ctx, tracker)
