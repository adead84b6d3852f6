"""Secrets at rest: AES-256-GCM under a key derived from SWITCHBOARD_SECRET_KEY.

Each purpose (for example the directory certificate's private key) gets its own key through
HKDF-SHA256, and the purpose is also bound as associated data, so a ciphertext copied into
another column does not decrypt there. Stored values read ``v1:<base64url(nonce || ct+tag)>``;
the version prefix lets a later scheme (or a rotated key) live next to this one.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

VERSION = "v1"
_SALT = b"switchboard/secrets-at-rest/v1"
_NONCE_BYTES = 12  # 96 bits, the size GCM is specified for


class SecretUnreadable(Exception):
    """A stored secret no longer decrypts: the key changed, or the stored value was altered."""


class SecretBox:
    """Encrypts and decrypts secrets; the master key is read on first use, not at start-up."""

    def __init__(self, master_key: str | Callable[[], str]) -> None:
        self._source = master_key
        self._keys: dict[str, AESGCM] = {}

    def _aead(self, purpose: str) -> AESGCM:
        if not purpose or not purpose.isascii():
            raise ValueError("a secret's purpose is a non-empty ASCII label")
        found = self._keys.get(purpose)
        if found is None:
            master = self._source() if callable(self._source) else self._source
            if not master:
                raise ValueError("SWITCHBOARD_SECRET_KEY is empty")
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose.encode()
            ).derive(master.encode())
            found = self._keys[purpose] = AESGCM(key)
        return found

    def encrypt(self, plaintext: bytes, *, purpose: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead(purpose).encrypt(nonce, plaintext, purpose.encode())
        return f"{VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def decrypt(self, stored: str, *, purpose: str) -> bytes:
        version, sep, body = stored.partition(":")
        if not sep or version != VERSION:
            raise SecretUnreadable(
                f"a stored {purpose} is not in a format this version of Switchboard reads"
                f" (expected the prefix '{VERSION}:')"
            )
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SecretUnreadable(f"a stored {purpose} is damaged (not base64url)") from exc
        if len(raw) < _NONCE_BYTES + 16:  # nonce and GCM tag at the least
            raise SecretUnreadable(f"a stored {purpose} is damaged (too short)")
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        try:
            return self._aead(purpose).decrypt(nonce, sealed, purpose.encode())
        except (InvalidTag, ValueError) as exc:
            raise SecretUnreadable(
                f"a stored {purpose} cannot be decrypted: SWITCHBOARD_SECRET_KEY changed since it"
                " was stored (or the stored value was altered). Restore the previous"
                " SWITCHBOARD_SECRET_KEY, or disconnect and reconnect the directory to generate"
                " a new certificate."
            ) from exc


def secrets_of(session: Session) -> SecretBox:
    """The box the composition root attached to this session (see bootstrap.Container)."""
    box = session.info.get("secrets")
    if not isinstance(box, SecretBox):
        raise RuntimeError("no SecretBox attached to the session; open it via Container")
    return box
