"""The command line says why nothing can match: on enrolment, in the list, before a run.

A new user who enrols someone on a wanted-person list, or runs a clip with no authorised
deployment, must be told in the output why no match will come and what to do about it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from watchkeeper.cli import app
from watchkeeper.policy import accounts
from watchkeeper.store import Database

REPO = Path(__file__).resolve().parents[3]
PORTRAIT = REPO / "examples" / "data" / "deepface-pairs" / "img1.jpg"
LOGIN = "olive"


def run(*args: str) -> Result:
    """The CLI as the OS login ``olive``; the data folder is given after the verb, as people do."""
    env = {"LOGNAME": LOGIN, "USER": LOGIN, "LNAME": LOGIN, "USERNAME": LOGIN}
    result = CliRunner(env=env).invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def said(result: Result) -> str:
    """The output as one line (rich wraps long lines at the terminal width)."""
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A wanted-person list with one supervisor (not the enrolling login) and no deployment."""
    root = tmp_path_factory.mktemp("why")
    data = root / "data"
    data.mkdir()
    db = Database(f"sqlite:///{data / 'watchkeeper.db'}")
    db.migrate()
    with db.session() as s:
        accounts.create_user(s, "test", "sam", "correct horse battery staple", "supervisor")
    db.close()
    images = root / "images"
    images.mkdir()
    shutil.copy(PORTRAIT, images / "frame.jpg")
    d = ["--data-dir", str(data)]
    run("watchlist", "create", "wanted", "--purpose", "wanted_person",
        "--legal-basis", "court order 1/2026", "--owner", "unit 7", *d)  # fmt: skip
    run("watchlist", "create", "empty", "--purpose", "other",
        "--legal-basis", "test", "--owner", "unit 7", *d)  # fmt: skip
    return {"data": data, "images": images}


@pytest.fixture(scope="module")
def enrolled(world: dict[str, Path]) -> Result:
    return run(
        "person", "add", str(PORTRAIT), "--watchlist", "wanted", "--name", "A",
        "--data-dir", str(world["data"]),
    )  # fmt: skip


def test_person_add_says_the_entry_awaits_approval_by_whom_and_how(enrolled: Result) -> None:
    text = said(enrolled)
    assert "enrolled A" in text
    assert "pending approval" in text
    assert "will not match until a supervisor other than you approves request 1" in text
    assert "one of: sam" in text
    assert "watchkeeper approval approve 1" in text


def test_person_add_json_carries_the_state_and_the_approval(
    world: dict[str, Path], enrolled: Result
) -> None:
    result = run(
        "person", "add", str(PORTRAIT), "--watchlist", "wanted", "--name", "B", "--json",
        "--data-dir", str(world["data"]),
    )  # fmt: skip
    document = json.loads(result.output)
    assert document["state"] == "pending_approval"
    assert document["approval"]["approvers"] == ["sam"]
    assert document["approval"]["id"] == 2


def test_person_list_shows_each_entrys_state(world: dict[str, Path], enrolled: Result) -> None:
    table = said(run("person", "list", "--data-dir", str(world["data"])))
    assert "state" in table
    assert "pending approval" in table
    rows = json.loads(run("person", "list", "--json", "--data-dir", str(world["data"])).output)
    assert {r["name"]: r["state"] for r in rows}["A"] == "pending_approval"


def test_person_list_shows_an_approved_entry_as_active(tmp_path: Path) -> None:
    data = tmp_path / "data"
    d = ["--data-dir", str(data)]
    run("watchlist", "create", "missing", "--purpose", "missing_person",
        "--legal-basis", "consent", "--owner", "unit 7", *d)  # fmt: skip
    run("person", "add", str(PORTRAIT), "--watchlist", "missing", "--name", "C", *d)
    rows = json.loads(run("person", "list", "--json", *d).output)
    assert [r["state"] for r in rows] == ["active"]


def test_run_begins_with_why_each_watchlist_cannot_match(
    world: dict[str, Path], enrolled: Result
) -> None:
    result = run("run", str(world["images"]), "--data-dir", str(world["data"]))
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[0].startswith("note: watchlist empty cannot match:")
    text = said(result)
    assert (
        "note: watchlist wanted cannot match: no authorised deployment for camera group "
        "default at" in text
    )
    # how many entries wait depends on which of this module's tests enrolled one before
    assert "pending approval (watchkeeper approval list --state pending)" in text
    assert text.index("note: watchlist wanted") < text.index("sightings from")


def test_run_json_carries_the_same_reasons(world: dict[str, Path], enrolled: Result) -> None:
    result = run("run", str(world["images"]), "--json", "--data-dir", str(world["data"]))
    summary = json.loads(result.output)
    reasons = {item["watchlist"]: item for item in summary["cannot_match"]}
    assert reasons["empty"]["message"].endswith("also it has no entries")
    assert reasons["wanted"]["reason"] == "not_authorised"
    assert reasons["wanted"]["matchable"] == 0
    assert reasons["wanted"]["blocked"]["pending_approval"] >= 1
    assert "no authorised deployment" in reasons["wanted"]["message"]
