"""How results look to people (rich tables and lines) and to machines (JSON).

Commands compute plain values (dicts, lists) in the use cases and hand them here, so that the
same result prints the same way from ``run``, the demo and any other command, and a change
of format is one edit. Tables go to stdout; progress and refusals to stderr, so that
``--json`` output stays parseable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from watchkeeper.domain import Frame

console = Console()
errors = Console(stderr=True)


def print_json(data: Any) -> None:
    """One JSON document on stdout (dates and other values as strings)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def frame_progress(
    label: str, quiet: bool
) -> Iterator[Callable[[int | None], Callable[[Frame], None]]]:
    """A progress bar on stderr for an analysis; yields the ``progress`` callback it needs."""
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} frames"),
        TimeElapsedColumn(),
        console=errors,
        disable=quiet,
        transient=True,
    ) as progress:

        def start(total: int | None) -> Callable[[Frame], None]:
            task = progress.add_task(label, total=total)
            return lambda _frame: progress.advance(task)

        yield start


def print_cannot_match(items: list[dict[str, Any]]) -> None:
    """The watchlists that cannot (fully) match on this source, one line each, first."""
    for item in items:
        console.print(f"[yellow]note:[/] {item['message']}", highlight=False)


def print_results(summary: dict[str, Any]) -> None:
    """The sightings of an analysis as a table, and what was kept."""
    table = Table(
        "track", "frames", "detections", "quality", "embedded", "match", "score", "why not",
        title=f"{len(summary['sightings'])} sightings from {summary['faces_detected']} face "
        f"detections in {summary['frames_analysed']} analysed frames",
    )  # fmt: skip
    for s in summary["sightings"]:
        best = max(s["matches"], key=lambda m: m["score"], default=None)
        table.add_row(
            str(s["track"]),
            f"{s['first_frame']}–{s['last_frame']}",
            str(s["detections"]),
            f"{s['quality']:.2f}",
            str(s["embedded"]),
            f"[bold red]{best['person']}[/] ({best['watchlist']})" if best else "—",
            f"{best['score']:.3f}" if best else _score(s["best_score"]),
            "" if best else (s["outcome"] or ""),
        )
    console.print(table)
    matched = sum(1 for s in summary["sightings"] if s["matches"])
    console.print(
        f"{matched} matched sighting(s) stored; "
        f"{len(summary['sightings']) - matched} unmatched discarded (nothing kept)."
    )


def _score(value: float | None) -> str:
    return "" if value is None else f"({value:.3f})"


def print_candidates(reference: str, found: list[dict[str, Any]]) -> None:
    """The candidates of a retrospective search, ranked, with their review state."""
    table = Table(
        "rank", "id", "camera", "time (UTC)", "frames", "best", "score", "review",
        title=f"case {reference}: {len(found)} candidate(s)",
    )  # fmt: skip
    for c in found:
        table.add_row(
            str(c["rank"]), str(c["id"]), c["camera"], c["started_at"][11:19],
            f"{c['first_frame']}–{c['last_frame']}", str(c["best_frame"]), f"{c['score']:.3f}",
            c["review"] or "—",
        )  # fmt: skip
    console.print(table)
