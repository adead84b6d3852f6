"""The private CA: what the certificates say and how their files are stored."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from switchboard.tls import private_ca
from switchboard.tls.private_ca import CertificateError


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_init_ca_is_a_leaf_only_ca_with_a_private_key_file(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    files = private_ca.init_ca(tmp_path / "pki", days=30)

    assert _mode(files.key) == 0o600
    assert _mode(files.cert) == 0o644
    assert _mode(tmp_path / "pki") == 0o700
    ca = _load(files.cert)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is True
    assert constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert lifetime == timedelta(days=30)
    assert ca.not_valid_before_utc <= before <= ca.not_valid_after_utc - timedelta(days=29)


def test_client_certificate_is_for_client_auth_only_and_signed_by_the_ca(tmp_path: Path) -> None:
    ca_files = private_ca.init_ca(tmp_path)
    files = private_ca.issue_client(tmp_path, "billing-robot", days=7)

    assert files.cert == tmp_path / "clients" / "billing-robot.crt"
    assert _mode(files.key) == 0o600
    cert, ca = _load(files.cert), _load(ca_files.cert)
    cert.verify_directly_issued_by(ca)
    assert _cn(cert) == "billing-robot"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=7)
    assert cert.not_valid_before_utc <= datetime.now(UTC)
    # The key in the .key file is the one the certificate certifies.
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    certified = cert.public_key()
    assert isinstance(certified, ec.EllipticCurvePublicKey)
    assert key.public_key().public_numbers() == certified.public_numbers()


def test_server_certificate_names_localhost_by_default(tmp_path: Path) -> None:
    private_ca.init_ca(tmp_path)
    files = private_ca.issue_server(tmp_path)

    cert = _load(files.cert)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert _mode(files.key) == 0o600


def test_server_certificate_with_given_hosts(tmp_path: Path) -> None:
    private_ca.init_ca(tmp_path)
    cert = _load(private_ca.issue_server(tmp_path, ("API.example.com", "10.0.0.5")).cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.example.com"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.5")]
    assert _cn(cert) == "api.example.com"


@pytest.mark.parametrize("host", ["bad host", "-x.example.com", "a..b", "", "x" * 64 + ".com"])
def test_bad_server_host_is_refused(tmp_path: Path, host: str) -> None:
    private_ca.init_ca(tmp_path)
    with pytest.raises(CertificateError, match="neither an IP address nor a DNS name"):
        private_ca.issue_server(tmp_path, (host,))
    assert not (tmp_path / private_ca.SERVER_CERT).exists()


@pytest.mark.parametrize("name", ["", "../escape", ".hidden", "a b", "x" * 65, "é"])
def test_bad_client_name_is_refused(tmp_path: Path, name: str) -> None:
    private_ca.init_ca(tmp_path)
    with pytest.raises(CertificateError, match="client name"):
        private_ca.issue_client(tmp_path, name)


@pytest.mark.parametrize("days", [0, -1, private_ca.MAX_DAYS + 1])
def test_validity_outside_the_allowed_range_is_refused(tmp_path: Path, days: int) -> None:
    private_ca.init_ca(tmp_path)
    with pytest.raises(CertificateError, match="days must be between 1 and"):
        private_ca.issue_client(tmp_path, "c", days=days)


def test_existing_files_are_never_replaced(tmp_path: Path) -> None:
    first = private_ca.init_ca(tmp_path)
    original = first.key.read_bytes()
    with pytest.raises(CertificateError, match="already holds a CA"):
        private_ca.init_ca(tmp_path)
    assert first.key.read_bytes() == original

    private_ca.issue_client(tmp_path, "alice")
    with pytest.raises(CertificateError, match="already exist"):
        private_ca.issue_client(tmp_path, "alice")


def test_issuing_without_a_ca_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="certs init-ca"):
        private_ca.issue_client(tmp_path, "alice")
    assert not (tmp_path / private_ca.CLIENTS).exists()


def test_a_ca_key_that_does_not_match_its_certificate_is_refused(tmp_path: Path) -> None:
    private_ca.init_ca(tmp_path / "a")
    private_ca.init_ca(tmp_path / "b")
    (tmp_path / "a" / private_ca.CA_KEY).write_bytes(
        (tmp_path / "b" / private_ca.CA_KEY).read_bytes()
    )
    with pytest.raises(CertificateError, match="does not belong"):
        private_ca.load_ca(tmp_path / "a")


def test_explicit_validity_window_makes_an_expired_certificate(tmp_path: Path) -> None:
    ca = private_ca.make_ca()
    now = datetime.now(UTC)
    cert, _ = private_ca.issue(
        ca,
        "old",
        purpose=ExtendedKeyUsageOID.CLIENT_AUTH,
        not_before=now - timedelta(days=10),
        not_after=now - timedelta(days=1),
    )
    assert cert.not_valid_after_utc < now
    with pytest.raises(CertificateError, match="later than"):
        private_ca.issue(
            ca, "x", purpose=ExtendedKeyUsageOID.CLIENT_AUTH, not_before=now, not_after=now
        )
