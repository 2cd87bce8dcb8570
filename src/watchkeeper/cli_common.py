"""What every command module shares: the context, dates from the command line, JSON output."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any, overload

import typer

from watchkeeper.context import AppContext

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
