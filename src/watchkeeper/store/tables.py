"""Every table of the schema, registered in one place.

Each table module (`models`, `alerts`, `auth`, `crowd`, `investigations`, `outbox`,
`policy`) defines its tables on the one declarative ``Base``; importing this module imports
them all, so that ``metadata`` lists every table and every mapper's relationships resolve.
The database, the migrations and ``repository.counts`` start here; a new table module is
added to the list below (and nowhere else).
"""

from __future__ import annotations

from watchkeeper.store import alerts, auth, crowd, investigations, outbox, policy
from watchkeeper.store.models import Base

TABLE_MODULES = (alerts, auth, crowd, investigations, outbox, policy)

metadata = Base.metadata
