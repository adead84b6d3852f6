"""A small private certificate authority for mutual TLS on the API.

One directory holds it all::

    DIR/ca.crt  DIR/ca.key                 the CA (the key never leaves DIR, mode 0600)
    DIR/server.crt  DIR/server.key         what `switchboard serve --tls-cert/--tls-key` uses
    DIR/clients/NAME.crt  NAME.key         one pair per API client

Keys are ECDSA P-256: small, fast to make, accepted by every TLS stack we care about. Files are
never overwritten: reissuing means removing the old files first, so a typo cannot silently
replace a CA that clients already trust.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "server.crt"
SERVER_KEY = "server.key"
CLIENTS = "clients"

CA_DAYS = 3650
LEAF_DAYS = 365
MAX_DAYS = 3650
DEFAULT_SERVER_HOSTS = ("localhost", "127.0.0.1", "::1")
ORGANIZATION = "Switchboard"
# Issued certificates start a little in the past so that a peer whose clock runs slightly
# behind does not reject a certificate made a second ago.
BACKDATE = timedelta(minutes=5)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")

PrivateKey = ec.EllipticCurvePrivateKey


class CertificateError(Exception):
    """A certificate operation that cannot be done as asked; the message says how to fix it."""


@dataclass(frozen=True)
class IssuedFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Authority:
    cert: x509.Certificate
    key: PrivateKey


def new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _subject(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _check_days(days: int, field: str = "days") -> None:
    if not 1 <= days <= MAX_DAYS:
        raise CertificateError(f"{field} must be between 1 and {MAX_DAYS}, got {days}")


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def make_ca(
    common_name: str = "Switchboard API CA", *, days: int = CA_DAYS, now: datetime | None = None
) -> Authority:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    _check_days(days)
    key = new_key()
    start = _now(now) - BACKDATE
    name = _subject(common_name)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(cert, key)


def issue(
    ca: Authority,
    common_name: str,
    *,
    purpose: x509.ObjectIdentifier,
    days: int = LEAF_DAYS,
    hosts: tuple[str, ...] = (),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """A leaf certificate for one purpose (clientAuth or serverAuth) signed by ``ca``.

    ``not_before``/``not_after`` override the period computed from ``days`` (used to make
    certificates that are already expired, to prove the server refuses them).
    """
    _check_days(days)
    key = new_key()
    public = key.public_key()
    start = not_before or (_now(None) - BACKDATE)
    end = not_after or (start + timedelta(days=days))
    if end <= start:
        raise CertificateError("not_after must be later than not_before")
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = leaf_builder(
        _subject(common_name), ca.cert.subject, public, start, end, purpose
    ).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
        critical=False,
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False
        )
    return builder.sign(ca.key, hashes.SHA256()), key


def leaf_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public: CertificatePublicKeyTypes,
    start: datetime,
    end: datetime,
    purpose: x509.ObjectIdentifier,
) -> x509.CertificateBuilder:
    """An end-entity certificate that only signs, for one purpose (client or server auth)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def check_host(host: str) -> str:
    """A DNS name (optionally one leading ``*.`` label) or an IP address, else an error."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.strip().rstrip(".").lower()
    labels = name.split(".")
    if labels and labels[0] == "*":
        labels = labels[1:]
    if (
        not name
        or len(name) > 253
        or not labels
        or not all(_DNS_LABEL.fullmatch(x) for x in labels)
    ):
        raise CertificateError(
            f"host {host!r} is neither an IP address nor a DNS name "
            "(letters, digits and '-' in dot-separated labels, e.g. api.example.com)"
        )
    return name


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise CertificateError(
            f"client name {name!r} must be 1-64 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it becomes the certificate's CN and file name)"
        )
    return name


# ---- files -----------------------------------------------------------------------------------


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: never replace an existing file; the mode is given at creation so a private key
    # is never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have removed bits we want (0644 certs)
        os.write(fd, data)
    finally:
        os.close(fd)


def write_pair(cert: x509.Certificate, key: PrivateKey, cert_path: Path, key_path: Path) -> None:
    taken = [str(p) for p in (cert_path, key_path) if p.exists()]
    if taken:
        raise CertificateError(
            f"{' and '.join(taken)} already exist; remove them first to issue a new certificate"
        )
    _write_new(key_path, key_pem(key), 0o600)
    _write_new(cert_path, pem(cert), 0o644)


def init_ca(
    directory: Path, *, common_name: str = "Switchboard API CA", days: int = CA_DAYS
) -> IssuedFiles:
    """Create DIR (mode 0700 when new) holding a fresh CA."""
    if directory.exists() and not directory.is_dir():
        raise CertificateError(f"{directory} exists and is not a directory")
    if (directory / CA_CERT).exists() or (directory / CA_KEY).exists():
        raise CertificateError(
            f"{directory} already holds a CA ({CA_CERT}/{CA_KEY}); clients may trust it, so it "
            "is never replaced: choose another directory"
        )
    _check_days(days)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = make_ca(common_name, days=days)
    files = IssuedFiles(directory / CA_CERT, directory / CA_KEY)
    write_pair(ca.cert, ca.key, files.cert, files.key)
    return files


def load_ca(directory: Path) -> Authority:
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    if not cert_path.is_file() or not key_path.is_file():
        raise CertificateError(
            f"{directory} holds no CA ({CA_CERT} and {CA_KEY}); "
            f"create one with `switchboard certs init-ca {directory}`"
        )
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"cannot read the CA in {directory}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{key_path} is not an EC private key made by `certs init-ca`")
    if key.public_key().public_numbers() != _ec_public(cert).public_numbers():
        raise CertificateError(f"{key_path} does not belong to {cert_path}")
    return Authority(cert, key)


def _ec_public(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise CertificateError("the CA certificate does not hold an EC key")
    return public


def issue_client(directory: Path, name: str, *, days: int = LEAF_DAYS) -> IssuedFiles:
    check_name(name)
    _check_days(days)
    ca = load_ca(directory)
    cert, key = issue(ca, name, purpose=ExtendedKeyUsageOID.CLIENT_AUTH, days=days)
    clients = directory / CLIENTS
    clients.mkdir(mode=0o700, exist_ok=True)
    files = IssuedFiles(clients / f"{name}.crt", clients / f"{name}.key")
    write_pair(cert, key, files.cert, files.key)
    return files


def issue_server(
    directory: Path, hosts: tuple[str, ...] = DEFAULT_SERVER_HOSTS, *, days: int = LEAF_DAYS
) -> IssuedFiles:
    if not hosts:
        raise CertificateError("give at least one --host for the server certificate")
    clean = tuple(dict.fromkeys(check_host(h) for h in hosts))
    _check_days(days)
    ca = load_ca(directory)
    cert, key = issue(ca, clean[0], purpose=ExtendedKeyUsageOID.SERVER_AUTH, days=days, hosts=clean)
    files = IssuedFiles(directory / SERVER_CERT, directory / SERVER_KEY)
    write_pair(cert, key, files.cert, files.key)
    return files


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":")
