"""Accounts and credentials: passwords, API keys and browser sessions, each change audited.

The CLI (``watchkeeper user ...``, ``watchkeeper apikey ...``) and the API call the same
functions, so a user made one way behaves the same the other way and lands in the audit log
the same way. Functions take an open session and leave committing to the caller, so the
change and its audit record share one transaction.

There is no default account: the first admin is made with ``watchkeeper user create NAME
--role admin``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from watchkeeper.policy import audit
from watchkeeper.policy.roles import PERMISSIONS, permissions_of
from watchkeeper.store import auth as store
from watchkeeper.store.auth import ApiKey, LoginSession, User
from watchkeeper.store.errors import StoreError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
API_KEY_PREFIX = "wk"

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
# Verified when the username is unknown, so that a wrong username costs as long as a wrong
# password and response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A username, password, role or scope that cannot be used; the message says why."""


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- users -----------------------------------------------------------------------------------


def create_user(s: Session, actor: str, username: str, password: str, role: str) -> User:
    if not USERNAME_PATTERN.match(username):
        raise AccountError(
            f"username {username!r} must be 1-100 letters, digits or . _ @ - "
            "and start with a letter or digit"
        )
    permissions_of(role)  # an unknown role fails here, with the roles named
    user = store.create_user(s, username, hash_password(password), role)
    audit.record(
        s, actor, "user.create", "user", user.id, details={"username": username, "role": role}
    )
    return user


def authenticate(s: Session, username: str, password: str) -> User | None:
    """The active user with this password, or None; the caller audits the outcome."""
    user = store.find_user(s, username)
    if user is None:
        password_matches(_DUMMY_HASH, password)
        return None
    if not password_matches(user.password_hash, password) or not user.active:
        return None
    return user


def change_password(
    s: Session, actor: str, user: User, new_password: str, *, reason: str | None = None
) -> None:
    """Set a new password and end the user's sessions (a stolen cookie dies with the old one)."""
    user.password_hash = hash_password(new_password)
    store.delete_user_sessions(s, user)
    audit.record(s, actor, "user.password", "user", user.id, reason=reason)


def update_user(
    s: Session,
    actor: str,
    user: User,
    *,
    role: str | None = None,
    active: bool | None = None,
    reason: str | None = None,
) -> User:
    """Change role and/or active flag; the last active admin cannot be removed."""
    changes: dict[str, object] = {}
    if role is not None and role != user.role:
        permissions_of(role)
        changes["role"] = [user.role, role]
    if active is not None and active != user.active:
        changes["active"] = [user.active, active]
    if not changes:
        return user
    losing_admin = (
        user.role == "admin"
        and user.active
        and ((role is not None and role != "admin") or active is False)
    )
    if losing_admin and store.count_active_admins(s) <= 1:
        raise StoreError(
            f'user "{user.username}" is the last active admin: make another admin first'
        )
    if role is not None:
        user.role = role
    if active is not None:
        user.active = active
    store.delete_user_sessions(s, user)  # the new rights apply from the next login
    audit.record(
        s, actor, "user.update", "user", user.id, reason=reason,
        details={"username": user.username, **changes},
    )  # fmt: skip
    return user


# --- API keys --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once, never stored


def create_api_key(
    s: Session, actor: str, user: User, name: str, scopes: list[str] | None
) -> IssuedKey:
    """A new key for ``user``; ``scopes`` default to all of the owner's permissions."""
    owned = permissions_of(user.role)
    wanted = set(owned if scopes is None else scopes)
    unknown = sorted(wanted - set(PERMISSIONS))
    if unknown:
        raise AccountError(f"unknown scope(s): {', '.join(unknown)} (see docs/permissions.md)")
    beyond = sorted(wanted - owned)
    if beyond:
        raise AccountError(
            f'scope(s) {", ".join(beyond)} exceed the permissions of "{user.username}" '
            f"(role {user.role})"
        )
    if not wanted:
        raise AccountError("an API key needs at least one scope")
    if not name.strip() or len(name) > 100:
        raise AccountError("an API key needs a name of 1-100 characters (what uses it)")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = store.add_api_key(s, user, name.strip(), prefix, _digest(secret), sorted(wanted))
    audit.record(
        s, actor, "apikey.create", "api_key", key.id,
        details={"user": user.username, "name": key.name, "prefix": prefix, "scopes": key.scopes},
    )  # fmt: skip
    return IssuedKey(key, f"{API_KEY_PREFIX}_{prefix}_{secret}")


def revoke_api_key(s: Session, actor: str, key: ApiKey, now: datetime) -> None:
    if key.revoked_at is None:
        key.revoked_at = now
        audit.record(
            s, actor, "apikey.revoke", "api_key", key.id,
            details={"user": key.user.username, "name": key.name, "prefix": key.prefix},
        )  # fmt: skip


def resolve_api_key(s: Session, token: str) -> ApiKey | None:
    """The live key of an active user that this token proves, or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    key = store.find_api_key(s, parts[1])
    if key is None or key.revoked_at is not None or not key.user.active:
        return None
    return key if hmac.compare_digest(key.hash, _digest(parts[2])) else None


def touch_api_key(s: Session, key_id: int, now: datetime) -> None:
    key = s.get(ApiKey, key_id)
    if key is not None:
        key.last_used_at = now


def key_permissions(key: ApiKey) -> frozenset[str]:
    """What a key may do now: its scopes, cut to what its owner's role still allows."""
    return frozenset(key.scopes) & permissions_of(key.user.role)


# --- sessions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedSession:
    token: str  # goes into the cookie, never stored
    csrf_token: str
    expires_at: datetime


def start_session(
    s: Session, user: User, now: datetime, max_age: timedelta, idle: timedelta
) -> IssuedSession:
    """A new session; ended ones are swept out here, so the table never outgrows its users."""
    store.delete_sessions_before(s, now - idle, now)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    store.add_session(s, _digest(token), user, csrf, now, now + max_age)
    user.last_login_at = now
    return IssuedSession(token, csrf, now + max_age)


def resolve_session(
    s: Session, token: str, now: datetime, idle: timedelta
) -> tuple[LoginSession | None, str | None]:
    """The live session of an active user for this cookie token, or (None, why not)."""
    row = store.find_session(s, _digest(token))
    if row is None:
        return None, "no such session; log in"
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        return None, "the session has expired; log in again"
    if not row.user.active:
        return None, "the account is disabled"
    return row, None


def touch_session(s: Session, session_id: str, now: datetime) -> None:
    """Move the idle expiry on (the session may have ended meanwhile: then nothing)."""
    row = store.find_session(s, session_id)
    if row is not None:
        row.last_seen_at = now


def end_session(s: Session, actor: str, session_id: str) -> None:
    store.delete_session(s, session_id)
    audit.record(s, actor, "auth.logout", "session", session_id[:12])


def session_id(token: str) -> str:
    return _digest(token)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
