"""Camera URI passwords encrypted at rest, the rest of the URI left readable.

``rtsp://admin:hunter2@10.0.0.5/stream`` is stored as
``rtsp://admin:wke.<base64url blob>@10.0.0.5/stream`` when a key is configured: a database
dump or backup no longer hands out the cameras' passwords, while names, hosts and paths
stay queryable and every display of the URI (which replaces the password by ``***``) works
unchanged. The blob is an AES-GCM blob of :mod:`watchkeeper.store.crypto` bound to the URI
without its password, so a sealed password copied into another camera's row, or a host
edited in the database, fails to open instead of sending the password elsewhere.

Without a key the URI is stored as given, like templates and photos; the first
``watchkeeper keys rotate`` seals what was written before.
"""

from __future__ import annotations

import base64
import binascii
import re

from watchkeeper.store.crypto import Cipher, CipherError, is_encrypted, unseal

CAMERA_URI = b"camera-uri"
SEALED_PREFIX = "wke."
# userinfo after the scheme: group 1 the user, group 2 the password (without its colon)
_USERINFO = re.compile(r"(?<=://)([^/@:]*):([^/@]*)@")


def seal_uri(uri: str, cipher: Cipher | None) -> str:
    """``uri`` with its password encrypted; unchanged without a key or without a password."""
    found = _USERINFO.search(uri)
    if cipher is None or not has_plaintext_password(uri) or found is None:
        return uri
    blob = cipher.encrypt(found.group(2).encode("utf-8"), CAMERA_URI, subject=_subject(uri))
    token = SEALED_PREFIX + base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")
    return f"{uri[: found.start(2)]}{token}{uri[found.end(2) :]}"


def open_uri(uri: str, cipher: Cipher | None, what: str) -> str:
    """The URI the camera is reached with; :class:`CipherError` if it cannot be decrypted."""
    found = _USERINFO.search(uri)
    if found is None or not found.group(2).startswith(SEALED_PREFIX):
        return uri  # no password, or one stored before a key was configured
    blob = _blob(found.group(2), what)
    password = unseal(cipher, blob, CAMERA_URI, f"the password of {what}", subject=_subject(uri))
    return f"{uri[: found.start(2)]}{password.decode('utf-8')}{uri[found.end(2) :]}"


def has_password(uri: str) -> bool:
    """Whether ``uri`` holds a password, sealed or not."""
    found = _USERINFO.search(uri)
    return found is not None and found.group(2) != ""


def has_plaintext_password(uri: str) -> bool:
    """Whether ``uri`` holds a password that is not sealed yet (a rotation seals it)."""
    found = _USERINFO.search(uri)
    return has_password(uri) and found is not None and not found.group(2).startswith(SEALED_PREFIX)


def sealed_with(uri: str, cipher: Cipher) -> bool:
    """Whether ``uri``'s password is already sealed with ``cipher`` (a rotation skips it)."""
    found = _USERINFO.search(uri)
    if found is None or not found.group(2).startswith(SEALED_PREFIX):
        return False
    return cipher.written_with_current_key(_blob(found.group(2), "a camera URI"), bound=True)


def _subject(uri: str) -> str:
    """What the password is bound to: the URI with the password taken out."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}@", uri, count=1)


def _blob(token: str, what: str) -> bytes:
    text = token[len(SEALED_PREFIX) :]
    try:
        blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CipherError(f"the stored password of {what} is damaged: {exc}") from exc
    if not is_encrypted(blob):
        raise CipherError(f"the stored password of {what} is damaged: not an encrypted blob")
    return blob
