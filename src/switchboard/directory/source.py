"""The directory as the sync engine sees it. GraphDirectory implements it over Graph."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from switchboard.directory.models import (
    DirectoryGroup,
    DirectoryUser,
    GroupDeltaRound,
    GroupMatches,
    UserDeltaRound,
)


class DirectorySource(Protocol):
    def users_in_scope(
        self, group_ids: Sequence[str], select: Sequence[str]
    ) -> Iterator[DirectoryUser]:
        """Every user in the groups (transitive members, each user once); no groups = all users.

        Yields users as pages arrive so a large tenant never sits in memory twice.
        """

    def get_user(self, id_or_upn: str, select: Sequence[str]) -> DirectoryUser | None:
        """One user by object id or userPrincipalName; None when it does not exist."""

    def get_users(self, ids: Iterable[str], select: Sequence[str]) -> dict[str, DirectoryUser]:
        """Several users by object id (batched); missing ones are left out."""

    def member_of(self, user_ids: Iterable[str], group_ids: Sequence[str]) -> dict[str, set[str]]:
        """For each user, which of ``group_ids`` it belongs to, transitively (checkMemberGroups)."""

    def users_delta(self, delta_link: str | None, select: Sequence[str]) -> UserDeltaRound:
        """Follow users/delta from ``delta_link`` (or from scratch) to its new deltaLink.

        Raises DeltaTokenExpired when the link is no longer valid.
        """

    def groups_delta(self, delta_link: str | None) -> GroupDeltaRound:
        """Follow groups/delta (members only) to its new deltaLink."""

    def latest_delta_links(self, select: Sequence[str]) -> tuple[str, str]:
        """(users, groups) delta links that track from now ($deltatoken=latest)."""

    def update_user(self, user_id: str, properties: Mapping[str, Any]) -> None:
        """PATCH the user with only these properties (two-way write-back)."""

    def close(self) -> None:
        """Release what the source holds (a Graph client's connections) once a run is over."""


class GroupLookup(Protocol):
    """The tenant's groups for an admin choosing what to sync (names, counts, nesting)."""

    def search_groups(self, text: str, *, top: int) -> GroupMatches:
        """Groups whose name (a word of it) starts with ``text``, with member and nested group
        counts; an empty ``text`` lists the first groups by name."""

    def groups_by_id(self, ids: Sequence[str]) -> dict[str, DirectoryGroup]:
        """The groups that still exist among ``ids`` (names only, no counts)."""


@runtime_checkable
class WithGroupLookup(Protocol):
    """A DirectorySource that can also look groups up for the group picker."""

    def group_lookup(self) -> GroupLookup: ...
