"""``switchboard directory connection`` (cloud, hosts, CA bundle while connected) and the
shared-tenant warning of ``directory connect``, through Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.db.models import DirectoryRegistration
from switchboard.emulator.keys_and_certificates import self_signed_certificate
from tests import factories
from tests.integration.cli import test_directory_commands
from tests.integration.cli.test_directory_commands import CLIENT, TENANT, Run, connect, flat

run = test_directory_commands.run  # the fixture: the CLI against the test database


def test_connection_changes_keep_the_certificate(
    run: Run,
    container: Container,
    tmp_path: Path,
) -> None:
    connect(run)
    with container.unit_of_work() as s:
        certificate = s.scalars(select(DirectoryRegistration)).one().certificate_pem
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(self_signed_certificate("test ca")[1])
    args = ("directory", "connection", "acme", "--cloud", "custom")
    hosts = ("--authority-url", "https://login.test", "--graph-url", "https://graph.test:8443")
    code, out, err = run(*args, *hosts, "--ca-bundle", str(bundle), "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["graph_url"] == "https://graph.test:8443" and body["ca_bundle_pem"]
    code, out, _ = run("directory", "connection", "acme", "--no-ca-bundle")
    assert code == 0 and "the certificate is unchanged" in flat(out)
    assert "switchboard directory test acme" in flat(out)
    code, out, _ = run("directory", "connection", "acme", "--no-ca-bundle")
    assert code == 0 and "Nothing changed." in out
    code, _, err = run(*args, "--graph-url", "graph.test")
    assert code == 2 and "must start with https://" in flat(err)
    with container.unit_of_work() as s:
        assert s.scalars(select(DirectoryRegistration)).one().certificate_pem == certificate


def test_connect_warns_when_another_account_uses_the_tenant(
    run: Run,
    container: Container,
) -> None:
    connect(run)
    with container.unit_of_work() as s:
        factories.tenant(s, "globex", "415")
    code, out, err = run(
        "directory",
        "connect",
        "globex",
        "--tenant-id",
        TENANT.upper(),
        "--client-id",
        CLIENT,
        "--all-users",
    )
    assert code == 0, err
    # The command line runs as the provider's operator: the other account is named.
    assert "Warning:" in out and "(acme)" in flat(out)
    code, out, _ = run("directory", "show", "globex")
    assert "(acme)" in flat(out)
