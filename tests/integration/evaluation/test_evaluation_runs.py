"""Verification and identification on the real test photos and clip, with the bundled models."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from watchkeeper.config import VisionConfig
from watchkeeper.evaluation import TemplateStore, identify, verify
from watchkeeper.evaluation.cli import app
from watchkeeper.evaluation.datasets import identities_from_pairs, image_files, load_pairs
from watchkeeper.evaluation.report import write_report
from watchkeeper.vision import FaceAnalyzer

DATA = Path(__file__).parents[3] / "examples" / "data"
MASTER = DATA / "deepface-pairs" / "master.csv"
PORTRAITS = DATA / "facenet-pytorch" / "test_images"
CLIP = DATA / "video" / "facenet-pytorch-video.mp4"
THRESHOLD = 0.363


@pytest.fixture(scope="module")
def store() -> TemplateStore:
    """One analyzer and template cache for the module: each photo is templated once."""
    return TemplateStore(FaceAnalyzer.from_config(VisionConfig()))


def test_verify_on_deepface_pairs_is_accurate_and_writes_the_report(
    store: TemplateStore, tmp_path: Path
) -> None:
    pairs = load_pairs(MASTER)
    # Group A: the eight photos of one person; group B: the other 17 photos (8 identities).
    first = {p.name for p in identities_from_pairs(pairs)["img1"]}
    attributes = {p.name: "A" if p.name in first else "B" for p in pairs.images}

    result = verify(pairs, store, THRESHOLD, dataset="deepface-pairs", attributes=attributes)

    summary = result.summary()
    assert summary["genuine_pairs"] + summary["impostor_pairs"] == 300
    assert summary["failure_to_enrol"] == 0
    assert summary["accuracy"] >= 0.98
    assert summary["eer"] <= 0.02
    impostors = [p["score"] for p in summary["highest_impostors"]]
    assert len(impostors) == 10 and impostors == sorted(impostors, reverse=True)
    groups = {g["group"]: g for g in summary["groups"]}
    # Same-group pairs only: A has C(8,2) = 28 genuine and no impostor pairs; B has 10 genuine
    # and C(17,2) - 10 = 126 impostor pairs; the 8 x 17 cross pairs belong to neither.
    assert (groups["A"]["genuine"], groups["A"]["impostor"]) == (28, 0)
    assert groups["A"]["false_positive_rate"] is None
    assert (groups["B"]["genuine"], groups["B"]["impostor"]) == (10, 126)
    page, summary_file = write_report([result], tmp_path / "out", "deepface-pairs")
    assert "data:image/png;base64," in page.read_text(encoding="utf-8")
    assert json.loads(summary_file.read_text(encoding="utf-8"))["runs"][0]["accuracy"] >= 0.98


def test_verify_on_deepface_pairs_stays_accurate_on_each_runtime(
    runtime_vision: VisionConfig,
) -> None:
    """``eval verify`` decides ≥ 98 % of the pairs whichever engine and precision run it."""
    store = TemplateStore(FaceAnalyzer.from_config(runtime_vision))

    summary = verify(load_pairs(MASTER), store, THRESHOLD, dataset="deepface-pairs").summary()

    assert summary["failure_to_enrol"] == 0
    assert summary["accuracy"] >= 0.98, summary["accuracy"]


def test_identify_subset_finds_mates_and_skips_the_corrupt_portrait(
    store: TemplateStore,
) -> None:
    identities = identities_from_pairs(load_pairs(MASTER))
    subset = {name: identities[name] for name in ("img1", "img13", "img8")}  # 8 + 3 + 2 photos
    portraits = [p for p in image_files(PORTRAITS) if p.parent.name != "angelina_jolie"]
    nonmated = store.probes(portraits) + store.video_probes(CLIP, every=25, min_quality=0.3)

    result = identify(subset, store, nonmated, THRESHOLD, distractors=1000, target_fpir=0.1)

    summary = result.summary()
    assert summary["gallery_identities"] == 3 and summary["distractors"] == 1000
    assert summary["mated_probes"] == 7 + 2 + 1
    assert summary["rank1_rate"] == 1.0
    assert "bradley_cooper" in next(iter(summary["nonmated_failures"]))
    assert summary["nonmated_probes"] >= 10  # 3 portraits and the clip's faces
    assert summary["fnir_at_fpir"]["0.1"] is not None
    assert summary["threshold_for_target_fpir"] is not None
    assert json.dumps(summary)  # plain JSON


def test_cli_verify_prints_json_for_a_pair_list(tmp_path: Path) -> None:
    pairs = tmp_path / "few.csv"
    pairs.write_text(
        "file_x,file_y,Decision\nimg1.jpg,img2.jpg,Yes\nimg1.jpg,img8.jpg,No\n"
        "img8.jpg,img9.jpg,Yes\nimg2.jpg,img9.jpg,No\n",
        encoding="utf-8",
    )

    outcome = CliRunner().invoke(
        app,
        [
            "verify",
            str(DATA / "deepface-pairs"),
            "--pairs",
            str(pairs),
            "--json",
            "--out",
            str(tmp_path / "report"),
        ],
    )

    assert outcome.exit_code == 0, outcome.output
    run = json.loads(outcome.stdout[outcome.stdout.index("{") :])["runs"][0]
    assert (run["genuine_pairs"], run["impostor_pairs"], run["accuracy"]) == (2, 2, 1.0)
    assert (tmp_path / "report" / "report.html").is_file()


def test_cli_exits_non_zero_for_a_missing_dataset(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(app, ["verify", str(tmp_path / "nowhere")])

    assert outcome.exit_code == 2
    assert "does not exist" in outcome.stderr


def test_cli_exits_non_zero_when_no_photo_has_a_face(tmp_path: Path) -> None:
    for name in ("ann", "bob"):
        (tmp_path / name).mkdir()
        cv2.imwrite(str(tmp_path / name / "1.jpg"), np.full((200, 200, 3), 128, np.uint8))

    outcome = CliRunner().invoke(app, ["identify", str(tmp_path)])

    assert outcome.exit_code == 1
    assert "no face found in any of 2 images" in outcome.stderr


def test_eval_degrade_writes_the_ladder_table_plot_and_choice(tmp_path: Path) -> None:
    out = tmp_path / "ladder"
    result = CliRunner().invoke(
        app, ["degrade", str(MASTER), "--height", "24", "--height", "80", "--crf", "28",
              "--out", str(out), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads((out / "degrade.json").read_text())
    rungs = document["rungs"]
    assert len(rungs) == 1 + 2 * 3  # the clean photos, then 2 heights × 1 CRF × 3 variants
    clean, *ladder = rungs
    assert clean["variant"] == "clean" and clean["tar_at_threshold"] >= 0.98
    big = [r for r in ladder if r["height"] == 80]
    small = [r for r in ladder if r["height"] == 24]
    assert min(r["detected"] for r in big) == 1.0
    assert all(r["genuine"] > 0 and r["impostor"] > r["genuine"] for r in ladder)
    # smaller faces are recognised less often and score lower on the quality heuristic
    assert sum(r["tar_at_threshold"] for r in small) < sum(r["tar_at_threshold"] for r in big)
    assert max(r["mean_quality"] or 0 for r in small) < min(r["mean_quality"] for r in big)
    assert document["smallest_height_within_10_points"] in (80, None)
    assert (out / "degrade.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| face px |" in (out / "degrade.md").read_text()
