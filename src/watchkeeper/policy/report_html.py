"""The transparency report as files: ``report.json`` (the numbers) and ``report.html``.

The HTML page is self-contained (charts embedded as base64 PNG, no script, no external
asset), so it can be published or mailed as it is and opens in any browser offline. Charts
are drawn with matplotlib's object API (no pyplot), which keeps no global state.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

ACCENT = "#1f5f8b"
REASON_LABELS = {
    "expired": "entry expired",
    "not_authorised": "no authorisation",
    "review_overdue": "list review overdue",
    "pending_approval": "awaiting approval",
}


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path


def render_html(report: dict[str, Any]) -> str:
    period = report["period"]
    alerts = report["alerts"]
    totals = report["totals"]
    rate = alerts["false_alert_rate"]
    purposes = report["watchlists"]["by_purpose"]
    charts = [
        ("Faces analysed", _faces_chart(report["faces_analysed_over_time"])),
        ("Alerts by outcome", _bar_chart(
            {k: alerts[k] for k in ("confirmed", "rejected", "escalated", "new")}, "alerts")),
        ("Watchlist entries by purpose", _bar_chart(
            {p.replace("_", " "): v["entries"] for p, v in purposes.items()},
            "entries")),
        ("Matches blocked by policy", _bar_chart(
            {REASON_LABELS[r]: n for r, n in report["blocked_by_policy"].items()}, "matches")),
    ]  # fmt: skip
    figures = "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
        for title, png in charts
    )
    summary = [
        ("Faces analysed", f"{totals['faces_analysed']:,}"),
        ("Frames analysed", f"{totals['frames_analysed']:,}"),
        ("Alerts", f"{alerts['total']:,}"),
        ("False-alert rate", "—" if rate is None else f"{100 * rate:.1f} %"),
        ("Matches blocked by policy", f"{sum(report['blocked_by_policy'].values()):,}"),
    ]
    cards = "".join(
        f'<div class="card"><div class="value">{html.escape(v)}</div>'
        f'<div class="label">{html.escape(k)}</div></div>'
        for k, v in summary
    )
    groups = _table(
        ["camera group", "cameras", "deployments", "authorised h", "hours of operation",
         "faces analysed", "sightings", "blocked"],
        [[g, f["cameras"], f["deployments"], f["authorised_hours"], f["hours_of_operation"],
          f["faces_analysed"], f["sightings"], sum(f["blocked_by_policy"].values())]
         for g, f in report["camera_groups"].items()],
    )  # fmt: skip
    deployments = _table(
        ["id", "watchlist", "camera group", "from", "to", "authorised by", "reference", "status"],
        [[d["id"], d["watchlist"], d["camera_group"], _when(d["starts_at"]), _when(d["ends_at"]),
          d["authorised_by"], d["authorisation_ref"], d["status"]]
         for d in report["deployments"]],
    )  # fmt: skip
    lists = _table(
        ["watchlist", "purpose", "legal basis", "owner", "review by", "entries"],
        [[w["name"], w["purpose"].replace("_", " "), w["legal_basis"], w["owner"],
          (w["review_by"] or "—")[:10], w["entries"]]
         for w in report["watchlists"]["lists"]],
    )  # fmt: skip
    crowd = _table(
        ["camera group", "hours of people counting", "crowd alerts"],
        [[g, f["hours_counted"], f["crowd_alerts"]]
         for g, f in report.get("crowd_counting", {}).items()],
    )  # fmt: skip
    audit = report["audit"]
    return _PAGE.format(
        start=html.escape(period["from"][:16].replace("T", " ")),
        end=html.escape(period["to"][:16].replace("T", " ")),
        generated=html.escape(report["generated_at"][:19].replace("T", " ")),
        cards=cards,
        figures=figures,
        groups=groups,
        deployments=deployments,
        lists=lists,
        crowd=crowd,
        alerts_note=html.escape(alerts["note"]),
        audit=html.escape(
            f"{audit['events']} events, head {audit['head']}, "
            + ("chain verified intact" if audit["verified"] else f"BROKEN: {audit['problem']}")
        ),
    )


def _when(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return '<p class="empty">none in this period</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _axes(figure: Figure) -> Any:
    ax = figure.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    return ax


def _bar_chart(values: dict[str, int], unit: str) -> str:
    figure = Figure(figsize=(5.2, 3.0))
    ax = _axes(figure)
    bars = ax.bar(list(values), list(values.values()), color=ACCENT, width=0.6)
    ax.bar_label(bars, padding=2)
    ax.set_ylabel(unit)
    ax.set_ylim(0, max([1, *values.values()]) * 1.18)  # an all-zero chart still starts at 0
    ax.tick_params(axis="x", labelrotation=15)
    return _png(figure)


def _faces_chart(series: dict[str, dict[str, int]]) -> str:
    """Faces analysed per hour (or day), stacked by camera group."""
    figure = Figure(figsize=(5.2, 3.0))
    ax = _axes(figure)
    labels = [key[:13].replace("T", " ") + ("h" if "T00" not in key else "") for key in series]
    groups = sorted({g for counts in series.values() for g in counts})
    bottom = [0] * len(series)
    for group in groups:
        heights = [counts.get(group, 0) for counts in series.values()]
        ax.bar(labels, heights, bottom=bottom, label=group, width=0.6)
        bottom = [a + b for a, b in zip(bottom, heights, strict=True)]
    if not series:
        ax.text(0.5, 0.5, "no camera activity in this period", ha="center", transform=ax.transAxes)
    elif groups:
        ax.legend(title="camera group", frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    ax.set_ylim(0, max([1, *bottom]) * 1.1)
    ax.set_ylabel("faces")
    ax.tick_params(axis="x", labelrotation=15)
    return _png(figure)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Watchkeeper transparency report {start} – {end}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
h1 {{ margin-bottom: 0; }} .sub {{ color: #666; margin-top: .3rem; }}
.cards {{ display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.5rem 0; }}
.card {{ background: #f2f6f9; border-radius: 8px; padding: .8rem 1.2rem; min-width: 150px; }}
.value {{ font-size: 1.7rem; font-weight: 600; color: #1f5f8b; }} .label {{ color: #555; }}
.charts {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }}
figure {{ margin: 0; }} img {{ max-width: 100%; }} figcaption {{ font-weight: 600; }}
table {{ border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; font-size: .92rem; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd; }}
th {{ background: #f2f6f9; }} .empty, .note {{ color: #666; }}
</style></head><body>
<h1>Transparency report</h1>
<p class="sub">Live facial recognition, {start} – {end} (UTC). Generated {generated} UTC.
Counts only: no person seen by a camera is identified in this report.</p>
<div class="cards">{cards}</div>
<div class="charts">{figures}</div>
<h2>Camera groups</h2>{groups}
<h2>Authorised deployments</h2>{deployments}
<h2>Watchlists</h2>{lists}
<h2>Crowd counting (no identification, per-minute counts only)</h2>{crowd}
<p class="note">Alerts: {alerts_note}.</p>
<p class="note">Audit log: {audit}.</p>
</body></html>
"""
