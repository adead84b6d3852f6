""" "Test connection": get a token, then prove each permission the account's settings need.

Each check names exactly what is missing and where the customer's admin grants it, so the
result can be shown as is in the UI, the API and the CLI.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from switchboard.connection import app_certificates, test_failures
from switchboard.connection.test_failures import GRAPH, TOKEN, FailureKind, Target
from switchboard.directory.auth import GraphCredentials, TokenCache, token_roles
from switchboard.directory.client import GraphClient, RetryPolicy
from switchboard.directory.errors import GraphForbidden, GraphNotFound
from switchboard.sync.policy import SyncPolicy

log = logging.getLogger(__name__)

# Interactive: answer within seconds rather than wait out a long throttling episode.
TEST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=5.0, max_total_wait=10.0)
READ_USERS_ROLES = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
WRITE_PHONE_ROLES = frozenset(
    {"User-Phone.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
)
WRITE_USER_ROLES = frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"})


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str
    permission: str | None = None  # the permission to grant when the check failed
    kind: str | None = None  # test_failures.FailureKind of a failed check


@dataclass
class ConnectionReport:
    checks: list[Check] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # application permissions in the token

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "roles": self.roles, "checks": [asdict(c) for c in self.checks]}


def how_to_grant(permission: str, client_id: str) -> str:
    return (
        f"in the Entra admin center open App registrations > {client_id} > API permissions > "
        f"Add a permission > Microsoft Graph > Application permissions > {permission}, then "
        f"Grant admin consent"
    )


def _failed(name: str, exc: BaseException, target: Target, phase: str) -> Check:
    failure = test_failures.explain(exc, target, phase)
    if failure.kind is FailureKind.UNKNOWN:
        log.warning("connection test step %r failed: %r", name, exc)
    return Check(name, False, failure.message, kind=failure.kind.value)


def check_connection(
    client: GraphClient,
    policy: SyncPolicy,
    *,
    client_id: str,
    target: Target | None = None,
    wanted: list[str] | None = None,
) -> ConnectionReport:
    """Run every check the policy needs; a failed token stops there (nothing else can work).

    ``target`` names the hosts and ids in the failure messages; ``wanted``: the permissions
    a token without any (no admin consent) is told to grant."""
    target = target or Target(tenant_id="", client_id=client_id)
    report = ConnectionReport()
    try:
        # A fresh token: a cached one would not show permissions granted since it was issued.
        # Retried while the token endpoint is busy, like every Graph request.
        access_token = client.token(refresh=True)
    except Exception as exc:
        report.checks.append(_failed("token", exc, target, TOKEN))
        return report
    roles = token_roles(access_token)
    report.roles = sorted(roles)
    if not roles:
        failure = test_failures.consent_missing(
            wanted or ["User.Read.All", "GroupMember.Read.All"], client_id
        )
        report.checks.append(Check("admin consent", False, failure.message, kind=failure.kind))
    report.checks.append(
        Check(
            "token",
            True,
            "a token was issued for the app's certificate"
            + (
                f" with {', '.join(sorted(roles))}" if roles else " with no application permissions"
            ),
        )
    )
    report.checks.append(_read_users(client, client_id, target))
    if policy.groups:
        report.checks.extend(_read_group(client, gid, client_id, target) for gid in policy.groups)
    elif policy.all_users:
        report.checks.append(
            Check(
                "read group members", True, "no synced groups: every user of the tenant is in scope"
            )
        )
    else:
        report.checks.append(
            Check(
                "read group members",
                True,
                "no groups chosen yet: choose the groups to sync (or all users) in the sync"
                " settings before the first sync",
            )
        )
    if policy.direction == "two_way":
        report.checks.append(_write_back(policy, roles, client_id))
    return report


def _read_users(client: GraphClient, client_id: str, target: Target) -> Check:
    name = "read users"
    try:
        client.get("/users", {"$select": "id", "$top": "1"})
    except GraphForbidden:
        failure = test_failures.missing_permission("User.Read.All", "read users", client_id)
        return Check(name, False, failure.message, "User.Read.All", kind=failure.kind)
    except Exception as exc:
        return _failed(name, exc, target, GRAPH)
    return Check(name, True, "users can be read")


def _read_group(client: GraphClient, group_id: str, client_id: str, target: Target) -> Check:
    name = f"read members of group {group_id}"
    path = f"/groups/{quote(group_id, safe='')}"
    try:
        group = client.get(path, {"$select": "id,displayName"})
        client.get(f"{path}/transitiveMembers", {"$select": "id", "$top": "1"})
    except GraphNotFound:
        return Check(
            name,
            False,
            f"group {group_id} is not found in the tenant: check the group's object id in the "
            f"Entra admin center (Groups > All groups > the group > Object ID), or remove it "
            f"from the synced groups",
            kind=FailureKind.GROUP_NOT_FOUND,
        )
    except GraphForbidden:
        failure = test_failures.missing_permission(
            "GroupMember.Read.All", "read group members", client_id
        )
        return Check(name, False, failure.message, "GroupMember.Read.All", kind=failure.kind)
    except Exception as exc:
        return _failed(name, exc, target, GRAPH)
    label = group.get("displayName") or group_id
    return Check(name, True, f"members of '{label}' can be read")


def _write_back(policy: SyncPolicy, roles: set[str], client_id: str) -> Check:
    name = "write back phone data"
    if policy.write_back.extension_to:
        # Extension attributes are not phone fields: only the broad permission covers them.
        needed, wanted = WRITE_USER_ROLES, "User.ReadWrite.All"
        attribute = f"onPremisesExtensionAttributes.{policy.write_back.extension_to}"
        what = f"numbers and extensions ({attribute})"
    else:
        needed, wanted = WRITE_PHONE_ROLES, "User-Phone.ReadWrite.All"
        what = "numbers (businessPhones)"
    granted = sorted(roles & needed)
    if granted:
        return Check(
            name,
            True,
            f"two-way sync may write {what} ({', '.join(granted)}); users synced from "
            f"on-premises AD and users holding admin roles still refuse phone changes",
        )
    alternative = " (or User.ReadWrite.All)" if wanted != "User.ReadWrite.All" else ""
    return Check(
        name,
        False,
        f"two-way sync needs {wanted}{alternative} to write {what}, and the app does not have "
        f"it: " + how_to_grant(wanted, client_id),
        wanted,
        kind=FailureKind.PERMISSION_MISSING,
    )


def target_of(creds: GraphCredentials, cloud: str = "custom") -> Target:
    return Target(
        tenant_id=creds.tenant_id,
        client_id=creds.client_id,
        cloud=cloud,
        authority_url=creds.authority_url,
        graph_url=creds.graph_url,
        has_ca_bundle=bool(creds.ca_bundle_pem),
        thumbprint=app_certificates.info(creds.certificate_pem).thumbprint_sha1,
    )


def run_connection_test(
    creds: GraphCredentials,
    policy: SyncPolicy,
    tokens: TokenCache,
    *,
    cloud: str = "custom",
    wanted: list[str] | None = None,
) -> ConnectionReport:
    """Test a registration as stored: its provider from ``tokens`` and a short-lived client."""
    with GraphClient(
        creds.graph_url,
        tokens.provider(creds),
        verify=creds.ssl_context(),
        retry=TEST_RETRY,
        background=False,
        max_connections=4,
    ) as client:
        return check_connection(
            client,
            policy,
            client_id=creds.client_id,
            target=target_of(creds, cloud),
            wanted=wanted,
        )
