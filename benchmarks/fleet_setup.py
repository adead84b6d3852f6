"""The fleet benchmark's set-up: its database, the emulator's groups, the accounts connected to
them, their initial full syncs, and the processes it starts (each stopped on the way out).

Every account connects to the one emulator tenant with its own app registration and syncs one
group of its own. Groups 0-3 are skipped: the seed nests 1-3 inside 0.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import IO, Any

import httpx
from emulator_accounts import connect_account
from graph_read_bench import control
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from switchboard.bootstrap import Container, build
from switchboard.config import Settings
from switchboard.connection import registration
from switchboard.db.engine import normalise_url
from switchboard.directory.auth import GraphCredentials, TokenCache
from switchboard.directory.graph_directory import GraphDirectory, connect
from switchboard.emulator.keys_and_certificates import self_signed_certificate
from switchboard.jobs import sync_work
from switchboard.portal import accounts
from switchboard.portal.actors import system_actor
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy

OP = system_actor("bench")
PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "switchboard_bench_fleet"
SECRET = "fleet-bench-throwaway-key"  # noqa: S105 - a throwaway database
SKIPPED_GROUPS = 4  # the seed nests groups 1-3 in group 0
EVERY_MINUTES = 5  # batched mode's minimum schedule
BIN = Path(sys.executable).parent


# ---------------------------------------------------------------------------- database
@contextmanager
def fleet_database(keep: bool = False) -> Iterator[str]:
    """A fresh switchboard_bench_fleet database (dropped first if a run left one)."""
    admin = create_engine(normalise_url(PG), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        yield (
            make_url(normalise_url(PG)).set(database=DATABASE).render_as_string(hide_password=False)
        )
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        admin.dispose()


def settings(database_url: str, data_dir: Path, public_url: str | None = None) -> Settings:
    return Settings(
        database_url=database_url, data_dir=data_dir, secret_key=SECRET, public_url=public_url
    )


def environment(s: Settings) -> dict[str, str]:
    """The environment that gives `switchboard serve` and `worker` the bench's settings."""
    env = dict(os.environ)
    env.update(
        SWITCHBOARD_DATABASE_URL=s.database_url,
        SWITCHBOARD_DATA_DIR=str(s.data_dir),
        SWITCHBOARD_SECRET_KEY=SECRET,
    )
    if s.public_url:
        env["SWITCHBOARD_PUBLIC_URL"] = s.public_url
    return env


# ---------------------------------------------------------------------------- the tenant
@dataclass(frozen=True)
class Tenant:
    folder: Path
    url: str
    tenant_id: str

    @property
    def ca_pem(self) -> str:
        return (self.folder / "ca.pem").read_text()


def admin_directory(tenant: Tenant) -> GraphDirectory:
    """A Graph client of an app of the bench's own that may change users (the churn)."""
    key, cert = self_signed_certificate("fleet-bench")
    client_id = str(uuid.uuid4())
    control(
        tenant.folder,
        tenant.url,
        "POST",
        "/apps",
        {
            "client_id": client_id,
            "certificate_pem": cert.decode(),
            "roles": ["User.ReadWrite.All", "GroupMember.Read.All"],
        },
    )
    creds = GraphCredentials(
        account_id=0,
        tenant_id=tenant.tenant_id,
        client_id=client_id,
        private_key_pem=key.decode(),
        certificate_pem=cert.decode(),
        authority_url=tenant.url,
        graph_url=tenant.url,
        ca_bundle_pem=tenant.ca_pem,
    )
    return connect(creds, TokenCache(), background=False)


def group_ids(directory: GraphDirectory) -> list[str]:
    """The seeded groups' ids in seed order (their mail nickname is grp<index>)."""
    found = {
        g["mailNickname"]: g["id"]
        for g in directory.client.items("/groups", {"$select": "id,mailNickname", "$top": "999"})
    }
    return [found[f"grp{i}"] for i in range(len(found))]


def members(directory: GraphDirectory, group_id: str) -> list[str]:
    return [
        u["id"]
        for u in directory.client.items(
            f"/groups/{group_id}/members", {"$select": "id", "$top": "999"}
        )
    ]


# ---------------------------------------------------------------------------- accounts
@dataclass(frozen=True)
class Fleet:
    batched: list[str]  # slugs
    jit: list[str]
    jit_groups: list[str]


def connect_accounts(
    setup: dict[str, Any],
    tenant: Tenant,
    groups: Sequence[str],
    batched: int,
    jit: int,
    processes: int,
) -> Fleet:
    """``batched`` and ``jit`` accounts (on demand until switched), each connected with its
    own app registration (its certificate registered in the emulator) to one group; in
    ``processes`` child processes (each registration makes a 3072-bit key: a second of CPU)."""
    wanted = groups[SKIPPED_GROUPS : SKIPPED_GROUPS + batched + jit]
    if len(wanted) < batched + jit:
        raise SystemExit(f"the emulator has {len(groups)} groups; {batched + jit} are needed")
    fleet = Fleet([], [], [])
    plan: list[tuple[str, str, bool]] = []
    for index, group in enumerate(wanted):
        is_jit = index >= batched
        slug = f"jit-{index - batched + 1:03d}" if is_jit else f"fleet-{index + 1:03d}"
        plan.append((slug, group, is_jit))
        (fleet.jit if is_jit else fleet.batched).append(slug)
        if is_jit:
            fleet.jit_groups.append(group)
    slices = [plan[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        list(pool.map(_connect_slice, [setup] * processes, [tenant] * processes, slices))
    return fleet


def _connect_slice(
    setup: dict[str, Any], tenant: Tenant, plan: list[tuple[str, str, bool]]
) -> None:
    c = build(settings(setup["database_url"], Path(setup["data_dir"])))
    try:
        for slug, group, _jit in plan:
            _connect(c, tenant, slug, group)
    finally:
        c.engine.dispose()


def _connect(c: Container, tenant: Tenant, slug: str, group: str) -> None:
    # Every account starts on demand: jit accounts switch once the portal that receives their
    # notifications is up (switch_to_jit), batched ones one by one as the measurement starts
    # (switch_to_batched), so their due times spread over the 5 minutes as in a real fleet.
    connect_account(
        c,
        slug=slug,
        name=slug,
        policy=SyncPolicy(groups=[group], default_location="HQ"),
        folder=tenant.folder,
        url=tenant.url,
        tenant_id=tenant.tenant_id,
    )


def switch_mode(c: Container, slug: str, patch: dict[str, Any]) -> int:
    """What an admin does in the UI: a change of the account's sync settings; its id."""
    with c.unit_of_work() as s:
        account = accounts.get_account(s, OP, slug, write=True)
        registration.update_settings(s, OP, account, patch)
        return account.id


def switch_to_jit(c: Container, slugs: Sequence[str]) -> None:
    """jit mode; then the subscriptions are made (the scheduler's upkeep job, run here so they
    exist before the measurement starts)."""
    for slug in slugs:
        sync_work.maintain_subscriptions(c, switch_mode(c, slug, {"mode": "jit"}))


def switch_to_batched(c: Container, slug: str) -> int:
    """Batched every 5 minutes: with no scheduled run yet, the account is due at once."""
    return switch_mode(c, slug, {"mode": "batched", "schedule_minutes": EVERY_MINUTES})


def _sync_slice(setup: dict[str, Any], slugs: list[str]) -> int:
    """A child process: the initial full syncs of ``slugs``; the users they synced."""
    c = build(settings(setup["database_url"], Path(setup["data_dir"])))
    engine = SyncEngine(c, c.directory_factory())
    created = 0
    try:
        for slug in slugs:
            # Through the API: batched mode's 5 minutes count from scheduled and manual runs
            # only, so the account is due as soon as it is switched to batched.
            summary = engine.reconcile(OP, slug, trigger="api")
            if summary.status not in ("succeeded", "partial"):
                raise RuntimeError(f"{slug}: the initial sync ended {summary.status}")
            created += sum(v for k, v in summary.counts.items() if k not in ("failed", "pending"))
    finally:
        c.engine.dispose()
    return created


def initial_syncs(setup: dict[str, Any], slugs: Sequence[str], processes: int) -> int:
    """Every account's first full reconcile, in ``processes`` child processes at once."""
    slices = [list(slugs[i::processes]) for i in range(processes)]
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        return sum(pool.map(_sync_slice, [setup] * processes, slices))


# ---------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Processes:
    """The processes the bench starts, each in its own session (so a Ctrl-C reaches only the
    bench, which then stops them in order), with their output in a log file each."""

    logs: Path
    running: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [str(BIN / "switchboard"), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append((proc, log))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 60.0) -> None:
        """SIGTERM (a worker finishes the jobs it runs), then SIGKILL after ``grace`` s."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for entry in [e for e in self.running if e[0] is proc]:
            entry[1].close()
            self.running.remove(entry)

    def stop_all(self) -> None:
        for proc, _log in reversed(list(self.running)):
            self.stop(proc, grace=20.0)


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited during start-up (exit {proc.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{what} did not answer {url} within {seconds:.0f} s")
