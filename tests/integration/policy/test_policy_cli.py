"""The accountability commands, run as different logins against one data folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from support.policy_world import PHOTOS
from watchkeeper.cli import app
from watchkeeper.policy import accounts, audit
from watchkeeper.store import Database, StoreError, audit_log

PASSWORD = "correct horse battery staple"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    db = Database(f"sqlite:///{folder / 'watchkeeper.db'}")
    db.migrate()
    with db.session() as s:
        for name, role in (("alice", "supervisor"), ("bob", "supervisor"), ("carol", "auditor")):
            accounts.create_user(s, "test", name, PASSWORD, role)
    db.close()
    return folder


def run(data: Path, login: str, *args: str) -> Result:
    env = {"LOGNAME": login, "USER": login, "LNAME": login, "USERNAME": login}
    return CliRunner(env=env).invoke(app, ["--data-dir", str(data), *args])


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def refused(result: Result, message: str) -> None:
    """Refused with ``message``: exit status 2, or a store error (which ``cli.main`` turns
    into the same one-line error and status 2; the runner calls the app without it)."""
    if isinstance(result.exception, StoreError):
        assert message in str(result.exception)
        return
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output


def audit_ok(data: Path) -> bool:
    db = Database(f"sqlite:///{data / 'watchkeeper.db'}")
    with db.session(readonly=True) as s:
        report = audit.verify(s)
    db.close()
    return report.ok


def test_a_wanted_person_enrolled_on_the_command_line_needs_another_supervisor(data: Path):
    ok(run(data, "alice", "watchlist", "create", "wanted", "--purpose", "wanted_person",
           "--legal-basis", "warrant 7/26", "--owner", "ops"))  # fmt: skip
    ok(run(data, "alice", "person", "add", str(PHOTOS / "paul_rudd" / "1.jpg"), "--watchlist",
           "wanted", "--name", "P. R.", "--reason", "warrant 7/26"))  # fmt: skip
    (pending,) = json.loads(ok(run(data, "alice", "approval", "list", "--json")).stdout)
    assert (pending["kind"], pending["state"], pending["requested_by"]) == (
        "enrol_wanted",
        "pending",
        "cli:alice",
    )
    approval = str(pending["id"])
    refused(run(data, "alice", "approval", "approve", approval), "alice requested approval")
    refused(run(data, "carol", "approval", "approve", approval), "needs the supervisor role")
    refused(run(data, "mallory", "approval", "approve", approval), "not an active Watchkeeper")
    ok(run(data, "bob", "approval", "approve", approval, "--comment", "warrant checked"))
    refused(run(data, "bob", "approval", "reject", approval, "--reason", "x"), "already approved")
    (done,) = json.loads(ok(run(data, "bob", "approval", "list", "--json")).stdout)
    assert (done["state"], done["approved_by"]) == ("approved", "cli:bob")
    assert audit_ok(data)


def test_deployments_are_added_checked_listed_and_revoked(data: Path):
    ok(run(data, "alice", "watchlist", "create", "missing", "--purpose", "missing_person",
           "--legal-basis", "family request", "--owner", "ops"))  # fmt: skip
    check = ["deployment", "check", "--watchlist", "missing", "--group", "airport", "--at",
             "2026-11-27T10:00"]  # fmt: skip
    assert ok(run(data, "alice", *check)).stdout.strip() == (
        "watchlist missing has no authorisation for camera group airport at 2026-11-27 10:00 UTC"
    )
    ok(run(data, "alice", "deployment", "add", "--watchlist", "missing", "--group", "airport",
           "--from", "2026-11-27", "--to", "2026-11-28", "--authorised-by", "Chief Constable",
           "--ref", "AUTH-2026-11"))  # fmt: skip
    assert "under deployment 1" in ok(run(data, "alice", *check)).stdout
    (listed,) = json.loads(ok(run(data, "alice", "deployment", "list", "--json")).stdout)
    assert (listed["camera_group"], listed["authorisation_ref"]) == ("airport", "AUTH-2026-11")
    refused(run(data, "alice", "deployment", "add", "--watchlist", "missing", "--group", "x",
                "--from", "2026-11-28", "--to", "2026-11-27", "--authorised-by", "a", "--ref",
                "b"), "must end after it starts")  # fmt: skip
    ok(run(data, "alice", "deployment", "revoke", "1", "--reason", "operation over"))
    (revoked,) = json.loads(ok(run(data, "alice", "deployment", "list", "--json")).stdout)
    assert revoked["status"] == "revoked"
    assert "no authorisation" in ok(run(data, "alice", *check)).stdout
    assert audit_ok(data)


def test_a_review_sets_the_next_date_and_needs_a_future_one(data: Path):
    ok(run(data, "alice", "watchlist", "create", "missing", "--purpose", "missing_person",
           "--legal-basis", "b", "--owner", "o", "--review-by", "2020-01-01"))  # fmt: skip
    refused(run(data, "alice", "watchlist", "review", "missing", "--next-review", "2020-06-01",
                "--reason", "still open"), "must be in the future")  # fmt: skip
    # taken now, not at import: a suite that runs past midnight would make it today
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    ok(run(data, "alice", "watchlist", "review", "missing", "--next-review", tomorrow,
           "--reason", "still open"))  # fmt: skip
    (listed,) = json.loads(ok(run(data, "alice", "watchlist", "list", "--json")).stdout)
    assert listed["review_by"].startswith(tomorrow)


def test_an_audit_export_needs_an_approval_and_is_performed_once(data: Path, tmp_path: Path):
    ok(run(data, "carol", "approval", "request-export", "--reason", "annual oversight"))
    out = tmp_path / "audit.jsonl"
    refused(run(data, "carol", "audit", "export", "--approval", "1", "--out", str(out)),
            "is pending")  # fmt: skip
    refused(run(data, "carol", "approval", "approve", "1"), "needs the supervisor role")
    ok(run(data, "alice", "approval", "approve", "1"))
    refused(run(data, "bob", "audit", "export", "--approval", "1", "--out", str(out)),
            "was given to carol")  # fmt: skip
    ok(run(data, "carol", "audit", "export", "--approval", "1", "--out", str(out)))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["action"] for e in lines][-2:] == ["approval.request", "approval.approve"]
    assert all(e["seq"] == i + 1 for i, e in enumerate(lines))
    refused(run(data, "carol", "audit", "export", "--approval", "1", "--out", str(out)),
            "already used")  # fmt: skip
    assert audit_ok(data)
    db = Database(f"sqlite:///{data / 'watchkeeper.db'}")
    with db.session(readonly=True) as s:
        (performed,) = [e for e in audit_log.events_in_order(s) if e.action == "export.perform"]
    db.close()
    # the object approved (approval.request: audit, all), the approval in the details
    assert (performed.object_type, performed.object_id) == ("audit", "all")
    details = json.loads(performed.details or "{}")
    assert details["approval"] == 1 and details["events"] == len(lines)


def test_archive_mode_and_the_purge_from_the_command_line(data: Path):
    ok(run(data, "alice", "policy", "archive", "station", "--days", "14", "--reason", "pilot"))
    purged = json.loads(ok(run(data, "alice", "policy", "purge", "--json")).stdout)
    assert purged == {"persons": 0, "archived_sightings": 0, "files": 0}
    assert audit_ok(data)
