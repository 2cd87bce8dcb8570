"""``watchkeeper user ...`` and ``watchkeeper apikey ...``: accounts from the command line.

There is no default account or password: the first admin is made here, by someone with
access to the server (``watchkeeper user create alice --admin``). Passwords are prompted
twice without echo, or read from standard input (``--password-stdin``) for scripts; they
never appear as arguments, where ``ps`` and the shell history would show them.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from watchkeeper.cli_common import JsonOption, app_context
from watchkeeper.policy import accounts
from watchkeeper.policy.roles import ROLES, UnknownRole, permissions_of
from watchkeeper.store import auth as store

console = Console()
errors = Console(stderr=True)

user_app = typer.Typer(help="Create, list, disable and enable users.", no_args_is_help=True)
apikey_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    errors.print(f"error: {message}")
    return typer.Exit(2)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    username: str,
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")] = "operator",
    admin: Annotated[bool, typer.Option("--admin", help="Same as --role admin.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user (the first admin is made this way: there is no default account)."""
    app_ctx = app_context(ctx)
    role = "admin" if admin else role
    try:
        permissions_of(role)
        password = _read_password(password_stdin)
        accounts.check_password_rules(password)
        with app_ctx.db.session() as s:
            user = accounts.create_user(s, app_ctx.actor, username, password, role)
            user_id = user.id
    except (accounts.AccountError, UnknownRole) as exc:
        raise _fail(str(exc)) from None
    console.print(f"created user [bold]{username}[/] (id {user_id}, role {role})")


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List users with their role and last login."""
    with app_context(ctx).db.session(readonly=True) as s:
        rows: list[dict[str, Any]] = [
            {
                "id": u.id,
                "username": u.username,
                "role": u.role,
                "active": u.active,
                "created_at": u.created_at.isoformat(),
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in store.list_users(s)
        ]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("id", "username", "role", "active", "last login")
    for r in rows:
        table.add_row(
            str(r["id"]), r["username"], r["role"], "yes" if r["active"] else "no",
            r["last_login_at"] or "—",
        )  # fmt: skip
    console.print(table)


def _set_active(ctx: typer.Context, username: str, active: bool, reason: str | None) -> None:
    app_ctx = app_context(ctx)
    with app_ctx.db.session() as s:
        user = store.get_user(s, username)
        accounts.update_user(s, app_ctx.actor, user, active=active, reason=reason)
    console.print(f"{'enabled' if active else 'disabled'} user [bold]{username}[/]")


ReasonOption = Annotated[str | None, typer.Option(help="Why (goes to the audit log).")]


@user_app.command("disable")
def user_disable(ctx: typer.Context, username: str, reason: ReasonOption = None) -> None:
    """Disable a user: their sessions end and their API keys stop working."""
    _set_active(ctx, username, False, reason)


@user_app.command("enable")
def user_enable(ctx: typer.Context, username: str, reason: ReasonOption = None) -> None:
    """Enable a disabled user again."""
    _set_active(ctx, username, True, reason)


@apikey_app.command("create")
def apikey_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option(help="Owner of the key.")],
    name: Annotated[str, typer.Option(help="What will use the key (e.g. 'vms-bridge').")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="A permission of the key (repeat); default: all of the owner's."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key and print it once; only its hash is kept."""
    app_ctx = app_context(ctx)
    try:
        with app_ctx.db.session() as s:
            owner = store.get_user(s, user)
            issued = accounts.create_api_key(s, app_ctx.actor, owner, name, scope or None)
            result = {
                "id": issued.key.id,
                "user": user,
                "name": issued.key.name,
                "scopes": issued.key.scopes,
                "token": issued.token,
            }
    except accounts.AccountError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    console.print(f"API key {result['id']} for [bold]{user}[/] ({name}):")
    console.print(issued.token, markup=False, highlight=False, soft_wrap=True)
    errors.print("Store it now: it is not shown again.")


@apikey_app.command("list")
def apikey_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Only this user's keys.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List API keys (never the keys themselves)."""
    with app_context(ctx).db.session(readonly=True) as s:
        owner = store.get_user(s, user) if user else None
        rows: list[dict[str, Any]] = [
            {
                "id": k.id,
                "user": k.user.username,
                "name": k.name,
                "prefix": k.prefix,
                "scopes": k.scopes,
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in store.list_api_keys(s, owner)
        ]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("id", "user", "name", "prefix", "scopes", "last used", "revoked")
    for r in rows:
        table.add_row(
            str(r["id"]), r["user"], r["name"], r["prefix"], ", ".join(r["scopes"]),
            r["last_used_at"] or "—", r["revoked_at"] or "—",
        )  # fmt: skip
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(ctx: typer.Context, key_id: int) -> None:
    """Revoke an API key at once."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session() as s:
        key = store.get_api_key(s, key_id)
        accounts.revoke_api_key(s, app_ctx.actor, key, datetime.now(UTC))
    console.print(f"revoked API key {key_id}")
