"""A URI decides the kind of source; unknown schemes and passwords are handled with care."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.streams import SOURCE_KINDS, SourceError, open_source, resolve
from watchkeeper.streams.base import redact


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("rtsp://10.0.0.5:554/stream1", "stream"),
        ("rtsps://cam.example/live", "stream"),
        ("http://cam.example/video.mjpg", "stream"),
        ("https://cdn.example/live/index.m3u8", "stream"),
        ("/dev/video0", "device"),
        ("file:///dev/video2", "device"),
        ("recordings/gate.mp4", "video"),
        ("file:///srv/recordings/gate%201.mkv", "video"),
    ],
)
def test_uri_resolves_to_its_kind(uri: str, kind: str) -> None:
    assert resolve(uri)[0] == kind
    assert kind in SOURCE_KINDS


def test_file_uri_resolves_to_its_decoded_path() -> None:
    assert resolve("file:///srv/recordings/gate%201.mkv") == ("video", "/srv/recordings/gate 1.mkv")


def test_folder_resolves_to_images(tmp_path: Path) -> None:
    assert resolve(str(tmp_path)) == ("images", str(tmp_path))
    assert resolve(tmp_path.as_uri()) == ("images", str(tmp_path))


def test_unknown_scheme_fails_listing_the_supported_ones() -> None:
    with pytest.raises(SourceError, match=r"unsupported scheme 'ftp'; use rtsp://.*file://"):
        open_source("ftp://cam.example/x", "cam", 5.0)


def test_analysis_rate_must_be_positive() -> None:
    with pytest.raises(SourceError, match="analysis_fps must be above 0"):
        open_source("clip.mp4", "cam", 0)


def test_password_is_hidden_in_messages() -> None:
    assert redact("rtsp://admin:s3cret@10.0.0.5/live") == "rtsp://admin:***@10.0.0.5/live"
    assert redact("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"
    assert redact("rtsp://viewer@10.0.0.5/live") == "rtsp://viewer@10.0.0.5/live"


def test_password_never_reaches_an_error_message() -> None:
    with pytest.raises(SourceError) as caught:
        open_source("rtsp://admin:s3cret@127.0.0.1:9/live", "cam", 5.0, open_timeout_s=2)
    assert "s3cret" not in str(caught.value)
    assert "admin:***@" in str(caught.value)
