"""Bodies of the SCIM setup routes and of ``switchboard scim``: the account's SCIM source and
settings, its endpoint URL and its tokens (never a secret, except once when one is created)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from switchboard.db.models import ScimToken
from switchboard.portal import validation
from switchboard.portal.schemas import Strict
from switchboard.scim import tokens as scim_tokens
from switchboard.scim.source import RATE_LIMIT_RANGE, ScimSettings, ScimSetup

# A rule's directory value or location name: one line of text.
RuleValue = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(validation.plain)]


class ScimSourceIn(Strict):
    """Make SCIM the account's directory source, or change its settings (PUT: connects when
    not connected). Settings left out keep their value (their defaults on connecting)."""

    client: Literal["entra", "okta"] = Field(
        description="Who pushes the users: entra (Microsoft Entra provisioning) or okta"
    )
    deprovision: Literal["disable", "delete"] | None = Field(
        default=None,
        description="What a deactivation (active false) means: disable keeps the user, flagged"
        " disabled in directory, with its license; delete removes the user. Entra also"
        " deactivates users who leave the assigned groups, who must then be deleted",
    )
    location_attribute: Literal["department", "locality", "switchboard"] | None = Field(
        default=None,
        description="Where a user's location comes from: the enterprise department, the work"
        " address locality, or the Switchboard extension schema's location",
    )
    location_rules: dict[RuleValue, RuleValue] | None = Field(
        default=None,
        max_length=500,
        description="Directory value -> location name, as in the Graph sync settings",
        examples=[{"Sales": "HQ", "Chicago": "Branch"}],
    )
    default_location: str | None = Field(
        default=None,
        max_length=100,
        description='Where users without a (mapped) location land; "" clears it (such users'
        " are then refused)",
    )
    rate_limit: int | None = Field(
        default=None,
        ge=RATE_LIMIT_RANGE[0],
        le=RATE_LIMIT_RANGE[1],
        description="Requests per second above which the endpoint answers 429 with"
        " Retry-After (Entra must be able to send 25)",
    )

    def settings(self) -> ScimSettings:
        return ScimSettings(
            deprovision=self.deprovision,
            location_attribute=self.location_attribute,
            location_rules=self.location_rules,
            default_location=self.default_location,
            rate_limit=self.rate_limit,
        )


class ScimTokenIn(Strict):
    overlap_hours: int = Field(
        default=24,
        ge=0,
        le=scim_tokens.MAX_OVERLAP_HOURS,
        description="How long the tokens that work now keep working (0: they stop at once)",
    )


class ScimTokenOut(BaseModel):
    id: int
    prefix: str = Field(description="The public part after 'sbscim_', to tell tokens apart")
    state: Literal["active", "expiring", "expired", "revoked"] = Field(
        description="expiring: replaced, still working until expires_at"
    )
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: ScimToken, at: datetime) -> ScimTokenOut:
        state = scim_tokens.state(token, at)
        assert state in ("active", "expiring", "expired", "revoked")
        return cls(
            id=token.id,
            prefix=token.prefix,
            state=state,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


class ScimSetupOut(BaseModel):
    connected: bool = Field(description="Whether the account takes its users over SCIM")
    url: str = Field(description="The Tenant URL (Entra) or Base URL (Okta) to give the client")
    graph_connected: bool = Field(
        description="The account is connected to Entra ID over Microsoft Graph (then SCIM"
        " cannot be chosen until that is disconnected)"
    )
    client: str | None = Field(description="entra or okta; null when not connected")
    deprovision: str | None
    location_attribute: str | None
    location_rules: dict[str, str] | None
    default_location: str | None
    rate_limit: int | None
    tokens: list[ScimTokenOut] = Field(description="The latest tokens, newest first")

    @classmethod
    def of(cls, setup: ScimSetup, url: str) -> ScimSetupOut:
        found = setup.source
        return cls(
            connected=found is not None,
            url=url,
            graph_connected=setup.graph_connected,
            client=found.client if found else None,
            deprovision=found.deprovision if found else None,
            location_attribute=found.location_attribute if found else None,
            location_rules=dict(found.location_rules) if found else None,
            default_location=found.default_location if found else None,
            rate_limit=found.rate_limit if found else None,
            tokens=[ScimTokenOut.of(t, setup.at) for t in setup.tokens],
        )


class IssuedScimTokenOut(BaseModel):
    token: str = Field(description="The Secret Token (Entra) or Bearer token (Okta): shown once")
    url: str = Field(description="The Tenant URL (Entra) or Base URL (Okta)")
    id: int
    prefix: str
