"""The ``watchkeeper`` command.

Every command prints a rich table for people or JSON for machines (``--json``); long work
shows a progress bar. Expected failures (bad input, a missing file, an unreachable stream)
end with a one-line ``error:`` message and exit status 2, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.table import Column, Table
from typer.core import TyperGroup

from watchkeeper import __version__
from watchkeeper.api.cli import apikey_app, user_app
from watchkeeper.cli_common import JsonOption, app_context, parse_date
from watchkeeper.cluster.cli import mount as mount_cluster
from watchkeeper.config import ConfigError, Settings, load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import DemoError
from watchkeeper.enrolment import EnrolmentError, enrol_person, read_photo_file
from watchkeeper.evaluation.cli import app as eval_app
from watchkeeper.investigations.cli import mount as mount_investigations
from watchkeeper.output import (
    console,
    errors,
    frame_progress,
    print_cannot_match,
    print_json,
    print_results,
)
from watchkeeper.policy import anchors, audit
from watchkeeper.policy.cli import mount as mount_policy
from watchkeeper.serve import serve
from watchkeeper.service.cli import mount as mount_service
from watchkeeper.store import NotFound, StoreError, repository
from watchkeeper.store.models import PURPOSES
from watchkeeper.streams import SourceError
from watchkeeper.usecases import persons as entries
from watchkeeper.usecases import watchlists as lists
from watchkeeper.usecases.analyse import cannot_match, process_source, results_json
from watchkeeper.vision import ModelError
from watchkeeper.vision.imageio import ImageError

USER_ERRORS = (
    ConfigError,
    EnrolmentError,
    ImageError,
    ModelError,
    NotFound,
    SourceError,
    StoreError,
)

# The root command's options and whether each takes a value. They may follow the verb too
# (``watchkeeper run clip.mp4 --data-dir D``): ``hoist_global_options`` moves them in front.
GLOBAL_OPTIONS = {"--data-dir": True, "--config": True, "--verbose": False, "-v": False}


def hoist_global_options(args: list[str]) -> list[str]:
    """The arguments with the root command's options moved in front of the verb.

    Click reads an option only at the level of the command that declares it; people type
    global options wherever they remember them. No sub-command declares these names, so
    moving them is unambiguous; everything after ``--`` is left as it is.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        takes_value = GLOBAL_OPTIONS.get(name)
        if takes_value is None:
            rest.append(arg)
        elif takes_value and "=" not in arg and i + 1 < len(args):
            front += [arg, args[i + 1]]
            i += 1
        else:
            front.append(arg)
        i += 1
    return front + rest


class _Root(TyperGroup):
    """The ``watchkeeper`` group, accepting its options after the verb as well."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))


app = typer.Typer(
    cls=_Root,
    help="Watchkeeper: accountable live facial recognition against purpose-bound watchlists.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
watchlist_app = typer.Typer(help="Create, list and delete watchlists.", no_args_is_help=True)
person_app = typer.Typer(help="Enrol, list and delete persons on watchlists.", no_args_is_help=True)
audit_app = typer.Typer(help="Check and export the tamper-evident audit log.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect and document the configuration.", no_args_is_help=True)
app.add_typer(watchlist_app, name="watchlist")
app.add_typer(person_app, name="person")
app.add_typer(audit_app, name="audit")
app.add_typer(config_app, name="config")
app.add_typer(eval_app, name="eval", help="Measure accuracy: verification 1:1, identification 1:N.")
mount_policy(app, watchlist_app, audit_app)  # deployment, approval, policy, keys, report, ...
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.command("serve")(serve)
mount_service(app)  # camera
mount_cluster(app)  # cluster status, plan (Ray is imported only when used)
mount_investigations(app)  # case, investigate, thresholds


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data folder (database, media). Default: ./watchkeeper-data")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML config file; WATCHKEEPER_* variables override it.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = load_settings(config, data_dir=data_dir)
    ctx.obj = AppContext(settings)
    ctx.call_on_close(ctx.obj.close)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"watchkeeper {__version__}")


# --- watchlists ------------------------------------------------------------------------------


@watchlist_app.command("create")
def watchlist_create(
    ctx: typer.Context,
    name: str,
    purpose: Annotated[str, typer.Option(help=f"One of: {', '.join(PURPOSES)}.")],
    legal_basis: Annotated[str, typer.Option(help="The law or authorisation this list rests on.")],
    owner: Annotated[str, typer.Option(help="Who answers for this list.")],
    review_by: Annotated[
        str | None, typer.Option(help="Date by which the list must be reviewed.")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Match threshold (cosine); default from the config.")
    ] = None,
    confirmations: Annotated[
        int, typer.Option(help="Reviewers who must confirm an alert before it is actionable.")
    ] = 1,
    as_json: JsonOption = False,
) -> None:
    """Create a watchlist with its purpose, legal basis and owner."""
    app_ctx = app_context(ctx)
    wl_id = lists.create_watchlist(
        app_ctx.db,
        app_ctx.actor,
        name=name,
        purpose=purpose,
        legal_basis=legal_basis,
        owner=owner,
        review_by=parse_date(review_by, "--review-by"),
        threshold=threshold,
        confirmations_required=confirmations,
    )
    result = {"id": wl_id, "name": name, "purpose": purpose}
    if as_json:
        print_json(result)
    else:
        console.print(f"created watchlist [bold]{name}[/] (id {result['id']}, {purpose})")


@watchlist_app.command("list")
def watchlist_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the watchlists with their purpose and size."""
    app_ctx = app_context(ctx)
    default = app_ctx.settings.matching.default_threshold
    with app_ctx.db.session() as session:
        rows = [
            {
                "id": wl.id,
                "name": wl.name,
                "purpose": wl.purpose,
                "legal_basis": wl.legal_basis,
                "owner": wl.owner,
                "review_by": wl.review_by,
                "threshold": wl.threshold if wl.threshold is not None else default,
                "persons": count,
            }
            for wl, count in repository.list_watchlists(session)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table(
        "id", "name", "purpose", "legal basis", "owner", "review by", "threshold", "persons"
    )
    for row in rows:
        table.add_row(
            str(row["id"]), row["name"], row["purpose"], row["legal_basis"], row["owner"],
            str(row["review_by"] or "—"), f"{row['threshold']:.3f}", str(row["persons"]),
        )  # fmt: skip
    console.print(table)


@watchlist_app.command("delete")
def watchlist_delete(
    ctx: typer.Context,
    name: str,
    reason: Annotated[str, typer.Option(help="Why the list is deleted (goes to the audit log).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a watchlist with all its persons, photos, templates and matches."""
    app_ctx = app_context(ctx)
    if not yes:
        typer.confirm(f"Delete watchlist {name} and everything enrolled on it?", abort=True)
    deleted, files = lists.delete_watchlist(app_ctx.db, app_ctx.media, app_ctx.actor, name, reason)
    console.print(f"deleted watchlist [bold]{deleted}[/] ({files} files removed)")


# --- persons ---------------------------------------------------------------------------------


@person_app.command("add")
def person_add(
    ctx: typer.Context,
    photos: Annotated[list[Path], typer.Argument(help="One or more photos of the person.")],
    watchlist: Annotated[str, typer.Option(help="Watchlist name or id.")],
    name: Annotated[str, typer.Option(help="Name or case reference of the person.")],
    reason: Annotated[str | None, typer.Option(help="Why this person is on the list.")] = None,
    expires: Annotated[
        str | None, typer.Option(help="Date after which the entry stops matching.")
    ] = None,
    largest_face: Annotated[
        bool, typer.Option("--largest-face", help="In photos with several faces, use the largest.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Enrol a person from photos: each must show one usable face."""
    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    expires_at = parse_date(expires, "--expires")
    with app_ctx.db.session() as session:  # fail on a missing list before loading the models
        repository.get_watchlist(session, watchlist)
    enrolled = enrol_person(
        app_ctx.db,
        app_ctx.media,
        app_ctx.analyzer,
        watchlist=watchlist,
        name=name,
        photos=[(str(p), read_photo_file(p)) for p in photos],
        actor=app_ctx.actor,
        reason=reason,
        expires_at=expires_at,
        max_pixels=settings.streams.max_image_pixels,
        min_quality=settings.vision.enrol_min_quality,
        largest_face=largest_face,
    )
    awaiting = entries.awaiting_approval(app_ctx.db, enrolled, app_ctx.actor)
    result = {
        "id": enrolled.person_id,
        "name": enrolled.name,
        "watchlist": enrolled.watchlist,
        "state": "pending_approval" if awaiting else entries.ACTIVE,
        "approval": None
        if awaiting is None
        else {
            "id": awaiting.approval_id,
            "approvers": awaiting.approvers,
            "message": awaiting.sentence(),
        },
        "photos": [
            {"file": p.source, "faces": p.faces_found, "quality": round(p.quality, 3)}
            for p in enrolled.photos
        ],
    }
    if as_json:
        print_json(result)
        return
    console.print(
        f"enrolled [bold]{enrolled.name}[/] (id {enrolled.person_id}) on {enrolled.watchlist} "
        f"from {len(enrolled.photos)} photo(s), quality "
        + ", ".join(f"{p.quality:.2f}" for p in enrolled.photos)
    )
    if awaiting is not None:
        console.print(f"[yellow]pending approval:[/] {awaiting.sentence()}", highlight=False)


@person_app.command("list")
def person_list(
    ctx: typer.Context,
    watchlist: Annotated[str | None, typer.Option(help="Only this watchlist.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List enrolled persons (names and counts only; photos are not shown here)."""
    app_ctx = app_context(ctx)
    require = app_ctx.settings.policy.require_authorisation
    rows = entries.list_entries(app_ctx.db, watchlist, require)
    if as_json:
        print_json(rows)
        return
    state = Column("state", no_wrap=True)  # the one column a reader must not misread
    table = Table("id", "name", "watchlist", state, "reason", "expires", "photos", "enrolled by")
    for r in rows:
        table.add_row(
            str(r["id"]), r["name"], r["watchlist"], entries.STATE_WORDS[r["state"]],
            r["reason"] or "—", str(r["expires_at"] or "—"), str(r["photos"]), r["created_by"],
        )  # fmt: skip
    console.print(table)


@person_app.command("delete")
def person_delete(
    ctx: typer.Context,
    person_id: int,
    reason: Annotated[str, typer.Option(help="Why the entry is removed (goes to the audit log).")],
) -> None:
    """Delete a person with their photos, templates and matches."""
    app_ctx = app_context(ctx)
    name = entries.delete_person(app_ctx.db, app_ctx.media, app_ctx.actor, person_id, reason)
    console.print(f"deleted person {person_id} ({name})")


# --- processing ------------------------------------------------------------------------------


@app.command()
def run(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Video file, image folder, or stream URL.")],
    camera: Annotated[
        str | None, typer.Option(help="Camera name (default: from the source).")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Frames analysed per second.")] = None,
    store: Annotated[bool, typer.Option(help="Store matched sightings.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Analyse a video file, a folder of images or a stream against all watchlists."""
    app_ctx = app_context(ctx)
    camera_name = camera or Path(source.rstrip("/")).name or source
    analysis_fps = fps or app_ctx.settings.streams.analysis_fps
    blocked = cannot_match(app_ctx, camera_name)
    if not as_json:
        print_cannot_match(blocked)  # before the work: why nothing may match, said first
    with frame_progress(f"analysing {camera_name}", quiet=as_json) as progress:
        results, pipeline = process_source(
            app_ctx, source, camera_name, analysis_fps, store, progress
        )
    summary = {"cannot_match": blocked} | results_json(app_ctx, results, pipeline)
    if as_json:
        print_json(summary)
    else:
        print_results(summary)


@app.command()
def demo(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="Where the contact sheet is written.")] = Path(
        "watchkeeper-data/demo"
    ),
    as_json: JsonOption = False,
    investigation: Annotated[
        bool,
        typer.Option(
            "--investigation", help="Instead: search the clip as a recording under a case."
        ),
    ] = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Afterwards, serve the console on the demo's data, with a one-time demo login, "
            "and play the clip as a camera so its alert arrives live.",
        ),
    ] = False,
    port: Annotated[int | None, typer.Option(help="Port for --serve (default: api.port).")] = None,
) -> None:
    """Enrol a passer-by from an early frame of the bundled clip and find them in it."""
    if investigation:
        from watchkeeper.investigation_demo import run_investigation_demo

        run_investigation_demo(app_context(ctx), output, as_json)
        return
    from watchkeeper.demo import run_demo, serve_demo

    result = run_demo(app_context(ctx), output, as_json)
    if serve:
        serve_demo(result, port)


# --- audit -----------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    anchor: Annotated[
        str | None,
        typer.Option(help="An exported head 'SEQ:HASH' that must still be in the chain."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the hash chain; report the first broken link. Exit 1 if broken."""
    app_ctx = app_context(ctx)
    anchor_head = None
    if anchor:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise typer.BadParameter(
                "expected SEQ:HASH as printed by 'audit head'", param_hint="--anchor"
            )
        anchor_head = audit.ChainHead(int(seq), digest)
    with app_ctx.db.session() as session:
        report, published = anchors.verify_with_published(session, app_ctx.settings, anchor_head)
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "checked": report.checked,
                "first_broken_seq": report.first_broken_seq,
                "problem": report.problem,
                "head_seq": report.head_seq,
                "head_hash": report.head_hash,
                "published_head": None
                if published is None
                else {
                    "seq": published.seq,
                    "hash": published.hash,
                    "at": published.at.isoformat(),
                    "age_s": round(published.age().total_seconds()),
                },
            }
        )
    elif report.ok:
        console.print(
            f"audit chain intact: {report.checked} events, "
            f"head {report.head_seq}:{report.head_hash}"
        )
        if published is None:
            console.print(
                "no published head yet: a cut or rewritten chain is caught only with --anchor"
            )
        else:
            console.print(
                f"contains the head published to {anchors.heads_file(app_ctx.settings)}: "
                f"event {published.seq} ({anchors.describe_age(published)}); "
                f"{report.head_seq - published.seq} newer events are not yet published"
            )
    else:
        errors.print(f"audit chain BROKEN at event {report.first_broken_seq}: {report.problem}")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("head")
def audit_head(ctx: typer.Context) -> None:
    """Print the newest event's SEQ:HASH, to anchor outside this system."""
    with app_context(ctx).db.session() as session:
        head = audit.head(session)
    console.print(f"{head.seq}:{head.hash}")


# --- config ----------------------------------------------------------------------------------


@config_app.command("docs")
def config_docs(
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Write the reference of every setting, generated from the settings models."""
    from watchkeeper.config_docs import render

    text = render(Settings)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def main() -> None:
    """Entry point: turn expected failures into one line and exit status 2."""
    try:
        app()
    except (*USER_ERRORS, DemoError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(f"error: {first_line}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)
