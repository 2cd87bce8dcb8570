"""What every command module shares: the context, dates from the command line, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Annotated, Any, ParamSpec, TypeVar, overload

import typer

from watchkeeper.context import AppContext

P = ParamSpec("P")
R = TypeVar("R")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def app_context(ctx: typer.Context) -> AppContext:
    """The AppContext the root command made from --data-dir and --config."""
    context = ctx.find_root().obj
    assert isinstance(context, AppContext)
    return context


@overload
def parse_date(value: str, option: str) -> datetime: ...
@overload
def parse_date(value: None, option: str) -> None: ...
def parse_date(value: str | None, option: str) -> datetime | None:
    """An ISO date or date-time; without a zone it is taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a date like 2027-03-31 or 2027-03-31T08:00", param_hint=option
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str) -> typer.Exit:
    """Print a refusal as one ``error:`` line; raise the returned Exit (status 2)."""
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(2)


def refusals(
    *expected: type[Exception],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A command decorator: a rule that says no is an expected outcome, one line and status 2."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @wraps(command)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return command(*args, **kwargs)
            except expected as exc:
                raise fail(str(exc)) from None

        return wrapper

    return decorate


def login_role(app_ctx: AppContext, deciding: str) -> str:
    """The role of the active Watchkeeper user behind this OS login, for four-eyes decisions."""
    from watchkeeper.policy import approvals
    from watchkeeper.store import auth as auth_store

    name = approvals.identity(app_ctx.actor)
    with app_ctx.db.session(readonly=True) as s:
        user = auth_store.find_user(s, name)
        role = user.role if user is not None and user.active else None
    if role is None:
        raise fail(
            f"{name} is not an active Watchkeeper user: deciding {deciding} needs one with the "
            f"supervisor role (watchkeeper user create {name} --role supervisor)"
        )
    return role
