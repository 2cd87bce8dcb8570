"""The errors of investigations: each message says what was refused and what would allow it."""

from __future__ import annotations


class InvestigationError(ValueError):
    """A request about a case that cannot be done in the case's state or with these inputs."""


class CaseRefused(InvestigationError):
    """The law the case rests on does not allow this search: the case is not approved, has
    expired or was closed, or the search reaches outside its time window or camera scope."""


class CaseForbidden(InvestigationError):
    """This user may not decide this case (their own request, or not a supervisor)."""
