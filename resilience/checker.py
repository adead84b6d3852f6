"""Compare the emulator's truth with the portal's database after a scenario.

What the portal should hold for a directory user is what the product's pure mapping says
(``map_user``): the checker tests that the sync converged to the directory, not the mapping.

- lost: an in-scope, mappable user has no portal user, and the last run reports no error for it
- duplicated: two portal users for one directory id, or for one email
- stale: a portal user's names, email, username, location or status differ from the
  directory, or a synced user is still there though out of scope or deleted in the directory
- wrongly deleted: a user that stayed in scope (same location) at every observation between
  runs lost the portal user it had at the start (deleted, or deleted and created again)
- stuck: a run still ``running`` when the scenario ends
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from resilience.emulator import DirUser, Emulator
from resilience.portal import SLUG, Outcome, Portal
from switchboard.directory.models import DirectoryUser
from switchboard.sync.mapping import Desired, LocationRef, map_user
from switchboard.sync.policy import SyncPolicy

NAMED = {"hq": LocationRef(1, "HQ"), "branch": LocationRef(2, "Branch")}


def desired(user: DirUser, groups: list[str]) -> Desired | None:
    policy = SyncPolicy(groups=groups, default_location="HQ")
    mapped = map_user(DirectoryUser.from_graph({**user.props, "id": user.id}), policy, NAMED)
    return mapped if isinstance(mapped, Desired) else None


class Tracker:
    """Users that stay in scope, at the same location, at every observation between runs."""

    def __init__(self, emulator: Emulator, groups: list[str]) -> None:
        self.emulator = emulator
        self.groups = groups
        self.stable: dict[str, str] | None = None  # directory id -> location name

    def observe(self) -> None:
        now: dict[str, str] = {}
        for uid, user in self.emulator.in_scope(self.groups).items():
            want = desired(user, self.groups)
            if want is not None:
                now[uid] = want.location.name
        if self.stable is None:
            self.stable = now
        else:
            self.stable = {k: v for k, v in self.stable.items() if now.get(k) == v}


@dataclass
class Findings:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    wrongly_deleted: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)


def portal_ids(portal: Portal) -> dict[str, int]:
    """Directory id -> portal user id, for the synced users the portal holds now."""
    rows = portal.sql("select directory_id, id from users where directory_id is not null")
    return {str(d): int(str(i)) for d, i in rows}


def check(
    portal: Portal,
    groups: list[str],
    *,
    baseline: dict[str, int] | None = None,
    tracker: Tracker | None = None,
) -> Findings:
    found = Findings()
    truth = portal.emulator.in_scope(groups)
    rows = portal.sql(
        "select u.id, u.directory_id, u.username, u.first_name, u.last_name, u.email,"
        " l.name, u.status from users u join locations l on l.id = u.location_id"
    )
    by_dir: dict[str, list[tuple[object, ...]]] = {}
    by_email: dict[str, int] = {}
    for row in rows:
        by_email[str(row[5]).casefold()] = by_email.get(str(row[5]).casefold(), 0) + 1
        if row[1] is not None:
            by_dir.setdefault(str(row[1]), []).append(row)
    found.duplicated += [d for d, rs in by_dir.items() if len(rs) > 1]
    found.duplicated += [e for e, n in by_email.items() if n > 1]
    reported = reported_errors(portal)
    for uid, user in truth.items():
        want = desired(user, groups)
        if want is None:
            continue
        held = by_dir.get(uid)
        if not held:
            if uid not in reported:
                found.lost.append(uid)
            continue
        row = held[0]
        active = bool(user.props.get("accountEnabled", True))
        have = (row[2], row[3], row[4], row[5], row[6], row[7] == "active")
        expect = (
            want.username,
            want.first_name,
            want.last_name,
            want.email,
            want.location.name,
            active,
        )
        if have != expect:
            found.stale.append(uid)
    found.stale += [d for d in by_dir if d not in truth]
    if baseline is not None and tracker is not None and tracker.stable is not None:
        now = {d: int(str(rs[0][0])) for d, rs in by_dir.items()}
        found.wrongly_deleted = [
            d for d in tracker.stable if d in baseline and now.get(d) != baseline[d]
        ]
    found.stuck = [
        str(r[0])
        for r in portal.sql("select id from sync_runs where status = 'running' and dry_run = false")
    ]
    return found


def reported_errors(portal: Portal) -> set[str]:
    """Directory ids the latest finished run reported as failed (an admin sees why)."""
    latest = portal.sql(
        "select id from sync_runs where dry_run = false and status <> 'running'"
        " order by id desc limit 1"
    )
    if not latest:
        return set()
    rows = portal.sql(
        "select directory_id from sync_run_items where run_id = :run and state = 'failed'"
        " and directory_id is not null",
        run=latest[0][0],
    )
    return {str(r[0]) for r in rows}


@dataclass
class Convergence:
    blocked_seconds: float = 0.0
    refused: bool = False  # still refused when the block limit ran out
    outcome: Outcome | None = None


def converge(portal: Portal, block_limit: float, blocked_since: float | None = None) -> Convergence:
    """A final full reconcile, retried while a start is refused until the account has been
    blocked ``block_limit`` s (counted from ``blocked_since`` when starts were already being
    refused); a run held by the deletion guard is approved, as an admin who checked it would."""
    result = Convergence()
    first_refusal = blocked_since
    while True:
        out = portal.run("directory", "reconcile", SLUG)
        result.outcome = out
        if not out.refused:
            break
        first_refusal = first_refusal or time.monotonic() - out.seconds
        result.blocked_seconds = time.monotonic() - first_refusal
        if result.blocked_seconds > block_limit:
            result.refused = True
            return result
        time.sleep(2)
    latest = portal.latest_run()
    if latest is not None and latest[1] == "held":
        portal.run("directory", "approve", SLUG, str(latest[0]))
    return result
