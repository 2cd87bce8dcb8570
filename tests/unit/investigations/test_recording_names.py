"""Camera and start time from a recording's file name, as recorders write them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchkeeper.config import InvestigationsConfig
from watchkeeper.investigations.errors import InvestigationError
from watchkeeper.investigations.recordings import Naming


def test_the_default_pattern_reads_camera_and_utc_start():
    camera, start = Naming(InvestigationsConfig()).parse(Path("/r/gate_1_20251128-143005.mp4"))
    assert camera == "gate_1"  # the last underscore separates the time
    assert start == datetime(2025, 11, 28, 14, 30, 5, tzinfo=UTC)


def test_a_local_time_zone_is_converted_to_utc():
    naming = Naming(InvestigationsConfig(file_name_timezone="Europe/Berlin"))
    _, start = naming.parse(Path("gate_20250701-120000.mkv"))
    assert start == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)  # summer time: UTC+2


def test_names_that_do_not_fit_give_nothing_rather_than_a_guess():
    naming = Naming(InvestigationsConfig())
    assert naming.parse(Path("holiday.mp4")) == (None, None)
    assert naming.parse(Path("gate_20251399-250000.mp4")) == ("gate", None)  # no such date


def test_a_custom_pattern_and_a_bad_one():
    naming = Naming(
        InvestigationsConfig(
            file_name_pattern=r"^(?P<start>\d{14})-(?P<camera>\w+)$",
            file_name_time_format="%Y%m%d%H%M%S",
        )
    )
    assert naming.parse(Path("20251128143000-lobby.ts")) == (
        "lobby",
        datetime(2025, 11, 28, 14, 30, tzinfo=UTC),
    )
    with pytest.raises(InvestigationError, match="not a regular expression"):
        Naming(InvestigationsConfig(file_name_pattern="(unclosed"))
    with pytest.raises(InvestigationError, match="not a time zone name"):
        Naming(InvestigationsConfig(file_name_timezone="Mars/Olympus"))
