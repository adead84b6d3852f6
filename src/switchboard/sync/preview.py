"""A preview of the sync settings: how the users in scope would land in the portal, read the way
a full reconcile reads them and decided by the same mapping and plan rules, with no writes.

Built for a first sync as much as for a change: how many users each location gets, which
directory values map to no location, who misses a required attribute, and what a reconcile
would do. Memory stays bounded for a large tenant: the read streams and the preview keeps
counters and a few example users (the planner's claimed emails and usernames aside, as in a
real run), never the users or the plan's items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from switchboard.db.models import Account
from switchboard.directory.errors import GraphError, GraphThrottled
from switchboard.directory.models import DirectoryUser
from switchboard.directory.source import DirectorySource
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Actor
from switchboard.portal.errors import Conflict
from switchboard.sync import queries
from switchboard.sync.mapping import LocationRef, resolve_location, text_of
from switchboard.sync.plan import Action, Observation, PlanItem, PortalUser
from switchboard.sync.planner import Planner, creation_hold, deletion_hold
from switchboard.sync.policy import SyncPolicy, rescoped_fields
from switchboard.sync.ports import SyncServices

# Example users kept per value, attribute or problem.
EXAMPLES = 3
# Distinct unmapped values listed; users with further values are counted together.
UNMAPPED_VALUES_MAX = 100
# What the planner's error codes mean, in words (the mapping's own two are counted apart).
PROBLEMS = {
    "duplicate_email": "Email used by another user",
    "duplicate_username": "Username used by another user",
    "ambiguous_match": "Name matches several portal users",
    "invalid_email": "Email is not a valid address",
    "invalid_attribute": "Name or username cannot be used",
}
COUNTED_APART = frozenset({"unmapped_location", "missing_attribute"})
# The outcomes of a reconcile, in the order the preview lists them.
OUTCOMES = ("create", "link", "update", "relocate", "enable", "disable", "unchanged", "offered")


@dataclass
class Tally:
    """Users that share something (a directory value, a missing attribute, a problem)."""

    label: str
    count: int = 0
    examples: list[str] = field(default_factory=list)
    detail: str | None = None  # a first example of the message a run would record

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)


@dataclass
class ScopePreview:
    read: int = 0  # users in scope
    ready: int = 0  # users whose every mapped attribute and location is usable
    # Every location of the account -> users placed there (zero included), by name.
    by_location: dict[str, int] = field(default_factory=dict)
    # Case-folded directory value ("" when empty) -> the users whose value matches no location.
    unmapped: dict[str, Tally] = field(default_factory=dict)
    unmapped_unlisted: int = 0  # users with values beyond UNMAPPED_VALUES_MAX distinct ones
    # "first name", "last name", "email" -> users whose mapped source is empty.
    missing: dict[str, Tally] = field(default_factory=dict)
    missing_users: int = 0  # users missing at least one of them (counted once)
    outcomes: dict[str, int] = field(default_factory=dict)  # see OUTCOMES; "error" too
    problems: dict[str, Tally] = field(default_factory=dict)  # planner error code -> users
    deletions: int = 0  # synced users a reconcile would delete (no longer in scope)
    hold: str | None = None  # why the guards would hold that reconcile

    @property
    def unmapped_users(self) -> int:
        return sum(t.count for t in self.unmapped.values()) + self.unmapped_unlisted

    def as_dict(self) -> dict[str, object]:
        def tallies(found: dict[str, Tally], key: str) -> list[dict[str, object]]:
            return [
                {key: k, "label": t.label, "users": t.count, "examples": t.examples}
                | ({"message": t.detail} if t.detail else {})
                for k, t in found.items()
            ]

        return {
            "users": self.read,
            "ready": self.ready,
            "locations": [{"location": n, "users": c} for n, c in self.by_location.items()],
            "unmapped_values": tallies(self.unmapped, "value"),
            "unmapped_unlisted_users": self.unmapped_unlisted,
            "missing_attributes": tallies(self.missing, "attribute"),
            "missing_users": self.missing_users,
            "reconcile": self.outcomes,
            "problems": tallies(self.problems, "code"),
            "deletions": self.deletions,
            "guard_hold": self.hold,
        }


class _Counter:
    def __init__(
        self, policy: SyncPolicy, locations: Sequence[LocationRef], planner: Planner
    ) -> None:
        self.policy = policy
        self.by_name = {loc.name.casefold(): loc for loc in locations}
        self.planner = planner
        planner.plan.keep = False  # the preview counts items as they come
        self.result = ScopePreview(by_location={loc.name: 0 for loc in sorted_names(locations)})
        self.outcomes: Counter[str] = Counter()

    def observe(self, user: DirectoryUser) -> None:
        result = self.result
        result.read += 1
        name = user.user_principal_name or user.id
        self._location(user, name)
        self._required(user, name)
        for item in self.planner.observe(Observation(user.id, user, True)):
            self._outcome(item, name)

    def _location(self, user: DirectoryUser, name: str) -> None:
        value = text_of(user, self.policy.mapping.location)
        found = resolve_location(value, self.policy, self.by_name)
        result = self.result
        if found is not None:
            result.by_location[found.name] = result.by_location.get(found.name, 0) + 1
            return
        key = value.casefold()
        tally = result.unmapped.get(key)
        if tally is None:
            if len(result.unmapped) >= UNMAPPED_VALUES_MAX:
                result.unmapped_unlisted += 1
                return
            tally = result.unmapped[key] = Tally(value)
        tally.add(name)

    def _required(self, user: DirectoryUser, name: str) -> None:
        m = self.policy.mapping
        email = text_of(user, m.email) or (
            text_of(user, m.email_fallback) if m.email_fallback else ""
        )
        absent = [
            label
            for label, value in (
                ("first name", text_of(user, m.first_name)),
                ("last name", text_of(user, m.last_name)),
                ("email", email),
            )
            if not value
        ]
        for label in absent:
            self.result.missing.setdefault(label, Tally(label)).add(name)
        if absent:
            self.result.missing_users += 1

    def _outcome(self, item: PlanItem, name: str) -> None:
        if item.action is Action.ERROR:
            self.outcomes["error"] += 1
            code = item.code or "error"
            if code in COUNTED_APART:
                return
            tally = self.result.problems.setdefault(code, Tally(PROBLEMS.get(code, code)))
            tally.detail = tally.detail or item.message
            tally.add(name)
            return
        if item.action is Action.SKIP:
            self.outcomes["offered" if item.code == "manual_provisioning" else "unchanged"] += 1
        else:
            self.outcomes[item.action.value] += 1
        self.result.ready += 1

    def finish(self, *, guard_creations: bool) -> ScopePreview:
        swept = self.planner.finish(full=True)
        result = self.result
        result.deletions = sum(1 for i in swept if i.action is Action.DELETE)
        linked = self.planner.index.linked_count
        holds = [deletion_hold(self.policy, result.deletions, linked, result.read, full=True)]
        if guard_creations:
            holds.append(creation_hold(self.policy, self.outcomes["create"], linked))
        result.hold = "; ".join(h for h in holds if h) or None
        ordered = [*OUTCOMES, "error"]
        result.outcomes = {k: self.outcomes[k] for k in ordered if self.outcomes[k]}
        result.unmapped = dict(sorted(result.unmapped.items(), key=lambda kv: -kv[1].count))
        order = ("first name", "last name", "email")
        result.missing = {k: result.missing[k] for k in order if k in result.missing}
        return result


def sorted_names(locations: Iterable[LocationRef]) -> list[LocationRef]:
    return sorted(locations, key=lambda loc: loc.name.casefold())


def preview_scope(
    directory: DirectorySource,
    policy: SyncPolicy,
    locations: Sequence[LocationRef],
    portal_users: Iterable[PortalUser],
    *,
    guard_creations: bool = True,
) -> ScopePreview:
    """Read the users in scope as a full reconcile would and count what would become of them."""
    planner = Planner(portal_users, policy, locations, guard_creations=guard_creations)
    counter = _Counter(policy, locations, planner)
    for user in directory.users_in_scope(policy.groups, policy.select()):
        counter.observe(user)
    return counter.finish(guard_creations=guard_creations)


# Turns the stored settings into the ones to preview (unsaved changes, validated); in
# ``switchboard.connection``, which owns the settings' validation.
Adjust = Callable[[Session, Account, SyncPolicy], SyncPolicy]


def preview_account(
    services: SyncServices, actor: Actor, slug: str, *, adjust: Adjust | None = None
) -> ScopePreview:
    """The preview of an account's settings (with ``adjust``: changed ones, before saving).

    Reads Entra ID outside any transaction; writes nothing. Conflict when the account is not
    connected or Entra ID cannot be read (in words, as a run would report it).
    """
    with services.unit_of_work() as session:
        account = get_account(session, actor, slug, write=True)
        registration = queries.registration(session, account.id)
        if registration is None:
            raise Conflict(
                f"account '{slug}' is not connected to Entra ID; connect it first",
                code="not_connected",
            )
        saved = SyncPolicy.model_validate(registration.policy or {})
        policy = adjust(session, account, saved) if adjust else saved
        locations = queries.locations(session, account.id)
        portal = queries.portal_users(session, account.id)
        # A changed scope or mapping is reconciled under the creation guard, as after a save.
        guard_creations = queries.scope_changed(session, account.id) or bool(
            rescoped_fields(saved, policy)
        )
        directory = services.directory_factory()(registration)
    try:
        return preview_scope(directory, policy, locations, portal, guard_creations=guard_creations)
    except GraphThrottled as exc:
        raise Conflict(
            f"Entra ID asked to wait {int(exc.wait_seconds)} seconds before more reads;"
            " preview again after that",
            code="directory_throttled",
        ) from None
    except GraphError as exc:
        message = f"Entra ID: {exc.message}"
        if exc.request_id:
            message += f" (request-id {exc.request_id})"
        raise Conflict(
            message + "; test the connection on the Directory tab to see what to fix",
            code="directory_unreadable",
        ) from None
    finally:
        directory.close()
