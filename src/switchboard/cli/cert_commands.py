"""`switchboard certs ...`: the private CA behind mutual TLS on the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509

from switchboard.cli.common import fail
from switchboard.tls import private_ca
from switchboard.tls.private_ca import CertificateError, IssuedFiles

app = typer.Typer(
    help="Certificates for mutual TLS on the API (a private CA, server and client certificates).",
    no_args_is_help=True,
)

DirArg = Annotated[
    Path,
    typer.Argument(help="The CA directory (ca.crt, ca.key, server.*, clients/NAME.*)"),
]
DaysOption = typer.Option(
    min=1, max=private_ca.MAX_DAYS, help="How many days the certificate is valid"
)


def _report(kind: str, files: IssuedFiles) -> None:
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    typer.echo(f"{kind} certificate: {files.cert}")
    typer.echo(f"{kind} private key: {files.key} (mode 0600, keep it secret)")
    typer.echo(f"valid until: {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    typer.echo(f"SHA-256 fingerprint: {private_ca.fingerprint(cert)}")


@app.command("init-ca")
def init_ca(
    directory: DirArg,
    days: Annotated[int, DaysOption] = private_ca.CA_DAYS,
    common_name: Annotated[
        str, typer.Option("--name", help="The CA's common name")
    ] = "Switchboard API CA",
) -> None:
    """Create a CA in DIR; serve with --client-ca DIR/ca.crt to trust its client certificates."""
    try:
        files = private_ca.init_ca(directory, common_name=common_name, days=days)
    except CertificateError as exc:
        raise fail(str(exc), 2) from exc
    _report("CA", files)
    typer.echo(f"next: switchboard certs issue-server {directory}")


@app.command("issue-client")
def issue_client(
    directory: DirArg,
    name: Annotated[str, typer.Argument(help="The client's name (certificate CN and file name)")],
    days: Annotated[int, DaysOption] = private_ca.LEAF_DAYS,
) -> None:
    """Issue a client certificate signed by DIR's CA, into DIR/clients/NAME.crt and .key."""
    try:
        files = private_ca.issue_client(directory, name, days=days)
    except CertificateError as exc:
        raise fail(str(exc), 2) from exc
    _report("client", files)


@app.command("issue-server")
def issue_server(
    directory: DirArg,
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            help="A DNS name or IP address the server is reached at (repeatable; "
            "default: localhost, 127.0.0.1 and ::1)",
        ),
    ] = None,
    days: Annotated[int, DaysOption] = private_ca.LEAF_DAYS,
) -> None:
    """Issue the server certificate (DIR/server.crt and .key) for `serve --tls-cert/--tls-key`."""
    hosts = tuple(host) if host else private_ca.DEFAULT_SERVER_HOSTS
    try:
        files = private_ca.issue_server(directory, hosts, days=days)
    except CertificateError as exc:
        raise fail(str(exc), 2) from exc
    _report("server", files)
    typer.echo(
        f"serve with: switchboard serve --tls-cert {files.cert} --tls-key {files.key} "
        f"--client-ca {directory / private_ca.CA_CERT}"
    )
