"""Secrets at rest: AES-GCM under a key derived per purpose from SWITCHBOARD_SECRET_KEY."""

from __future__ import annotations

import base64

import pytest

from switchboard.secrets_at_rest import VERSION, SecretBox, SecretUnreadable

KEY = "unit-test-master-key"
PURPOSE = "directory certificate private key"


def test_round_trip_and_fresh_nonce_each_time() -> None:
    box = SecretBox(KEY)
    secret = b"-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    first = box.encrypt(secret, purpose=PURPOSE)
    second = box.encrypt(secret, purpose=PURPOSE)
    assert first.startswith(f"{VERSION}:")
    assert first != second  # a random 96-bit nonce per encryption
    assert b"PRIVATE KEY" not in first.encode()
    assert box.decrypt(first, purpose=PURPOSE) == secret
    assert SecretBox(lambda: KEY).decrypt(second, purpose=PURPOSE) == secret


def test_key_source_is_read_on_first_use_only() -> None:
    calls: list[int] = []

    def source() -> str:
        calls.append(1)
        return KEY

    box = SecretBox(source)
    assert calls == []
    sealed = box.encrypt(b"x", purpose=PURPOSE)
    box.decrypt(sealed, purpose=PURPOSE)
    assert calls == [1]


def _flip(stored: str, index: int) -> str:
    version, _, body = stored.partition(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[index] ^= 0x01
    return f"{version}:" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("index", [0, 12, -1], ids=["nonce", "ciphertext", "tag"])
def test_tampering_is_detected(index: int) -> None:
    box = SecretBox(KEY)
    sealed = box.encrypt(b"the key", purpose=PURPOSE)
    with pytest.raises(SecretUnreadable, match="SWITCHBOARD_SECRET_KEY changed"):
        box.decrypt(_flip(sealed, index), purpose=PURPOSE)


def test_wrong_key_says_the_secret_key_changed() -> None:
    sealed = SecretBox(KEY).encrypt(b"the key", purpose=PURPOSE)
    with pytest.raises(SecretUnreadable) as caught:
        SecretBox("another-key").decrypt(sealed, purpose=PURPOSE)
    message = str(caught.value)
    assert "SWITCHBOARD_SECRET_KEY changed" in message
    assert "Restore the previous" in message


def test_a_ciphertext_is_bound_to_its_purpose() -> None:
    box = SecretBox(KEY)
    sealed = box.encrypt(b"the key", purpose=PURPOSE)
    with pytest.raises(SecretUnreadable):
        box.decrypt(sealed, purpose="webhook client state")


@pytest.mark.parametrize(
    ("stored", "words"),
    [
        ("-----BEGIN PRIVATE KEY-----", "expected the prefix"),
        ("v9:abcd", "expected the prefix"),
        ("v1:***", "damaged"),
        ("v1:", "too short"),
        ("v1:" + "A" * 40, "cannot be decrypted"),
    ],
)
def test_unreadable_formats_are_reported(stored: str, words: str) -> None:
    with pytest.raises(SecretUnreadable, match=words):
        SecretBox(KEY).decrypt(stored, purpose=PURPOSE)


def test_empty_master_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        SecretBox("").encrypt(b"x", purpose=PURPOSE)
