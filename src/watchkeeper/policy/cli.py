"""Accountability commands: deployments, approvals, reviews, retention, keys, the report.

    watchkeeper deployment add --watchlist W --group G --from D --to D --authorised-by X --ref R
    watchkeeper deployment list | revoke ID --reason R | check --watchlist W --group G [--at T]
    watchkeeper watchlist review NAME --next-review DATE --reason R
    watchkeeper approval list | approve ID | reject ID --reason R | request-export --reason R
    watchkeeper audit export --approval ID --out FILE
    watchkeeper policy purge | archive GROUP --days N --reason R
    watchkeeper keys generate --out FILE | status | rotate --new-key-file FILE
    watchkeeper report --from DATE --to DATE [--out DIR]

The command line acts as the Watchkeeper user named like the login running it
(``cli:<login>``): approving needs that user to exist with the supervisor role, so four
eyes hold on the command line as in the browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from watchkeeper.cli_common import (
    JsonOption,
    app_context,
    fail,
    parse_date,
    print_json,
    refusals,
)
from watchkeeper.policy import approvals, deployments, keys, retention
from watchkeeper.policy.eligibility import explain, load_snapshot
from watchkeeper.policy.exports import export_audit
from watchkeeper.policy.report import build_report
from watchkeeper.policy.report_html import write_report
from watchkeeper.policy.review import ReviewError, review_watchlist
from watchkeeper.store import policy as policy_store
from watchkeeper.store import repository
from watchkeeper.store.crypto import configured_key, generate_key, key_id, read_key_file
from watchkeeper.usecases.approvals import approve_request, reject_request

console = Console()

deployment_app = typer.Typer(
    help="Authorise watchlists on camera groups for a period; nothing else is matched.",
    no_args_is_help=True,
)
approval_app = typer.Typer(
    help="Four-eyes approvals: wanted-person enrolments and exports.", no_args_is_help=True
)
policy_app = typer.Typer(
    help="Retention: purge, archive mode per camera group.", no_args_is_help=True
)
keys_app = typer.Typer(help="Encryption at rest of templates and photos.", no_args_is_help=True)


def mount(app: typer.Typer, watchlist_app: typer.Typer, audit_app: typer.Typer) -> None:
    """Add these commands to the ``watchkeeper`` command (one call in ``cli.py``)."""
    app.add_typer(deployment_app, name="deployment")
    app.add_typer(approval_app, name="approval")
    app.add_typer(policy_app, name="policy")
    app.add_typer(keys_app, name="keys")
    app.command("report")(report)
    watchlist_app.command("review")(watchlist_review)
    audit_app.command("export")(audit_export)


# --- helpers ---------------------------------------------------------------------------------


_refusals = refusals(approvals.ApprovalError, ReviewError, ValueError)


@contextmanager
def _session(ctx: typer.Context, readonly: bool = False) -> Iterator[Any]:
    with app_context(ctx).db.session(readonly=readonly) as s:
        yield s


# --- deployments -----------------------------------------------------------------------------


@deployment_app.command("add")
def deployment_add(
    ctx: typer.Context,
    watchlist: Annotated[str, typer.Option(help="Watchlist name or id.")],
    group: Annotated[str, typer.Option(help="Camera group, e.g. airport.")],
    start: Annotated[str, typer.Option("--from", help="Start (date or date and time, UTC).")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive).")],
    authorised_by: Annotated[str, typer.Option(help="Who authorised it (name, office).")],
    ref: Annotated[str, typer.Option(help="Reference of the authorisation (warrant, decision).")],
    as_json: JsonOption = False,
) -> None:
    """Authorise matching a watchlist on a camera group for a period."""
    app_ctx = app_context(ctx)
    starts, ends = parse_date(start, "--from"), parse_date(end, "--to")
    with app_ctx.db.session() as s:
        row = deployments.authorise(
            s, watchlist, group, starts, ends, authorised_by, ref, app_ctx.actor
        )
        result = deployments.describe(s, row)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"deployment {result['id']}: {result['watchlist']} on camera group "
            f"{result['camera_group']} from {result['starts_at']} to {result['ends_at']} "
            f"({result['status']})"
        )


@deployment_app.command("list")
def deployment_list(
    ctx: typer.Context,
    watchlist: Annotated[str | None, typer.Option(help="Only this watchlist.")] = None,
    group: Annotated[str | None, typer.Option(help="Only this camera group.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List deployments with their status (scheduled, active, ended, revoked)."""
    with _session(ctx, readonly=True) as s:
        wl = repository.get_watchlist(s, watchlist) if watchlist else None
        rows = [
            deployments.describe(s, d)
            for d in policy_store.list_deployments(s, watchlist=wl, camera_group=group)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "watchlist", "group", "from", "to", "authorised by", "ref", "status")
    for r in rows:
        table.add_row(
            str(r["id"]), r["watchlist"], r["camera_group"], r["starts_at"][:16],
            r["ends_at"][:16], r["authorised_by"], r["authorisation_ref"], r["status"],
        )  # fmt: skip
    console.print(table)


@deployment_app.command("revoke")
@_refusals
def deployment_revoke(
    ctx: typer.Context,
    deployment_id: int,
    reason: Annotated[str, typer.Option(help="Why (goes to the audit log).")],
) -> None:
    """End a deployment now: its watchlist stops matching on that camera group."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session() as s:
        deployments.revoke(s, deployment_id, app_ctx.actor, reason)
    console.print(f"revoked deployment {deployment_id}")


@deployment_app.command("check")
def deployment_check(
    ctx: typer.Context,
    watchlist: Annotated[str, typer.Option(help="Watchlist name or id.")],
    group: Annotated[str, typer.Option(help="Camera group.")],
    at: Annotated[str | None, typer.Option(help="Moment to check (default: now).")] = None,
) -> None:
    """Say whether a watchlist is matched on a camera group at a moment, and why not."""
    app_ctx = app_context(ctx)
    moment = parse_date(at, "--at") if at else datetime.now(UTC)
    with app_ctx.db.session(readonly=True) as s:
        wl_id = repository.get_watchlist(s, watchlist).id
        snapshot = load_snapshot(s, app_ctx.settings.policy.require_authorisation)
    console.print(explain(snapshot, wl_id, group, moment), markup=False, soft_wrap=True)


# --- watchlist review ------------------------------------------------------------------------


@_refusals
def watchlist_review(
    ctx: typer.Context,
    name: str,
    next_review: Annotated[str, typer.Option(help="Date of the next review.")],
    reason: Annotated[str, typer.Option(help="Why the list should go on (audited).")],
) -> None:
    """Record a review of a watchlist; a list past its review date matches nobody."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session() as s:
        review_watchlist(s, name, parse_date(next_review, "--next-review"), reason, app_ctx.actor)
    console.print(f"reviewed watchlist {name}; next review by {next_review}")


# --- approvals -------------------------------------------------------------------------------


@approval_app.command("list")
def approval_list(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option(help="pending, approved or rejected (default: all).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List approval requests."""
    with _session(ctx, readonly=True) as s:
        rows = [approvals.describe(a) for a in policy_store.list_approvals(s, state=state)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "object", "requested by", "reason", "state", "decided by")
    for r in rows:
        table.add_row(
            str(r["id"]), r["kind"], f"{r['object_type']} {r['object_id']}", r["requested_by"],
            r["reason"] or "—", r["state"], r["approved_by"] or r["rejected_by"] or "—",
        )  # fmt: skip
    console.print(table)


@approval_app.command("approve")
@_refusals
def approval_approve(
    ctx: typer.Context,
    approval_id: int,
    comment: Annotated[str | None, typer.Option(help="Comment (audited).")] = None,
) -> None:
    """Approve a request: needs the supervisor role and someone other than the requester."""
    app_ctx = app_context(ctx)
    decided = approve_request(app_ctx.db, app_ctx.actor, approval_id, comment)
    console.print(f"approved {decided['kind']} request {approval_id}")


@approval_app.command("reject")
@_refusals
def approval_reject(
    ctx: typer.Context,
    approval_id: int,
    reason: Annotated[str, typer.Option(help="Why (audited).")],
) -> None:
    """Refuse a request; a refused wanted-person enrolment is deleted."""
    app_ctx = app_context(ctx)
    reject_request(app_ctx.db, app_ctx.media, app_ctx.actor, approval_id, reason)
    console.print(f"rejected request {approval_id}")


@approval_app.command("request-export")
def approval_request_export(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why the audit log must leave the system.")],
) -> None:
    """Ask a supervisor to approve an export of the audit log."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session() as s:
        row = approvals.request(s, "export", "audit", "all", app_ctx.actor, reason=reason)
        approval_id = row.id
    console.print(
        f"export request {approval_id} waits for a supervisor's approval "
        f"(watchkeeper approval approve {approval_id})"
    )


@_refusals
def audit_export(
    ctx: typer.Context,
    approval: Annotated[int, typer.Option(help="The approved export request.")],
    out: Annotated[Path, typer.Option(help="File to write (JSON lines).")],
) -> None:
    """Export the audit chain under an approved request (once)."""
    app_ctx = app_context(ctx)
    result = export_audit(app_ctx.db, approval, app_ctx.actor, out)
    console.print(f"exported {result.events} events to {out} (sha256 {result.sha256})")


# --- retention -------------------------------------------------------------------------------


@policy_app.command("purge")
def policy_purge(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Delete entries past expiry plus grace period, and archived sightings past expiry."""
    app_ctx = app_context(ctx)
    result = retention.purge(
        app_ctx.db, app_ctx.media, app_ctx.settings.policy.expired_entry_grace_days
    )
    if as_json:
        print_json(
            {
                "persons": result.persons,
                "archived_sightings": result.archived_sightings,
                "files": result.files,
            }
        )
    else:
        console.print(
            f"purged {result.persons} expired entries and {result.archived_sightings} archived "
            f"sightings ({result.files} files)"
        )


@policy_app.command("archive")
def policy_archive(
    ctx: typer.Context,
    group: str,
    days: Annotated[int, typer.Option(min=0, help="Days to keep unmatched sightings; 0: off.")],
    reason: Annotated[str, typer.Option(help="Why (audited).")],
) -> None:
    """Turn archive mode of a camera group on or off (off keeps no unmatched data)."""
    app_ctx = app_context(ctx)
    retention.set_archive(app_ctx.db, group, days, app_ctx.actor, reason)
    state = f"on: unmatched sightings kept {days} days" if days else "off"
    console.print(f"archive mode of camera group {group} is {state}")


# --- keys ------------------------------------------------------------------------------------


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option(help="Key file to create (readable by you only).")],
) -> None:
    """Create a new random key file."""
    if out.exists():
        raise fail(f"{out} exists; a key file is never overwritten")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch(mode=0o600)
    out.write_text(generate_key() + "\n", encoding="ascii")
    console.print(f"wrote key {key_id(read_key_file(out))} to {out}")


@keys_app.command("status")
def keys_status(ctx: typer.Context) -> None:
    """Show the configured key and how much data is still unencrypted."""
    app_ctx = app_context(ctx)
    key = configured_key(app_ctx.settings.policy.key_file)
    left = keys.plaintext_left(app_ctx.db, app_ctx.media)
    console.print(f"key: {key_id(key) if key else 'none configured'}; unencrypted items: {left}")


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    new_key_file: Annotated[Path, typer.Option(help="The new key (watchkeeper keys generate).")],
) -> None:
    """Re-encrypt every template and photo with a new key (resumable if interrupted)."""
    app_ctx = app_context(ctx)
    old = configured_key(app_ctx.settings.policy.key_file)
    new = read_key_file(new_key_file)
    result = keys.rotate(app_ctx.db, app_ctx.media, old, new, app_ctx.actor)
    console.print(
        f"re-encrypted {result.templates} templates, {result.files} files and "
        f"{result.passwords} camera passwords with key "
        f"{result.new_key_id} ({result.skipped} already were). Now point WATCHKEEPER_KEY or "
        f"policy.key_file at {new_key_file}."
    )


# --- report ----------------------------------------------------------------------------------


@_refusals
def report(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day (or moment) of the period.")],
    end: Annotated[str, typer.Option("--to", help="End of the period (exclusive).")],
    out: Annotated[Path, typer.Option(help="Folder for report.html and report.json.")] = Path(
        "report"
    ),
    as_json: JsonOption = False,
) -> None:
    """Write the transparency report (HTML with charts, and JSON) for a period."""
    app_ctx = app_context(ctx)
    with app_ctx.db.session(readonly=True) as s:
        data = build_report(s, parse_date(start, "--from"), parse_date(end, "--to"))
    json_path, html_path = write_report(data, out)
    if as_json:
        print_json(data)
    else:
        console.print(f"transparency report: {html_path} and {json_path}")
