"""Why a sighting did not match, recorded per sighting: numbers and a reason, never a face."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from support.policy_world import World, make_world, sighting_of
from watchkeeper.vision import FaceAnalyzer

NOW = datetime.now(UTC)


@pytest.fixture
def world(tmp_path: Path, analyzer: FaceAnalyzer) -> World:
    return make_world(tmp_path, analyzer)


def test_nothing_enrolled_and_a_match(world: World) -> None:
    world.watchlist("missing")
    model = world.analyzer.model
    recogniser = world.recogniser()
    stranger = sighting_of(world.enrol("missing"), "cam", NOW, model)
    # enrolled after the recogniser loaded: its gallery is still empty
    assert recogniser.match(stranger) == []
    assert stranger.outcome is not None and stranger.outcome.reason == "nothing enrolled"
    world.authorise("missing", "default")
    seen = sighting_of(world.enrol("missing", who="paul_rudd"), "cam", NOW, model)
    recogniser.refresh(force=True)
    assert recogniser.match(seen)
    assert seen.outcome is not None
    assert (seen.outcome.reason, seen.outcome.embedded) == ("matched", 1)
    assert seen.outcome.best_score == pytest.approx(1.0, abs=1e-3)


def test_below_threshold_gives_the_best_score_only(world: World) -> None:
    world.watchlist("missing")
    world.authorise("missing", "default")
    enrolled = world.enrol("missing")
    other = world.enrol("missing", who="paul_rudd")
    recogniser = world.recogniser()
    sighting = sighting_of(enrolled, "cam", NOW, world.analyzer.model)
    # a template far from both enrolled people
    away = np.asarray(enrolled.photos[0].template, np.float32) + np.asarray(
        other.photos[0].template, np.float32
    )
    sighting.templates = (-away / np.linalg.norm(away))[None, :].astype(np.float32)
    assert recogniser.match(sighting) == []
    outcome = sighting.outcome
    assert outcome is not None and outcome.reason == "below threshold"
    assert outcome.best_score is not None and outcome.best_score < outcome.threshold  # type: ignore[operator]


def test_no_authorised_deployment_and_pending_approval(world: World) -> None:
    world.watchlist("missing")
    world.watchlist("wanted", purpose="wanted_person")
    world.authorise("wanted", "default")
    unauthorised = world.enrol("missing")
    pending = world.enrol("wanted", who="paul_rudd", actor="user:alice")
    assert pending.approval_id is not None
    recogniser = world.recogniser()
    model = world.analyzer.model
    first = sighting_of(unauthorised, "cam", NOW, model)
    second = sighting_of(pending, "cam", NOW, model)
    assert recogniser.match(first) == [] and recogniser.match(second) == []
    assert first.outcome is not None and first.outcome.reason == "no authorised deployment"
    assert second.outcome is not None and second.outcome.reason == "person pending approval"
    assert first.outcome.best_score is not None and first.outcome.best_score > 0.9


def test_a_sighting_without_templates_is_not_embedded(world: World) -> None:
    world.watchlist("missing")
    enrolled = world.enrol("missing")
    recogniser = world.recogniser()
    sighting = sighting_of(enrolled, "cam", NOW, world.analyzer.model)
    sighting.templates = np.zeros((0, 128), np.float32)
    assert recogniser.match(sighting) == []
    assert sighting.outcome is not None and sighting.outcome.reason.startswith("not embedded")
