"""What every command module shares: the context, dates from the command line, JSON output."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Annotated, ParamSpec, TypeVar, overload

import typer

from watchkeeper.context import AppContext
from watchkeeper.output import print_json

__all__ = ["JsonOption", "app_context", "fail", "parse_date", "print_json", "refusals"]

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
