"""The group picker: search the tenant's groups by name, and name the groups an account syncs.

Graph is read through the account's own registration (its certificate), outside any database
transaction. The synced groups stay object ids in the settings; names are looked up when shown,
so a group renamed in Entra ID shows its new name and a deleted one says so. Choosing groups is
a settings change through ``registration.update_settings`` like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from switchboard.connection import registration as registrations
from switchboard.connection.permission_checks import how_to_grant
from switchboard.directory.errors import GraphError, GraphForbidden
from switchboard.directory.models import DirectoryGroup, GroupMatches
from switchboard.directory.source import DirectorySource, GroupLookup, WithGroupLookup
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Actor
from switchboard.portal.errors import Conflict, ValidationFailed
from switchboard.portal.validation import has_control
from switchboard.sync.ports import SyncServices

SEARCH_MAX = 100  # Entra ID group names are at most 256 characters; nobody types that many
SHOWN = 25  # matches shown at once: a longer list is a sign to type more


@dataclass(frozen=True)
class ChosenGroup:
    """A synced group as the pages show it: its name, or why there is none."""

    id: str
    name: str | None  # None: deleted, or the names could not be read
    deleted: bool = False
    description: str | None = None

    @property
    def label(self) -> str:
        if self.deleted:
            return f"deleted group {self.id}"
        return self.name or self.id


@dataclass(frozen=True)
class ChosenGroups:
    groups: list[ChosenGroup]
    problem: str | None = None  # why the names could not be read (ids shown instead)

    def names(self) -> dict[str, str]:
        return {g.id: g.label for g in self.groups}


def check_search(text: str | None) -> str:
    """The search text as typed, trimmed; a plain message when it cannot be searched for."""
    value = (text or "").strip()
    if len(value) > SEARCH_MAX:
        raise ValidationFailed(
            f"Search text: type at most {SEARCH_MAX} characters of the group's name",
            field="search",
        )
    if has_control(value):
        raise ValidationFailed(
            "Search text: use letters, digits and punctuation only (no tabs, line breaks or"
            " other control characters)",
            field="search",
        )
    return value


def graph_failure(exc: GraphError, client_id: str) -> Conflict:
    """A Graph failure while reading groups, in the words the connection test uses."""
    if isinstance(exc, GraphForbidden):
        message = (
            f"The app may not read groups ({exc.code or exc.status}): grant GroupMember.Read.All"
            " — " + how_to_grant("GroupMember.Read.All", client_id)
        )
    else:
        message = f"Entra ID: {exc.message}"
    return Conflict(message, code="directory_unreachable")


def _open(
    services: SyncServices, actor: Actor, slug: str
) -> tuple[str, list[str], DirectorySource]:
    """The app's client id, the synced group ids, and the directory through the app's own
    certificate (the caller closes it)."""
    with services.unit_of_work() as session:
        account = get_account(session, actor, slug)
        registration = registrations.get_registration(session, actor, account)
        groups = list(registrations.policy_of(registration).groups)
        return registration.client_id, groups, services.directory_factory()(registration)


def _lookup(source: DirectorySource) -> GroupLookup:
    if not isinstance(source, WithGroupLookup):
        raise Conflict(
            "This directory cannot be searched for groups; enter the groups' object ids instead",
            code="group_search_unavailable",
        )
    return source.group_lookup()


def search_groups(
    services: SyncServices, actor: Actor, slug: str, text: str | None, *, top: int = SHOWN
) -> GroupMatches:
    """Groups of the account's tenant whose name starts with ``text`` (a word of it), with
    member and nested group counts. Raises Conflict with a plain message when Graph fails."""
    wanted = check_search(text)
    client_id, _groups, source = _open(services, actor, slug)
    try:
        return _lookup(source).search_groups(wanted, top=top)
    except GraphError as exc:
        raise graph_failure(exc, client_id) from exc
    finally:
        source.close()


def chosen_groups(
    services: SyncServices, actor: Actor, slug: str, ids: Sequence[str] | None = None
) -> ChosenGroups:
    """The account's synced groups (or the groups ``ids``, being picked) by name. When Graph
    cannot be read, the ids with the reason (the names are a help, not a need)."""
    client_id, synced, source = _open(services, actor, slug)
    ids = list(dict.fromkeys(ids)) if ids is not None else synced
    try:
        if not ids:
            return ChosenGroups([])
        try:
            found = _lookup(source).groups_by_id(ids)
        except GraphError as exc:
            problem = graph_failure(exc, client_id).message
            return ChosenGroups([ChosenGroup(i, None) for i in ids], problem)
        except Conflict as exc:
            return ChosenGroups([ChosenGroup(i, None) for i in ids], exc.message)
        return ChosenGroups([_chosen(i, found.get(i)) for i in ids])
    finally:
        source.close()


def _chosen(group_id: str, group: DirectoryGroup | None) -> ChosenGroup:
    if group is None:
        return ChosenGroup(group_id, None, deleted=True)
    return ChosenGroup(group_id, group.name, description=group.description)
