"""``watchkeeper demo --investigation``: a whole investigation on the bundled clip.

Yesterday afternoon a passer-by of the 1080p arcade clip "went missing". An investigator opens
a case for camera group ``station`` and a two-hour window, a supervisor approves it, a crop of
the person from an early frame (as in ``watchkeeper demo``) becomes the probe, and the clip is
scanned as the recording ``arcade_<yesterday>-143000.mp4`` of camera ``arcade``. The ranked
candidates are printed (``--json`` for machines), an evidence export is requested, approved and
written, and the audit chain is verified. Everyone else in the clip leaves no trace.

The demo works in ``<data-dir>/demo-investigation`` and resets it on every run.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP, PROBE_FRAME, DemoError, probe_photo, read_frame
from watchkeeper.investigations import cases, export, probes, results, scan
from watchkeeper.output import console, print_candidates, print_json
from watchkeeper.policy import approvals, audit
from watchkeeper.store import repository

INVESTIGATOR = "user:demo-investigator"
SUPERVISOR = "user:demo-supervisor"
CAMERA = "arcade"
GROUP = "station"


def run_investigation_demo(app_ctx: AppContext, output: Path, as_json: bool) -> dict[str, Any]:
    if not CLIP.is_file():
        raise DemoError(f"demo clip not found at {CLIP}: run the demo from a source checkout")
    started = time.perf_counter()
    say = (lambda *_: None) if as_json else console.print
    folder = app_ctx.settings.data_dir / "demo-investigation"
    if folder.exists():
        shutil.rmtree(folder)
    # its own database, and its own audit heads file (never the installation's)
    policy = app_ctx.settings.policy.model_copy(update={"audit_heads_file": None})
    settings = app_ctx.settings.model_copy(
        update={"data_dir": folder, "database_url": None, "policy": policy}
    )
    ctx = AppContext(settings, actor=INVESTIGATOR)
    recorded = (datetime.now(UTC) - timedelta(days=1)).replace(
        hour=14, minute=30, second=0, microsecond=0
    )
    recording = _recording(folder / "recordings", recorded)
    with ctx.db.session() as s:
        repository.get_or_create_camera(s, CAMERA, str(recording), GROUP)
        case = cases.open_case(
            s,
            cases.CaseRequest(
                reference=f"MP-{recorded:%Y%m%d}-001",
                purpose="missing_person",
                legal_basis="demo: missing-person report, duty to protect life (fictional)",
                window_start=recorded - timedelta(hours=1),
                window_end=recorded + timedelta(hours=1),
                expires_at=datetime.now(UTC) + timedelta(days=7),
                camera_groups=[GROUP],
            ),
            INVESTIGATOR,
            default_threshold=settings.matching.default_threshold,
            max_days=settings.investigations.max_case_days,
        )
        case_id, reference = case.id, case.reference
    say(f"opened case {reference} for camera group {GROUP}, {recorded:%Y-%m-%d} 13:30–15:30 UTC")
    with ctx.db.session() as s:
        cases.approve_case(s, case_id, SUPERVISOR, approvals.APPROVER_ROLE, "demo approval")
    say(f"approved by {SUPERVISOR} (four eyes: the investigator cannot approve their own case)")
    photo, box = probe_photo(ctx, read_frame(CLIP, PROBE_FRAME))
    output.mkdir(parents=True, exist_ok=True)
    (output / "probe.jpg").write_bytes(photo)
    probes.add_probes(
        ctx.db, ctx.media, ctx.analyzer, case_id, [(f"frame {PROBE_FRAME} of the clip", photo)],
        INVESTIGATOR, max_pixels=settings.streams.max_image_pixels,
        min_quality=settings.vision.enrol_min_quality,
    )  # fmt: skip
    say(f"probe: the face at frame {PROBE_FRAME}, box {[round(v) for v in box]}")
    report = scan.run_scan(ctx, scan.ScanRequest(case_id, [recording.parent], workers=1))
    with ctx.db.session() as s:
        found = results.ranked(s, case_id)
        results.record_view(s, case_id, INVESTIGATOR, "results", candidates=len(found))
        approval_id = export.request_export(s, case_id, INVESTIGATOR, "demo: hand to the family").id
    with ctx.db.session() as s:
        approvals.approve(s, approval_id, SUPERVISOR, approvals.APPROVER_ROLE, "demo")
    evidence_dir = output / "evidence"
    if evidence_dir.exists():
        shutil.rmtree(evidence_dir)

    def deliver(evidence: export.Evidence) -> None:
        export.write_folder(evidence, evidence_dir)

    evidence = export.export_evidence(
        ctx.db, ctx.media, case_id, approval_id, INVESTIGATOR, fusion=settings.matching.fusion,
        deliver=deliver,
    )  # fmt: skip
    with ctx.db.session(readonly=True) as s:
        chain = audit.verify(s)
    ctx.close()
    summary = {
        "case": reference,
        "probe_frame": PROBE_FRAME,
        "probe_box": [round(v, 1) for v in box],
        "scan": report.json(),
        "candidates": found,
        "timeline": results.timeline(found),
        "evidence": {
            "folder": str(evidence_dir),
            "sha256": {k: v for k, v in evidence.digests.items() if k.startswith("evidence")},
        },
        "audit": {"ok": chain.ok, "events": chain.checked},
        "seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        print_json(summary)
        return summary
    print_candidates(reference, found)
    first = found[0] if found else None
    console.print(
        f"[bold green]rank 1[/]: frames {first['first_frame']}–{first['last_frame']} on "
        f"{first['camera']}, score {first['score']:.3f}"
        if first
        else "[bold red]the missing person was not found[/]"
    )
    console.print(
        f"evidence (approved export): {evidence_dir}/evidence.html; audit chain "
        f"{'intact' if chain.ok else 'BROKEN'} ({chain.checked} events); "
        f"{summary['seconds']:.1f} s"
    )
    return summary


def _recording(folder: Path, start: datetime) -> Path:
    """The clip as a recorder would name it (a link; a copy where links are not allowed)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{CAMERA}_{start:%Y%m%d-%H%M%S}{CLIP.suffix}"
    try:
        path.symlink_to(CLIP)
    except OSError:
        shutil.copyfile(CLIP, path)
    return path
