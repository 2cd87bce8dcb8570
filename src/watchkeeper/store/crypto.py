"""Encryption at rest of templates and photos: AES-256-GCM with a key id in every blob.

A stolen disk or database dump should not hand over the biometric data of the people on a
watchlist. When a key is configured (``WATCHKEEPER_KEY`` or ``policy.key_file``), templates
and media files are written as::

    b"WKE2" | key id (8 bytes) | nonce (12 bytes) | ciphertext + GCM tag (16 bytes)

GCM is authenticated: a wrong key or an altered byte fails loudly (:class:`CipherError`)
instead of yielding a garbage template that would silently never match. The key id (the
first 8 bytes of the key's SHA-256) says which key wrote a blob, so a rotation can be
resumed (what is under the new key is skipped) and an error can say "written with key X,
configured key is Y".

The associated data binds a blob to its use and, for ``WKE2`` blobs, to the object it belongs
to (a media file's SHA-256 name): a template cannot be swapped for a photo, and one encrypted
photo copied over another's file fails to decrypt instead of being served as the other
person's photo. ``WKE1`` blobs (bound to their use only) are written for templates and are
what media files were before; they still read, and ``watchkeeper keys rotate`` rewrites media
files as ``WKE2``.

Data written before a key was configured stays readable (it has no ``WKE1`` header) until
``watchkeeper keys rotate`` encrypts it; encrypted data without a key is an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from watchkeeper.store.errors import StoreError

MAGIC = b"WKE1"  # bound to its use only
BOUND_MAGIC = b"WKE2"  # bound to its use and to its object
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES
KEY_ENV = "WATCHKEEPER_KEY"
TEMPLATE = b"template"
MEDIA = b"media"
_NO_KEY_HINT = f"set {KEY_ENV} or policy.key_file to the key it was written with"


class CipherError(StoreError):
    """Encrypted data cannot be read (no key, wrong key, altered data) or a key is unusable."""


def generate_key() -> str:
    """A new random 256-bit key as URL-safe base64: what key files and the variable hold."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def parse_key(text: str, source: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise CipherError(f"key in {source} is not URL-safe base64: {exc}") from exc
    if len(raw) != 32:
        raise CipherError(
            f"key in {source} has {len(raw)} bytes, 32 are needed "
            "(make one with 'watchkeeper keys generate')"
        )
    return raw


def read_key_file(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise CipherError(f"cannot read key file {path}: {exc}") from exc
    return parse_key(text, str(path))


def configured_key(key_file: Path | None, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The key from ``WATCHKEEPER_KEY`` (first) or the key file; None when neither is set."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return parse_key(env[KEY_ENV], KEY_ENV)
    if key_file is not None:
        return read_key_file(key_file)
    return None


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES].hex()


class Cipher:
    """Encrypts and decrypts with one key (a rotation reads with the old, writes with the new)."""

    def __init__(self, key: bytes) -> None:
        self.key_id = key_id(key)
        self._id = bytes.fromhex(self.key_id)
        self._aead = AESGCM(key)

    def encrypt(self, data: bytes, purpose: bytes, subject: str | None = None) -> bytes:
        """A blob for ``purpose``; with ``subject`` it reads back only for that same object."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        magic = MAGIC if subject is None else BOUND_MAGIC
        header = magic + self._id + nonce
        return header + self._aead.encrypt(nonce, data, _associated(magic, purpose, subject))

    def decrypt(self, blob: bytes, purpose: bytes, what: str, subject: str | None = None) -> bytes:
        written_with = blob[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES]
        if written_with != self._id:
            raise CipherError(
                f"{what} was encrypted with key {written_with.hex()}, but the configured key "
                f"is {self.key_id}: wrong key ({_NO_KEY_HINT})"
            )
        magic = blob[: len(MAGIC)]
        if magic == BOUND_MAGIC and subject is None:
            raise CipherError(f"{what} is bound to an object, but none was named to read it")
        nonce = blob[len(MAGIC) + KEY_ID_BYTES : HEADER_BYTES]
        try:
            return self._aead.decrypt(
                nonce, blob[HEADER_BYTES:], _associated(magic, purpose, subject)
            )
        except InvalidTag as exc:
            moved = " or belongs to another object (a swapped file)" if magic == BOUND_MAGIC else ""
            raise CipherError(
                f"{what} fails its integrity check: it was altered{moved}, "
                f"or is not a {purpose.decode()}"
            ) from exc

    def written_with_current_key(self, blob: bytes, bound: bool = False) -> bool:
        """Whether a rotation may skip ``blob`` (``bound``: it must also be a ``WKE2`` blob)."""
        magic = BOUND_MAGIC if bound else blob[: len(MAGIC)]
        return (
            is_encrypted(blob)
            and blob[: len(MAGIC)] == magic
            and blob[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES] == self._id
        )


def _associated(magic: bytes, purpose: bytes, subject: str | None) -> bytes:
    if magic == MAGIC:
        return MAGIC + purpose  # what WKE1 blobs were written with
    return BOUND_MAGIC + purpose + b"\x00" + (subject or "").encode("utf-8")


def is_encrypted(blob: bytes, plain_size: int | None = None) -> bool:
    """Whether ``blob`` carries the header (a plaintext of ``plain_size`` bytes never does)."""
    if plain_size is not None and len(blob) == plain_size:
        return False
    magic = blob[: len(MAGIC)]
    return magic in (MAGIC, BOUND_MAGIC) and len(blob) >= HEADER_BYTES + TAG_BYTES


def seal(cipher: Cipher | None, data: bytes, purpose: bytes, subject: str | None = None) -> bytes:
    """Encrypt when a key is configured; write plaintext otherwise."""
    return data if cipher is None else cipher.encrypt(data, purpose, subject)


def unseal(
    cipher: Cipher | None,
    blob: bytes,
    purpose: bytes,
    what: str,
    plain_size: int | None = None,
    subject: str | None = None,
) -> bytes:
    """The plaintext of ``blob``; an encrypted blob without a key is a :class:`CipherError`."""
    if not is_encrypted(blob, plain_size):
        return blob
    if cipher is None:
        written_with = blob[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES].hex()
        raise CipherError(
            f"{what} is encrypted (key {written_with}) but no key is configured: {_NO_KEY_HINT}"
        )
    return cipher.decrypt(blob, purpose, what, subject)
