"""The sync benchmark's child processes: one scenario each, so peak RSS and CPU are its own.

    .venv/bin/python benchmarks/sync_child.py KIND SCENARIO SETUP_JSON

KIND is ``connect`` (migrate, connect the account to the emulator, issue the probe's API
token), ``engine`` (one run of the sync engine), ``floor`` (the read-only floor) or
``work-floor`` (reads plus the bare writes, see sync_floor). The last line printed is the
result as JSON.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from graph_read_bench import control
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container, build
from switchboard.config import Settings
from switchboard.connection import registration
from switchboard.db.migrate import upgrade
from switchboard.db.models import Account, DirectoryRegistration, Location, SyncRunItem
from switchboard.directory.auth import MsalTokenProvider
from switchboard.directory.factory import graph_credentials
from switchboard.portal import accounts, locations
from switchboard.portal.actors import Role, system_actor
from switchboard.portal.schemas import AccountIn, AddressIn, LocationIn
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy

OP = system_actor("bench")
SLUG = "bench"
SECRET = "sync-bench-throwaway-key"  # noqa: S105 - a throwaway database
FULL_RUNS = ("initial", "steady")
ROLES = ["User.Read.All", "GroupMember.Read.All"]


def peak_rss_mb() -> float:
    """This process's own peak RSS. Linux's ru_maxrss of a child started by vfork (as
    subprocess does) starts from the parent's peak, so VmHWM (this address space's) comes
    first."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system time of this process, its threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def container(setup: dict[str, Any], database_url: str | None = None) -> Container:
    settings = Settings(
        database_url=database_url or setup["database_url"],
        data_dir=Path(setup["data_dir"]),
        secret_key=SECRET,
    )
    return build(settings)


def make_account(s: Session, slug: str) -> tuple[Account, Location]:
    """An account with two locations (HQ, where everyone without a matching office goes)."""
    address = AddressIn(
        street="1 Main St", city="Springfield", region="IL", postal_code="62701", country="US"
    )
    account = accounts.create_account(
        s, OP, AccountIn(slug=slug, name=slug.title(), extension_length=6)
    )
    made = [
        locations.create_location(
            s, OP, account, LocationIn(name=name, time_zone="America/Chicago", address=address)
        )
        for name in ("HQ", "Branch")
    ]
    return account, made[0]


def connect_account(setup: dict[str, Any]) -> dict[str, Any]:
    """The account connected to the emulator tenant (the whole tenant in scope), its
    certificate uploaded to the app, and an account admin's API token for the portal probe."""
    # Here, not at the top: importing principals hashes a dummy password (argon2, 64 MB),
    # which would count in every engine child's peak RSS.
    from switchboard.portal import api_tokens, principals

    c = container(setup)
    upgrade(c.engine)
    with c.unit_of_work() as s:
        account, _hq = make_account(s, SLUG)
        reg = registration.connect(
            s,
            OP,
            account,
            registration.RegistrationIn(
                tenant_id=setup["tenant_id"],
                client_id=setup["client_id"],
                cloud="custom",
                authority_url=setup["url"],
                graph_url=setup["url"],
                ca_bundle_pem=Path(setup["ca_path"]).read_text(),
                settings=SyncPolicy(all_users=True, default_location="HQ"),
            ),
        )
        certificate = reg.certificate_pem
        admin = principals.create_principal(
            s, OP, email="probe@bench.example", role=Role.ACCOUNT_ADMIN, account=account
        )
        token = api_tokens.issue_token(s, OP, admin).token
    control(
        Path(setup["emulator_dir"]),
        setup["url"],
        "POST",
        "/apps",
        {"client_id": setup["client_id"], "certificate_pem": certificate, "roles": ROLES},
    )
    return {"token": token}


def warm_token(c: Container) -> MsalTokenProvider:
    """The account's token provider with a token in hand (a running server has one cached)."""
    with c.unit_of_work() as s:
        reg = s.scalar(select(DirectoryRegistration))
        assert reg is not None
        provider = c.token_cache.provider(graph_credentials(reg, c.secrets))
    provider.token()
    return provider


def run_engine(scenario: str, setup: dict[str, Any]) -> dict[str, Any]:
    c = container(setup)
    warm_token(c)
    engine = SyncEngine(c, c.directory_factory())
    marks: dict[str, float] = {}

    def progress(phase: str, _done: int, total: int | None) -> None:
        if phase == "read" and total is not None:  # the whole scope is read
            marks.setdefault("read", time.perf_counter())

    cpu = cpu_seconds()
    started = time.perf_counter()
    if scenario in FULL_RUNS:
        result = engine.reconcile(OP, SLUG, trigger="api", progress=progress)
    elif scenario.startswith("delta"):
        result = engine.delta(OP, SLUG, trigger="api", progress=progress)
    else:
        result = engine.sync_user(OP, SLUG, setup["single_upn"], trigger="api")
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    counts = dict(result.counts)
    users = sum(v for k, v in counts.items() if k not in ("failed", "pending", "written_back"))
    with c.unit_of_work() as s:  # after the clock: what the work floor writes besides users
        skip_items = s.scalar(
            select(func.count())
            .select_from(SyncRunItem)
            .where(SyncRunItem.run_id == result.run_id, SyncRunItem.action == "skip")
        )
    return {
        "users": users,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "read_seconds": marks.get("read", started + seconds) - started,
        "rss_mb": peak_rss_mb(),
        "status": result.status,
        "kind": result.kind,
        "counts": counts,
        "skip_items": int(skip_items or 0),
    }


def main(kind: str, scenario: str, setup_file: str) -> None:
    setup = json.loads(Path(setup_file).read_text())
    if kind == "connect":
        out = connect_account(setup)
    elif kind in ("floor", "work-floor"):
        import sync_floor

        out = sync_floor.run(kind, scenario, setup)
    elif setup.get("profile_dir"):
        import cProfile

        profiler = cProfile.Profile()
        out = profiler.runcall(run_engine, scenario, setup)
        name = f"{scenario}-{setup['database']}-{setup['latency']}ms.prof"
        profiler.dump_stats(Path(setup["profile_dir"]) / name)
    else:
        out = run_engine(scenario, setup)
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
