"""The evidence of a test: one self-contained HTML page and one JSON summary per run.

The HTML embeds its plots as base64 PNGs, so it can be mailed or archived as one file and
still open in ten years. Several models tested on the same data share one page: their curves
on the same axes, their numbers in adjacent columns. Figures are made without pyplot, so no
global backend is switched and no display is needed: ``Figure.savefig`` renders with Agg.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from watchkeeper.evaluation import metrics
from watchkeeper.evaluation.runner import (
    IdentificationResult,
    VerificationResult,
)

Result = VerificationResult | IdentificationResult

VERIFY_ROWS = [
    ("images", "images"),
    ("failure_to_enrol_rate", "failure to enrol rate"),
    ("genuine_pairs", "genuine pairs"),
    ("impostor_pairs", "impostor pairs"),
    ("pairs_unscored", "pairs not scored (FTE)"),
    ("threshold", "threshold"),
    ("accuracy", "accuracy at threshold"),
    ("fnmr", "FNMR at threshold"),
    ("fmr", "FMR at threshold"),
    ("eer", "EER"),
    ("eer_threshold", "EER threshold"),
]
IDENTIFY_ROWS = [
    ("gallery_identities", "gallery identities"),
    ("distractors", "of which distractors"),
    ("failure_to_enrol_rate", "failure to enrol rate"),
    ("mated_probes", "mated probes"),
    ("nonmated_probes", "non-mated probes"),
    ("nonmated_unusable", "non-mated images unusable"),
    ("rank1_rate", "rank-1 identification rate"),
    ("threshold", "threshold"),
    ("fnir", "FNIR at threshold"),
    ("fpir", "FPIR at threshold"),
    ("target_fpir", "target FPIR"),
    ("threshold_for_target_fpir", "threshold for target FPIR"),
]


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{encoded}">'


def _axes() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(5.5, 4.2))
    return figure, figure.subplots()


def _log_floor(counts: Sequence[int]) -> float:
    """Left edge of a log-rate axis: half the smallest rate the data can show."""
    return 0.5 / max(1, max(counts))


def _verify_plots(results: Sequence[VerificationResult]) -> list[str]:
    roc_fig, roc_ax = _axes()
    det_fig, det_ax = _axes()
    floor = _log_floor([r.impostor.size for r in results])
    for r in results:
        curve = r.roc
        roc_ax.step(np.maximum(curve.fmr, floor), curve.tar, where="post", label=r.model)
        det_ax.plot(np.maximum(curve.fmr, floor), np.maximum(curve.fnmr, floor), label=r.model)
    roc_ax.set(xscale="log", xlabel="FMR (FAR)", ylabel="TAR", title="ROC", ylim=(0, 1.02))
    det_ax.set(xscale="log", yscale="log", xlabel="FMR", ylabel="FNMR", title="DET")
    for ax in (roc_ax, det_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    plots = [_png(roc_fig), _png(det_fig)]
    for r in results:
        plots.append(_histogram(r.genuine, r.impostor, r.threshold, r.model, "genuine", "impostor"))
    return plots


def _histogram(
    positive: np.ndarray, negative: np.ndarray, threshold: float, model: str, *labels: str
) -> str:
    hist = metrics.score_histogram(positive, negative)
    fig, ax = _axes()
    width = np.diff(hist.edges)
    for counts, label in ((hist.genuine, labels[0]), (hist.impostor, labels[1])):
        density = counts / max(1, counts.sum())
        ax.bar(hist.edges[:-1], density, width=width, align="edge", alpha=0.5, label=label)
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set(xlabel="cosine similarity", ylabel="share of scores", title=f"Scores — {model}")
    ax.legend(fontsize=8)
    return _png(fig)


def _identify_plots(results: Sequence[IdentificationResult]) -> list[str]:
    fig, ax = _axes()
    floor = _log_floor([r.nonmated.size for r in results])
    for r in results:
        curve = r.curve
        ax.step(np.maximum(curve.fpir, floor), curve.fnir, where="post", label=r.model)
    ax.set(xscale="log", xlabel="FPIR", ylabel="FNIR", title="FNIR vs FPIR (rank 1)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    plots = [_png(fig)]
    for r in results:
        mated = r.mated[np.isfinite(r.mated)]
        plots.append(_histogram(mated, r.nonmated, r.threshold, r.model, "mated", "non-mated"))
    return plots


Row = tuple[str, Callable[[dict[str, Any]], Any]]


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def _table(summaries: Sequence[dict[str, Any]], rows: list[Row]) -> str:
    head = "".join(f"<th>{html.escape(s['model'])}</th>" for s in summaries)
    body = "".join(
        f"<tr><td>{label}</td>{''.join(f'<td>{_cell(get(s))}</td>' for s in summaries)}</tr>"
        for label, get in rows
    )
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def _field(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda summary: summary.get(key)


def _target(key: str, target: str, name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda summary: (summary[key][target] or {}).get(name)


def _rows(summaries: Sequence[dict[str, Any]]) -> list[Row]:
    """The table rows: the fixed fields, then each target rate and the threshold it needs."""
    verify = summaries[0]["kind"] == "verify"
    fixed = VERIFY_ROWS if verify else IDENTIFY_ROWS
    key, name, rate = (
        ("tar_at_far", "TAR at FMR", "tar") if verify else ("fnir_at_fpir", "FNIR at FPIR", "fnir")
    )
    rows: list[Row] = [(label, _field(k)) for k, label in fixed]
    for target in summaries[0][key]:
        rows.append((f"{name} = {target}", _target(key, target, rate)))
        rows.append(("&nbsp;&nbsp;its threshold", _target(key, target, "threshold")))
    return rows


def _details(summary: dict[str, Any]) -> str:
    parts = [f"<h3>{html.escape(summary['model'])}</h3>"]
    if summary["groups"]:
        fn, fp = ("FNMR", "FMR") if summary["kind"] == "verify" else ("FNIR", "FPIR")
        rows = "".join(
            f"<tr><td>{html.escape(g['group'])}</td><td>{g['genuine']}</td>"
            f"<td>{_cell(g['false_negative_rate'])}</td><td>{g['impostor']}</td>"
            f"<td>{_cell(g['false_positive_rate'])}</td></tr>"
            for g in summary["groups"]
        )
        parts.append(
            f"<p>By group at threshold {summary['threshold']:.3f}:</p><table><tr><th>group</th>"
            f"<th>mated</th><th>{fn}</th><th>non-mated</th><th>{fp}</th></tr>{rows}</table>"
        )
    for key, title in (
        ("highest_nonmated", "Highest-scoring non-mated probes (check these are truly unenrolled)"),
        ("missed_mated", "Mated probes missed at the threshold"),
    ):
        if summary.get(key):
            items = "".join(
                f"<li>{html.escape(c['probe'])} → {html.escape(c['identity'])} "
                f"({c['score']:.3f})</li>"
                for c in summary[key]
            )
            parts.append(f"<p>{title}:</p><ul>{items}</ul>")
    for key, title in (
        ("highest_impostors", "Highest-scoring impostor pairs (check their labels)"),
        ("lowest_genuine", "Lowest-scoring genuine pairs"),
    ):
        if summary.get(key):
            items = "".join(
                f"<li>{html.escape(p['left'])} vs {html.escape(p['right'])} ({p['score']:.3f})</li>"
                for p in summary[key]
            )
            parts.append(f"<p>{title}:</p><ul>{items}</ul>")
    failures = summary.get("failures", {}) | summary.get("nonmated_failures", {})
    if failures:
        items = "".join(
            f"<li>{html.escape(p)}: {html.escape(why)}</li>" for p, why in failures.items()
        )
        parts.append(f"<p>Images without a usable face:</p><ul>{items}</ul>")
    return "".join(parts)


STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
    "text-align:right}td:first-child{text-align:left}img{margin:4px}"
)


def render_html(results: Sequence[Result], title: str) -> str:
    """The report page for one or several runs of the same kind on the same data."""
    summaries = [r.summary() for r in results]
    verify = summaries[0]["kind"] == "verify"
    plots = (
        _verify_plots([r for r in results if isinstance(r, VerificationResult)])
        if verify
        else _identify_plots([r for r in results if isinstance(r, IdentificationResult)])
    )
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Dataset: {html.escape(summaries[0]['dataset'])}. Created {created}. "
        "A comparison is accepted when its score is at or above the threshold; rates that the "
        "data is too small to measure are shown as —.</p>"
        f"{_table(summaries, _rows(summaries))}<div>{''.join(plots)}</div>"
        f"{''.join(_details(s) for s in summaries)}</body></html>"
    )


def write_report(results: Sequence[Result], out_dir: Path, title: str) -> tuple[Path, Path]:
    """Write ``report.html`` and ``summary.json`` into ``out_dir``; return their paths."""
    if not results:
        raise ValueError("a report needs at least one result")
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "report.html"
    page.write_text(render_html(results, title), encoding="utf-8")
    summary = out_dir / "summary.json"
    summary.write_text(json.dumps(summary_document(results), indent=2), encoding="utf-8")
    return page, summary


def summary_document(results: Sequence[Result]) -> dict[str, Any]:
    """The JSON summary of one or several runs: what ``--json`` prints and the report stores."""
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": [r.summary() for r in results],
    }
