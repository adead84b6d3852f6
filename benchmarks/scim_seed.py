"""The SCIM benchmark's set-up: a throwaway PostgreSQL database, an account taking users over
SCIM with a token, and the users already in it before anything is measured; and the same users
pushed into ``scim2-server`` through its Bulk endpoint.

Two ways to seed Switchboard, both through the portal's one write path:
  create  ``switchboard.scim.users.create`` once per user (what POST /Users runs), 50 users per
          transaction;
  bulk    the same parsing, ``scim_users`` rows and mapping, with 1,000 users per plan applied by
          the sync's bulk writer (``sync.apply.apply_items`` with a ``BulkState``: the path a
          Graph initial sync takes); the default, as ``create`` takes too long for 100,000.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from switchboard.bootstrap import Container
from switchboard.db.engine import normalise_url
from switchboard.db.migrate import upgrade
from switchboard.db.models import ScimUser
from switchboard.portal import accounts, locations
from switchboard.portal.actors import system_actor
from switchboard.portal.schemas import AccountIn, AddressIn, LocationIn
from switchboard.scim import source, tokens, user_batches
from switchboard.scim import users as scim_users
from switchboard.scim.errors import ScimError
from switchboard.scim.source import ScimSettings

OP = system_actor("bench")
PG = "postgresql://postgres@127.0.0.1:5432/postgres"
SLUG = "bench"
# The highest per-account rate the settings allow: the benchmark measures the server, not the
# throttle (Entra needs 25 requests/s; the default limit is 100).
RATE_LIMIT = source.RATE_LIMIT_RANGE[1]
CREATE_BATCH = 50
BULK_BATCH = 1000
SCIM2_BULK = 1000  # scim2-server's maxOperations
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@dataclass(frozen=True)
class Seeded:
    token: str
    users: list[tuple[str, str]]  # (id, userName) of every seeded user
    seconds: float
    how: str


def seeded_name(i: int) -> str:
    return f"user{i:06d}@bench.example"


def entra_user(user_name: str, given: str, family: str) -> dict[str, Any]:
    """A POST /Users body as Entra's provisioning service sends it."""
    return {
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


def seeded_body(i: int) -> dict[str, Any]:
    return entra_user(seeded_name(i), f"First{i}", f"Last{i}")


@contextmanager
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped on the way out."""
    admin = create_engine(normalise_url(PG), isolation_level="AUTOCOMMIT")
    name = f"switchboard_bench_scim_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(PG)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def scim_account(c: Container) -> str:
    """The account (6-digit extensions, one location), SCIM from Entra; its bearer token."""
    upgrade(c.engine)
    with c.unit_of_work() as s:
        account = accounts.create_account(
            s, OP, AccountIn(slug=SLUG, name="Bench", extension_length=6)
        )
        address = AddressIn(
            street="1 Main St", city="Chicago", region="IL", postal_code="60601", country="US"
        )
        locations.create_location(
            s, OP, account, LocationIn(name="HQ", time_zone="America/Chicago", address=address)
        )
        source.connect(s, OP, account, "entra", ScimSettings(rate_limit=RATE_LIMIT))
        return tokens.issue(s, OP, account).token


def seed_switchboard(c: Container, n: int, how: str) -> Seeded:
    token = scim_account(c)
    start = time.perf_counter()
    if how == "create":
        _seed_one_by_one(c, n)
        words = f"scim.users.create per user, {CREATE_BATCH} per transaction"
    else:
        _seed_in_bulk(c, n)
        words = f"SCIM rows + the sync's bulk writer, {BULK_BATCH} per transaction"
    seconds = time.perf_counter() - start
    with c.unit_of_work() as s:
        account = accounts.get_account(s, OP, SLUG)
        rows = s.execute(
            select(ScimUser.id, ScimUser.user_name)
            .where(ScimUser.account_id == account.id)
            .order_by(ScimUser.user_name)
        ).all()
        s.execute(text("ANALYZE"))
    if len(rows) != n:
        raise SystemExit(f"seeding left {len(rows)} SCIM users, not {n}")
    return Seeded(token, [(str(i), str(u)) for i, u in rows], seconds, words)


def _seed_one_by_one(c: Container, n: int) -> None:
    for offset in range(0, n, CREATE_BATCH):
        with c.unit_of_work() as s:
            account = accounts.get_account(s, OP, SLUG)
            src = source.require_source(s, account)
            for i in range(offset, min(offset + CREATE_BATCH, n)):
                scim_users.create(s, account, src, seeded_body(i))


def _seed_in_bulk(c: Container, n: int) -> None:
    """A thousand creates per transaction through ``user_batches.create_many``: what the
    endpoint does with concurrent ``POST /Users`` requests, in larger batches."""
    for offset in range(0, n, BULK_BATCH):
        with c.unit_of_work() as s:
            account = accounts.get_account(s, OP, SLUG)
            src = source.require_source(s, account)
            bodies = [seeded_body(i) for i in range(offset, min(offset + BULK_BATCH, n))]
            for outcome in user_batches.create_many(s, account, src, bodies):
                if isinstance(outcome, ScimError):
                    raise SystemExit(f"seeding refused a user: {outcome.detail}")
        if offset // BULK_BATCH in (1, 4, 16, 64):
            # Fresh statistics as the tables grow from nothing (autovacuum would, later):
            # with a plan made for an empty table, key lookups scan the whole account.
            with c.unit_of_work() as s:
                s.execute(text("ANALYZE users"))
                s.execute(text("ANALYZE scim_users"))


def seed_scim2_server(base: str, token: str, n: int) -> Seeded:
    """The same users through scim2-server's Bulk endpoint, 1,000 per request."""
    start = time.perf_counter()
    users: list[tuple[str, str]] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
        for offset in range(0, n, SCIM2_BULK):
            names = [seeded_name(i) for i in range(offset, min(offset + SCIM2_BULK, n))]
            body = {
                "schemas": [BULK_REQUEST],
                "Operations": [
                    {
                        "method": "POST",
                        "path": "/Users",
                        "bulkId": f"u{offset + k}",
                        "data": seeded_body(offset + k),
                    }
                    for k in range(len(names))
                ],
            }
            answer = http.post("/Bulk", content=json.dumps(body))
            answer.raise_for_status()
            for name, op in zip(names, answer.json()["Operations"], strict=True):
                if op["status"] != "201":
                    raise SystemExit(f"scim2-server refused {name}: {op}")
                users.append((op["location"].rsplit("/", 1)[1], name))
    seconds = time.perf_counter() - start
    return Seeded(token, users, seconds, f"its Bulk endpoint, {SCIM2_BULK} users per request")
