"""The demo account's Entra ID connection, made the way a customer makes it.

Connect (Switchboard generates the certificate) -> the tenant's admin uploads that certificate
and grants the read permissions -> pick the synced groups by name through Graph -> reconcile.
A second demo run finds the registration and keeps it, so it reconciles again instead of
connecting twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.connection import registration
from switchboard.connection.verification import verify_connection
from switchboard.db.models import Account, DirectoryRegistration
from switchboard.demo.emulator_process import DemoTenant
from switchboard.demo.sample_account import ACTOR, SLUG
from switchboard.directory.factory import graph_credentials
from switchboard.directory.graph_directory import connect as graph_connect
from switchboard.sync.policy import SyncPolicy

# Two of the tenant's three groups: Sales (with Support nested in it) and Support. Members of
# only "Voice Users" stay out of scope, so the run shows what scoping leaves out.
SYNCED_GROUPS = ("Sales", "Support")
# "Headquarters" is how part of the tenant spells HQ; "HQ", "Branch" and "branch" map by name.
# The rest ("Remote", "Lisbon Annex", no office) stay unmapped: the run reports them as errors
# an admin can act on (add a rule, a location or a default location).
LOCATION_RULES = {"Headquarters": "HQ"}


@dataclass(frozen=True)
class DemoConnection:
    account_id: int
    client_id: str
    groups: dict[str, str]  # name -> object id, the synced ones
    other_groups: list[str]
    reconnected: bool  # the stored registration pointed at another tenant or URL


def _same_endpoint(a: str, b: str) -> bool:
    return a.rstrip("/").casefold() == b.rstrip("/").casefold()


def connect(container: Container, tenant: DemoTenant) -> DemoConnection:
    reconnected = False
    with container.unit_of_work() as session:
        account = session.scalars(select(Account).where(Account.slug == SLUG)).one()
        reg = registration.find_registration(session, account)
        if reg is not None and not (
            reg.tenant_id == tenant.tenant_id.lower() and _same_endpoint(reg.graph_url, tenant.url)
        ):
            # A new emulator folder (new tenant) or another --emulator-port: the stored
            # registration cannot reach it, and only a new connection can change its endpoints.
            registration.disconnect(session, ACTOR, account)
            reg = None
            reconnected = True
        if reg is None:
            reg = registration.connect(
                session,
                ACTOR,
                account,
                registration.RegistrationIn(
                    tenant_id=tenant.tenant_id,
                    client_id=str(uuid.uuid4()),
                    cloud="custom",
                    authority_url=tenant.url,
                    graph_url=tenant.url,
                    ca_bundle_pem=tenant.ca_pem,
                    settings=SyncPolicy(all_users=True, location_rules=LOCATION_RULES),
                ),
            )
        account_id, client_id, certificate = account.id, reg.client_id, reg.certificate_pem
    # The customer's side: the certificate goes to the app registration, with admin consent
    # for the application permissions the sync needs.
    tenant.register_app(client_id, certificate, list(registration.READ_PERMISSIONS))
    with container.unit_of_work() as session:
        account = session.scalars(select(Account).where(Account.slug == SLUG)).one()
        reg = registration.get_registration(session, ACTOR, account)
        by_name = _groups_by_name(container, reg)
        missing = [name for name in SYNCED_GROUPS if name not in by_name]
        if missing:
            raise RuntimeError(
                f"the demo tenant has no group named {', '.join(missing)}; delete its folder"
                f" {tenant.state_dir} to seed a fresh one"
            )
        wanted = [by_name[name] for name in SYNCED_GROUPS]
        if registration.policy_of(reg).groups != wanted:
            registration.update_settings(session, ACTOR, account, {"groups": wanted})
    # What the customer's admin does next: Test connection (its result shows in the UI).
    verify_connection(container, ACTOR, SLUG)
    return DemoConnection(
        account_id=account_id,
        client_id=client_id,
        groups={name: by_name[name] for name in SYNCED_GROUPS},
        other_groups=sorted(n for n in by_name if n not in SYNCED_GROUPS),
        reconnected=reconnected,
    )


def _groups_by_name(container: Container, reg: DirectoryRegistration) -> dict[str, str]:
    """The tenant's groups, read through Graph with the app's own credentials."""
    creds = graph_credentials(reg, container.secrets)
    with graph_connect(creds, container.token_cache, background=False) as directory:
        return {
            g["displayName"]: g["id"]
            for g in directory.client.items("groups", {"$select": "id,displayName"})
        }
