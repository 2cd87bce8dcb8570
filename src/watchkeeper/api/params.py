"""Bounded integer types for ids in paths, queries, bodies and cursors.

SQLite and PostgreSQL store ids as signed 64-bit integers. A larger number (``2**63``) used
to reach the driver, which raised ``OverflowError``: a 500 and a long traceback in the log
for every such request, from any role. Declaring the bounds on the parameter makes FastAPI
refuse it with a 422 before any query runs, and puts the bounds into the OpenAPI schema,
where clients (and the fuzzer) read them.
"""

from __future__ import annotations

from typing import Annotated

import annotated_types

MAX_ROW_ID = 2**63 - 1  # the largest signed 64-bit integer: the database's id column

RowId = Annotated[int, annotated_types.Ge(1), annotated_types.Le(MAX_ROW_ID)]
"""A database id: 1 to 2**63 - 1 (a path parameter, a query filter or a body field)."""


def in_row_range(value: int) -> bool:
    """Whether ``value`` can be compared with an id column without overflowing the driver."""
    return -MAX_ROW_ID - 1 <= value <= MAX_ROW_ID
