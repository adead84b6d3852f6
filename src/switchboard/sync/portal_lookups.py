"""The portal users the plan's rules compare against, what the rules look them up by, and
where they keep claimed keys: dicts for a plan held whole (``sync.planner``), one page's view
and packed tables for a full run (``sync.stream_planner``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PortalUser:
    """The part of a portal user the plan compares against."""

    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    location_id: int
    status: str
    directory_id: str | None


class Claims(Protocol):
    """Keys (case-folded) -> the directory id that claimed them: a dict, or a packed table
    for a run over a million users (``sync.stream_planner``)."""

    def get(self, key: str, /) -> str | None: ...

    def __setitem__(self, key: str, directory_id: str, /) -> None: ...


class PortalLookups(Protocol):
    """What the rules look portal users up by (``PortalIndex``, or one page's view of the
    account in ``sync.stream_planner``)."""

    @property
    def by_directory_id(self) -> Mapping[str, PortalUser]: ...

    @property
    def by_email(self) -> Mapping[str, PortalUser]: ...

    @property
    def by_username(self) -> Mapping[str, PortalUser]: ...

    @property
    def by_name(self) -> Mapping[tuple[str, str], list[PortalUser]]: ...
