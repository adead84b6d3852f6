"""An account that takes users over SCIM, and a client that speaks to its endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from switchboard.bootstrap import Container
from switchboard.portal.accounts import get_account
from switchboard.scim import source, tokens
from switchboard.scim.source import ScimSettings
from tests import factories

SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class ScimClient:
    http: TestClient
    slug: str
    token: str

    @property
    def base(self) -> str:
        return f"/scim/v2/{self.slug}"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": SCIM_JSON,
            **(extra or {}),
        }

    def get(self, path: str, **params: Any) -> Response:
        return self.http.get(self.base + path, params=params, headers=self.headers())

    def post(self, path: str, body: Any) -> Response:
        return self.http.post(self.base + path, json=body, headers=self.headers())

    def put(self, path: str, body: Any, **headers: str) -> Response:
        return self.http.put(self.base + path, json=body, headers=self.headers(headers))

    def patch(self, path: str, *operations: dict[str, Any], **headers: str) -> Response:
        body = {"schemas": [PATCH_OP], "Operations": list(operations)}
        return self.http.patch(self.base + path, json=body, headers=self.headers(headers))

    def delete(self, path: str, **headers: str) -> Response:
        return self.http.delete(self.base + path, headers=self.headers(headers))


def scim_account(
    container: Container,
    slug: str = "acme",
    *,
    client: source.Client = "entra",
    settings: ScimSettings = ScimSettings(),
    area: str = "312",
) -> str:
    """An account with two locations (HQ, Branch) taking users over SCIM; its token."""
    with container.unit_of_work() as session:
        factories.tenant(session, slug, area=area)
    with container.unit_of_work() as session:
        account = get_account(session, factories.OPERATOR, slug)
        source.connect(session, factories.OPERATOR, account, client, settings)
        return tokens.issue(session, factories.OPERATOR, account).token


def entra_user(
    user_name: str,
    *,
    given: str = "Ada",
    family: str = "Lovelace",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A POST /Users body as Entra's provisioning service sends it."""
    body: dict[str, Any] = {
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ],
        "externalId": user_name.split("@")[0],
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "roles": [],
    }
    body.update(extra or {})
    return body
