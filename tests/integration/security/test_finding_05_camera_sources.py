"""Finding 5: ``POST /cameras/test`` was a port scanner and a file-existence oracle, and a
camera pointed at a local folder served the server's files through ``/snapshot``.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from security_kit import audit_events, bearer

from support.live_api import LiveApi
from watchkeeper.store.models import Camera
from watchkeeper.streams.probe import check_reachable_by_remote

ROOTS_HINT = "api.camera_file_roots"


def _supervisor(api: LiveApi):
    api.add_user("sue", "supervisor")
    return bearer(api, api.api_key("sue", None))


@pytest.mark.parametrize("uri", ["/etc", "/etc/passwd", "/etc/no-such-file", "file:///etc/hosts"])
def test_finding_05_files_outside_the_roots_are_refused_alike(api: LiveApi, uri: str):
    with _supervisor(api) as sue:
        created = sue.post("/api/v1/cameras", json={"name": "x", "uri": uri})
        tested = sue.post("/api/v1/cameras/test", json={"uri": uri, "seconds": 1})
        assert sue.get("/api/v1/cameras").json()["items"] == []
    assert created.status_code == tested.status_code == 422
    assert ROOTS_HINT in created.json()["detail"]
    assert created.json()["detail"] == tested.json()["detail"]  # exists or not: one answer


def test_finding_05_a_camera_cannot_be_moved_onto_the_servers_files(api: LiveApi):
    with _supervisor(api) as sue:
        camera = sue.post("/api/v1/cameras", json={"name": "gate", "uri": "rtsp://cam/x"}).json()
        moved = sue.patch(f"/api/v1/cameras/{camera['id']}", json={"uri": "/var/log"})
        assert moved.status_code == 422 and ROOTS_HINT in moved.json()["detail"]
        assert sue.get(f"/api/v1/cameras/{camera['id']}").json()["uri"] == "rtsp://cam/x"
    with api.ctx.db.session() as s:  # a camera the command line put on a file keeps it
        s.get(Camera, camera["id"]).uri = "/srv/clip.mp4"
    with bearer(api, api.api_key("sue", None)) as sue:
        kept = {"uri": "/srv/clip.mp4", "enabled": False}
        assert sue.patch(f"/api/v1/cameras/{camera['id']}", json=kept).status_code == 200


def test_finding_05_files_under_a_configured_root_are_accepted(start_api, tmp_path: Path):
    folder = tmp_path / "footage" / "gate"
    folder.mkdir(parents=True)
    api = start_api(api={"camera_file_roots": [str(tmp_path / "footage")]})
    with _supervisor(api) as sue:
        reply = sue.post("/api/v1/cameras", json={"name": "gate", "uri": str(folder)})
        escape = sue.post("/api/v1/cameras", json={"name": "up", "uri": f"{folder}/../../.."})
    assert reply.status_code == 201
    assert escape.status_code == 422


def test_finding_05_symbolic_links_out_of_a_root_are_followed_and_refused(tmp_path: Path):
    root = tmp_path / "footage"
    root.mkdir()
    (root / "etc").symlink_to("/etc")
    with pytest.raises(ValueError, match=ROOTS_HINT):
        check_reachable_by_remote(str(root / "etc"), [root])
    check_reachable_by_remote("/dev/video0", [])
    with pytest.raises(ValueError, match=ROOTS_HINT):
        check_reachable_by_remote("/dev/video0/../../etc/passwd", [])


def _listener() -> tuple[socket.socket, int]:
    """An open TCP port that accepts and says nothing sensible (not a camera)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    return server, server.getsockname()[1]


def test_finding_05_open_and_closed_ports_give_one_answer(api: LiveApi):
    server, open_port = _listener()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        with _supervisor(api) as sue:
            replies = [
                sue.post(
                    "/api/v1/cameras/test",
                    json={"uri": f"rtsp://127.0.0.1:{port}/x", "seconds": 1},
                ).json()
                for port in (open_port, closed_port)
            ]
    finally:
        server.close()
    assert replies[0] == replies[1]
    assert replies[0]["ok"] is False and replies[0]["seconds"] == 1


def test_finding_05_camera_tests_are_rate_limited_per_user(start_api):
    api = start_api(api={"camera_tests_per_minute": 2})
    with _supervisor(api) as sue:
        statuses = [
            sue.post("/api/v1/cameras/test", json={"uri": "/etc/passwd"}).status_code
            for _ in range(3)
        ]
    assert statuses == [422, 422, 429]
    assert len(audit_events(api, "camera.test")) == 0  # refused URIs were never opened
