"""One emulator per test session, reset to a small seeded tenant before each test.

Clients talk to it as real ones would: msal with a certificate for tokens, httpx for Graph,
both trusting the emulator's CA from DIR/ca.pem.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from switchboard.emulator.apps import parse_roles
from switchboard.emulator.keys_and_certificates import self_signed_certificate
from switchboard.emulator.server import RunningEmulator, running
from switchboard.emulator.state import SeedOptions
from tests.emulator_control import DEFAULT_DELTA_PAGE_SIZE, set_delta_page_size

SMALL_SEED = SeedOptions(users=40, groups=6, seed=7)
ALL_READ = "User.Read.All,GroupMember.Read.All"
WRITER = "User.ReadWrite.All,Group.ReadWrite.All"
_SESSIONS: list[requests.Session] = []


@dataclass
class AppCredential:
    client_id: str
    key_pem: str
    cert_pem: str

    @property
    def sha1(self) -> str:
        cert = x509.load_pem_x509_certificate(self.cert_pem.encode())
        return cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - x5t is SHA-1 by definition


def new_credential() -> AppCredential:
    key, cert = self_signed_certificate("switchboard-test-app")
    return AppCredential(str(uuid.uuid4()), key.decode(), cert.decode())


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    state: Path = tmp_path_factory.mktemp("entra-emulator")
    with running(state, seed=SMALL_SEED) as server:
        yield server
        close_sessions()


def close_sessions() -> None:
    """Close msal's HTTP sessions so a server can shut down without cutting connections."""
    while _SESSIONS:
        _SESSIONS.pop().close()


@pytest.fixture
def emu(emulator_server: RunningEmulator) -> RunningEmulator:
    """The shared server, reset: fresh small tenant, no faults, default limits and clock."""
    e = emulator_server.emulator

    def reset() -> None:
        e.reset(SMALL_SEED)
        e.clock.offset_seconds = 0.0
        e.faults.update(
            {
                "latency_ms": 0,
                "error_rate": 0.0,
                "error_kinds": ["429", "503"],
                "error_targets": ["graph", "token"],
                "error_budget": None,
                "notification_delay_ms": 0,
                "notification_duplicate_rate": 0.0,
                "delta_empty_pages": False,
                "notification_drop_rate": 0.0,
                "delta_replays": False,
                "delta_expired_status": 400,
                "seed": 0,
                "retry_after_seconds": 1.0,
            }
        )
        e.throttle.enabled = True
        e.throttle.read_limit_override = None
        e.throttle.write_limit_override = None
        e.notifier.stats.clear()

    emulator_server.call(reset)
    set_delta_page_size(emulator_server, DEFAULT_DELTA_PAGE_SIZE)
    return emulator_server


def session_for(server: RunningEmulator) -> requests.Session:
    # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's verify; trust_env
    # off keeps the emulator CA in force whatever the environment says.
    sess = requests.Session()
    sess.verify = str(server.ca_path)
    sess.trust_env = False
    _SESSIONS.append(sess)
    return sess


def register(server: RunningEmulator, cred: AppCredential, roles: str) -> None:
    server.emulator.apps.register(
        cred.client_id, certificate_pem=cred.cert_pem, roles=parse_roles(roles)
    )


def msal_app(
    server: RunningEmulator, cred: AppCredential, *, sha256: bool = False
) -> msal.ConfidentialClientApplication:
    credential: dict[str, str] = {"private_key": cred.key_pem}
    if sha256:
        credential["public_certificate"] = cred.cert_pem  # PS256 + x5t#S256
    else:
        credential["thumbprint"] = cred.sha1  # RS256 + x5t
    return msal.ConfidentialClientApplication(
        cred.client_id,
        authority=server.authority,
        client_credential=credential,
        instance_discovery=False,
        http_client=session_for(server),
    )


def token_for(server: RunningEmulator, roles: str) -> str:
    cred = new_credential()
    register(server, cred, roles)
    result = msal_app(server, cred).acquire_token_for_client(
        scopes=["https://graph.microsoft.com/.default"]
    )
    assert "access_token" in result, result
    return str(result["access_token"])


def graph_client(server: RunningEmulator, token: str, **headers: str) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(server.ca_path))
    return httpx.Client(
        base_url=f"{server.url}/v1.0",
        verify=ctx,
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=30,
    )


@pytest.fixture(scope="session")
def reader_token(emulator_server: RunningEmulator) -> str:
    return token_for(emulator_server, ALL_READ)


@pytest.fixture(scope="session")
def writer_token(emulator_server: RunningEmulator) -> str:
    return token_for(emulator_server, f"{ALL_READ},{WRITER}")


@pytest.fixture
def reader(emu: RunningEmulator, reader_token: str) -> Iterator[httpx.Client]:
    with graph_client(emu, reader_token) as client:
        yield client


@pytest.fixture
def writer(emu: RunningEmulator, writer_token: str) -> Iterator[httpx.Client]:
    with graph_client(emu, writer_token) as client:
        yield client


def all_pages(
    client: httpx.Client, first: httpx.Response
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Follow nextLinks exactly as given; returns every item and the last page."""
    assert first.status_code == 200, first.text
    page = first.json()
    items = list(page["value"])
    while "@odata.nextLink" in page:
        assert "@odata.deltaLink" not in page
        resp = client.get(page["@odata.nextLink"])
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items.extend(page["value"])
    return items, page


def plain_user_ids(server: RunningEmulator) -> list[str]:
    """Active users whose phone fields any phone-writing app may change."""
    return list(
        server.call(
            lambda: [
                u.id
                for u in server.emulator.directory.active_users()
                if not u.is_admin and not u.props.get("onPremisesSyncEnabled")
            ]
        )
    )


def full_delta_round(
    client: httpx.Client, first: httpx.Response
) -> tuple[list[dict[str, Any]], str]:
    items, last = all_pages(client, first)
    assert "@odata.deltaLink" in last
    return items, str(last["@odata.deltaLink"])
