"""Test connection: prove each certificate gets a token and the app has what it needs.

Graph calls happen outside any database transaction; the outcome is recorded afterwards.
"""

from __future__ import annotations

from switchboard.connection import app_certificates
from switchboard.connection import registration as registrations
from switchboard.connection.permission_checks import ConnectionReport, run_connection_test
from switchboard.connection.test_failures import FailureKind
from switchboard.directory.auth import GraphCredentials
from switchboard.directory.stored_credentials import credentials_for_auth
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Actor
from switchboard.sync.ports import SyncServices


def verify_connection(
    services: SyncServices, actor: Actor, slug: str
) -> registrations.ConnectionTestRecord:
    with services.unit_of_work() as session:
        account = get_account(session, actor, slug, write=True)
        reg = registrations.get_registration(session, actor, account)
        policy = registrations.policy_of(reg)
        cloud = reg.cloud
        wanted = registrations.required_permissions(policy)
        candidates = [
            (
                c,
                GraphCredentials(
                    account_id=reg.account_id,
                    tenant_id=reg.tenant_id,
                    client_id=reg.client_id,
                    private_key_pem=c.private_key_pem,
                    certificate_pem=c.certificate_pem,
                    authority_url=reg.authority_url,
                    graph_url=reg.graph_url,
                    ca_bundle_pem=reg.ca_bundle_pem,
                ),
            )
            for c in credentials_for_auth(reg, secrets=services.secrets)
        ]
    reports: list[tuple[str, str, ConnectionReport]] = []
    for credential, creds in candidates:
        thumbprint = app_certificates.info(credential.certificate_pem).thumbprint_sha1
        reports.append(
            (
                credential.which,
                thumbprint,
                run_connection_test(
                    creds, policy, services.token_cache, cloud=cloud, wanted=wanted
                ),
            )
        )
    current = next(r for which, _, r in reports if which == "current")
    checks = [dict(c, certificate="current") for c in current.as_dict()["checks"]]
    proven = []
    for which, thumbprint, report in reports:
        token_ok = any(c.name == "token" and c.ok for c in report.checks)
        if token_ok:
            proven.append(thumbprint)
        if which == "next":
            checks += [dict(c, certificate="next") for c in report.as_dict()["checks"]]
    failed = [c for c in current.checks if not c.ok]
    if not failed:
        message = "all checks passed"
    elif failed[0].kind == FailureKind.CONSENT_MISSING:
        message = failed[0].message  # the missing reads that follow say the same again
    else:
        message = " ".join(c.message for c in failed)
    record = registrations.ConnectionTestRecord(
        ok=current.ok,
        message=message,
        kind=failed[0].kind if failed else None,
        checks=checks,
        proven_certificates=proven,
    )
    with services.unit_of_work() as session:
        account = get_account(session, actor, slug, write=True)
        registrations.record_test_result(session, actor, account, record)
    return record
