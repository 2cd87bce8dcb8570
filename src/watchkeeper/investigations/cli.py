"""Investigation commands: cases, probes, searches of recordings and of the archive, results,
reviews, evidence exports, and what the reviews say about thresholds.

    watchkeeper case open REF --purpose P --legal-basis L --from T --to T --camera C --expires D
    watchkeeper case approve CASE | refuse CASE --reason R | close CASE --reason R
    watchkeeper case list | show CASE | purge CASE --reason R
    watchkeeper investigate probe CASE PHOTO...
    watchkeeper investigate scan CASE SOURCE... [--fps N] [--workers N] [--camera C] [--start T]
    watchkeeper investigate search CASE [--camera C] [--from T] [--to T]     (archived sightings)
    watchkeeper investigate results CASE
    watchkeeper investigate review CASE CANDIDATE --is-person | --is-not
    watchkeeper investigate export-request CASE --reason R
    watchkeeper investigate export CASE --approval ID --out DIR
    watchkeeper thresholds suggest [--target 0.05]

CASE is a case id or reference. As for approvals, the command line acts as the Watchkeeper user
named like the login (``cli:<login>``); approving a case needs that user to be a supervisor.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from watchkeeper.cli_common import (
    JsonOption,
    app_context,
    fail,
    parse_date,
    print_json,
    refusals,
)
from watchkeeper.enrolment import read_photo_file
from watchkeeper.investigations import archive, cases, export, probes, results, scan, thresholds
from watchkeeper.investigations.errors import InvestigationError
from watchkeeper.output import print_candidates
from watchkeeper.policy import approvals
from watchkeeper.store import investigations as store
from watchkeeper.store.investigations import CASE_PURPOSES
from watchkeeper.usecases.approvals import approve_case, refuse_case

console = Console()
errors = Console(stderr=True)

case_app = typer.Typer(
    help="Investigation cases: approved by a second person, bound to a window and cameras.",
    no_args_is_help=True,
)
investigate_app = typer.Typer(
    help="Search recordings and archived sightings for a case's subject; results; evidence.",
    no_args_is_help=True,
)
thresholds_app = typer.Typer(
    help="What reviewed alerts and candidates say about thresholds.", no_args_is_help=True
)
CaseArg = Annotated[str, typer.Argument(help="Case id or reference.")]


def mount(app: typer.Typer) -> None:
    """Add ``case``, ``investigate`` and ``thresholds`` (one call in ``cli.py``)."""
    app.add_typer(case_app, name="case")
    app.add_typer(investigate_app, name="investigate")
    app.add_typer(thresholds_app, name="thresholds")


# --- helpers ---------------------------------------------------------------------------------


_refusals = refusals(InvestigationError, approvals.ApprovalError)


# --- cases -----------------------------------------------------------------------------------


@case_app.command("open")
@_refusals
def case_open(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The case reference number.")],
    purpose: Annotated[str, typer.Option(help=f"One of: {', '.join(CASE_PURPOSES)}.")],
    legal_basis: Annotated[str, typer.Option(help="The law, warrant or decision it rests on.")],
    start: Annotated[str, typer.Option("--from", help="Start of the time window (UTC).")],
    end: Annotated[str, typer.Option("--to", help="End of the time window (exclusive).")],
    expires: Annotated[str, typer.Option(help="When the authority to search ends.")],
    camera: Annotated[
        list[str] | None, typer.Option("--camera", help="A camera that may be searched.")
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="A camera group that may be searched.")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Score for a candidate (default: matching's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Open a case; it searches nothing until a second person (a supervisor) approves it."""
    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    request = cases.CaseRequest(
        reference, purpose, legal_basis, parse_date(start, "--from"), parse_date(end, "--to"),
        parse_date(expires, "--expires"), camera or [], group or [], threshold,
    )  # fmt: skip
    with app_ctx.db.session() as s:
        case = cases.open_case(
            s, request, app_ctx.actor,
            default_threshold=settings.matching.default_threshold,
            max_days=settings.investigations.max_case_days,
        )  # fmt: skip
        result = cases.describe(case)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"opened case [bold]{result['reference']}[/] (id {result['id']}); it awaits "
            "approval by a supervisor other than you"
        )


@case_app.command("approve")
@_refusals
def case_approve(
    ctx: typer.Context,
    case: CaseArg,
    comment: Annotated[str | None, typer.Option(help="Comment (audited).")] = None,
) -> None:
    """Approve a case: needs the supervisor role and someone other than the requester."""
    app_ctx = app_context(ctx)
    decided = approve_case(app_ctx.db, app_ctx.actor, case, comment)
    console.print(
        f"approved case {decided['reference']}: it may be searched until it expires or closes"
    )


@case_app.command("refuse")
@_refusals
def case_refuse(
    ctx: typer.Context,
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="Why (audited).")],
) -> None:
    """Refuse a pending case (a supervisor), or withdraw one's own."""
    app_ctx = app_context(ctx)
    refuse_case(app_ctx.db, app_ctx.actor, case, reason)
    console.print(f"refused case {case}")


@case_app.command("close")
@_refusals
def case_close(
    ctx: typer.Context,
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="Why (audited), e.g. 'person found'.")],
) -> None:
    """Close a case: every search under it stops at once, running scans included."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session() as s:
        cases.close_case(s, case, app_ctx.actor, reason)
    console.print(f"closed case {case}")


@case_app.command("purge")
@_refusals
def case_purge(
    ctx: typer.Context,
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="Why (audited).")],
) -> None:
    """Delete a closed or expired case with its probes, checkpoints and candidates."""
    app_ctx = app_context(ctx)
    files = cases.purge_case(app_ctx.db, app_ctx.media, case, app_ctx.actor, reason)
    console.print(f"purged case {case} ({files} files removed)")


@case_app.command("list")
def case_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List cases with their state, window and scope."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session(readonly=True) as s:
        rows = [cases.describe(c) for c in store.list_cases(s)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "reference", "purpose", "state", "window (UTC)", "scope", "expires")
    for r in rows:
        table.add_row(
            str(r["id"]), r["reference"], r["purpose"], r["state"],
            f"{r['window_start'][:16]} – {r['window_end'][:16]}",
            ", ".join(r["cameras"] + [f"group {g}" for g in r["camera_groups"]]),
            r["expires_at"][:16],
        )  # fmt: skip
    console.print(table)


@case_app.command("show")
def case_show(ctx: typer.Context, case: CaseArg, as_json: JsonOption = False) -> None:
    """Show a case with its recordings and their scan state (audited)."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session() as s:
        row = store.get_case(s, case)
        result = cases.describe(row) | {
            "probes": len(store.probes_of(s, row.id)),
            "candidates": store.count_candidates(s, row.id),
            "recordings": [_source_json(src) for src in store.sources_of(s, row.id)],
        }
        results.record_view(s, row.id, app_ctx.actor, "case")
    if as_json:
        print_json(result)
        return
    console.print(
        f"case [bold]{result['reference']}[/] ({result['purpose']}, {result['state']}): "
        f"{result['legal_basis']}\n  requested by {result['requested_by']}, approved by "
        f"{result['approved_by'] or '—'}; window {result['window_start']} – "
        f"{result['window_end']}; expires {result['expires_at']}\n  {result['probes']} probe "
        f"photo(s), {result['candidates']} candidate(s)"
    )
    table = Table("recording", "camera", "start", "state", "progress", "note")
    for r in result["recordings"]:
        table.add_row(
            r["path"], r["camera"] or "—", (r["started_at"] or "—")[:19], r["state"],
            r["progress"], r["error"] or "",
        )  # fmt: skip
    console.print(table)


def _source_json(src: store.CaseSource) -> dict[str, Any]:
    frames = src.frames or 0
    done = 1.0 if src.state == "done" else (src.last_frame + 1) / frames if frames else 0.0
    return {
        "id": src.id,
        "path": src.path,
        "camera": src.camera,
        "sha256": src.sha256,
        "started_at": src.started_at.isoformat() if src.started_at else None,
        "state": src.state,
        "last_frame": src.last_frame,
        "frames": src.frames,
        "progress": f"{100 * min(done, 1.0):.0f} %",
        "error": src.error,
    }


# --- probes and searches ---------------------------------------------------------------------


@investigate_app.command("probe")
@_refusals
def investigate_probe(
    ctx: typer.Context,
    case: CaseArg,
    photos: Annotated[list[Path], typer.Argument(help="Photos of the person, one face each.")],
) -> None:
    """Add probe photos of the person searched for (checked like enrolment photos)."""
    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    with app_ctx.db.session(readonly=True) as s:
        store.get_case(s, case)  # a wrong case fails before the models load
    ids = probes.add_probes(
        app_ctx.db, app_ctx.media, app_ctx.analyzer, case,
        [(str(p), read_photo_file(p)) for p in photos], app_ctx.actor,
        max_pixels=settings.streams.max_image_pixels,
        min_quality=settings.vision.enrol_min_quality,
    )  # fmt: skip
    console.print(f"added {len(ids)} probe photo(s) to case {case}")


class _RichProgress:
    """A bar for the whole scan (frames, ETA) and one per recording being read."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.total: TaskID | None = None
        self.files: dict[int, tuple[TaskID, int]] = {}  # source id → task, last frame seen

    def planned(self, files: list[tuple[int, str, int]]) -> None:
        self.total = self.progress.add_task(
            f"{len(files)} recording(s)", total=sum(f for _, _, f in files) or None
        )
        for source_id, path, frames in files:
            task = self.progress.add_task(f"  {Path(path).name}", total=frames, visible=False)
            self.files[source_id] = (task, -1)

    def advanced(self, source_id: int, frame: int) -> None:
        task, last = self.files[source_id]
        self.progress.update(task, completed=frame + 1, visible=True)
        if self.total is not None:
            self.progress.advance(self.total, frame - last)
        self.files[source_id] = (task, frame)

    def finished(self, report: scan.FileReport) -> None:
        task, last = self.files[report.source_id or -1]
        if self.total is not None:
            self.progress.advance(self.total, max(0, report.frames - 1 - last))
        self.progress.update(task, visible=False)
        note = f" ({report.reason})" if report.reason else ""
        self.progress.console.print(
            f"{Path(report.path).name}: {report.state}, {report.candidates} new candidate(s){note}",
            markup=False,
            highlight=False,
        )


@investigate_app.command("scan")
@_refusals
def investigate_scan(
    ctx: typer.Context,
    case: CaseArg,
    sources: Annotated[list[Path], typer.Argument(help="Video files or folders of recordings.")],
    fps: Annotated[float | None, typer.Option(help="Frames analysed per second.")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Recordings scanned at once (default: one per core).")
    ] = None,
    camera: Annotated[
        str | None, typer.Option(help="Camera of recordings whose file name names none.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Start time of a recording that carries none (UTC).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Search recordings for the case's subject; an interrupted scan resumes when run again."""
    app_ctx = app_context(ctx)
    request = scan.ScanRequest(
        case, sources, camera, parse_date(start, "--start"), fps, workers
    )  # fmt: skip
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("frames"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=errors, disable=as_json, transient=True,
    ) as bar:  # fmt: skip
        try:
            report = scan.run_scan(app_ctx, request, None if as_json else _RichProgress(bar))
        except KeyboardInterrupt:
            errors.print("interrupted: run the same command again to resume from the checkpoints")
            raise typer.Exit(130) from None
    if as_json:
        print_json(report.json())
        return
    table = Table("recording", "state", "frames analysed", "new candidates", "note")
    for f in report.files:
        table.add_row(
            f.path, f.state, str(f.frames_analysed), str(f.candidates), f.reason or ""
        )  # fmt: skip
    console.print(table)
    if report.stopped:
        errors.print(f"the scan stopped: {report.stopped}", markup=False, highlight=False)
    console.print(
        f"case {report.reference}: {report.candidates} candidate(s) in all; scanned with "
        f"{report.workers} worker(s) in {report.seconds:.1f} s. See: watchkeeper investigate "
        f"results {report.reference}"
    )
    if report.stopped:
        raise typer.Exit(2)


@investigate_app.command("search")
@_refusals
def investigate_search(
    ctx: typer.Context,
    case: CaseArg,
    camera: Annotated[
        list[str] | None, typer.Option("--camera", help="Only these cameras (within scope).")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="Not before (within window).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Before (within window).")] = None,
    limit: Annotated[int, typer.Option(help="Most candidates kept.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Search the archived sightings (camera groups in archive mode) for the case's subject."""
    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    found = archive.search_archive(
        app_ctx.db, case, app_ctx.actor, app_ctx.analyzer.model, cipher=app_ctx.cipher,
        cameras=camera or [], start=parse_date(start, "--from"), end=parse_date(end, "--to"),
        fusion=settings.matching.fusion, limit=limit,
    )  # fmt: skip
    if as_json:
        print_json(asdict(found))
        return
    console.print(
        f"searched {found.sightings} archived sighting(s) ({found.templates} templates) in "
        f"{found.search_ms:.0f} ms: {found.hits} hit(s), {found.new_candidates} new candidate(s)"
    )


@investigate_app.command("results")
def investigate_results(ctx: typer.Context, case: CaseArg, as_json: JsonOption = False) -> None:
    """The case's candidates, best first, and a timeline per camera (audited)."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session() as s:
        row = store.get_case(s, case)
        found = results.ranked(s, row.id)
        results.record_view(s, row.id, app_ctx.actor, "results", candidates=len(found))
        reference = row.reference
    if as_json:
        print_json({"case": reference, "candidates": found, "timeline": results.timeline(found)})
        return
    print_candidates(reference, found)


@investigate_app.command("review")
@_refusals
def investigate_review(
    ctx: typer.Context,
    case: CaseArg,
    candidate: Annotated[int, typer.Argument(help="Candidate id (see results).")],
    is_person: Annotated[
        bool | None,
        typer.Option("--is-person/--is-not", help="Whether the candidate is the person."),
    ] = None,
    comment: Annotated[str | None, typer.Option(help="Comment (audited).")] = None,
) -> None:
    """Record whether a candidate is the person searched for."""
    if is_person is None:
        raise fail("say --is-person or --is-not")
    app_ctx = app_context(ctx)
    decision = "is_person" if is_person else "is_not"
    with app_ctx.db.session() as s:
        results.review_candidate(s, case, candidate, decision, app_ctx.actor, comment)
    console.print(f"candidate {candidate}: {decision.replace('_', ' ')}")


@investigate_app.command("export-request")
@_refusals
def investigate_export_request(
    ctx: typer.Context,
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="Why the evidence must leave the system.")],
) -> None:
    """Ask a supervisor to approve an evidence export of the case."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session() as s:
        approval = export.request_export(s, case, app_ctx.actor, reason)
        approval_id = approval.id
    console.print(
        f"export request {approval_id} awaits a supervisor: watchkeeper approval approve "
        f"{approval_id}"
    )


@investigate_app.command("export")
@_refusals
def investigate_export(
    ctx: typer.Context,
    case: CaseArg,
    approval: Annotated[int, typer.Option(help="The approved export request.")],
    out: Annotated[Path, typer.Option(help="Folder for evidence.json, evidence.html, images.")],
) -> None:
    """Write the evidence export (once per approval): JSON, HTML, crops and probe photos."""
    app_ctx = app_context(ctx)
    written: list[Path] = []
    evidence = export.export_evidence(
        app_ctx.db, app_ctx.media, case, approval, app_ctx.actor,
        fusion=app_ctx.settings.matching.fusion,
        deliver=lambda e: written.extend(export.write_folder(e, out)),
    )  # fmt: skip
    digests = evidence.digests
    console.print(
        f"wrote {len(written)} files to {out}\n  evidence.json sha256 {digests['evidence.json']}"
        f"\n  evidence.html sha256 {digests['evidence.html']}"
    )


# --- thresholds ------------------------------------------------------------------------------


@thresholds_app.command("suggest")
def thresholds_suggest(
    ctx: typer.Context,
    target: Annotated[
        float, typer.Option(help="Acceptable share of false alerts among reviewed ones.")
    ] = 0.05,
    as_json: JsonOption = False,
) -> None:
    """Per watchlist (and case): the false-alert rate at the threshold in force, and the
    threshold that would have met the target, with the confirmed matches it would miss."""
    app_ctx = app_context(ctx)
    if not 0 <= target < 1:
        raise fail(f"--target must be in [0, 1), not {target}")
    with app_ctx.db.session(readonly=True) as s:
        scores = store.reviewed_scores(s, app_ctx.settings.matching.default_threshold)
    rows = [x.json() for x in thresholds.suggest(scores, target)]
    if as_json:
        print_json(rows)
        return
    table = Table(
        "watchlist / case", "threshold", "reviewed", "rejected", "false rate", "suggested",
        "its false rate", "its miss rate", title=f"target false-alert rate {target:.1%}",
    )  # fmt: skip

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    for r in rows:
        table.add_row(
            r["group"], f"{r['threshold']:.3f}", str(r["reviewed"]), str(r["rejected"]),
            pct(r["false_rate"]), "—" if r["suggested"] is None else f"{r['suggested']:.3f}",
            pct(r["suggested_false_rate"]), pct(r["miss_rate"]),
        )  # fmt: skip
    console.print(table)
    if not rows:
        console.print("no reviewed alerts or candidates yet")
