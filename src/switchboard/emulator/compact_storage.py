"""Compact in-memory forms for a tenant of a million users.

A dict of twenty properties per user, a set per membership and a tuple per log entry cost
about 2 KB a user; these forms keep the same information in about half of that:

- ``Shape``: the property names of a user, in insertion order, shared by every user with the
  same names (almost all of them); the user keeps only a tuple of values.
- ``REPEATED_VALUES``: values that repeat across users (office, department, names) are one
  string; lists are tuples (one empty tuple for all).
- ``ChangeLog`` / ``MemberLog``: log entries in typed arrays plus one list of ids, rather than a
  tuple and an int object per entry.
- ``Memberships``: a member's groups as a tuple (an empty set alone costs 216 bytes).
"""

from __future__ import annotations

import bisect
import sys
from array import array
from collections.abc import Iterable, Iterator
from typing import Any, Literal

MemberKind = Literal["user", "group"]

# User properties whose values repeat across many users: one string object each.
REPEATED_VALUES = frozenset(
    {
        "givenName",
        "surname",
        "displayName",
        "jobTitle",
        "department",
        "officeLocation",
        "city",
        "country",
        "usageLocation",
        "preferredLanguage",
        "companyName",
        "userType",
    }
)


def compact_value(value: Any) -> Any:
    """Lists (businessPhones: mostly empty, else one number) are kept as tuples: the empty
    tuple is one object, and a tuple is smaller than a list. Readers get lists back."""
    return tuple(value) if type(value) is list else value


class Shape:
    """Property names in insertion order, and each name's position in a values tuple."""

    __slots__ = ("index", "names", "repeated")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        # Positions of the properties in REPEATED_VALUES.
        self.repeated = tuple(i for i, n in enumerate(names) if n in REPEATED_VALUES)

    def extended(self, more: Iterable[str]) -> Shape:
        return shape_of((*self.names, *more))


_SHAPES: dict[tuple[str, ...], Shape] = {}


def shape_of(names: tuple[str, ...]) -> Shape:
    shape = _SHAPES.get(names)
    if shape is None:
        names = tuple(sys.intern(n) for n in names)
        shape = _SHAPES[names] = Shape(names)
    return shape


class ChangeLog:
    """(version, id) entries in version order, 16 bytes an entry: versions in an array of 64-bit
    integers, ids in a list (the id strings are the objects' own)."""

    __slots__ = ("ids", "versions")

    def __init__(self, entries: Iterable[tuple[int, str]] = ()) -> None:
        self.versions = array("q")
        self.ids: list[str] = []
        for version, oid in entries:
            self.append(version, oid)

    def append(self, version: int, oid: str) -> None:
        self.versions.append(version)
        self.ids.append(oid)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, pos: int) -> tuple[int, str]:
        return self.versions[pos], self.ids[pos]

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return zip(self.versions, self.ids, strict=True)

    def first_after(self, version: int) -> int:
        """Position of the first entry with a version above ``version``."""
        return bisect.bisect_right(self.versions, version)

    def first_from(self, version: int) -> int:
        """Position of the first entry with a version of at least ``version``."""
        return bisect.bisect_left(self.versions, version)


_GROUP = 1
_ADDED = 2


class MemberLog:
    """A group's membership changes (version, member id, kind, added?) in version order, about
    17 bytes an entry (a million seeded memberships would otherwise take ~130 MB)."""

    __slots__ = ("flags", "ids", "versions")

    def __init__(self, entries: Iterable[Iterable[Any]] = ()) -> None:
        self.versions = array("q")
        self.ids: list[str] = []
        self.flags = bytearray()
        for version, mid, kind, added in entries:
            self.append(version, mid, kind, added)

    def append(self, version: int, member_id: str, kind: MemberKind, added: bool) -> None:
        self.versions.append(version)
        self.ids.append(member_id)
        self.flags.append((_GROUP if kind == "group" else 0) | (_ADDED if added else 0))

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[tuple[int, str, MemberKind, bool]]:
        return self.since(-1)

    def since(self, base: int) -> Iterator[tuple[int, str, MemberKind, bool]]:
        """Entries with a version above ``base``."""
        start = bisect.bisect_right(self.versions, base)
        entries = zip(self.versions[start:], self.ids[start:], self.flags[start:], strict=True)
        for version, member_id, flag in entries:
            kind: MemberKind = "group" if flag & _GROUP else "user"
            yield version, member_id, kind, bool(flag & _ADDED)


_NO_GROUPS: tuple[str, ...] = ()


class Memberships:
    """Member id -> ids of the groups it is a direct member of, in the order it joined them.
    One group (most users) is kept as its id alone, more as a tuple."""

    __slots__ = ("_of",)

    def __init__(self) -> None:
        self._of: dict[str, str | tuple[str, ...]] = {}

    def get(self, member_id: str) -> tuple[str, ...]:
        groups = self._of.get(member_id, _NO_GROUPS)
        return (groups,) if isinstance(groups, str) else groups

    def _put(self, member_id: str, groups: tuple[str, ...]) -> None:
        self._of[member_id] = groups[0] if len(groups) == 1 else groups

    def add(self, member_id: str, group_id: str) -> None:
        current = self.get(member_id)
        if group_id not in current:
            self._put(member_id, (*current, group_id))

    def discard(self, member_id: str, group_id: str) -> None:
        current = self.get(member_id)
        if group_id in current:
            self._put(member_id, tuple(g for g in current if g != group_id))

    def pop(self, member_id: str) -> None:
        self._of.pop(member_id, None)
