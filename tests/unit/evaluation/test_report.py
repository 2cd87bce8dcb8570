"""Summaries and the HTML/JSON report, from results built with known scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from watchkeeper.config import VisionConfig
from watchkeeper.evaluation.cli import parse_model
from watchkeeper.evaluation.report import render_html, write_report
from watchkeeper.evaluation.runner import (
    GroupRates,
    IdentificationResult,
    VerificationResult,
    random_distractors,
)


def _verification(model: str = "m1") -> VerificationResult:
    rng = np.random.default_rng(1)
    return VerificationResult(
        model=model,
        dataset="toy",
        threshold=0.4,
        images=12,
        failures={"bad.jpg": "no face found"},
        genuine=rng.uniform(0.35, 0.9, 50),
        impostor=rng.uniform(-0.1, 0.45, 2000),
        pairs_unscored=3,
        groups=[GroupRates("F", 20, 900, 0.05, 0.01)],
    )


def _identification() -> IdentificationResult:
    return IdentificationResult(
        model="m1",
        dataset="toy",
        threshold=0.4,
        target_fpir=0.1,
        gallery_identities=3,
        gallery_templates=3,
        distractors=0,
        images=6,
        failures={},
        mated=np.array([0.8, 0.6, -np.inf]),
        rank1_rate=2 / 3,
        nonmated=np.array([0.5, 0.3, 0.2, 0.1, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0]),
        nonmated_failures={"empty.jpg": "unreadable"},
        highest_nonmated=[],
        missed_mated=[],
    )


def test_verification_summary_is_json_with_unmeasurable_rates_as_null() -> None:
    summary = json.loads(json.dumps(_verification().summary()))

    assert summary["failure_to_enrol_rate"] == pytest.approx(1 / 12)
    assert summary["tar_at_far"]["0.001"] is not None  # 2000 impostors measure 1e-3
    assert summary["tar_at_far"]["0.0001"] is None  # but not 1e-4
    assert 0 <= summary["accuracy"] <= 1


def test_identification_summary_suggests_the_threshold_for_the_target_fpir() -> None:
    summary = _identification().summary()

    # 10 non-mated probes: FPIR 0.1 allows one false positive, the 0.5. Lowering the threshold
    # to the next score, 0.3, would admit a second (FPIR 0.2), so 0.5 is the loosest.
    assert summary["threshold_for_target_fpir"] == pytest.approx(0.5)
    assert summary["fnir_at_fpir"]["0.01"] is None
    assert summary["fnir"] == pytest.approx(1 / 3)  # the wrong rank-1 probe
    assert summary["nonmated_unusable"] == 1


def test_report_writes_self_contained_html_and_json_for_several_models(tmp_path: Path) -> None:
    page, summary = write_report([_verification("m1"), _verification("m2")], tmp_path, "Toy")

    html = page.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 4  # ROC, DET, one histogram per model
    assert "<th>m1</th><th>m2</th>" in html
    assert "bad.jpg" in html and 'src="http' not in html
    runs = json.loads(summary.read_text(encoding="utf-8"))["runs"]
    assert [r["model"] for r in runs] == ["m1", "m2"]


def test_identify_report_has_the_fnir_fpir_curve_and_histogram() -> None:
    html = render_html([_identification()], "Toy 1:N")

    assert html.count("data:image/png;base64,") == 2
    assert "empty.jpg" in html


def test_random_distractors_are_unit_vectors_and_reproducible() -> None:
    a = random_distractors(5, 128, seed=3)

    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a, random_distractors(5, 128, seed=3))


def test_model_spec_sets_detector_and_embedder_by_kind() -> None:
    base = VisionConfig()

    config = parse_model("scrfd:/m/det.onnx,arcface:/m/rec.onnx", base)

    assert (config.detector.kind, config.detector.path) == ("scrfd", Path("/m/det.onnx"))
    assert (config.embedder.kind, config.embedder.path) == ("arcface", Path("/m/rec.onnx"))
    assert parse_model("default", base) is base
    assert parse_model("arcface:/r.onnx", base).detector.kind == "yunet"
    with pytest.raises(ValueError, match="unknown model kind 'vgg'"):
        parse_model("vgg:/x.onnx", base)
