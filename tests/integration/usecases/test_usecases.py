"""The use cases on a real SQLite store and media folder: one transaction, one audit record,
the media freed after the commit, whichever door (CLI, API) called them."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.config import Settings
from watchkeeper.context import AppContext
from watchkeeper.enrolment import enrol_person
from watchkeeper.policy import accounts
from watchkeeper.policy.approvals import ApprovalForbidden
from watchkeeper.store import NotFound, repository
from watchkeeper.store.models import AuditEvent
from watchkeeper.usecases import approvals, persons, watchlists
from watchkeeper.vision import FaceAnalyzer

PORTRAIT = Path(__file__).resolve().parents[3] / "examples" / "data" / "deepface-pairs" / "img1.jpg"


@pytest.fixture
def ctx(settings: Settings, analyzer: FaceAnalyzer) -> AppContext:
    context = AppContext(settings, actor="cli:olive")
    context.__dict__["analyzer"] = analyzer  # the session's models, loaded once
    return context


def enrol(ctx: AppContext, watchlist: str, name: str = "A") -> int:
    enrolled = enrol_person(
        ctx.db, ctx.media, ctx.analyzer, watchlist=watchlist, name=name,
        photos=[(PORTRAIT.name, PORTRAIT.read_bytes())], actor=ctx.actor,
        max_pixels=ctx.settings.streams.max_image_pixels,
        min_quality=ctx.settings.vision.enrol_min_quality,
    )  # fmt: skip
    return enrolled.person_id


def actions(ctx: AppContext) -> list[str]:
    with ctx.db.session(readonly=True) as s:
        return [e.action for e in s.query(AuditEvent).order_by(AuditEvent.seq)]


def new_list(ctx: AppContext, name: str, purpose: str = "missing_person") -> int:
    return watchlists.create_watchlist(
        ctx.db, ctx.actor, name=name, purpose=purpose, legal_basis="test", owner="unit 7"
    )


def test_deleting_a_watchlist_frees_its_photos_and_is_audited(ctx: AppContext) -> None:
    new_list(ctx, "missing")
    enrol(ctx, "missing")
    assert len(list(ctx.media.shas())) == 1
    name, files = watchlists.delete_watchlist(ctx.db, ctx.media, ctx.actor, "missing", "done")
    assert (name, files) == ("missing", 1)
    assert list(ctx.media.shas()) == []
    assert actions(ctx) == ["watchlist.create", "person.enrol", "watchlist.delete"]


def test_deleting_a_person_frees_their_photos_and_is_audited(ctx: AppContext) -> None:
    new_list(ctx, "missing")
    person_id = enrol(ctx, "missing")
    assert persons.delete_person(ctx.db, ctx.media, ctx.actor, person_id, "found") == "A"
    assert list(ctx.media.shas()) == []
    assert actions(ctx)[-1] == "person.delete"
    with pytest.raises(NotFound), ctx.db.session(readonly=True) as s:
        repository.get_person(s, person_id)


def test_a_change_of_threshold_is_audited_with_before_and_after(ctx: AppContext) -> None:
    new_list(ctx, "missing")
    changes = watchlists.update_watchlist(ctx.db, ctx.actor, "missing", {"threshold": 0.5}, "x")
    assert changes == {"threshold": [None, 0.5]}
    assert watchlists.update_watchlist(ctx.db, ctx.actor, "missing", {"threshold": 0.5}, "x") == {}
    assert actions(ctx).count("watchlist.update") == 1


def test_a_login_that_is_no_watchkeeper_user_cannot_decide(ctx: AppContext) -> None:
    new_list(ctx, "wanted", purpose="wanted_person")
    enrol(ctx, "wanted")
    with pytest.raises(ApprovalForbidden, match="olive is not an active Watchkeeper user"):
        approvals.approve_request(ctx.db, "cli:olive", 1, None)


def test_the_requester_may_withdraw_and_the_entry_goes_with_its_photos(ctx: AppContext) -> None:
    new_list(ctx, "wanted", purpose="wanted_person")
    enrol(ctx, "wanted")
    decided = approvals.reject_request(ctx.db, ctx.media, "cli:olive", 1, "entered by mistake")
    assert decided["state"] == "rejected"
    assert list(ctx.media.shas()) == []


def test_a_supervisor_found_by_login_approves_and_the_entry_becomes_active(
    ctx: AppContext,
) -> None:
    with ctx.db.session() as s:
        accounts.create_user(s, "test", "sam", "correct horse battery staple", "supervisor")
    new_list(ctx, "wanted", purpose="wanted_person")
    person_id = enrol(ctx, "wanted")
    states = {e["id"]: e["state"] for e in persons.list_entries(ctx.db, "wanted", True)}
    assert states[person_id] == "pending_approval"
    assert approvals.approve_request(ctx.db, "cli:sam", 1, "checked")["state"] == "approved"
    states = {e["id"]: e["state"] for e in persons.list_entries(ctx.db, "wanted", True)}
    assert states[person_id] == "active"
