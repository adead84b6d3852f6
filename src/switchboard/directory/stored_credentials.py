"""A stored registration's certificates with their private keys, decrypted for the auth layer.

The account-connection package generates and rotates them (``switchboard.connection``); the
Graph adapter only reads them back, so the key's encryption purpose is named here, below both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import object_session

from switchboard.db.models import DirectoryRegistration
from switchboard.secrets_at_rest import SecretBox, secrets_of

KEY_PURPOSE = "directory certificate private key"
Which = Literal["current", "next"]


@dataclass(frozen=True)
class Credential:
    """One certificate the auth layer may sign assertions with (msal: private_key, thumbprint)."""

    which: Which
    certificate_pem: str
    private_key_pem: str  # PKCS#8 PEM, decrypted only for the auth layer


def credentials_for_auth(
    registration: DirectoryRegistration, *, secrets: SecretBox | None = None
) -> list[Credential]:
    """The certificates to try, current first, then the rotated one waiting to be proven."""
    if secrets is None:
        session = object_session(registration)
        if session is None:
            raise RuntimeError("the registration is detached; pass secrets= explicitly")
        secrets = secrets_of(session)
    pairs: list[tuple[Which, str, str | None]] = [
        ("current", registration.certificate_pem, registration.private_key_encrypted),
        ("next", registration.next_certificate_pem or "", registration.next_private_key_encrypted),
    ]
    return [
        Credential(
            which=which,
            certificate_pem=cert_pem,
            private_key_pem=secrets.decrypt(sealed, purpose=KEY_PURPOSE).decode(),
        )
        for which, cert_pem, sealed in pairs
        if cert_pem and sealed
    ]
