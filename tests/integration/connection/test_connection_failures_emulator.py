"""The connection test against the Entra ID emulator: each failure it can produce gets its own
kind and plain message, through the service (as the UI and the API record it) and the CLI; a
wrong host or a missing CA is fixed by editing the connection, with the same certificate."""

from __future__ import annotations

import socket
import uuid

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from switchboard.bootstrap import Container
from switchboard.cli.main import app as cli
from switchboard.connection import connection_edit
from switchboard.connection import registration as service
from switchboard.connection.verification import verify_connection
from switchboard.db.models import DirectoryRegistration
from switchboard.emulator.apps import parse_roles
from switchboard.emulator.server import RunningEmulator
from switchboard.portal.accounts import get_account
from switchboard.sync.policy import SyncPolicy
from tests import factories

OP = factories.OPERATOR
RAW = ("HTTPSConnectionPool", "NameResolutionError", "SSLCertVerificationError", "Errno")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect(
    container: Container,
    emu: RunningEmulator,
    *,
    tenant_id: str | None = None,
    authority_url: str | None = None,
    graph_url: str | None = None,
    ca: bool = True,
    policy: SyncPolicy | None = None,
) -> tuple[str, str]:
    """Connect ``acme`` to the emulator (or to the hosts given); its client id and certificate."""
    client_id = str(uuid.uuid4())
    with container.unit_of_work() as s:
        account = factories.tenant(s).account
        registration = service.connect(
            s,
            OP,
            account,
            service.RegistrationIn(
                tenant_id=tenant_id or emu.tenant_id,
                client_id=client_id,
                cloud="custom",
                authority_url=authority_url or emu.url,
                graph_url=graph_url or emu.url,
                ca_bundle_pem=emu.ca_path.read_text() if ca else None,
                settings=policy,
            ),
            scope_later=policy is None,
        )
        return client_id, registration.certificate_pem


def register(emu: RunningEmulator, client_id: str, pem: str, roles: str) -> None:
    emu.call(
        lambda: emu.emulator.apps.register(client_id, certificate_pem=pem, roles=parse_roles(roles))
    )


def outcome(container: Container) -> tuple[str | None, str, list[dict[str, object]]]:
    record = verify_connection(container, OP, "acme")
    for raw in RAW:
        assert raw not in record.message
    assert not record.ok
    return record.kind, record.message, record.checks


READER = "User.Read.All,GroupMember.Read.All"


def test_unknown_host(container: Container, emu: RunningEmulator) -> None:
    connect(container, emu, authority_url="https://login.no-such-host.invalid")
    kind, message, _ = outcome(container)
    assert kind == "host_not_found"
    assert "Host not found: login.no-such-host.invalid" in message


def test_connection_refused(container: Container, emu: RunningEmulator) -> None:
    connect(container, emu, authority_url=f"https://127.0.0.1:{closed_port()}")
    kind, message, _ = outcome(container)
    assert kind == "connection_refused" and "Connection refused" in message


def test_untrusted_ca_then_fixed_by_editing_the_connection(
    container: Container, emu: RunningEmulator
) -> None:
    client_id, pem = connect(container, emu, ca=False)
    register(emu, client_id, pem, READER)
    kind, message, _ = outcome(container)
    assert kind == "tls_untrusted" and "CA bundle (PEM)" in message
    with container.unit_of_work() as s:
        account = get_account(s, OP, "acme", write=True)
        edited = connection_edit.update_connection(
            s,
            OP,
            account,
            connection_edit.ConnectionEdit(ca_bundle_pem=emu.ca_path.read_text()),
        )
        assert edited.changed == ["ca_bundle_pem"]
    connection_edit.retire_old_connections(container.graph_connections, edited)
    record = verify_connection(container, OP, "acme")
    assert record.ok, record.checks
    with container.unit_of_work() as s:
        assert s.scalars(select(DirectoryRegistration)).one().certificate_pem == pem


def test_wrong_tenant(container: Container, emu: RunningEmulator) -> None:
    client_id, pem = connect(container, emu, tenant_id=str(uuid.uuid4()))
    register(emu, client_id, pem, READER)
    kind, message, _ = outcome(container)
    assert kind == "tenant_not_found" and "Tenant not found" in message


def test_unknown_app(container: Container, emu: RunningEmulator) -> None:
    connect(container, emu)
    kind, message, _ = outcome(container)
    assert kind == "app_not_found" and "App not found" in message


def test_certificate_not_uploaded(container: Container, emu: RunningEmulator) -> None:
    from switchboard.emulator.keys_and_certificates import self_signed_certificate

    client_id, _pem = connect(container, emu)
    register(emu, client_id, self_signed_certificate("another")[1].decode(), READER)
    kind, message, _ = outcome(container)
    assert kind == "certificate_not_uploaded" and "Certificate not uploaded" in message


def test_missing_permission_is_named(container: Container, emu: RunningEmulator) -> None:
    group = sorted(emu.call(lambda: list(emu.emulator.directory.groups)))[0]
    client_id, pem = connect(container, emu, policy=SyncPolicy(groups=[group]))
    register(emu, client_id, pem, "User.Read.All")
    kind, message, checks = outcome(container)
    assert kind == "permission_missing"
    assert "Application permissions > GroupMember.Read.All, then Grant admin consent" in message
    failed = [c for c in checks if not c["ok"]]
    assert [c["permission"] for c in failed] == ["GroupMember.Read.All"]


def test_consent_not_granted(container: Container, emu: RunningEmulator) -> None:
    client_id, pem = connect(container, emu)
    register(emu, client_id, pem, "")
    kind, message, checks = outcome(container)
    assert kind == "consent_missing" and "Admin consent not granted" in message
    assert next(c["kind"] for c in checks if not c["ok"]) == "consent_missing"


@pytest.mark.parametrize("as_json", [False, True])
def test_the_cli_shows_the_kind_and_the_words(
    container: Container, emu: RunningEmulator, as_json: bool
) -> None:
    connect(container, emu)
    env = {
        "SWITCHBOARD_DATABASE_URL": container.settings.database_url,
        "SWITCHBOARD_DATA_DIR": str(container.settings.data_dir),
        "SWITCHBOARD_SECRET_KEY": container.settings.secret_key or "",
    }
    args = ["directory", "test", "acme", *(["--json"] if as_json else [])]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1
    words = " ".join(result.output.split())
    assert "app_not_found" in words and "App not found" in words
