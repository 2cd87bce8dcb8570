"""Paging for every list endpoint: ``?limit=N&cursor=C``, answered with ``items`` and ``next``.

The cursor is opaque to clients: it holds the sort key of the last item of the page
(keyset paging), so a page never skips or repeats rows when others are inserted meanwhile,
and deep pages cost as little as the first. ``next`` is the full URL of the following page,
or null on the last one.

Endpoint pattern (ascending ids; newest-first lists use ``id < after`` instead)::

    @router.get("/things", response_model=Page[ThingOut])
    def things(page: Annotated[PageParams, Depends(page_params)], request: Request) -> Page:
        rows = store.list_things(s, after_id=page.after, limit=page.limit + 1)
        return paginate(request, [out(r) for r in rows], page, key=lambda t: t.id)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel

from watchkeeper.api.params import in_row_range
from watchkeeper.api.problems import ProblemError

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = None


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    after: int | None  # the decoded cursor: sort key of the previous page's last item


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=64, description="The `next` cursor of the previous page.")
    ] = None,
) -> PageParams:
    return PageParams(limit, None if cursor is None else decode_cursor(cursor))


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(str(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key = int(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = None
    if key is None or not in_row_range(key):  # a forged 2**63 would overflow the driver
        raise ProblemError(400, f"cursor {cursor!r} is not one this API gave out")
    return key


def paginate(
    request: Request, items: Sequence[T], page: PageParams, key: Callable[[T], int]
) -> Page[T]:
    """``items`` were fetched with ``limit + 1``: the extra one only says a next page exists."""
    if len(items) <= page.limit:
        return Page[T](items=list(items))
    shown = list(items[: page.limit])
    url = request.url.include_query_params(cursor=encode_cursor(key(shown[-1])), limit=page.limit)
    return Page[T](items=shown, next=str(url))
