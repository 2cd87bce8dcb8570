"""API throughput for the alert list: what an operations centre's screens and integrations
put on the server when they poll `GET /api/v1/alerts`.

A fresh store gets ``--alerts`` alerts (through the real alert service: sighting, match, crop
file, alert, outbox rows and audit record each), then the real app is served by uvicorn on
127.0.0.1 and asked for the newest page of 50 alerts, first by one client, then by several at
once. Prints requests/s and latency percentiles.

    .venv/bin/python bench/api.py [--alerts 2000] [--requests 1000] [--clients 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn

from watchkeeper.alerts.service import AlertService, CameraRef
from watchkeeper.api.app import create_app
from watchkeeper.config import Settings
from watchkeeper.context import AppContext
from watchkeeper.domain import Match, Sighting
from watchkeeper.enrolment import enrol_person
from watchkeeper.policy import accounts
from watchkeeper.store import repository

PHOTO = Path(__file__).parents[1] / "examples" / "data" / "deepface-pairs" / "img1.jpg"


def seed(ctx: AppContext, alerts: int) -> None:
    """``alerts`` alerts on as many cameras (one person each: nothing folds)."""
    with ctx.db.session() as s:
        repository.create_watchlist(s, "bench", "missing_person", "bench", "bench")
    person = enrol_person(
        ctx.db, ctx.media, ctx.analyzer, watchlist="bench", name="A",
        photos=[(PHOTO.name, PHOTO.read_bytes())], actor="bench",
        max_pixels=10**8, min_quality=0.3,
    )  # fmt: skip
    with ctx.db.session() as s:
        watchlist = repository.get_watchlist(s, "bench").id
        template = repository.gallery_templates(s, ctx.analyzer.model)[3][0]
    service = AlertService(ctx.db, ctx.media, ctx.settings.notifications)
    crop = np.full((96, 96, 3), 128, np.uint8)
    now = time.time()
    for i in range(alerts):
        sighting = Sighting(
            camera=f"cam-{i}", track_id=1, started_at=now, ended_at=now + 1, first_frame=0,
            last_frame=5, detections=5, best_frame=2, best_box=np.zeros(4, np.float32),
            best_crop=crop, best_quality=0.8, templates=template[None, :], model=ctx.analyzer.model,
        )  # fmt: skip
        match = Match(
            camera=f"cam-{i}", track_id=1, person_id=person.person_id, watchlist_id=watchlist,
            score=0.8, threshold=0.363, template_id=1, model=ctx.analyzer.model,
        )  # fmt: skip
        service.record(CameraRef(f"cam-{i}", "bench://"), [(sighting, [match])])


def serve(ctx: AppContext) -> tuple[uvicorn.Server, str]:
    app = create_app(ctx, load_models=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


def hammer(url: str, token: str, requests: int, clients: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}

    def one_client(count: int) -> list[float]:
        timings = []
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for _ in range(count):
                started = time.perf_counter()
                reply = client.get("/api/v1/alerts", params={"limit": 50})
                timings.append(time.perf_counter() - started)
                reply.raise_for_status()
        return timings

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        runs = list(pool.map(one_client, [requests // clients] * clients))
    elapsed = time.perf_counter() - started
    timings = sorted(t for run in runs for t in run)
    quantiles = statistics.quantiles(timings, n=100)
    return {
        "clients": clients,
        "requests": len(timings),
        "requests_per_s": round(len(timings) / elapsed, 1),
        "p50_ms": round(1000 * quantiles[49], 1),
        "p95_ms": round(1000 * quantiles[94], 1),
        "p99_ms": round(1000 * quantiles[98], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000, help="alerts in the store")
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients, 2nd round")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    ctx = AppContext(Settings(data_dir=Path(tempfile.mkdtemp(prefix="wk-api-"))), actor="bench")
    started = time.perf_counter()
    seed(ctx, args.alerts)
    seeding = time.perf_counter() - started
    with ctx.db.session() as s:
        user = accounts.create_user(s, "bench", "bench", "bench-password-123", "supervisor")
        token = accounts.create_api_key(s, "bench", user, "bench", ["alerts:read"]).token
    server, url = serve(ctx)
    result = {
        "alerts": args.alerts,
        "alerts_written_per_s": round(args.alerts / seeding, 1),
        "rounds": [hammer(url, token, args.requests, n) for n in (1, args.clients)],
    }
    server.should_exit = True
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.alerts} alerts written at {result['alerts_written_per_s']}/s (full transaction)")
    for row in result["rounds"]:
        print(
            f"{row['clients']} client(s): {row['requests_per_s']} requests/s, "
            f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms"
        )


if __name__ == "__main__":
    main()
