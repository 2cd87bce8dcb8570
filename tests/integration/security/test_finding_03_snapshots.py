"""Finding 3, live frames: a camera snapshot is a face image, and watching one is audited.

Runs the real camera service on a small MJPEG camera, so that ``/snapshot`` has a frame.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import httpx
from security_kit import audit_events

from support.camera_servers import mjpeg_camera
from support.live_api import LiveApi
from support.service_harness import add_user, make_context, serve_api, wait_for
from watchkeeper.api.app import create_app
from watchkeeper.demo import CLIP
from watchkeeper.service import Services
from watchkeeper.streams import open_source
from watchkeeper.usecases import cameras as registry
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.imageio import encode_jpeg


def _jpegs(count: int = 5) -> list[bytes]:
    source = open_source(str(CLIP), "clip", analysis_fps=25)
    pictures = []
    for frame in source.frames():
        pictures.append(encode_jpeg(cv2.resize(frame.image, (320, 180)), quality=80))
        if len(pictures) == count:
            break
    source.close()
    return pictures


def test_finding_03_snapshots_need_the_face_permission_and_watching_is_audited(
    tmp_path: Path, analyzer: FaceAnalyzer
):
    camera_server = mjpeg_camera(_jpegs(), fps=5).start()
    ctx = make_context(tmp_path / "data", analyzer)
    app = create_app(ctx, services=Services(ctx), load_models=False)
    server, thread, url = serve_api(app)
    try:
        camera = registry.add_camera(ctx.db, "test", {"name": "gate", "uri": camera_server.url})
        app.state.services.cameras.apply(camera["id"])
        operator, auditor = add_user(ctx, "olga", "operator"), add_user(ctx, "ada", "auditor")
        path = f"{url}/api/v1/cameras/{camera['id']}/snapshot"

        def shown(token: str) -> httpx.Response:
            return httpx.get(path, headers={"Authorization": f"Bearer {token}"}, timeout=10)

        first = wait_for(lambda: (r := shown(operator)).status_code == 200 and r, 30, "a frame")
        assert first.content[:2] == b"\xff\xd8"
        assert shown(operator).status_code == 200  # the wall reloads: covered by the first
        assert shown(auditor).status_code == 403
        views = audit_events(LiveApi(url, app, ctx), "camera.snapshot.view")
        assert [(actor, d["name"]) for _, actor, d in views] == [("user:olga (api key 1)", "gate")]
    finally:
        server.should_exit = True
        thread.join(10)
        camera_server.stop()
        ctx.close()
