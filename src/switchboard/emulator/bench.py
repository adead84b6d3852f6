"""The scale benchmark: seed a large tenant, then read it back through /users and users/delta.

Run it with ``switchboard emulator bench`` (defaults: 100,000 users in 200 groups).
"""

from __future__ import annotations

import ssl
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from switchboard.emulator.apps import parse_roles
from switchboard.emulator.keys_and_certificates import self_signed_certificate
from switchboard.emulator.server import running
from switchboard.emulator.state import Emulator, SeedOptions

SELECT = "id,userPrincipalName,displayName,givenName,surname,mail,officeLocation,accountEnabled"


@dataclass
class BenchRow:
    step: str
    objects: int
    seconds: float
    requests: int

    @property
    def rate(self) -> float:
        return self.objects / self.seconds if self.seconds else 0.0


def _read_all(client: httpx.Client, url: str, params: dict[str, str] | None) -> tuple[int, int]:
    """Follow nextLinks to the end; counts objects (group members for groups/delta)."""
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
            return count, pages
        resp = client.get(link)


def run_bench(users: int, groups: int, seed: int, state_dir: Path | None = None) -> list[BenchRow]:
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="entra-emulator-bench-") as tmp:
        folder = state_dir or Path(tmp)
        started = time.perf_counter()
        emu = Emulator(folder, seed=SeedOptions(users=users, groups=groups, seed=seed))
        rows.append(BenchRow("seed + save", users, time.perf_counter() - started, 0))
        emu.store.close()
        key, cert = self_signed_certificate("bench")
        client_id = str(uuid.uuid4())
        with running(folder) as server:
            server.emulator.apps.register(
                client_id,
                certificate_pem=cert.decode(),
                roles=parse_roles("User.Read.All,GroupMember.Read.All"),
            )
            session = requests.Session()
            session.verify = str(server.ca_path)
            session.trust_env = False
            thumb = x509.load_pem_x509_certificate(cert).fingerprint(hashes.SHA1()).hex()  # noqa: S303 - x5t is SHA-1
            app = msal.ConfidentialClientApplication(
                client_id,
                authority=server.authority,
                client_credential={"private_key": key.decode(), "thumbprint": thumb},
                instance_discovery=False,
                http_client=session,
            )
            token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
            session.close()
            ctx = ssl.create_default_context(cafile=str(server.ca_path))
            with httpx.Client(
                base_url=f"{server.url}/v1.0",
                verify=ctx,
                timeout=60,
                headers={"Authorization": f"Bearer {token['access_token']}"},
            ) as c:
                reads = [
                    ("/users $top=999 $select", "/users", {"$top": "999", "$select": SELECT}),
                    ("/users/delta $select, first round", "/users/delta", {"$select": SELECT}),
                    (
                        "/groups/delta members (refs)",
                        "/groups/delta",
                        {"$select": "displayName,members"},
                    ),
                ]
                for label, url, params in reads:
                    t0 = time.perf_counter()
                    n, pages = _read_all(c, url, params)
                    rows.append(BenchRow(label, n, time.perf_counter() - t0, pages))
    return rows
