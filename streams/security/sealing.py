"""Sealing personal data at rest: AES-256-GCM with keys by id, the first key sealing and every key opening.

>>> ring = Keyring.parse("k2:" + "A" * 43 + "=")
>>> key_id, sealed = ring.seal(b"the original message", aad=b"reviews:0:42")
>>> ring.open(key_id, sealed, aad=b"reviews:0:42")
b'the original message'

Dead letters keep the message that failed; it holds what the customer wrote, personal data included, so it is kept
only sealed (or not at all, when no key is configured). The key spec comes from a secret
(`REVIEWSTREAM_DEAD_LETTER_KEYS`): `id:base64key[,id:base64key...]`. Rotation: put the new key first and keep the old
ones after it until the letters they sealed have expired (the topic's retention); `reviewstream dead-letters keygen`
prints a fresh key. AES-GCM (the `cryptography` package's AESGCM) authenticates as well as encrypts, and the letter's
source coordinates are bound in as associated data, so a sealed original cannot be moved to another letter unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["SEAL_OVERHEAD_BYTES", "Keyring", "SealingError", "new_key_spec"]

_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
# What sealing adds to the plaintext before base64.
SEAL_OVERHEAD_BYTES: Final = _NONCE_BYTES + _TAG_BYTES
_KEY_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


class SealingError(ValueError):
    """A key spec that cannot be used, or a sealed value that cannot be opened with the keys configured."""


@dataclass(frozen=True, slots=True)
class _Key:
    key_id: str
    cipher: AESGCM


class Keyring:
    """Named AES-256 keys; `seal` uses the first, `open` the one named by the sealed value's key id."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise SealingError("a keyring needs at least one key")
        parsed: list[_Key] = []
        for key_id, secret in keys:
            if not _KEY_ID.match(key_id):
                raise SealingError(f"key id {key_id!r} must be 1-32 letters, digits, '.', '_' or '-'")
            if len(secret) != 32:
                raise SealingError(f"key {key_id!r} has {len(secret)} bytes; AES-256 needs 32 (base64 of 32 bytes)")
            parsed.append(_Key(key_id, AESGCM(secret)))
        self._keys = {k.key_id: k for k in parsed}
        if len(self._keys) != len(parsed):
            raise SealingError("key ids must be unique")
        self.current = parsed[0].key_id

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """`id:base64key[,id:base64key...]`, the first one sealing. The key material never appears in an error."""
        keys = []
        for n, part in enumerate(p.strip() for p in spec.split(",") if p.strip()):
            key_id, sep, encoded = part.partition(":")
            if not sep:
                raise SealingError(f"entry {n + 1} of the key spec has no ':'; expected id:base64key")
            try:
                secret = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise SealingError(f"key {key_id!r} is not valid base64") from None
            keys.append((key_id.strip(), secret))
        return cls(keys)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def seal(self, plaintext: bytes, *, aad: bytes) -> tuple[str, str]:
        """(key id, base64 of nonce + ciphertext + tag)."""
        key = self._keys[self.current]
        nonce = os.urandom(_NONCE_BYTES)
        return key.key_id, base64.b64encode(nonce + key.cipher.encrypt(nonce, plaintext, aad)).decode("ascii")

    def open(self, key_id: str, sealed: str, *, aad: bytes) -> bytes:
        key = self._keys.get(key_id)
        if key is None:
            raise SealingError(f"sealed with key {key_id!r}, which is not configured (configured: "
                               f"{', '.join(self._keys)}); add it to REVIEWSTREAM_DEAD_LETTER_KEYS after the current "
                               f"key")
        try:
            raw = base64.b64decode(sealed, validate=True)
            return key.cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
        except (binascii.Error, ValueError, InvalidTag):
            raise SealingError(f"the sealed value does not open with key {key_id!r}: altered, or sealed for another "
                               f"letter") from None


def new_key_spec(key_id: str) -> str:
    """A fresh `id:base64key` entry for REVIEWSTREAM_DEAD_LETTER_KEYS."""
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode('ascii')}"
