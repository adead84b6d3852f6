"""What a plan is made of, and the rules that decide for one directory user at a time.

No I/O happens here, so every rule of the sync semantics is tested on its own, and a dry run
is exactly the plan a real run would carry out. ``sync.planner`` builds whole plans from these
rules: the sweep, the guards, the apply order and what may stream.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from switchboard.directory.models import DirectoryUser
from switchboard.sync.mapping import Desired, LocationRef, MappingError, map_user
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.portal_lookups import Claims, PortalLookups
from switchboard.sync.portal_lookups import PortalUser as PortalUser  # named here too


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    LINK = "link"
    DISABLE = "disable"
    ENABLE = "enable"
    DELETE = "delete"
    RELOCATE = "relocate"
    SKIP = "skip"
    ERROR = "error"


@dataclass(frozen=True)
class Observation:
    """One directory user as this run saw it.

    ``user`` is None when the directory reports it deleted (``permanent`` tells which kind) or
    it no longer exists; ``in_scope`` says whether it is in a synced group (transitively).
    """

    id: str
    user: DirectoryUser | None
    in_scope: bool
    permanent: bool = False


@dataclass(frozen=True)
class PlanItem:
    action: Action
    directory_id: str | None
    username: str | None
    user_id: int | None = None
    fields: tuple[str, ...] = ()
    desired: Desired | None = None
    enabled: bool = True
    code: str | None = None
    message: str | None = None
    # An offered user (manual provisioning): what the picker shows of them (display name,
    # email, office, the portal location), kept on the run's item.
    details: dict[str, str] | None = None


@dataclass
class Plan:
    items: list[PlanItem] = field(default_factory=list)
    # Why the run waits for an admin; a held run's deletions wait, and with ``hold_creates``
    # its creates too (the creation guard).
    hold_reason: str | None = None
    hold_creates: bool = False
    # Items decided, by action; without ``keep`` the items themselves are not kept (a full run
    # that carries them out as it reads keeps the ones that wait, see ``sync.stream_planner``).
    tally: dict[Action, int] = field(default_factory=lambda: dict.fromkeys(Action, 0))
    keep: bool = True

    def add(self, item: PlanItem) -> None:
        self.tally[item.action] += 1
        if self.keep:
            self.items.append(item)

    def counts(self) -> dict[str, int]:
        return {action.value: n for action, n in self.tally.items() if n}

    def deletions(self) -> list[PlanItem]:
        return [i for i in self.items if i.action is Action.DELETE]


class PortalIndex:
    """Lookups over the account's users: by directory id, email and first + last name."""

    def __init__(self, users: Iterable[PortalUser]) -> None:
        self.by_directory_id: dict[str, PortalUser] = {}
        self.by_email: dict[str, PortalUser] = {}
        self.by_username: dict[str, PortalUser] = {}
        self.by_name: dict[tuple[str, str], list[PortalUser]] = defaultdict(list)
        for user in users:
            if user.directory_id:
                self.by_directory_id[user.directory_id] = user
            self.by_email[user.email.casefold()] = user
            self.by_username[user.username.casefold()] = user
            self.by_name[(user.first_name.casefold(), user.last_name.casefold())].append(user)

    @property
    def linked_count(self) -> int:
        return len(self.by_directory_id)


def _changed_fields(current: PortalUser, desired: Desired) -> list[str]:
    changed = []
    if current.username != desired.username:
        changed.append("username")
    if current.first_name != desired.first_name:
        changed.append("first_name")
    if current.last_name != desired.last_name:
        changed.append("last_name")
    if current.email != desired.email:
        changed.append("email")
    return changed


def _offer_details(user: DirectoryUser, desired: Desired) -> dict[str, str]:
    name = user.get("displayName")
    office = user.get("officeLocation")
    return {
        "name": name.strip()
        if isinstance(name, str) and name.strip()
        else f"{desired.first_name} {desired.last_name}",
        "email": desired.email,
        "office": office.strip() if isinstance(office, str) else "",
        "location": desired.location.name,
    }


class PlanRules:
    """The sync semantics for one observation at a time: create, link, update, relocate,
    enable, disable, delete, skip, or an error saying why not."""

    def __init__(
        self, index: PortalLookups, policy: SyncPolicy, locations: Mapping[str, LocationRef]
    ) -> None:
        self.index = index
        self.policy = policy
        self.locations = locations
        self.plan = Plan()
        # Emails and usernames the plan already gives to someone, so two directory users never
        # both claim one; portal users being deleted or relinked free theirs.
        self.claimed_emails: Claims = {}
        self.claimed_usernames: Claims = {}
        self.claimed_portal_ids: set[int] = set()
        self.fresh: list[PlanItem] = []

    def add(self, item: PlanItem) -> None:
        self.plan.add(item)
        self.fresh.append(item)

    def observe(self, obs: Observation, mapped: Desired | MappingError | None = None) -> None:
        """Decide for one observation (``mapped``: its ``map_user``, when the caller has it);
        the items added are in ``fresh`` until the caller clears it."""
        linked = self.index.by_directory_id.get(obs.id)
        if obs.user is None or not obs.in_scope:
            if linked is not None:
                reason = "deleted_in_directory" if obs.user is None else "out_of_scope"
                message = (
                    "deleted in Entra ID" if obs.user is None else "no longer in a synced group"
                )
                self.add(
                    PlanItem(
                        Action.DELETE,
                        obs.id,
                        linked.username,
                        linked.id,
                        code=reason,
                        message=message,
                    )
                )
            return
        user = obs.user
        if mapped is None:
            mapped = map_user(user, self.policy, self.locations)
        if isinstance(mapped, MappingError):
            self.add(
                PlanItem(
                    Action.ERROR,
                    obs.id,
                    user.user_principal_name,
                    linked.id if linked else None,
                    code=mapped.code,
                    message=mapped.message,
                )
            )
            return
        conflict = self._claim(obs.id, mapped, linked)
        if conflict is not None:
            self.add(conflict)
            return
        if linked is not None:
            self._compare(obs.id, linked, mapped, user.account_enabled, Action.UPDATE)
            return
        self._correlate(obs.id, user, mapped)

    def _claim(
        self, directory_id: str, desired: Desired, linked: PortalUser | None
    ) -> PlanItem | None:
        email_key = desired.email.casefold()
        username_key = desired.username.casefold()
        for key, claimed, kind in (
            (email_key, self.claimed_emails, "email"),
            (username_key, self.claimed_usernames, "username"),
        ):
            other = claimed.get(key)
            if other is not None and other != directory_id:
                return PlanItem(
                    Action.ERROR,
                    directory_id,
                    desired.username,
                    linked.id if linked else None,
                    code=f"duplicate_{kind}",
                    message=f"another Entra ID user in scope ({other}) has the same {kind}"
                    f" {desired.email if kind == 'email' else desired.username}; make it unique"
                    " in Entra ID",
                )
            holder = (self.index.by_email if kind == "email" else self.index.by_username).get(key)
            if holder is not None and holder.directory_id and holder.directory_id != directory_id:
                return PlanItem(
                    Action.ERROR,
                    directory_id,
                    desired.username,
                    linked.id if linked else None,
                    code=f"duplicate_{kind}",
                    message=f"the {kind} is already used by portal user {holder.username}, who"
                    f" is synced from another Entra ID user ({holder.directory_id})",
                )
        self.claimed_emails[email_key] = directory_id
        self.claimed_usernames[username_key] = directory_id
        return None

    def _compare(
        self,
        directory_id: str,
        current: PortalUser,
        desired: Desired,
        enabled: bool,
        action: Action,
    ) -> None:
        fields = _changed_fields(current, desired)
        status_changed = (current.status == "active") != enabled
        if status_changed:
            fields.append("status")
        if current.location_id != desired.location.id:
            self.add(
                PlanItem(
                    Action.RELOCATE,
                    directory_id,
                    desired.username,
                    current.id,
                    (*fields, "location_id"),
                    desired,
                    enabled,
                )
            )
            return
        if action is Action.LINK:
            self.add(
                PlanItem(
                    Action.LINK,
                    directory_id,
                    desired.username,
                    current.id,
                    tuple(fields),
                    desired,
                    enabled,
                )
            )
        elif status_changed:
            self.add(
                PlanItem(
                    Action.ENABLE if enabled else Action.DISABLE,
                    directory_id,
                    desired.username,
                    current.id,
                    tuple(fields),
                    desired,
                    enabled,
                )
            )
        elif fields:
            self.add(
                PlanItem(
                    Action.UPDATE,
                    directory_id,
                    desired.username,
                    current.id,
                    tuple(fields),
                    desired,
                    enabled,
                )
            )
        else:
            self.add(
                PlanItem(
                    Action.SKIP,
                    directory_id,
                    desired.username,
                    current.id,
                    desired=desired,
                    enabled=enabled,
                    code="unchanged",
                )
            )

    def _candidate(self, directory_id: str, desired: Desired) -> PortalUser | PlanItem | None:
        """The portal user without a link the directory user is, by email, username or name;
        an error when several share the name."""
        candidate = self.index.by_email.get(desired.email.casefold())
        if candidate is None or candidate.directory_id:
            same = self.index.by_username.get(desired.username.casefold())
            candidate = same if same is not None and not same.directory_id else None
        if candidate is not None:
            return candidate
        named = [
            u
            for u in self.index.by_name.get(
                (desired.first_name.casefold(), desired.last_name.casefold()), []
            )
            if not u.directory_id and u.id not in self.claimed_portal_ids
        ]
        if len(named) > 1:
            listed = ", ".join(f"{u.username} (id {u.id})" for u in named)
            return PlanItem(
                Action.ERROR,
                directory_id,
                desired.username,
                code="ambiguous_match",
                message=f"{desired.first_name} {desired.last_name} matches several portal"
                f" users: {listed}; give the right one the email {desired.email}, or"
                " delete the others",
            )
        return named[0] if named else None

    def _correlate(self, directory_id: str, user: DirectoryUser, desired: Desired) -> None:
        # No portal user by name means none to link to (a full run's pages name only users
        # without a link; ``PortalIndex`` names every user): the common case of a new user.
        candidate = None
        if self.index.by_name:
            found = self._candidate(directory_id, desired)
            if isinstance(found, PlanItem):
                self.add(found)
                return
            candidate = found
        if candidate is not None and candidate.id not in self.claimed_portal_ids:
            self.claimed_portal_ids.add(candidate.id)
            self._compare(directory_id, candidate, desired, user.account_enabled, Action.LINK)
            return
        if self.policy.provisioning == "manual":
            self.add(
                PlanItem(
                    Action.SKIP,
                    directory_id,
                    desired.username,
                    desired=desired,
                    enabled=user.account_enabled,
                    code="manual_provisioning",
                    message="offered in Add users > From directory (manual provisioning)",
                    details=_offer_details(user, desired),
                )
            )
            return
        self.add(
            PlanItem(
                Action.CREATE,
                directory_id,
                desired.username,
                fields=("username", "first_name", "last_name", "email", "location_id"),
                desired=desired,
                enabled=user.account_enabled,
            )
        )
