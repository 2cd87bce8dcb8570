"""The house's rules hold, and the contracts that check them catch a breach.

``make lint`` runs ``lint-imports`` on the contracts in pyproject.toml. These tests run it on
the real tree (every contract kept) and on a copy with one upward import added, to prove
that the contract would catch it, not just that it happens to pass today.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package under ``root/src`` with ``root/pyproject.toml``."""
    script = (
        "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"
    )
    return subprocess.run(
        [sys.executable, "-c", script, "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        REPO / "src" / "watchkeeper",
        tmp_path / "src" / "watchkeeper",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "*.onnx"),
    )
    return tmp_path


def test_every_contract_is_kept_by_the_tree() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_import_of_the_cli_from_another_module_breaks_lint(tree_copy: Path) -> None:
    bad = tree_copy / "src" / "watchkeeper" / "usecases" / "uses_cli.py"
    bad.write_text('"""A use case reaching up into the CLI."""\n\nfrom watchkeeper import cli\n')
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "Nothing imports the command line" in result.stdout
    assert "watchkeeper.usecases.uses_cli -> watchkeeper.cli" in result.stdout


def test_the_runtime_importing_the_api_breaks_lint(tree_copy: Path) -> None:
    bad = tree_copy / "src" / "watchkeeper" / "service" / "uses_api.py"
    bad.write_text('"""A runtime that knows HTTP."""\n\nfrom watchkeeper.api import app\n')
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "service and cluster do not import api or web BROKEN" in result.stdout.replace("\n", " ")
