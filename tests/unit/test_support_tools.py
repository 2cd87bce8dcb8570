"""A missing external program fails the test that needs it with one clear message."""

from __future__ import annotations

import pytest

from support.tools import require


def test_a_missing_tool_fails_with_its_name_and_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception) as failed:
        require("ffmpeg")
    assert str(failed.value) == (
        "external tool missing: ffmpeg (serves the clip as a live RTSP camera); "
        "scripts/setup-system.sh installs it (make test runs that script)"
    )


def test_every_tool_fails_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception) as failed:
        require("chromium")
    assert str(failed.value).startswith("external tool missing: chromium (")


def test_an_unknown_tool_is_a_mistake_in_the_test() -> None:
    with pytest.raises(ValueError, match="unknown external tool 'gimp'"):
        require("gimp")
