"""The body of a settings preview, as the API answers it and ``directory preview --json`` prints."""

from __future__ import annotations

from pydantic import BaseModel, Field

from switchboard.sync.preview import ScopePreview, Tally


class LocationCount(BaseModel):
    location: str
    users: int


class TallyOut(BaseModel):
    key: str = Field(
        description="the directory value (case-folded; '' when empty), attribute"
        " or problem code these users share"
    )
    label: str = Field(
        description="the value as Entra ID spells it, or the attribute or problem in words"
    )
    users: int
    examples: list[str] = Field(description="a few of the users' userPrincipalNames")
    message: str | None = Field(default=None, description="problems: what a run would record")

    @classmethod
    def of(cls, key: str, tally: Tally) -> TallyOut:
        return cls(
            key=key,
            label=tally.label,
            users=tally.count,
            examples=list(tally.examples),
            message=tally.detail,
        )


class PreviewOut(BaseModel):
    users: int = Field(description="users in scope")
    ready: int = Field(description="users whose attributes and location are all usable")
    locations: list[LocationCount] = Field(
        description="every location of the account with the users it would get"
    )
    unmapped_values: list[TallyOut] = Field(
        description="directory values that match no rule, no location and no default"
    )
    unmapped_unlisted_users: int = Field(
        description="users whose value is beyond the values listed (a cap keeps the answer small)"
    )
    missing_attributes: list[TallyOut] = Field(
        description="first name, last name, email: users whose mapped property is empty"
    )
    missing_users: int = Field(description="users missing at least one required attribute")
    reconcile: dict[str, int] = Field(
        description="what a full reconcile would do: create, link, update, relocate, enable,"
        " disable, unchanged, offered (manual provisioning), error"
    )
    problems: list[TallyOut] = Field(
        description="other reasons users would not sync (duplicates, ambiguous matches)"
    )
    deletions: int = Field(description="synced users a reconcile would delete")
    guard_hold: str | None = Field(description="why the guards would hold that reconcile")

    @classmethod
    def of(cls, found: ScopePreview) -> PreviewOut:
        return cls(
            users=found.read,
            ready=found.ready,
            locations=[LocationCount(location=n, users=c) for n, c in found.by_location.items()],
            unmapped_values=[TallyOut.of(k, t) for k, t in found.unmapped.items()],
            unmapped_unlisted_users=found.unmapped_unlisted,
            missing_attributes=[TallyOut.of(k, t) for k, t in found.missing.items()],
            missing_users=found.missing_users,
            reconcile=dict(found.outcomes),
            problems=[TallyOut.of(k, t) for k, t in found.problems.items()],
            deletions=found.deletions,
            guard_hold=found.hold,
        )
