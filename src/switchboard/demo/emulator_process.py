"""The demo's Entra tenant: `switchboard emulator serve` in a child process, steered over HTTPS.

The product does not import the emulator (it is a stand-in for Microsoft's cloud, not a part of
Switchboard), so the demo treats it as the customer's tenant: it runs it as its own process and
does the customer admin's step (uploading the app certificate, granting permissions) through the
emulator's control surface. A fixed port keeps the URL stored in the registration valid from one
demo run to the next; the state folder keeps the tenant, its users and the registered app.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SERVER_FILE = "server.json"
LOG_FILE = "emulator.log"
# A small tenant that still looks real in the UI: 3 groups, nested (Voice Users > Sales >
# Support), with the awkward users every tenant has (unmapped offices, no surname, disabled).
USERS = 120
GROUPS = 3
SEED = 7
START_TIMEOUT = 60.0
HOST = "127.0.0.1"  # the emulator listens on the loopback interface only


class DemoEmulatorError(RuntimeError):
    """The emulator could not be started or reached; the message says what to do."""


@dataclass(frozen=True)
class DemoTenant:
    url: str
    tenant_id: str
    state_dir: Path
    owned: bool  # started by this demo (and stopped by it), or found already running

    @property
    def ca_pem(self) -> str:
        return (self.state_dir / "ca.pem").read_text()

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.state_dir / "ca.pem"))

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        key = (self.state_dir / "control.key").read_text().strip()
        try:
            resp = httpx.request(
                method,
                f"{self.url}/_emulator{path}",
                json=body,
                headers={"X-Emulator-Key": key},
                verify=self._context(),
                timeout=30,
                trust_env=False,
            )
        except httpx.HTTPError as exc:
            raise DemoEmulatorError(f"cannot reach the emulator at {self.url}: {exc}") from exc
        if resp.status_code >= 400:
            raise DemoEmulatorError(f"emulator {method} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    def register_app(self, client_id: str, certificate_pem: str, roles: list[str]) -> None:
        """The customer admin's part: upload the certificate and grant the permissions."""
        self.control(
            "POST",
            "/apps",
            {
                "client_id": client_id,
                "certificate_pem": certificate_pem,
                "roles": roles,
                "display_name": "Switchboard",
            },
        )


def _already_running(state_dir: Path) -> DemoTenant | None:
    """An emulator serving this state folder (a demo still running, or one started by hand)."""
    server_file = state_dir / SERVER_FILE
    if not server_file.exists():
        return None
    try:
        info = json.loads(server_file.read_text())
        tenant = DemoTenant(info["url"], info["tenant_id"], state_dir, owned=False)
        tenant.control("GET", "/status")
    except (ValueError, KeyError, OSError, DemoEmulatorError):
        server_file.unlink(missing_ok=True)  # left behind by a server that was killed
        return None
    return tenant


def _command(state_dir: Path, host: str, port: int) -> list[str]:
    # The same interpreter as this process, so the child finds the same installation.
    return [
        sys.executable,
        "-c",
        "from switchboard.cli.emulator_commands import app; app()",
        "serve",
        "--state-dir",
        str(state_dir),
        "--host",
        host,
        "--port",
        str(port),
        "--users",
        str(USERS),
        "--groups",
        str(GROUPS),
        "--seed",
        str(SEED),
        "--log-level",
        "warning",
    ]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # a graceful shutdown saves the emulator's state
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _server_info(path: Path) -> dict[str, Any] | None:
    """The server file once it is written whole (the server writes it when it is ready)."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and "url" in info and "tenant_id" in info else None


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class StartingTenant:
    """An emulator on its way up; ``wait()`` returns it once it serves (so the caller can do
    other work meanwhile)."""

    def __init__(
        self,
        state_dir: Path,
        port: int,
        proc: subprocess.Popen[bytes] | None,
        found: DemoTenant | None,
    ) -> None:
        self.state_dir = state_dir
        self.port = port
        self.proc = proc
        self.found = found

    def wait(self) -> DemoTenant:
        if self.found is not None:
            return self.found
        assert self.proc is not None
        log_path = self.state_dir / LOG_FILE
        deadline = time.monotonic() + START_TIMEOUT
        while (info := _server_info(self.state_dir / SERVER_FILE)) is None:
            if self.proc.poll() is not None:
                tail = _log_tail(log_path)
                hint = (
                    f"; port {self.port} is taken: stop what uses it or pass --emulator-port"
                    if "address already in use" in tail.lower()
                    else ""
                )
                raise DemoEmulatorError(
                    f"the Entra ID emulator stopped while starting{hint}\n{tail}"
                )
            if time.monotonic() > deadline:
                raise DemoEmulatorError(
                    f"the Entra ID emulator did not start within {START_TIMEOUT:.0f} s; see"
                    f" {log_path}"
                )
            time.sleep(0.05)
        self.found = DemoTenant(info["url"], info["tenant_id"], self.state_dir, owned=True)
        return self.found


@contextmanager
def tenant(state_dir: Path, *, port: int, host: str = HOST) -> Iterator[StartingTenant]:
    """The demo tenant, served while the block runs (reused if one already serves the folder).

    An emulator this function starts is stopped when the block ends, gracefully (it saves its
    state); one found running is left alone.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    found = _already_running(state_dir)
    if found is not None:
        yield StartingTenant(state_dir, port, None, found)
        return
    with (state_dir / LOG_FILE).open("wb") as log:  # this run's log only
        proc = subprocess.Popen(  # noqa: S603 - our own CLI, arguments built here
            _command(state_dir, host, port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # Its own session: Ctrl-C reaches the demo only, which then stops the emulator
            # exactly once (a second SIGINT would make uvicorn skip the graceful shutdown).
            start_new_session=True,
        )
    try:
        yield StartingTenant(state_dir, port, proc, None)
    finally:
        _stop(proc)
