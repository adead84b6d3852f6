"""Tenant isolation and roles, proven through every account-scoped REST endpoint.

The routes are read from the application itself, so an endpoint added later is exercised by
every check here as soon as it has an entry in ``CASES`` (and the coverage test fails until it
does). Each check runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import app_certificates, certificate_rotation, registration
from switchboard.db.models import Base, DirectoryRegistration, Principal, SyncRun
from switchboard.directory.stored_credentials import credentials_for_auth
from switchboard.portal import accounts, licenses, locations, media, numbers, users
from switchboard.portal.actors import Role
from switchboard.portal.schemas import LicenseIn, LocationIn, UserIn
from switchboard.scim import request_log
from switchboard.scim import source as scim_source
from switchboard.scim import tokens as scim_tokens
from switchboard.sync.engine import SyncEngine
from tests import factories
from tests.fakes import FakeDirectory
from tests.wiring import Adapters

OP = factories.OPERATOR
PARAM_RE = re.compile(r"{(\w+)(?::[^}]*)?}")
READ_METHODS = frozenset({"GET"})
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Seeded:
    """One tenant with one object of every kind, and the ids the routes address them by."""

    slug: str
    area: str
    account_id: int
    hq_id: int
    branch_id: int
    spare_location_id: int  # empty, so a leaked DELETE would succeed rather than conflict
    user_id: int
    free_number_id: int  # unassigned, so a leaked DELETE or move would succeed
    spare_license_id: int  # unused, so a leaked DELETE would succeed
    admin_token: str
    viewer_token: str
    scim_token_id: int  # revoked (SCIM was chosen, then left): its DELETE is a no-op
    media_id: int | None = None
    extra_ids: dict[str, object] = field(default_factory=dict)

    def path_values(self) -> dict[str, object]:
        values: dict[str, object] = {
            "account": self.slug,
            "location_id": self.spare_location_id,
            "user_id": self.user_id,
            "number_id": self.free_number_id,
            "license_id": self.spare_license_id,
            "token_id": self.scim_token_id,
        }
        if self.media_id is not None:
            values["media_id"] = self.media_id
        values.update(self.extra_ids)
        return values


# --- the table of routes ------------------------------------------------------------------------

Body = Callable[[Seeded], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """How to call one route with a request that passes validation for the addressed tenant."""

    body: Body | None = None
    form: Callable[[Seeded], tuple[dict[str, str], dict[str, Any]]] | None = None  # multipart
    provider_only: bool = False  # only a provider_admin may call it, even on its own account
    query: dict[str, str] | None = None
    # Brings the tenant into the state in which the call succeeds (idempotent).
    before: Callable[[Container, Seeded], None] | None = None


def _location_body(t: Seeded) -> dict[str, Any]:
    return {
        "name": "Annex West",
        "address": {
            "street": "9 Side St",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62702",
            "country": "US",
        },
        "time_zone": "America/Chicago",
    }


AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32)


def _media_form(t: Seeded) -> tuple[dict[str, str], dict[str, Any]]:
    fields = {
        "kind": "voicemail",
        "user_id": str(t.user_id),
        "recorded_at": "2026-01-15T08:30:00Z",
        "duration_seconds": "12",
    }
    return fields, {"file": ("message.wav", AUDIO, "audio/wav")}


TENANT_GUID = "6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"
CLIENT_GUID = "11111111-2222-4333-8444-555555555555"


def _registration_body(t: Seeded) -> dict[str, Any]:
    return {
        "tenant_id": TENANT_GUID,
        "client_id": CLIENT_GUID,
        "settings": {"groups": ["0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"]},
    }


def _connected(container: Container, t: Seeded) -> None:
    with container.unit_of_work() as s:
        acct = accounts.get_account(s, OP, t.slug)
        if registration.find_registration(s, acct) is None:
            registration.connect(
                s, OP, acct, registration.RegistrationIn.model_validate(_registration_body(t))
            )


def _disconnected(container: Container, t: Seeded) -> None:
    with container.unit_of_work() as s:
        acct = accounts.get_account(s, OP, t.slug)
        if registration.find_registration(s, acct) is not None:
            registration.disconnect(s, OP, acct)


def _scim_connected(container: Container, t: Seeded) -> None:
    _disconnected(container, t)
    with container.unit_of_work() as s:
        acct = accounts.get_account(s, OP, t.slug)
        if scim_source.get_source(s, acct) is None:
            scim_source.connect(s, OP, acct, "entra")


def _scim_token(container: Container, t: Seeded) -> None:
    """A token that works, addressed by the route."""
    _scim_connected(container, t)
    with container.unit_of_work() as s:
        acct = accounts.get_account(s, OP, t.slug)
        t.scim_token_id = scim_tokens.issue(s, OP, acct).record.id


def _rotated(container: Container, t: Seeded) -> None:
    _connected(container, t)
    with container.unit_of_work() as s:
        acct = accounts.get_account(s, OP, t.slug)
        found = registration.get_registration(s, OP, acct)
        if found.next_certificate_pem is None:
            certificate_rotation.rotate_certificate(s, OP, acct)


def _rotation_proven(container: Container, t: Seeded) -> None:
    _rotated(container, t)
    with container.unit_of_work() as s:
        acct = accounts.get_account(s, OP, t.slug)
        found = registration.get_registration(s, OP, acct)
        proven = [
            app_certificates.info(c.certificate_pem).thumbprint_sha1
            for c in credentials_for_auth(found)
        ]
        record = registration.ConnectionTestRecord(ok=True, proven_certificates=proven)
        registration.record_test_result(s, OP, acct, record)


SYNCED_GROUP = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"


class TenantDirectories:
    """One fake directory per account, standing in for each tenant's Entra ID."""

    def __init__(self) -> None:
        self.by_account: dict[int, FakeDirectory] = {}

    def __call__(self, reg: DirectoryRegistration) -> FakeDirectory:
        return self.for_account(reg.account_id)

    def for_account(self, account_id: int) -> FakeDirectory:
        if account_id not in self.by_account:
            fake = FakeDirectory()
            fake.name_group(SYNCED_GROUP, f"Sales {account_id}")
            fake.add_user("u1", givenName="Sync", surname=f"Account{account_id}")
            fake.add_member(SYNCED_GROUP, "u1")
            self.by_account[account_id] = fake
        return self.by_account[account_id]


UNREACHABLE = "https://127.0.0.1:9"  # refuses at once: a connection test that stays offline


def _connected_offline(container: Container, t: Seeded) -> None:
    with container.unit_of_work() as s:
        acct = accounts.get_account(s, OP, t.slug)
        found = registration.find_registration(s, acct)
        if found is not None and found.authority_url == UNREACHABLE:
            return
        if found is not None:
            registration.disconnect(s, OP, acct)
        body = {
            **_registration_body(t),
            "cloud": "custom",
            "authority_url": UNREACHABLE,
            "graph_url": UNREACHABLE,
        }
        registration.connect(s, OP, acct, registration.RegistrationIn.model_validate(body))


@pytest.fixture
def adapters() -> Adapters:
    return {"directory_for": TenantDirectories()}


def _sync_ready(container: Container, t: Seeded) -> None:
    _connected(container, t)


def _held_run(container: Container, t: Seeded) -> None:
    """A run whose deletions wait for approval (the synced group came back empty)."""
    _sync_ready(container, t)
    number = t.extra_ids.get("run_number")
    with container.unit_of_work() as s:
        run = (
            s.scalar(
                select(SyncRun).where(SyncRun.account_id == t.account_id, SyncRun.number == number)
            )
            if isinstance(number, int)
            else None
        )
        if run is not None and run.status == "held":
            return
    directories = container.directory_factory()
    assert isinstance(directories, TenantDirectories)
    fake = directories.for_account(t.account_id)
    engine = SyncEngine(container, directories)
    fake.add_member(SYNCED_GROUP, "u1")
    engine.reconcile(OP, t.slug)
    fake.remove_member(SYNCED_GROUP, "u1")
    held = engine.reconcile(OP, t.slug)
    assert held.status == "held", held
    fake.add_member(SYNCED_GROUP, "u1")
    t.extra_ids["run_number"] = held.number


def _more_runs(container: Container, t: Seeded, count: int) -> None:
    """``count`` more runs of the account (dry runs: they change nothing)."""
    directories = container.directory_factory()
    for _ in range(count):
        SyncEngine(container, directories).reconcile(OP, t.slug, dry_run=True)


def _numbers(container: Container, t: Seeded) -> set[int]:
    with container.unit_of_work() as s:
        return set(s.scalars(select(SyncRun.number).where(SyncRun.account_id == t.account_id)))


def _scim_requests(container: Container, t: Seeded) -> None:
    """A failed SCIM request in the account's request log."""
    with container.unit_of_work() as s:
        if not request_log.entries(s, OP, accounts.get_account(s, OP, t.slug), limit=1):
            request_log.record(
                s,
                t.account_id,
                method="POST",
                path=f"/scim/v2/{t.slug}/Users",
                status=409,
                subject=f"taken@{t.slug}.example",
                error="userName is taken",
            )


def prepare_reads(container: Container, t: Seeded) -> None:
    """Give the read routes something to read (their preconditions agree with each other)."""
    for key, case in CASES.items():
        if key[0] in READ_METHODS and case.before:
            case.before(container, t)


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/accounts/{account}"): Case(),
    ("PATCH", "/api/v1/accounts/{account}"): Case(body=lambda t: {"name": "Renamed Inc"}),
    ("POST", "/api/v1/accounts/{account}/terminate"): Case(provider_only=True),
    ("GET", "/api/v1/accounts/{account}/locations"): Case(),
    ("POST", "/api/v1/accounts/{account}/locations"): Case(body=_location_body),
    ("GET", "/api/v1/accounts/{account}/locations/{location_id}"): Case(),
    ("PATCH", "/api/v1/accounts/{account}/locations/{location_id}"): Case(
        body=lambda t: {"name": "Renamed", "time_zone": "Europe/Paris"}
    ),
    ("DELETE", "/api/v1/accounts/{account}/locations/{location_id}"): Case(),
    ("GET", "/api/v1/accounts/{account}/licenses"): Case(),
    ("POST", "/api/v1/accounts/{account}/licenses"): Case(
        body=lambda t: {"name": "Contact Center", "seats": 5}
    ),
    ("GET", "/api/v1/accounts/{account}/licenses/{license_id}"): Case(),
    ("PATCH", "/api/v1/accounts/{account}/licenses/{license_id}"): Case(
        body=lambda t: {"seats": 9}
    ),
    ("DELETE", "/api/v1/accounts/{account}/licenses/{license_id}"): Case(),
    ("GET", "/api/v1/accounts/{account}/numbers"): Case(),
    ("POST", "/api/v1/accounts/{account}/numbers"): Case(
        body=lambda t: {"numbers": [f"+1{t.area}5570100"], "location_id": t.hq_id}
    ),
    ("GET", "/api/v1/accounts/{account}/numbers/{number_id}"): Case(),
    ("PATCH", "/api/v1/accounts/{account}/numbers/{number_id}"): Case(
        body=lambda t: {"location_id": t.branch_id}
    ),
    ("DELETE", "/api/v1/accounts/{account}/numbers/{number_id}"): Case(),
    ("GET", "/api/v1/accounts/{account}/users"): Case(query={"search": "a", "limit": "10"}),
    ("POST", "/api/v1/accounts/{account}/users"): Case(
        body=lambda t: {
            "first_name": "Mallory",
            "last_name": "Intruder",
            "email": "mallory@example.com",
            "location_id": t.hq_id,
            "phone_numbers": [f"+1{t.area}5550103"],
            "license": "Business Voice",
        }
    ),
    ("GET", "/api/v1/accounts/{account}/users/{user_id}"): Case(),
    ("PATCH", "/api/v1/accounts/{account}/users/{user_id}"): Case(
        body=lambda t: {"first_name": "Mallory", "extension": "1999"}
    ),
    ("DELETE", "/api/v1/accounts/{account}/users/{user_id}"): Case(),
    ("GET", "/api/v1/accounts/{account}/audit"): Case(query={"limit": "5"}),
    ("GET", "/api/v1/accounts/{account}/media"): Case(query={"kind": "voicemail"}),
    ("POST", "/api/v1/accounts/{account}/media"): Case(form=lambda t: _media_form(t)),
    ("GET", "/api/v1/accounts/{account}/media/{media_id}"): Case(),
    ("GET", "/api/v1/accounts/{account}/media/{media_id}/content"): Case(),
    ("PUT", "/api/v1/accounts/{account}/directory/registration"): Case(
        body=_registration_body, before=_disconnected
    ),
    ("GET", "/api/v1/accounts/{account}/directory/registration"): Case(before=_connected),
    ("GET", "/api/v1/accounts/{account}/directory/groups"): Case(
        before=_connected, query={"search": "Sal"}
    ),
    ("DELETE", "/api/v1/accounts/{account}/directory/registration"): Case(before=_connected),
    ("PATCH", "/api/v1/accounts/{account}/directory/settings"): Case(
        body=lambda t: {"mode": "jit", "location_rules": {"Annex": "Spare"}}, before=_connected
    ),
    ("PATCH", "/api/v1/accounts/{account}/directory/connection"): Case(
        body=lambda t: {"cloud": "usgov"}, before=_connected
    ),
    ("GET", "/api/v1/accounts/{account}/directory/certificate"): Case(before=_connected),
    ("POST", "/api/v1/accounts/{account}/directory/certificate/rotate"): Case(before=_connected),
    ("POST", "/api/v1/accounts/{account}/directory/certificate/promote"): Case(
        before=_rotation_proven
    ),
    ("DELETE", "/api/v1/accounts/{account}/directory/certificate/next"): Case(before=_rotated),
    ("POST", "/api/v1/accounts/{account}/directory/reconcile"): Case(
        body=lambda t: {"dry_run": False}, before=_sync_ready
    ),
    ("POST", "/api/v1/accounts/{account}/directory/delta"): Case(before=_sync_ready),
    ("POST", "/api/v1/accounts/{account}/directory/sync-user"): Case(
        body=lambda t: {"user": "u1@contoso.example"}, before=_sync_ready
    ),
    ("GET", "/api/v1/accounts/{account}/directory/runs"): Case(before=_held_run),
    ("GET", "/api/v1/accounts/{account}/directory/runs/{run_number}"): Case(before=_held_run),
    ("POST", "/api/v1/accounts/{account}/directory/runs/{run_number}/approve"): Case(
        before=_held_run
    ),
    ("POST", "/api/v1/accounts/{account}/directory/runs/{run_number}/reject"): Case(
        before=_held_run
    ),
    ("GET", "/api/v1/accounts/{account}/directory/writebacks"): Case(before=_sync_ready),
    ("POST", "/api/v1/accounts/{account}/directory/writeback"): Case(before=_sync_ready),
    ("POST", "/api/v1/accounts/{account}/directory/test"): Case(before=_connected_offline),
    ("POST", "/api/v1/accounts/{account}/directory/preview"): Case(
        body=lambda t: {"default_location": "Spare"}, before=_sync_ready
    ),
    ("GET", "/api/v1/accounts/{account}/directory/offers"): Case(before=_sync_ready),
    ("GET", "/api/v1/accounts/{account}/directory/scim/requests"): Case(
        before=_scim_requests, query={"outcome": "failed", "q": "taken"}
    ),
    ("POST", "/api/v1/accounts/{account}/directory/offers/add"): Case(
        body=lambda t: {"user": "u1"}, before=_sync_ready
    ),
    # Graph and SCIM exclude each other: reading SCIM answers 200 (connected or not) while
    # the other reads keep Graph connected.
    ("GET", "/api/v1/accounts/{account}/directory/scim"): Case(),
    ("PUT", "/api/v1/accounts/{account}/directory/scim"): Case(
        body=lambda t: {"client": "okta", "deprovision": "delete", "default_location": "Spare"},
        before=_disconnected,
    ),
    ("DELETE", "/api/v1/accounts/{account}/directory/scim"): Case(before=_scim_connected),
    ("POST", "/api/v1/accounts/{account}/directory/scim/tokens"): Case(
        body=lambda t: {"overlap_hours": 1}, before=_scim_connected
    ),
    ("DELETE", "/api/v1/accounts/{account}/directory/scim/tokens/{token_id}"): Case(
        before=_scim_token
    ),
}

WRITES = sorted(key for key in CASES if key[0] not in READ_METHODS)


def account_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the API that addresses one account, as the OpenAPI document
    publishes them (the public view of the routing table, nested routers included)."""
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1/") and "{account}" in path
        for method in operations
        if method.upper() in HTTP_METHODS
    )


def url(path: str, values: dict[str, object]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise AssertionError(
                f"no test value for path parameter {{{name}}} of {path}; add the object to"
                " seed() and its id to Seeded.path_values()"
            )
        return str(values[name])

    return PARAM_RE.sub(fill, path)


def call(
    client: TestClient, token: str, key: tuple[str, str], target: Seeded, values: Seeded
) -> Any:
    """Call route ``key`` with ``target``'s path values and a body valid for ``values``."""
    method, path = key
    case = CASES[key]
    data, files = case.form(values) if case.form else (None, None)
    return client.request(
        method,
        url(path, target.path_values()),
        headers=factories.bearer(token),
        json=case.body(values) if case.body else None,
        data=data,
        files=files,
        params=case.query,
    )


# --- data ---------------------------------------------------------------------------------------


def seed(container: Container, slug: str, area: str) -> Seeded:
    with container.unit_of_work() as s:
        t = factories.tenant(s, slug, area)
        spare = locations.create_location(
            s,
            OP,
            t.account,
            LocationIn(name="Spare", address=factories.address(), time_zone="America/Denver"),
        )
        spare_license = licenses.create_license(
            s, OP, t.account, LicenseIn(name="Spare Seats", seats=2)
        )
        ada = users.create_user(
            s,
            OP,
            t.account,
            UserIn(
                first_name="Ada",
                last_name="Lovelace",
                email=f"ada@{slug}.example.com",
                location_id=t.hq.id,
                phone_numbers=[f"+1{area}5550100"],
                license="Business Voice",
            ),
        )
        users.create_user(
            s,
            OP,
            t.account,
            UserIn(
                first_name="Grace",
                last_name="Hopper",
                email=f"grace@{slug}.example.com",
                location_id=t.branch.id,
                phone_numbers=[f"+1{area}5560100"],
            ),
        )
        free_number = numbers.list_numbers(s, OP, t.account, status="available")[0]
        voicemail = media.ingest(
            s,
            OP,
            t.account,
            media.MediaIn(
                kind="voicemail",
                user_id=ada.id,
                recorded_at=datetime(2026, 1, 14, 17, 5, tzinfo=UTC),
                duration_seconds=31,
            ),
            io.BytesIO(AUDIO),
            "audio/wav",
        )
        ids = (t.account.id, t.hq.id, t.branch.id, spare.id, ada.id, free_number.id)
        license_id, media_id = spare_license.id, voicemail.id
        scim_source.connect(s, OP, t.account, "entra")
        scim_token_id = scim_tokens.issue(s, OP, t.account).record.id
        scim_source.disconnect(s, OP, t.account)
    admin = factories.token_for(container, f"admin@{slug}.example.com", Role.ACCOUNT_ADMIN, slug)
    viewer = factories.token_for(container, f"viewer@{slug}.example.com", Role.ACCOUNT_VIEWER, slug)
    return Seeded(
        slug=slug,
        area=area,
        account_id=ids[0],
        hq_id=ids[1],
        branch_id=ids[2],
        spare_location_id=ids[3],
        user_id=ids[4],
        free_number_id=ids[5],
        spare_license_id=license_id,
        scim_token_id=scim_token_id,
        admin_token=admin,
        viewer_token=viewer,
        media_id=media_id,
    )


def snapshot(container: Container, account_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that belongs to the account, in every table (its admins' tokens included, but
    not their ``last_used_at``, which the caller's own token moves), and its media files."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with container.unit_of_work() as s:
        principal_ids = select(Principal.id).where(Principal.account_id == account_id)
        for table in Base.metadata.sorted_tables:
            if table.name == "accounts":
                query = select(table).where(table.c.id == account_id)
            elif "account_id" in table.c:
                query = select(table).where(table.c.account_id == account_id)
            elif "principal_id" in table.c:
                query = select(table).where(table.c.principal_id.in_(principal_ids))
            else:
                continue
            columns = [c for c in table.c if c.name != "last_used_at"]
            query = query.with_only_columns(*columns).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(r) for r in s.execute(query)]
    prefix = f"{account_id}/"
    store = container.media_store
    files = sorted(k for k in store.keys() if k.startswith(prefix))  # noqa: SIM118 - not a dict
    rows["media files"] = []
    for key in files:
        with container.media_store.open(key) as handle:
            rows["media files"].append((key, handle.read()))
    return rows


@dataclass
class World:
    client: TestClient
    a: Seeded
    b: Seeded
    provider_token: str


@pytest.fixture
def world(container: Container, app_client: TestClient) -> World:
    a = seed(container, "alpha", "312")
    b = seed(container, "bravo", "415")
    provider = factories.token_for(container, "ops@provider.example.com", Role.PROVIDER_ADMIN)
    return World(app_client, a, b, provider)


# --- coverage -----------------------------------------------------------------------------------


def test_every_account_route_has_a_case(app_client: TestClient) -> None:
    app = app_client.app
    assert isinstance(app, FastAPI)
    routes = set(account_routes(app))
    missing = sorted(routes - CASES.keys())
    stale = sorted(CASES.keys() - routes)
    assert not missing, f"add these routes to CASES in {__name__}: {missing}"
    assert not stale, f"these CASES no longer match a route: {stale}"
    assert len(routes) >= 24


# The routes of the API that address no account: what each shows or changes depends on the
# caller alone. Each names the test that proves it.
CALLER_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/accounts"): "test_account_list_shows_only_the_callers_account",
    ("POST", "/api/v1/accounts"): "test_account_admin_cannot_create_or_terminate_accounts",
    ("GET", "/api/v1/me"): "test_account_list_shows_only_the_callers_account",
    ("GET", "/api/v1/tokens"): "test_account_admin_cannot_revoke_another_accounts_token",
    ("POST", "/api/v1/tokens"): "test_account_admin_cannot_revoke_another_accounts_token",
    ("DELETE", "/api/v1/tokens/{token_id}"): (
        "test_account_admin_cannot_revoke_another_accounts_token"
    ),
    ("GET", "/api/v1/sync-status"): "test_sync_status_shows_each_caller_only_their_accounts",
}


def test_every_route_without_an_account_has_a_case(app_client: TestClient) -> None:
    app = app_client.app
    assert isinstance(app, FastAPI)
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1/") and "{account}" not in path
        for method in operations
        if method.upper() in HTTP_METHODS
    }
    missing = sorted(routes - CALLER_ROUTES.keys())
    stale = sorted(CALLER_ROUTES.keys() - routes)
    assert not missing, f"add these routes to CALLER_ROUTES in {__name__}: {missing}"
    assert not stale, f"these CALLER_ROUTES no longer match a route: {stale}"
    tests = {name for name in globals() if name.startswith("test_")}
    assert set(CALLER_ROUTES.values()) <= tests


# --- another tenant's account -------------------------------------------------------------------


def test_account_admin_cannot_reach_another_account_through_any_route(
    container: Container, world: World
) -> None:
    a, b = world.a, world.b
    prepare_reads(container, b)  # B has a directory registration a leak would reveal
    before = snapshot(container, b.account_id)
    wrong: list[str] = []
    for key in sorted(CASES):
        response = call(world.client, a.admin_token, key, target=b, values=b)
        expected = {
            "error": {
                "code": "account_not_found",
                "message": f"account '{b.slug}' not found",
                "field": None,
            }
        }
        if response.status_code != 404 or response.json() != expected:
            wrong.append(f"{key}: {response.status_code} {response.text}")
    assert not wrong, "\n".join(wrong)
    assert snapshot(container, b.account_id) == before


def test_another_account_is_reported_exactly_like_a_missing_one(world: World) -> None:
    headers = factories.bearer(world.a.admin_token)
    theirs = world.client.get(f"/api/v1/accounts/{world.b.slug}/users", headers=headers)
    missing = world.client.get("/api/v1/accounts/no-such-account/users", headers=headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["message"].replace(world.b.slug, "X") == missing.json()["error"][
        "message"
    ].replace("no-such-account", "X")


def test_own_account_with_another_accounts_object_ids_is_not_found(
    container: Container, world: World
) -> None:
    a, b = world.a, world.b
    prepare_reads(container, a)
    prepare_reads(container, b)  # B's sync runs, among others
    # Runs are numbered per account, so A has runs of the numbers of B's held run too: give B
    # later runs, whose numbers A has not reached.
    _more_runs(container, b, 2)
    b_numbers = _numbers(container, b)
    assert b_numbers - _numbers(container, a)
    before = {n: snapshot(container, t.account_id) for n, t in (("a", a), ("b", b))}
    # A's slug, B's ids for every object in the path.
    mixed = replace(
        a,
        spare_location_id=b.spare_location_id,
        user_id=b.user_id,
        free_number_id=b.free_number_id,
        spare_license_id=b.spare_license_id,
        media_id=b.media_id,
        scim_token_id=b.scim_token_id,
        extra_ids={"run_number": max(b_numbers)},
    )
    assert mixed.path_values().keys() == b.path_values().keys()
    wrong: list[str] = []
    object_routes = [key for key in sorted(CASES) if PARAM_RE.findall(key[1]) != ["account"]]
    assert object_routes
    for key in object_routes:
        response = call(world.client, a.admin_token, key, target=mixed, values=a)
        if response.status_code != 404 or not response.json()["error"]["code"].endswith(
            "not_found"
        ):
            wrong.append(f"{key}: {response.status_code} {response.text}")
    assert not wrong, "\n".join(wrong)
    assert {n: snapshot(container, t.account_id) for n, t in (("a", a), ("b", b))} == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        # B's location, named in a body sent to A.
        ("users", {"first_name": "X", "last_name": "Y", "email": "x@example.com"}),
        ("numbers", {"numbers": ["+13125579999"]}),
    ],
)
def test_bodies_cannot_point_at_another_accounts_location(
    container: Container, world: World, path: str, body: dict[str, Any]
) -> None:
    before = snapshot(container, world.b.account_id)
    response = world.client.post(
        f"/api/v1/accounts/{world.a.slug}/{path}",
        headers=factories.bearer(world.a.admin_token),
        json={**body, "location_id": world.b.hq_id},
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "location_not_found"
    assert response.json()["error"]["field"] == "location_id"
    assert snapshot(container, world.b.account_id) == before


def test_users_cannot_take_another_accounts_numbers_or_location(
    container: Container, world: World
) -> None:
    a, b = world.a, world.b
    headers = factories.bearer(a.admin_token)
    before = snapshot(container, b.account_id)
    taken = world.client.patch(
        f"/api/v1/accounts/{a.slug}/users/{a.user_id}",
        headers=headers,
        json={"phone_numbers": [f"+1{b.area}5550101"]},
    )
    assert taken.status_code == 422, taken.text
    assert taken.json()["error"]["field"] == "phone_numbers"
    moved = world.client.patch(
        f"/api/v1/accounts/{a.slug}/users/{a.user_id}",
        headers=headers,
        json={"location_id": b.branch_id, "phone_numbers": []},
    )
    assert moved.status_code == 404, moved.text
    number = world.client.patch(
        f"/api/v1/accounts/{a.slug}/numbers/{a.free_number_id}",
        headers=headers,
        json={"location_id": b.hq_id},
    )
    assert number.status_code == 404, number.text
    assert snapshot(container, b.account_id) == before


def test_account_admin_cannot_revoke_another_accounts_token(
    container: Container, world: World
) -> None:
    b_headers = factories.bearer(world.b.admin_token)
    theirs = world.client.get("/api/v1/tokens", headers=b_headers).json()[0]["id"]
    response = world.client.delete(
        f"/api/v1/tokens/{theirs}", headers=factories.bearer(world.a.admin_token)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "token_not_found"
    assert world.client.get("/api/v1/me", headers=b_headers).status_code == 200


# --- the account list and account lifecycle -----------------------------------------------------


def test_account_list_shows_only_the_callers_account(world: World) -> None:
    for t in (world.a, world.b):
        for token in (t.admin_token, t.viewer_token):
            listed = world.client.get("/api/v1/accounts", headers=factories.bearer(token))
            assert listed.status_code == 200
            assert [acct["slug"] for acct in listed.json()] == [t.slug]
    everyone = world.client.get("/api/v1/accounts", headers=factories.bearer(world.provider_token))
    assert [acct["slug"] for acct in everyone.json()] == ["alpha", "bravo"]


def test_account_admin_cannot_create_or_terminate_accounts(
    container: Container, world: World
) -> None:
    headers = factories.bearer(world.a.admin_token)
    created = world.client.post(
        "/api/v1/accounts", headers=headers, json={"slug": "charlie", "name": "Charlie"}
    )
    assert created.status_code == 403
    assert created.json()["error"]["code"] == "forbidden"
    before = snapshot(container, world.a.account_id)
    ended = world.client.post(f"/api/v1/accounts/{world.a.slug}/terminate", headers=headers)
    assert ended.status_code == 403
    assert snapshot(container, world.a.account_id) == before
    listed = world.client.get("/api/v1/accounts", headers=factories.bearer(world.provider_token))
    assert [acct["slug"] for acct in listed.json()] == ["alpha", "bravo"]


# --- roles within one account -------------------------------------------------------------------


def test_account_viewer_reads_everything_and_writes_nothing(
    container: Container, world: World
) -> None:
    a = world.a
    prepare_reads(container, a)
    before = snapshot(container, a.account_id)
    wrong: list[str] = []
    for key in sorted(CASES):
        response = call(world.client, a.viewer_token, key, target=a, values=a)
        if key[0] in READ_METHODS:
            if response.status_code != 200:
                wrong.append(f"{key}: {response.status_code} {response.text}")
        elif response.status_code != 403 or response.json()["error"]["code"] != "forbidden":
            wrong.append(f"{key}: {response.status_code} {response.text}")
    assert not wrong, "\n".join(wrong)
    assert snapshot(container, a.account_id) == before


def test_provider_admin_reads_every_account(container: Container, world: World) -> None:
    wrong: list[str] = []
    for t in (world.a, world.b):
        prepare_reads(container, t)
        for key in sorted(k for k in CASES if k[0] in READ_METHODS):
            response = call(world.client, world.provider_token, key, target=t, values=t)
            if response.status_code != 200:
                wrong.append(f"{t.slug} {key}: {response.status_code} {response.text}")
    assert not wrong, "\n".join(wrong)
    # Reads of the same route show each account its own objects.
    a_users = call(
        world.client,
        world.provider_token,
        ("GET", "/api/v1/accounts/{account}/users"),
        world.a,
        world.a,
    )
    found = a_users.json()["items"]
    emails = {u["email"] for u in found}
    assert {"ada@alpha.example.com", "grace@alpha.example.com"} <= emails
    assert not any("bravo" in e for e in emails)
    # The one other user is alpha's own directory user (its held run keeps it).
    assert {u["last_name"] for u in found if u["source"] == "directory"} <= {
        f"Account{world.a.account_id}"
    }


@pytest.mark.parametrize("key", WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_each_write_succeeds_for_an_authorised_caller(
    container: Container, world: World, key: tuple[str, str]
) -> None:
    """The positive control: the bodies above are valid, so the refusals above are the access
    checks at work, not validation. B's rows stay untouched by writes to A."""
    token = world.provider_token if CASES[key].provider_only else world.a.admin_token
    before_write = CASES[key].before
    if before_write:
        before_write(container, world.a)
    before = snapshot(container, world.b.account_id)
    response = call(world.client, token, key, target=world.a, values=world.a)
    assert 200 <= response.status_code < 300, response.text
    assert snapshot(container, world.b.account_id) == before


def test_provider_admin_writes_to_any_account(container: Container, world: World) -> None:
    key = ("PATCH", "/api/v1/accounts/{account}/users/{user_id}")
    for t in (world.a, world.b):
        response = call(world.client, world.provider_token, key, target=t, values=t)
        assert response.status_code == 200, response.text
        assert response.json()["first_name"] == "Mallory"


# --- the fleet's sync status --------------------------------------------------------------------


def _status(world: World, token: str, **query: str) -> list[dict[str, Any]]:
    response = world.client.get(
        "/api/v1/sync-status", headers=factories.bearer(token), params=query
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_sync_status_shows_each_caller_only_their_accounts(
    container: Container, world: World
) -> None:
    _held_run(container, world.a)  # alpha needs attention: a run waits for approval
    _connected(container, world.b)
    for t, other in ((world.a, world.b), (world.b, world.a)):
        for token in (t.admin_token, t.viewer_token):
            listed = _status(world, token)
            assert [row["account"] for row in listed] == [t.slug]
            response = world.client.get("/api/v1/sync-status", headers=factories.bearer(token))
            assert other.slug not in response.text
    everyone = _status(world, world.provider_token)
    assert [row["account"] for row in everyone] == ["alpha", "bravo"]
    assert [row["held_runs"]["count"] for row in everyone] == [1, 0]
    # The filter keeps to the caller's accounts too.
    assert [r["account"] for r in _status(world, world.provider_token, needs_attention="true")] == [
        "alpha"
    ]
    assert _status(world, world.b.admin_token, needs_attention="true") == []
    assert [r["account"] for r in _status(world, world.a.viewer_token, needs_attention="true")] == [
        "alpha"
    ]
