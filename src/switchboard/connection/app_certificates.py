"""The app credential: an RSA key and the self-signed certificate the customer uploads to Entra.

Entra ID only checks that an assertion is signed by a key whose certificate is on the app
registration, so a self-signed certificate is what Microsoft documents for app-only access.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from switchboard.tls.private_ca import leaf_builder

KEY_BITS = 3072
VALIDITY = timedelta(days=730)
# Tolerate a clock on the Entra side that runs a little behind ours.
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class KeyPair:
    certificate_pem: str
    private_key_pem: bytes


@dataclass(frozen=True)
class CertificateInfo:
    """What an admin compares with the Entra admin center (its Thumbprint column is SHA-1)."""

    subject: str
    thumbprint_sha1: str  # upper-case hex, as Entra shows it
    thumbprint_sha256: str  # base64url, the x5t#S256 header value
    not_before: datetime
    not_after: datetime
    key_bits: int


def generate(common_name: str, now: datetime) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    public = key.public_key()
    # Self-signed: the app registration trusts this very certificate, not an issuer.
    cert = leaf_builder(
        name, name, public, now - BACKDATE, now + VALIDITY, ExtendedKeyUsageOID.CLIENT_AUTH
    ).sign(key, hashes.SHA256())
    return KeyPair(
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def info(certificate_pem: str) -> CertificateInfo:
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    der = cert.public_bytes(serialization.Encoding.DER)
    public = cert.public_key()
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        thumbprint_sha1=hashlib.sha1(der, usedforsecurity=False).hexdigest().upper(),
        thumbprint_sha256=base64.urlsafe_b64encode(hashlib.sha256(der).digest())
        .decode()
        .rstrip("="),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_bits=public.key_size if isinstance(public, rsa.RSAPublicKey) else 0,
    )
