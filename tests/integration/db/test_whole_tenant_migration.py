"""Sync settings stored before the whole tenant became an explicit choice keep their meaning."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.db.migrate import alembic_config
from switchboard.db.models import DirectoryRegistration
from switchboard.portal.clock_context import now
from tests import factories

GROUP = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"


def _migrate(container: Container, step: str, revision: str) -> None:
    engine = container.engine
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        getattr(command, step)(cfg, revision)


def test_a_stored_policy_without_groups_becomes_all_users(container: Container) -> None:
    with container.unit_of_work() as s:
        stamp = now(s)
        cases = (("old", "312", {"mode": "on_demand"}), ("grouped", "415", {"groups": [GROUP]}))
        for slug, area, policy in cases:
            account = factories.tenant(s, slug, area).account
            s.add(
                DirectoryRegistration(
                    account_id=account.id,
                    tenant_id="t",
                    client_id="c",
                    cloud="global",
                    authority_url="https://login.microsoftonline.com",
                    graph_url="https://graph.microsoft.com",
                    certificate_pem="-",
                    private_key_encrypted="-",
                    policy=policy,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
    try:
        _migrate(container, "downgrade", "0008-1")
        _migrate(container, "upgrade", "head")
    finally:
        _migrate(container, "upgrade", "head")
    with container.unit_of_work() as s:
        stored = {r.account_id: r.policy for r in s.scalars(select(DirectoryRegistration))}
    policies = sorted(stored.values(), key=lambda p: bool(p.get("groups")))
    assert policies[0] == {"mode": "on_demand", "all_users": True}
    assert policies[1] == {"groups": [GROUP], "all_users": False}
