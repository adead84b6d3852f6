"""The scale benchmark: seed a large tenant, read it back through /users and users/delta, churn
it, and read the changes in one delta round.

Run it with ``switchboard emulator bench`` (defaults: 100,000 users in 200 groups). The emulator
runs in its own process, as the demo and the benchmarks run it, so the peak RSS reported is the
emulator's alone (read from /proc/PID/status; where that does not exist, from the resource usage
of the ended child).
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import ssl
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from switchboard.emulator.keys_and_certificates import self_signed_certificate
from switchboard.emulator.server import SERVER_FILE, serve
from switchboard.emulator.state import CONTROL_KEY_FILE, SeedOptions

SELECT = "id,userPrincipalName,displayName,givenName,surname,mail,officeLocation,accountEnabled"
START_TIMEOUT_SECONDS = 1800.0


@dataclass
class BenchRow:
    step: str
    objects: int
    seconds: float
    requests: int
    # The emulator's peak resident memory up to the end of this step.
    peak_rss_mb: float = 0.0

    @property
    def rate(self) -> float:
        return self.objects / self.seconds if self.seconds else 0.0


def _read_all(
    client: httpx.Client, url: str, params: dict[str, str] | None
) -> tuple[int, int, str]:
    """Follow nextLinks to the end; counts objects (group members for groups/delta) and returns
    the deltaLink, if the round gave one."""
    resp = client.get(url, params=params)
    count = pages = 0
    while True:
        resp.raise_for_status()
        body = resp.json()
        for item in body["value"]:
            count += len(item["members@delta"]) if "members@delta" in item else 1
        pages += 1
        link = body.get("@odata.nextLink")
        if not link:
            return count, pages, body.get("@odata.deltaLink", "")
        resp = client.get(link)


def _peak_rss_mb(pid: int) -> float | None:
    """VmHWM of a running process, in MB; None where /proc does not exist."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _serve_quietly(folder: Path, opts: SeedOptions) -> None:
    serve(folder, port=0, seed=opts, log_level="warning")


def _wait_until_serving(proc: Any, folder: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    server_file = folder / SERVER_FILE
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise RuntimeError("the emulator exited while seeding; see the output above")
        if server_file.exists():
            return str(json.loads(server_file.read_text())["url"])
        time.sleep(0.1)
    raise RuntimeError(f"the emulator did not start within {START_TIMEOUT_SECONDS:.0f} s")


def _token(url: str, folder: Path, control: httpx.Client) -> str:
    key, cert = self_signed_certificate("bench")
    client_id = str(uuid.uuid4())
    resp = control.post(
        "/apps",
        json={
            "client_id": client_id,
            "certificate_pem": cert.decode(),
            "roles": ["User.Read.All", "GroupMember.Read.All"],
        },
    )
    resp.raise_for_status()
    session = requests.Session()
    session.verify = str(folder / "ca.pem")
    session.trust_env = False
    thumb = x509.load_pem_x509_certificate(cert).fingerprint(hashes.SHA1()).hex()  # noqa: S303 - x5t is SHA-1
    tenant_id = json.loads((folder / SERVER_FILE).read_text())["tenant_id"]
    app = msal.ConfidentialClientApplication(
        client_id,
        authority=f"{url}/{tenant_id}",
        client_credential={"private_key": key.decode(), "thumbprint": thumb},
        instance_discovery=False,
        http_client=session,
    )
    token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    session.close()
    return str(token["access_token"])


def run_bench(
    users: int,
    groups: int,
    seed: int,
    state_dir: Path | None = None,
    churn: int = 10_000,
    progress: Callable[[BenchRow], None] | None = None,
) -> list[BenchRow]:
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="entra-emulator-bench-") as tmp:
        folder = state_dir or Path(tmp)
        # spawn: a fresh interpreter, so the emulator's memory is its own and not a fork's.
        proc = multiprocessing.get_context("spawn").Process(
            target=_serve_quietly,
            args=(folder, SeedOptions(users=users, groups=groups, seed=seed)),
            name="entra-emulator-bench",
        )
        started = time.perf_counter()
        proc.start()
        pid = proc.pid or 0

        def add(row: BenchRow) -> None:
            row.peak_rss_mb = _peak_rss_mb(pid) or 0.0
            rows.append(row)
            if progress is not None:
                progress(row)

        try:
            url = _wait_until_serving(proc, folder)
            add(BenchRow("start: seed + save", users, time.perf_counter() - started, 0))
            ctx = ssl.create_default_context(cafile=str(folder / "ca.pem"))
            key = (folder / CONTROL_KEY_FILE).read_text().strip()
            with httpx.Client(
                base_url=f"{url}/_emulator",
                verify=ctx,
                timeout=600,
                headers={"X-Emulator-Key": key},
            ) as control:
                token = _token(url, folder, control)
                with httpx.Client(
                    base_url=f"{url}/v1.0",
                    verify=ctx,
                    timeout=600,
                    headers={"Authorization": f"Bearer {token}"},
                ) as c:
                    delta_link = ""
                    reads = [
                        ("/users $top=999 $select", "/users", {"$top": "999", "$select": SELECT}),
                        ("/users/delta $select, first round", "/users/delta", {"$select": SELECT}),
                        (
                            "/groups/delta members (refs)",
                            "/groups/delta",
                            {"$select": "displayName,members"},
                        ),
                    ]
                    for label, path, params in reads:
                        t0 = time.perf_counter()
                        n, pages, link = _read_all(c, path, params)
                        add(BenchRow(label, n, time.perf_counter() - t0, pages))
                        if path == "/users/delta":
                            delta_link = link
                    if churn:
                        t0 = time.perf_counter()
                        resp = control.post("/churn", json={"count": churn, "seed": 1})
                        resp.raise_for_status()
                        add(
                            BenchRow(
                                "churn (POST /_emulator/churn)", churn, time.perf_counter() - t0, 1
                            )
                        )
                        t0 = time.perf_counter()
                        n, pages, _ = _read_all(c, delta_link, None)
                        add(
                            BenchRow(
                                "/users/delta, round after churn",
                                n,
                                time.perf_counter() - t0,
                                pages,
                            )
                        )
        finally:
            peak = _peak_rss_mb(pid)
            proc.terminate()
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
                proc.join()
            if peak is None and rows:
                # No /proc: the largest ended child's peak (ru_maxrss: KB; bytes on macOS).
                raw = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                rows[-1].peak_rss_mb = raw / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return rows
