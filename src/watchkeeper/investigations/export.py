"""Evidence exports of a case: JSON for machines, one self-contained HTML page for people.

Evidence leaves the system's control, so, like every export, it needs a second person: the
investigator asks (``approval`` of kind ``export`` for object ``case``), a supervisor other
than them approves (``watchkeeper approval approve`` or the approvals API), and the
investigator collects it once (``policy.approvals.use_export``). The export and its audit
event (with the SHA-256 of what was written) share one transaction: a failed delivery leaves
the approval unused and nothing recorded.

What it holds, so that a court or a defence expert can check it: the case (purpose, legal
basis, who asked, who approved, window, scope), the probes (SHA-256 of each photo), every
recording scanned with its SHA-256, camera, start time and where that came from, the sample
rate, the embedder model, the fusion and the threshold, and each candidate with its rank,
camera, time, frame numbers, score and review, its crop (SHA-256 named), and the audit head
at export time.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from watchkeeper import __version__
from watchkeeper.investigations.cases import describe
from watchkeeper.investigations.results import ranked, timeline
from watchkeeper.policy import approvals, audit
from watchkeeper.store import Database, MediaStore, StoreError
from watchkeeper.store import investigations as store
from watchkeeper.store import policy as policy_store
from watchkeeper.store.policy import Approval

OBJECT_TYPE = "case"


@dataclass(frozen=True, slots=True)
class Evidence:
    document: dict[str, Any]
    files: dict[str, bytes]  # name inside the export → bytes: evidence.json/.html, crops, probes

    @property
    def digests(self) -> dict[str, str]:
        return {name: hashlib.sha256(data).hexdigest() for name, data in self.files.items()}


def request_export(s: Session, case_id: int | str, actor: str, reason: str) -> Approval:
    """Ask a supervisor to approve an evidence export of the case (audited)."""
    case = store.get_case(s, case_id)
    if not reason.strip():
        raise approvals.ApprovalError("an export request needs a reason")
    return approvals.request(
        s, "export", OBJECT_TYPE, case.id, actor, reason=reason,
        details={"reference": case.reference},
    )  # fmt: skip


def export_evidence(
    db: Database,
    media: MediaStore,
    case_id: int | str,
    approval_id: int,
    actor: str,
    *,
    fusion: str,
    deliver: Callable[[Evidence], None],
) -> Evidence:
    """Build the evidence under approval ``approval_id`` and hand it to ``deliver`` inside the
    export's transaction (if ``deliver`` raises, the approval stays unused)."""
    with db.session() as s:
        case = store.get_case(s, case_id)
        row = policy_store.get_approval(s, approval_id)
        if row.object_type == OBJECT_TYPE and row.object_id != str(case.id):
            raise approvals.ApprovalError(
                f"approval {approval_id} is for case {row.object_id}, not case {case.id}"
            )
        approvals.use_export(s, approval_id, actor, OBJECT_TYPE)
        evidence = _build(s, media, case.id, row, actor, fusion)
        deliver(evidence)
        audit.record(
            s,
            actor=actor,
            action="export.perform",
            object_type=OBJECT_TYPE,
            object_id=case.id,
            details={
                "approval": approval_id,
                "candidates": len(evidence.document["candidates"]),
                "sha256": {
                    name: digest
                    for name, digest in evidence.digests.items()
                    if name.startswith("evidence")
                },
            },
        )
    return evidence


def write_folder(evidence: Evidence, folder: Path) -> list[Path]:
    """Write the export's files under ``folder`` (which must not hold an export already)."""
    target = folder / "evidence.json"
    if target.exists():
        raise StoreError(f"{folder} already holds an evidence export: choose another folder")
    written = []
    try:
        # the images first, evidence.json last: a folder holding it holds the whole export
        for name in sorted(evidence.files, key=lambda name: (name.startswith("evidence"), name)):
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(evidence.files[name])
            written.append(path)
    except OSError as exc:
        raise StoreError(f"cannot write the evidence export to {folder}: {exc}") from exc
    return written


def as_zip(evidence: Evidence) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(evidence.files.items()):
            archive.writestr(name, data)
    return buffer.getvalue()


def _build(
    s: Session, media: MediaStore, case_id: int, approval: Approval, actor: str, fusion: str
) -> Evidence:
    case = store.get_case(s, case_id)
    files: dict[str, bytes] = {}
    probes: list[dict[str, Any]] = []
    for probe in store.probes_of(s, case_id):
        files[f"probes/{probe.media_sha256}.jpg"] = media.read(probe.media_sha256)
        probes.append(
            {
                "id": probe.id,
                "photo_sha256": probe.media_sha256,
                "quality": round(probe.quality, 3),
                "model": probe.model,
                "added_by": probe.created_by,
            }
        )
    candidates = ranked(s, case_id)
    for c in candidates:
        if c["crop_sha256"]:
            files[f"crops/{c['crop_sha256']}.jpg"] = media.read(c["crop_sha256"])
    head = audit.head(s)
    document = {
        "format": "watchkeeper-evidence/1",
        "generator": f"watchkeeper {__version__}",
        "exported_at": datetime.now(UTC).isoformat(),
        "exported_by": actor,
        "approval": {
            "id": approval.id,
            "requested_by": approval.requested_by,
            "approved_by": approval.approved_by,
            "approved_at": approval.approved_at.isoformat() if approval.approved_at else None,
            "reason": approval.reason,
        },
        "case": describe(case),
        "matching": {
            "models": sorted({p["model"] for p in probes} | {c["model"] for c in candidates}),
            "threshold": case.threshold,
            "fusion": fusion,
            "score": "cosine similarity of face templates, fused over a track's best faces",
        },
        "probes": probes,
        "recordings": [
            {
                "id": r.id,
                "path": r.path,
                "sha256": r.sha256,
                "size": r.size,
                "camera": r.camera,
                "started_at": r.started_at.isoformat() if r.started_at else None,
                "start_time_from": r.time_source,
                "fps": r.fps,
                "frames": r.frames,
                "sampled_fps": r.sample_fps,
                "state": r.state,
                "last_frame_analysed": r.last_frame,
                "error": r.error,
            }
            for r in store.sources_of(s, case_id)
        ],
        "candidates": candidates,
        "timeline": timeline(candidates),
        "audit_head": f"{head.seq}:{head.hash}",
    }
    files["evidence.json"] = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    files["evidence.html"] = render_html(document, files).encode("utf-8")
    return Evidence(document, files)


def render_html(document: dict[str, Any], files: dict[str, bytes]) -> str:
    """One page, no scripts, images inline: it opens anywhere and cannot call out."""
    case = document["case"]
    e = html.escape

    def image(path: str) -> str:
        data = files.get(path)
        if data is None:
            return "—"
        encoded = base64.b64encode(data).decode("ascii")
        return f'<img src="data:image/jpeg;base64,{encoded}" alt="{e(path)}" height="96">'

    rows = "\n".join(
        f"<tr><td>{c['rank']}</td><td>{image('crops/' + str(c['crop_sha256']) + '.jpg')}</td>"
        f"<td>{e(c['camera'])}</td><td>{e(c['started_at'])}<br>{e(c['ended_at'])}</td>"
        f"<td>{c['first_frame']}–{c['last_frame']} (best {c['best_frame']})</td>"
        f"<td>{c['score']:.3f}</td><td>{e(c['review'] or 'not reviewed')}</td></tr>"
        for c in document["candidates"]
    )
    recordings = "\n".join(
        f"<tr><td>{e(r['path'])}</td><td>{e(r['camera'] or '')}</td>"
        f"<td>{e(r['started_at'] or '')} ({e(r['start_time_from'] or '')})</td>"
        f"<td><code>{e(r['sha256'] or '')}</code></td><td>{e(r['state'])}</td></tr>"
        for r in document["recordings"]
    )
    probes = " ".join(
        f"<figure>{image('probes/' + p['photo_sha256'] + '.jpg')}<figcaption><code>"
        f"{e(p['photo_sha256'][:16])}…</code></figcaption></figure>"
        for p in document["probes"]
    )
    spans = "\n".join(
        f"<li><b>{e(camera)}</b>: "
        + "; ".join(f"{e(x['from'])} – {e(x['to'])} (score {x['score']:.3f})" for x in entries)
        + "</li>"
        for camera, entries in document["timeline"].items()
    )
    matching = document["matching"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Evidence — case {e(case["reference"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}}
figure{{display:inline-block;margin:0 1em 0 0}}</style></head><body>
<h1>Evidence — case {e(case["reference"])}</h1>
<p>{e(case["purpose"].replace("_", " "))}; legal basis: {e(case["legal_basis"])}.<br>
Requested by {e(case["requested_by"])}, approved by {e(case["approved_by"] or "—")}.
Window {e(case["window_start"])} – {e(case["window_end"])};
scope: {e(", ".join(case["cameras"] + case["camera_groups"]))}.</p>
<p>Exported {e(document["exported_at"])} by {e(document["exported_by"])} under approval
{document["approval"]["id"]} (approved by {e(document["approval"]["approved_by"] or "—")}).
Audit head at export: <code>{e(document["audit_head"])}</code>.</p>
<p>Model {e(", ".join(matching["models"]))}; threshold {matching["threshold"]:.3f};
fusion {e(matching["fusion"])}.</p>
<h2>Probe photos</h2><p>{probes}</p>
<h2>Candidates, best first</h2>
<table><tr><th>rank</th><th>face</th><th>camera</th><th>time (UTC)</th><th>frames</th>
<th>score</th><th>review</th></tr>
{rows}
</table>
<h2>Timeline per camera</h2><ul>{spans}</ul>
<h2>Recordings searched</h2>
<table><tr><th>file</th><th>camera</th><th>start</th><th>SHA-256</th><th>scan</th></tr>
{recordings}
</table>
</body></html>
"""
