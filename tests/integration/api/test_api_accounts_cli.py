"""``watchkeeper user`` and ``watchkeeper apikey``: the only way to make the first admin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from watchkeeper.policy import accounts, audit
from watchkeeper.store import Database
from watchkeeper.store import auth as store


def watchkeeper(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", "--data-dir", str(data_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=data_dir.parent,
    )


def test_a_fresh_installation_has_no_user_until_one_is_created(tmp_path):
    data = tmp_path / "data"
    listed = watchkeeper(data, "user", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    made = watchkeeper(
        data, "user", "create", "ada", "--admin", "--password-stdin",
        stdin="correct horse battery staple\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    db = Database(f"sqlite:///{data / 'watchkeeper.db'}")
    with db.session() as s:
        user = store.get_user(s, "ada")
        assert user.role == "admin"
        assert accounts.password_matches(user.password_hash, "correct horse battery staple")
        assert user.password_hash.startswith("$argon2id$")
        assert audit.verify(s).ok
    db.close()


def test_a_short_password_is_refused_with_one_line(tmp_path):
    made = watchkeeper(
        tmp_path / "data", "user", "create", "ada", "--password-stdin", stdin="short\n"
    )
    assert made.returncode == 2
    assert made.stderr.strip().startswith("error: a password needs at least 12 characters")


def test_an_api_key_is_printed_once_and_revoked(tmp_path):
    data = tmp_path / "data"
    watchkeeper(data, "user", "create", "olga", "--password-stdin", stdin="x" * 12 + "\n")
    made = watchkeeper(
        data, "apikey", "create", "--user", "olga", "--name", "vms",
        "--scope", "alerts:read", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    issued = json.loads(made.stdout)
    assert issued["token"].startswith("wk_") and issued["scopes"] == ["alerts:read"]
    listed = watchkeeper(data, "apikey", "list", "--json")
    assert issued["token"] not in listed.stdout
    beyond = watchkeeper(
        data, "apikey", "create", "--user", "olga", "--name", "x", "--scope", "users:admin"
    )
    assert beyond.returncode == 2 and "exceed the permissions" in beyond.stderr
    assert watchkeeper(data, "apikey", "revoke", str(issued["id"])).returncode == 0
    db = Database(f"sqlite:///{data / 'watchkeeper.db'}")
    with db.session() as s:
        assert accounts.resolve_api_key(s, issued["token"]) is None
    db.close()
