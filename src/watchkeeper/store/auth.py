"""Accounts: users, their API keys and their browser sessions, and the queries on them.

Secrets never reach the database: passwords are stored as argon2id hashes, API keys and
session tokens as SHA-256 digests of high-entropy random strings (a fast hash is enough for
those: they cannot be guessed, unlike passwords). Deleting a user removes their keys and
sessions by ``ON DELETE CASCADE``; in practice users are disabled, not deleted, so that the
audit log's actors keep meaning someone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from watchkeeper.store.errors import NotFound, StoreError
from watchkeeper.store.models import Base, utcnow

ROLE_NAMES = ("admin", "supervisor", "operator", "auditor")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLE_NAMES)})", name="role"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    api_keys: Mapped[list[ApiKey]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiKey(Base):
    """A machine credential ``wk_<prefix>_<secret>``: the prefix finds the row, the hash
    proves it."""

    __tablename__ = "api_keys"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="api_keys")


class LoginSession(Base):
    """A browser session; ``id`` is the SHA-256 of the cookie's token, never the token."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)  # absolute end
    last_seen_at: Mapped[datetime]  # idle end = last_seen_at + idle timeout

    user: Mapped[User] = relationship()


# --- users -----------------------------------------------------------------------------------


def create_user(s: Session, username: str, password_hash: str, role: str) -> User:
    if role not in ROLE_NAMES:
        raise StoreError(f"role {role!r} is not one of: {', '.join(ROLE_NAMES)}")
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise StoreError(f'user "{username}" already exists')
    user = User(username=username, password_hash=password_hash, role=role, active=True)
    s.add(user)
    try:
        s.flush()
    except IntegrityError as exc:  # created by someone else since the check above
        raise StoreError(f'user "{username}" already exists') from exc
    return user


def find_user(s: Session, username: str) -> User | None:
    return s.scalar(select(User).where(User.username == username))


def get_user(s: Session, username_or_id: str | int) -> User:
    """By username, or by id when given an int."""
    found = (
        s.get(User, username_or_id)
        if isinstance(username_or_id, int)
        else find_user(s, username_or_id)
    )
    if found is None:
        raise NotFound(f'user "{username_or_id}" does not exist')
    return found


def list_users(s: Session, after_id: int | None = None, limit: int | None = None) -> list[User]:
    query = select(User).order_by(User.id)
    if after_id is not None:
        query = query.where(User.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    return list(s.scalars(query))


def count_active_admins(s: Session) -> int:
    return len(list(s.scalars(select(User.id).where(User.role == "admin", User.active))))


# --- API keys --------------------------------------------------------------------------------


def add_api_key(
    s: Session, user: User, name: str, prefix: str, key_hash: str, scopes: list[str]
) -> ApiKey:
    key = ApiKey(user=user, name=name, prefix=prefix, hash=key_hash, scopes=sorted(scopes))
    s.add(key)
    s.flush()
    return key


def find_api_key(s: Session, prefix: str) -> ApiKey | None:
    return s.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def get_api_key(s: Session, key_id: int) -> ApiKey:
    key = s.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist")
    return key


def list_api_keys(
    s: Session,
    user: User | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if user is not None:
        query = query.where(ApiKey.user_id == user.id)
    if after_id is not None:
        query = query.where(ApiKey.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    return list(s.scalars(query))


# --- sessions --------------------------------------------------------------------------------


def add_session(
    s: Session, session_id: str, user: User, csrf_token: str, now: datetime, expires_at: datetime
) -> LoginSession:
    row = LoginSession(
        id=session_id,
        user=user,
        csrf_token=csrf_token,
        created_at=now,
        expires_at=expires_at,
        last_seen_at=now,
    )
    s.add(row)
    s.flush()
    return row


def find_session(s: Session, session_id: str) -> LoginSession | None:
    return s.get(LoginSession, session_id)


def delete_session(s: Session, session_id: str) -> None:
    s.execute(delete(LoginSession).where(LoginSession.id == session_id))


def delete_user_sessions(s: Session, user: User) -> None:
    """End every session of a user (disabled, demoted, or a new password)."""
    s.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def delete_sessions_before(s: Session, idle_cutoff: datetime, now: datetime) -> int:
    """Remove sessions past either expiry; returns how many."""
    result = s.execute(
        delete(LoginSession).where(
            (LoginSession.expires_at <= now) | (LoginSession.last_seen_at <= idle_cutoff)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
