"""The transparency report's numbers: what the system did in a period, in counts only.

It answers what a public, a regulator or an oversight board asks of live facial recognition:
where and when was it deployed and on whose authority, how many faces did it analyse, how
many alerts did it raise and how many of those were false, how large are the watchlists and
for what purpose, and how often did the rules stop a match. Nothing in it identifies a
person: counts come from ``activity_counts`` (which never held an identity), alerts and
matches are counted, watchlists are given by name, purpose and size.

The report also carries the audit chain's verified head, so a published report anchors the
log (see ``policy.audit``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from watchkeeper.policy import audit
from watchkeeper.policy.deployments import describe
from watchkeeper.policy.eligibility import DEFAULT_GROUP
from watchkeeper.store import alerts as alert_store
from watchkeeper.store import crowd as crowd_store
from watchkeeper.store import policy as policy_store
from watchkeeper.store import repository
from watchkeeper.store.models import PURPOSES
from watchkeeper.store.policy import BLOCK_REASONS

ALERT_STATES = ("new", "confirmed", "rejected", "escalated")
HOURLY_UP_TO = timedelta(days=3)  # longer periods are charted per day


def build_report(s: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """Every number of the report for ``[start, end)``, as plain JSON values."""
    if end <= start:
        raise ValueError(f"the report period must end after it starts ({start} → {end})")
    groups = policy_store.camera_groups(s)
    activity = policy_store.activity(s, start, end)
    per_group: dict[str, dict[str, Any]] = defaultdict(_empty_group)
    operating: dict[str, set[datetime]] = defaultdict(set)
    buckets: dict[str, Counter[str]] = defaultdict(Counter)
    blocked: Counter[str] = Counter()
    for row in activity:
        group = groups.get(row.camera, DEFAULT_GROUP)
        figures = per_group[group]
        figures["cameras"].add(row.camera)
        for name in ("frames", "faces", "sightings"):
            figures[name] += getattr(row, name)
        for reason in BLOCK_REASONS:
            n = getattr(row, f"blocked_{reason}")
            figures["blocked"][reason] += n
            blocked[reason] += n
        if row.frames:
            operating[group].add(row.hour)
            figures["camera_hours"] += 1
        bucket = row.hour if end - start <= HOURLY_UP_TO else row.hour.replace(hour=0)
        buckets[bucket.isoformat()][group] += row.faces

    deployments = policy_store.deployments_overlapping(s, start, end)
    windows: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for deployment in deployments:
        per_group[deployment.camera_group]["deployments"] += 1
        windows[deployment.camera_group].append(_window(deployment, start, end))
    for group, spans in windows.items():
        per_group[group]["authorised_hours"] = _union_hours(spans)

    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "generated_at": datetime.now(UTC).isoformat(),
        "deployments": [
            describe(s, d) | {"hours_in_period": round(_hours_within(d, start, end), 2)}
            for d in deployments
        ],
        "camera_groups": {
            group: {
                "cameras": len(figures["cameras"]),
                "deployments": figures["deployments"],
                "authorised_hours": round(figures["authorised_hours"], 2),
                "hours_of_operation": len(operating[group]),
                "camera_hours": figures["camera_hours"],
                "frames_analysed": figures["frames"],
                "faces_analysed": figures["faces"],
                "sightings": figures["sightings"],
                "blocked_by_policy": dict(figures["blocked"]),
            }
            for group, figures in sorted(per_group.items())
        },
        "totals": {
            "frames_analysed": sum(r.frames for r in activity),
            "faces_analysed": sum(r.faces for r in activity),
            "sightings": sum(r.sightings for r in activity),
            "matches_stored": repository.matches_between(s, start, end),
        },
        "faces_analysed_over_time": {k: dict(v) for k, v in sorted(buckets.items())},
        "alerts": _alerts(s, start, end),
        "watchlists": _watchlists(s),
        "blocked_by_policy": {reason: blocked[reason] for reason in BLOCK_REASONS},
        "crowd_counting": _crowd(s, start, end),
        "audit": _audit(s),
    }


def _crowd(s: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """Per camera group: hours of people counting (camera-minutes / 60) and crowd alerts.

    Counting identifies nobody and keeps only per-minute aggregates; the report says how much
    of it there was and how often a zone passed a limit, still counts only.
    """
    by_group = crowd_store.counting_minutes_by_group(s, start, end)
    return {
        group: {"hours_counted": round(minutes / 60, 2), "crowd_alerts": alerts}
        for group, (minutes, alerts) in sorted(by_group.items())
    }


def _empty_group() -> dict[str, Any]:
    return {
        "cameras": set(),
        "deployments": 0,
        "authorised_hours": 0.0,
        "camera_hours": 0,
        "frames": 0,
        "faces": 0,
        "sightings": 0,
        "blocked": Counter({reason: 0 for reason in BLOCK_REASONS}),
    }


def _window(
    deployment: policy_store.Deployment, start: datetime, end: datetime
) -> tuple[datetime, datetime]:
    """The part of the period in which the deployment was in force."""
    stop = min(end, deployment.ends_at, deployment.revoked_at or deployment.ends_at)
    begin = max(start, deployment.starts_at)
    return begin, max(begin, stop)


def _hours_within(deployment: policy_store.Deployment, start: datetime, end: datetime) -> float:
    begin, stop = _window(deployment, start, end)
    return (stop - begin).total_seconds() / 3600


def _union_hours(spans: list[tuple[datetime, datetime]]) -> float:
    """Hours covered by at least one span: lists deployed together count once for the group."""
    total, reach = 0.0, None
    for begin, stop in sorted(spans):
        if reach is not None and begin < reach:
            begin = reach
        if stop > begin:
            total += (stop - begin).total_seconds()
            reach = stop
    return total / 3600


def _alerts(s: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """Alerts raised in the period by their current state; 0 with a note where none exist."""
    counted = alert_store.state_counts(s, start, end)
    if counted is None:
        return {**dict.fromkeys(ALERT_STATES, 0), "total": 0, "false_alert_rate": None,
                "note": "this installation has no alerts table"}  # fmt: skip
    states = dict.fromkeys(ALERT_STATES, 0) | counted
    decided = states["confirmed"] + states["rejected"]
    return {
        **states,
        "total": sum(states.values()),
        "false_alert_rate": round(states["rejected"] / decided, 4) if decided else None,
        "note": "false-alert rate = rejected / (confirmed + rejected); alerts still new or "
        "escalated are not decided yet",
    }


def _watchlists(s: Session) -> dict[str, Any]:
    """Lists and their sizes as of now, by purpose (no names of persons)."""
    now = datetime.now(UTC)
    unapproved = policy_store.unapproved_persons(s)
    lists = []
    by_purpose = {p: {"lists": 0, "entries": 0} for p in PURPOSES}
    for wl, persons in repository.watchlist_entries(s):
        expired = sum(1 for _, expires in persons if expires is not None and expires <= now)
        pending = sum(1 for pid, _ in persons if pid in unapproved)
        lists.append(
            {
                "name": wl.name,
                "purpose": wl.purpose,
                "legal_basis": wl.legal_basis,
                "owner": wl.owner,
                "review_by": wl.review_by.isoformat() if wl.review_by else None,
                "entries": len(persons),
                "expired_entries": expired,
                "pending_approval": pending,
            }
        )
        by_purpose[wl.purpose]["lists"] += 1
        by_purpose[wl.purpose]["entries"] += len(persons)
    return {"as_of": now.isoformat(), "by_purpose": by_purpose, "lists": lists}


def _audit(s: Session) -> dict[str, Any]:
    report = audit.verify(s)
    return {
        "verified": report.ok,
        "events": report.checked,
        "head": f"{report.head_seq}:{report.head_hash}",
        "problem": report.problem,
    }
