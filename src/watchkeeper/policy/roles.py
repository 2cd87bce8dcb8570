"""Who may do what: the role → permission matrix, the one place it is written down.

A permission is a string ``resource:verb``. Every API endpoint names exactly one (see
``watchkeeper.api.auth.require``) and a test proves it, so this table is the whole truth
about access; docs/permissions.md is generated from it (``python -m
watchkeeper.policy.roles``) and a test fails when the two differ.

The split follows the duties of an operations centre, not a ladder: an auditor can read the
audit log and reports but cannot review alerts or enrol anyone (an auditor who could act
would audit themselves); an operator reviews alerts but cannot change who is looked for;
a supervisor decides who is looked for and where; an admin manages accounts and the system.
API keys carry a subset of their owner's permissions (their *scopes*).
"""

from __future__ import annotations

from types import MappingProxyType

PERMISSIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        "account:self": "See one's own account, change one's own password, manage one's own "
        "API keys, log out.",
        "cameras:read": "List cameras and their status.",
        "cameras:write": "Add, change, enable/disable and delete cameras.",
        "alerts:read": "See alerts (their face crops need persons:photos:view).",
        "alerts:review": "Confirm, reject or escalate alerts.",
        "sightings:read": "See matched sightings.",
        "events:read": "Subscribe to the live event stream.",
        "watchlists:read": "List watchlists with their purpose, legal basis and size.",
        "watchlists:write": "Create, change and delete watchlists.",
        "persons:read": "List and search watchlist entries (names, reasons, expiry).",
        "persons:write": "Enrol and delete watchlist entries.",
        "persons:photos:view": "See face images: enrolled photos, alert face crops and camera "
        "snapshots (every view is audited).",
        "users:admin": "Create users, change their role, disable them, list and revoke anyone's "
        "API keys (never make one for someone else).",
        "cases:read": "See investigation cases, their scans and results (every view is audited).",
        "cases:write": "Open investigation cases, add probe photos, search archived sightings "
        "and recordings, review candidates, request and collect evidence exports.",
        "cases:approve": "Approve or refuse another user's investigation case (four eyes; "
        "needs the supervisor role too).",
        "audit:read": "Read and verify the audit log.",
        "reports:read": "Produce transparency reports.",
        "system:read": "See the system configuration and health details.",
        "system:write": "Change the system configuration.",
    }
)

_OPERATOR = frozenset(
    {
        "account:self",
        "cases:read",
        "cases:write",
        "cameras:read",
        "alerts:read",
        "alerts:review",
        "sightings:read",
        "events:read",
        "watchlists:read",
        "persons:read",
        "persons:photos:view",
    }
)
_SUPERVISOR = _OPERATOR | {
    "cases:approve",
    "cameras:write",
    "watchlists:write",
    "persons:write",
    "reports:read",
}
_AUDITOR = frozenset(
    {
        "account:self",
        "cameras:read",
        "alerts:read",
        "sightings:read",
        "watchlists:read",
        "persons:read",
        "audit:read",
        "reports:read",
        "system:read",
    }
)
# Deciding about a person (an alert, a search for someone) is an operational duty, not an
# administrator's.
_ADMIN = frozenset(PERMISSIONS) - {"alerts:review", "cases:read", "cases:write", "cases:approve"}

ROLES: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "admin": _ADMIN,
        "supervisor": _SUPERVISOR,
        "operator": _OPERATOR,
        "auditor": _AUDITOR,
    }
)

ROLE_DESCRIPTIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        "admin": "Manages users, API keys and the system configuration. Does not review "
        "alerts or search for persons: deciding about a person is an operational duty.",
        "supervisor": "Decides who is looked for and where: watchlists, persons, cameras; "
        "reviews alerts; runs investigations and approves other users' cases.",
        "operator": "Watches the live alerts and reviews them; investigates under cases that a "
        "supervisor approved.",
        "auditor": "Reads the audit log and the reports; can act on nothing.",
    }
)


class UnknownRole(ValueError):
    """A role name that is not one of :data:`ROLES`."""


def permissions_of(role: str) -> frozenset[str]:
    try:
        return ROLES[role]
    except KeyError:
        raise UnknownRole(f"role {role!r} is not one of: {', '.join(ROLES)}") from None


def render_markdown() -> str:
    """docs/permissions.md: the matrix as a table, generated so it cannot drift."""
    roles = list(ROLES)
    lines = [
        "# Roles and permissions",
        "",
        "Generated from `src/watchkeeper/policy/roles.py` by "
        "`python -m watchkeeper.policy.roles > docs/permissions.md`; a test fails when this "
        "file is out of date. Every API endpoint requires exactly one of these permissions. "
        "An API key carries a subset of its owner's permissions (its scopes).",
        "",
        "## Roles",
        "",
        *[f"- **{role}**: {ROLE_DESCRIPTIONS[role]}" for role in roles],
        "",
        "## Matrix",
        "",
        "| permission | " + " | ".join(roles) + " | what it allows |",
        "|---|" + "---|" * len(roles) + "---|",
    ]
    for permission, description in PERMISSIONS.items():
        marks = " | ".join("✔" if permission in ROLES[role] else "" for role in roles)
        lines.append(f"| `{permission}` | {marks} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_markdown())
