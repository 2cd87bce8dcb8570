"""Bad input to the command line: one line on stderr, exit status 2, and the store unchanged."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from watchkeeper.store import Database, repository

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "data"
CLIP = EXAMPLES / "video" / "facenet-pytorch-video.mp4"
PORTRAIT = EXAMPLES / "deepface-pairs" / "img1.jpg"


def watchkeeper(
    data_dir: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=data_dir.parent,
    )


def snapshot(data_dir: Path) -> tuple[dict[str, int], list[str]]:
    db = Database(f"sqlite:///{data_dir / 'watchkeeper.db'}")
    with db.session() as session:
        counts = repository.counts(session)
    db.close()
    files = sorted(
        str(p.relative_to(data_dir)) for p in (data_dir / "media").rglob("*") if p.is_file()
    )
    return counts, files


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one watchlist and one enrolled person: the state every bad call must keep."""
    data = tmp_path_factory.mktemp("cli") / "data"
    created = watchkeeper(
        data, "watchlist", "create", "wanted", "--purpose", "wanted_person",
        "--legal-basis", "court order 1/2026", "--owner", "unit 7",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    enrolled = watchkeeper(
        data, "person", "add", "--watchlist", "wanted", "--name", "A", str(PORTRAIT)
    )
    assert enrolled.returncode == 0, enrolled.stderr
    return data


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    files = {
        "corrupt": folder / "corrupt.jpg",
        "not_image": folder / "notes.jpg",
        "no_face": folder / "wall.jpg",
        "two_faces": EXAMPLES / "deepface-pairs" / "couple.jpg",
        "huge": folder / "huge.png",
        "truncated_video": folder / "truncated.mp4",
        "text_video": folder / "notes.mp4",
    }
    jpeg = PORTRAIT.read_bytes()
    files["corrupt"].write_bytes(jpeg[: len(jpeg) // 3])
    files["not_image"].write_text("not an image at all\n")
    Image.new("RGB", (640, 480), (120, 130, 140)).save(files["no_face"])
    Image.new("1", (20000, 20000)).save(files["huge"])  # 1-bit: small file, 400 Mpx when decoded
    data = CLIP.read_bytes()
    files["truncated_video"].write_bytes(data[: len(data) * 4 // 10])
    shutil.copy(files["not_image"], files["text_video"])
    return files


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("corrupt", "corrupt"),
        ("not_image", "not an image"),
        ("no_face", "no face"),
        ("two_faces", "2 faces"),
        ("huge", "pixels"),
    ],
)
def test_unusable_photo_is_refused_and_nothing_is_stored(
    data_dir: Path, bad_files: dict[str, Path], case: str, message: str
) -> None:
    before = snapshot(data_dir)
    result = watchkeeper(
        data_dir, "person", "add", "--watchlist", "wanted", "--name", "B", str(bad_files[case])
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert message in lines[0].lower()
    assert snapshot(data_dir) == before


def test_one_bad_photo_among_good_ones_refuses_the_whole_entry(
    data_dir: Path, bad_files: dict[str, Path]
) -> None:
    before = snapshot(data_dir)
    result = watchkeeper(
        data_dir, "person", "add", "--watchlist", "wanted", "--name", "C",
        str(EXAMPLES / "deepface-pairs" / "img2.jpg"), str(bad_files["no_face"]),
    )  # fmt: skip
    assert result.returncode == 2
    assert snapshot(data_dir) == before


def test_missing_photo_path(data_dir: Path) -> None:
    before = snapshot(data_dir)
    result = watchkeeper(
        data_dir, "person", "add", "--watchlist", "wanted", "--name", "D", "nope.jpg"
    )
    assert result.returncode == 2 and "no such file" in result.stderr
    assert snapshot(data_dir) == before


def test_two_faces_are_accepted_with_largest_face(
    data_dir: Path, bad_files: dict[str, Path]
) -> None:
    result = watchkeeper(
        data_dir, "person", "add", "--watchlist", "wanted", "--name", "E", "--largest-face",
        str(bad_files["two_faces"]), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"faces": 2' in result.stdout
    removed = watchkeeper(
        data_dir,
        "person",
        "delete",
        result.stdout.split('"id": ')[1].split(",")[0],
        "--reason",
        "test cleanup",
    )
    assert removed.returncode == 0, removed.stderr


def test_unknown_watchlist(data_dir: Path) -> None:
    result = watchkeeper(
        data_dir, "person", "add", "--watchlist", "nobody", "--name", "F", str(PORTRAIT)
    )
    assert result.returncode == 2 and 'watchlist "nobody" does not exist' in result.stderr


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("truncated_video", "truncated"),
        ("text_video", ""),
        ("missing", "no such file"),
        ("rtsp://127.0.0.1:9/live", "127.0.0.1"),
        ("http://127.0.0.1:9/stream.mjpg", "127.0.0.1"),
    ],
)
def test_unreadable_source_fails_cleanly(
    data_dir: Path, bad_files: dict[str, Path], source: str, message: str
) -> None:
    before = snapshot(data_dir)
    target = str(bad_files.get(source, data_dir / "missing.mp4")) if "://" not in source else source
    result = watchkeeper(data_dir, "run", target, timeout=180)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert message in lines[0]
    assert snapshot(data_dir) == before


def test_duplicate_watchlist_is_refused(data_dir: Path) -> None:
    result = watchkeeper(
        data_dir, "watchlist", "create", "wanted", "--purpose", "wanted_person",
        "--legal-basis", "x", "--owner", "y",
    )  # fmt: skip
    assert result.returncode == 2 and "already exists" in result.stderr


def test_bad_config_value_names_the_option(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("matching:\n  top_k: 0\n")
    result = watchkeeper(data_dir, "--config", str(config), "watchlist", "list")
    assert result.returncode == 2 and "matching.top_k" in result.stderr
