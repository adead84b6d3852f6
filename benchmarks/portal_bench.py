"""Portal core benchmark: bulk user provisioning and API latency on SQLite and PostgreSQL.

Run with `make bench-portal` (or `python benchmarks/portal_bench.py --users N`). Prints a table.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from switchboard.bootstrap import build
from switchboard.config import Settings
from switchboard.db.engine import normalise_url
from switchboard.db.migrate import upgrade
from switchboard.portal import accounts, api_tokens, licenses, locations, numbers, principals, users
from switchboard.portal.actors import Role, system_actor
from switchboard.portal.schemas import (
    AccountIn,
    AddressIn,
    LicenseIn,
    LocationIn,
    NumbersIn,
    UserIn,
)
from switchboard.web.app import create_app

OP = system_actor("bench")
PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    admin = create_engine(normalise_url(PG), isolation_level="AUTOCOMMIT")
    name = f"switchboard_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(PG)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def timed(samples: int, call: Callable[[int], object]) -> tuple[float, float]:
    durations = []
    for i in range(samples):
        start = time.perf_counter()
        call(i)
        durations.append((time.perf_counter() - start) * 1000)
    durations.sort()
    return statistics.median(durations), durations[int(len(durations) * 0.95) - 1]


def run(kind: str, n_users: int, workdir: Path) -> dict[str, str]:
    with database(kind, workdir) as url:
        c = build(Settings(database_url=url, data_dir=workdir / kind, secret_key="bench"))  # noqa: S106 - a throwaway database
        upgrade(c.engine)
        with c.unit_of_work() as s:
            acct = accounts.create_account(
                s, OP, AccountIn(slug="bench", name="Bench", extension_length=6)
            )
            hq = locations.create_location(
                s,
                OP,
                acct,
                LocationIn(
                    name="HQ",
                    time_zone="America/Chicago",
                    address=AddressIn(
                        street="1 Main St",
                        city="Chicago",
                        region="IL",
                        postal_code="60601",
                        country="US",
                    ),
                ),
            )
            licenses.create_license(s, OP, acct, LicenseIn(name="Voice", seats=n_users * 2))
            numbers.add_numbers(
                s,
                OP,
                acct,
                NumbersIn(numbers=[f"+1312555{i:04d}" for i in range(1000)], location_id=hq.id),
            )
            admin = principals.create_principal(
                s, OP, email="ops@bench.example", role=Role.PROVIDER_ADMIN
            )
            token = api_tokens.issue_token(s, OP, admin).token
        start = time.perf_counter()
        batch = 500
        for offset in range(0, n_users, batch):
            with c.unit_of_work() as s:
                acct = accounts.get_account(s, OP, "bench")
                for i in range(offset, min(offset + batch, n_users)):
                    users.create_user(
                        s,
                        OP,
                        acct,
                        UserIn(
                            first_name=f"First{i}",
                            last_name=f"Last{i}",
                            email=f"user{i}@bench.example",
                            location_id=hq.id,
                            license="Voice",
                            phone_numbers=[f"+1312555{i:04d}"] if i < 1000 else [],
                        ),
                    )
        create_s = time.perf_counter() - start
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(c)) as client:
            base = "/api/v1/accounts/bench/users"
            page = timed(
                100,
                lambda i: client.get(
                    f"{base}?limit=50&offset={i * 50}", headers=headers
                ).raise_for_status(),
            )
            search = timed(
                100,
                lambda i: client.get(
                    f"{base}?search=last{i * 37}", headers=headers
                ).raise_for_status(),
            )
            post = timed(
                100,
                lambda i: client.post(
                    base,
                    headers=headers,
                    json={
                        "first_name": "Api",
                        "last_name": f"User{i}",
                        "email": f"api{i}@bench.example",
                        "location_id": hq.id,
                    },
                ).raise_for_status(),
            )
        c.engine.dispose()
    return {
        "database": kind,
        "users": f"{n_users:,}",
        "create users/s": f"{n_users / create_s:,.0f}",
        "list page p50/p95 ms": f"{page[0]:.1f} / {page[1]:.1f}",
        "search p50/p95 ms": f"{search[0]:.1f} / {search[1]:.1f}",
        "API create p50/p95 ms": f"{post[0]:.1f} / {post[1]:.1f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            rows.append(run(kind, args.users, Path(tmp)))
    table = Table(title="Portal core benchmark")
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*row.values())
    table.caption = f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    Console().print(table)


if __name__ == "__main__":
    main()
