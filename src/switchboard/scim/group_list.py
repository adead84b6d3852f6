"""Whether a group's members are read for a response: only when it shows them (a large
group's members are many, and Entra reads groups with ``excludedAttributes=members``)."""

from __future__ import annotations


def wants_members(attributes: str | None, excluded: str | None) -> bool:
    """Whether the response shows members (read only then: a large group's members are many)."""

    def names(raw: str | None) -> set[str]:
        return {n.strip().lower().rsplit(":", 1)[-1] for n in (raw or "").split(",") if n.strip()}

    if "members" in names(excluded):
        return False
    asked = names(attributes)
    return not asked or bool(asked & {"members", "members.value", "members.display"})
