"""The transparency report: its numbers equal the counts of a known run, its page has charts."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from support.policy_world import make_world, sighting_of
from watchkeeper.cli import app
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP, probe_photo, read_frame
from watchkeeper.enrolment import enrol_person
from watchkeeper.policy.report import build_report
from watchkeeper.policy.report_html import render_html
from watchkeeper.recognition import record_matches
from watchkeeper.store import repository
from watchkeeper.store.alerts import Alert
from watchkeeper.usecases.analyse import process_source
from watchkeeper.vision import FaceAnalyzer

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def first_packets(src: Path, dst: Path, packets: int) -> Path:
    """The clip's first packets in a new file (no re-encoding)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream_in = inp.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        for count, packet in enumerate(inp.demux(stream_in)):
            if count == packets:
                break
            if packet.dts is not None:
                packet.stream = stream_out
                out.mux(packet)
    return dst


@pytest.fixture
def ctx(tmp_path: Path, analyzer: FaceAnalyzer) -> AppContext:
    context = AppContext(load_settings(data_dir=tmp_path / "data"), actor="cli:tester")
    context.__dict__["analyzer"] = analyzer
    return context


def test_the_report_numbers_equal_the_counts_of_a_known_run(ctx: AppContext, tmp_path: Path):
    clip = first_packets(CLIP, tmp_path / "short.mp4", 50)
    probe, _ = probe_photo(ctx, read_frame(CLIP, 5))
    with ctx.db.session() as s:
        repository.create_watchlist(s, "missing", "missing_person", "test", "test")
    enrol_person(
        ctx.db, ctx.media, ctx.analyzer, watchlist="missing", name="passer-by",
        photos=[("probe", probe)], actor="cli:tester", max_pixels=10**8, min_quality=0.3,
        largest_face=True,
    )  # fmt: skip
    # the list has no deployment: the passer-by is seen, the match is blocked and counted
    results, pipeline = process_source(ctx, str(clip), "arcade", 5.0, store=True)
    assert not any(matches for _, matches in results)
    settings = ctx.settings.model_copy(deep=True)
    settings.policy.require_authorisation = False
    unblocked = AppContext(settings, actor="cli:tester")
    unblocked.__dict__["analyzer"] = ctx.analyzer
    would_match = process_source(unblocked, str(clip), "arcade-2", 5.0, store=False)[0]
    blocked = sum(len(m) for _, m in would_match)
    assert blocked >= 1

    with ctx.db.session(readonly=True) as s:
        report = build_report(s, NOW - DAY, NOW + DAY)
    arcade = report["camera_groups"]["default"]
    stats = pipeline.stats
    assert report["totals"] == {
        "frames_analysed": 2 * stats.frames,  # both runs of the clip were analysed
        "faces_analysed": 2 * stats.faces,
        "sightings": 2 * len(results),
        "matches_stored": 0,
    }
    assert arcade["cameras"] == 2 and arcade["hours_of_operation"] >= 1
    assert report["blocked_by_policy"] == {
        "expired": 0, "not_authorised": blocked, "review_overdue": 0, "pending_approval": 0,
    }  # fmt: skip
    assert report["watchlists"]["by_purpose"]["missing_person"] == {"lists": 1, "entries": 1}
    assert report["deployments"] == [] and arcade["authorised_hours"] == 0
    assert report["audit"]["verified"] is True
    assert report["alerts"]["total"] == 0 and report["alerts"]["false_alert_rate"] is None


def test_the_report_counts_alerts_and_the_false_alert_rate(tmp_path: Path, analyzer: FaceAnalyzer):
    world = make_world(tmp_path, analyzer)
    world.watchlist("missing")
    world.camera("gate-1", "airport")
    start = NOW - timedelta(hours=3)
    world.authorise("missing", "airport", start, NOW + timedelta(hours=3))
    enrolled = world.enrol("missing")
    sighting = sighting_of(enrolled, "gate-1", NOW, analyzer.model)
    matches = world.recogniser().match(sighting)
    recorded = record_matches(world.db, world.media, "file:gate-1", [(sighting, matches)])
    states = ["confirmed", "confirmed", "rejected", "new", "escalated"]
    with world.db.session() as s:
        camera = repository.get_or_create_camera(s, "gate-1", "", "airport")
        for state in states:
            s.add(
                Alert(
                    camera_id=camera.id,
                    person_id=enrolled.person_id,
                    watchlist_id=matches[0].watchlist_id,
                    sighting_id=recorded[0].sighting_id,
                    score=matches[0].score,
                    threshold=matches[0].threshold,
                    state=state,
                    confirmations_required=1,
                    first_seen=NOW,
                    last_seen=NOW,
                )
            )
    with world.db.session(readonly=True) as s:
        report = build_report(s, NOW - DAY, NOW + DAY)
    alerts = report["alerts"]
    assert (alerts["total"], alerts["confirmed"], alerts["rejected"]) == (5, 2, 1)
    assert alerts["false_alert_rate"] == round(1 / 3, 4)
    assert report["totals"]["matches_stored"] == 1
    assert report["camera_groups"]["airport"]["deployments"] == 1
    assert report["camera_groups"]["airport"]["authorised_hours"] == pytest.approx(6.0, abs=0.01)
    assert report["deployments"][0]["authorisation_ref"] == "REF-1"


def test_the_html_page_embeds_four_png_charts_and_no_external_asset(
    tmp_path: Path, analyzer: FaceAnalyzer
):
    world = make_world(tmp_path, analyzer)
    world.watchlist("missing")
    with world.db.session(readonly=True) as s:
        page = render_html(build_report(s, NOW - DAY, NOW + DAY))
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_the_report_command_writes_html_and_json(ctx: AppContext, tmp_path: Path):
    ctx.db  # noqa: B018  create the data folder
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        ["--data-dir", str(ctx.settings.data_dir), "report", "--from",
         (NOW - DAY).date().isoformat(), "--to", (NOW + DAY).date().isoformat(), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    assert data["totals"]["faces_analysed"] == 0
    assert "Transparency report" in (out / "report.html").read_text()
    backwards = CliRunner().invoke(
        app, ["--data-dir", str(ctx.settings.data_dir), "report", "--from", "2026-02-01",
              "--to", "2026-01-01", "--out", str(out)],
    )  # fmt: skip
    assert backwards.exit_code == 2 and "must end after it starts" in backwards.output
