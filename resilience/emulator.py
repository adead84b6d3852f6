"""The Entra ID emulator in its own process, its control API, Graph writes and its truth.

The truth is read from the emulator's own store (DIR/directory.sqlite3), not through Graph, so
the checker sees the tenant as it is even while faults are injected into Graph answers.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from switchboard.directory.auth import GraphCredentials, MsalTokenProvider
from switchboard.emulator.keys_and_certificates import self_signed_certificate
from switchboard.emulator.state import control_key

# Faults of the storm: every kind Graph and the token endpoint can answer with.
STORM_KINDS = ["429", "503", "reset", "timeout"]
NO_FAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_kinds": ["429", "503"],
    "delta_replays": False,
    "notification_duplicate_rate": 0.0,
}


@dataclass(frozen=True)
class DirUser:
    """One active directory user as the emulator holds it (only what the checker needs)."""

    id: str
    props: dict[str, Any]


class Emulator:
    """A running ``switchboard emulator serve`` process and the clients that drive it."""

    def __init__(self, folder: Path, users: int, groups: int, seed: int = 1) -> None:
        self.folder = folder
        exe = Path(sys.executable).with_name("switchboard")
        self.log = (folder.parent / "emulator.log").open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [
                str(exe),
                "emulator",
                "serve",
                "--state-dir",
                str(folder),
                "--port",
                "0",
                "--users",
                str(users),
                "--groups",
                str(groups),
                "--seed",
                str(seed),
                "--log-level",
                "warning",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = self._wait_ready()
        self.ctx = ssl.create_default_context(cafile=str(folder / "ca.pem"))
        self.tenant_id: str = self.control("GET", "/status")["tenant_id"]
        self._writer: httpx.Client | None = None

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + 300
        server_file = self.folder / "server.json"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the emulator exited during start-up; see emulator.log")
            if server_file.exists():
                url = str(json.loads(server_file.read_text())["url"])
                ctx = ssl.create_default_context(cafile=str(self.folder / "ca.pem"))
                with contextlib.suppress(httpx.HTTPError):
                    httpx.get(
                        f"{url}/_emulator/status",
                        verify=ctx,
                        headers={"X-Emulator-Key": control_key(self.folder)},
                        timeout=5,
                    )
                    return url
            time.sleep(0.3)
        self.proc.kill()
        raise RuntimeError("the emulator did not start within 5 minutes")

    def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    # ------------------------------------------------------------------ control API
    def control(self, method: str, path: str, body: Any = None) -> Any:
        resp = httpx.request(
            method,
            f"{self.url}/_emulator{path}",
            json=body,
            verify=self.ctx,
            timeout=300,
            headers={"X-Emulator-Key": control_key(self.folder)},
        )
        resp.raise_for_status()
        return resp.json()

    def faults(self, **changes: Any) -> None:
        self.control("PATCH", "/faults", changes)

    def calm(self) -> None:
        """No injected faults, no throttling: the state every scenario starts from."""
        self.faults(**NO_FAULTS)
        self.control("PATCH", "/throttle", {"enabled": False, "read_limit": None})

    def churn(self, count: int, seed: int) -> dict[str, int]:
        return dict(self.control("POST", "/churn", {"count": count, "seed": seed})["changes"])

    def register_app(self, client_id: str, certificate_pem: str, roles: list[str]) -> None:
        self.control(
            "POST",
            "/apps",
            {"client_id": client_id, "certificate_pem": certificate_pem, "roles": roles},
        )

    # ------------------------------------------------------------------ Graph writes
    def writer(self) -> httpx.Client:
        """A Graph client of the suite's own app, allowed to change group memberships."""
        if self._writer is None:
            key, cert = self_signed_certificate("resilience-suite")
            client_id = str(uuid.uuid4())
            self.register_app(client_id, cert.decode(), ["GroupMember.ReadWrite.All"])
            creds = GraphCredentials(
                account_id="resilience",
                tenant_id=self.tenant_id,
                client_id=client_id,
                private_key_pem=key.decode(),
                certificate_pem=cert.decode(),
                authority_url=self.url,
                graph_url=self.url,
                ca_bundle_pem=(self.folder / "ca.pem").read_text(),
            )
            token = MsalTokenProvider(creds).token()
            self._writer = httpx.Client(
                base_url=f"{self.url}/v1.0",
                verify=self.ctx,
                timeout=60,
                headers={"Authorization": f"Bearer {token}"},
            )
        return self._writer

    def remove_members(self, group_id: str, user_ids: list[str]) -> None:
        client = self.writer()
        for uid in user_ids:
            client.delete(f"/groups/{group_id}/members/{uid}/$ref").raise_for_status()

    def add_members(self, group_id: str, user_ids: list[str]) -> None:
        client = self.writer()
        for uid in user_ids:
            ref = {"@odata.id": f"{self.url}/v1.0/directoryObjects/{uid}"}
            client.post(f"/groups/{group_id}/members/$ref", json=ref).raise_for_status()

    # ------------------------------------------------------------------ truth
    def _settled(self) -> None:
        """Wait until the store holds the emulator's latest version (it saves every 0.5 s)."""
        version = self.control("GET", "/status")["version"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.closing(sqlite3.connect(self.folder / "directory.sqlite3")) as db:
                row = db.execute("select value from meta where key = 'version'").fetchone()
            if row is not None and int(json.loads(row[0])) >= version:
                return
            time.sleep(0.2)
        raise RuntimeError("the emulator did not save its state within 30 s")

    def snapshot(self) -> tuple[dict[str, DirUser], dict[str, dict[str, str]]]:
        """Active users by id, and each group's direct members (id -> 'user' | 'group')."""
        self._settled()
        users: dict[str, DirUser] = {}
        groups: dict[str, dict[str, str]] = {}
        with contextlib.closing(sqlite3.connect(self.folder / "directory.sqlite3")) as db:
            for uid, data in db.execute("select id, data from users"):
                props, _pv, _v, _created, _admin, deleted_at, *_ = json.loads(data)
                if deleted_at is None:
                    users[uid] = DirUser(uid, dict(props))
            for gid, data in db.execute("select id, data from groups"):
                groups[gid] = dict(json.loads(data)[4])
        return users, groups

    def in_scope(self, group_ids: list[str]) -> dict[str, DirUser]:
        """Active users that are transitive members of any of the groups."""
        users, groups = self.snapshot()
        return {uid: users[uid] for uid in transitive_members(groups, group_ids) if uid in users}

    def groups_by_size(self) -> list[tuple[str, int]]:
        """Groups that hold no other group, largest first, with their direct user count."""
        _users, groups = self.snapshot()
        flat = [
            (gid, sum(1 for k in members.values() if k == "user"))
            for gid, members in groups.items()
            if all(k == "user" for k in members.values())
        ]
        return sorted(flat, key=lambda g: (-g[1], g[0]))


def transitive_members(groups: dict[str, dict[str, str]], roots: list[str]) -> set[str]:
    found: set[str] = set()
    seen: set[str] = set()
    queue = [g for g in roots if g in groups]
    while queue:
        gid = queue.pop()
        if gid in seen:
            continue
        seen.add(gid)
        for mid, kind in groups[gid].items():
            if kind == "group":
                if mid in groups:
                    queue.append(mid)
            else:
                found.add(mid)
    return found
