"""An alert as JSON: one shape for the API, the live events, webhooks and MQTT.

The document says who was seen where and when, how sure the match is, and how far the
review has come; never the face itself (``crop_url`` needs an authenticated request with
``persons:photos:view``, and is audited), so a notification that leaks shows no face.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from watchkeeper.store.alerts import AlertReview, AlertView

API_PREFIX = "/api/v1"


def alert_document(view: AlertView) -> dict[str, Any]:
    alert = view.alert
    confirmers = sorted({r.reviewer for r in view.reviews if r.decision == "confirm"})
    return {
        "id": alert.id,
        "state": alert.state,
        "camera": {"id": alert.camera_id, "name": view.camera, "group": view.camera_group},
        "person": {"id": alert.person_id, "name": view.person},
        "watchlist": {"id": alert.watchlist_id, "name": view.watchlist},
        "score": round(alert.score, 4),
        "threshold": round(alert.threshold, 4),
        "count": alert.count,
        "first_seen": _iso(alert.first_seen),
        "last_seen": _iso(alert.last_seen),
        "created_at": _iso(alert.created_at),
        "updated_at": _iso(alert.updated_at),
        "sighting_id": alert.sighting_id,
        "photo_id": alert.photo_id,
        "confirmations_required": alert.confirmations_required,
        "confirmed_by": confirmers,
        "actionable": alert.state == "confirmed",
        "crop_url": f"{API_PREFIX}/alerts/{alert.id}/crop",
        "reviews": [review_document(r) for r in view.reviews],
    }


def review_document(review: AlertReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "reviewer": review.reviewer,
        "user_id": review.user_id,
        "decision": review.decision,
        "comment": review.comment,
        "at": _iso(review.created_at),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()
