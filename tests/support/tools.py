"""External programs some tests need (ffmpeg, Chromium): one check, one message, one outcome.

A test that needs a missing program fails (never skips: a skipped camera or browser test
would hide a broken set-up) with the same one-line message naming the program and how to
install it, wherever the need arises: in a fixture, a helper server or a test.
"""

from __future__ import annotations

import shutil

import pytest

INSTALL = "scripts/setup-system.sh installs it (make test runs that script)"

TOOLS = {
    "ffmpeg": "serves the clip as a live RTSP camera",
    "chromium": "the browser the console's end-to-end tests drive",
}


def require(tool: str) -> str:
    """The program's path; or fail the calling test with the one message for a missing tool."""
    if tool not in TOOLS:
        raise ValueError(f"unknown external tool {tool!r}; known: {', '.join(sorted(TOOLS))}")
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"external tool missing: {tool} ({TOOLS[tool]}); {INSTALL}", pytrace=False)
    return path
