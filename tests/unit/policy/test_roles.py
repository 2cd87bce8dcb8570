"""The role matrix keeps the duties apart, and its documentation cannot drift from it."""

from pathlib import Path

import pytest

from watchkeeper.policy.roles import (
    PERMISSIONS,
    ROLES,
    UnknownRole,
    permissions_of,
    render_markdown,
)
from watchkeeper.store.auth import ROLE_NAMES

DOC = Path(__file__).parents[3] / "docs" / "permissions.md"


def test_docs_permissions_md_is_generated_from_the_matrix():
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/permissions.md is out of date: run "
        "python -m watchkeeper.policy.roles > docs/permissions.md"
    )


def test_an_auditor_reads_audit_and_reports_but_can_act_on_nothing():
    auditor = permissions_of("auditor")
    assert {"audit:read", "reports:read"} <= auditor
    assert not auditor & {"alerts:review", "persons:write", "watchlists:write", "users:admin"}
    assert all(p.endswith((":read", ":self")) for p in auditor)


def test_an_operator_reviews_but_manages_neither_users_nor_watchlists():
    operator = permissions_of("operator")
    assert "alerts:review" in operator
    assert not operator & {"users:admin", "watchlists:write", "persons:write"}


def test_a_supervisor_manages_watchlists_persons_cameras_and_reviews():
    assert {"watchlists:write", "persons:write", "cameras:write", "alerts:review"} <= (
        permissions_of("supervisor")
    )
    assert "users:admin" not in permissions_of("supervisor")


def test_only_admins_manage_users_and_system_and_admins_do_not_review():
    assert [r for r, perms in ROLES.items() if "users:admin" in perms] == ["admin"]
    assert [r for r, perms in ROLES.items() if "system:write" in perms] == ["admin"]
    assert "alerts:review" not in permissions_of("admin")


def test_every_role_uses_only_known_permissions_and_matches_the_stored_roles():
    assert all(perms <= set(PERMISSIONS) for perms in ROLES.values())
    assert tuple(ROLES) == ROLE_NAMES


def test_an_unknown_role_is_refused_with_the_roles_named():
    with pytest.raises(UnknownRole, match="admin, supervisor, operator, auditor"):
        permissions_of("root")
