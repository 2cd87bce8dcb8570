"""Real camera servers for the service tests and benchmarks: RTSP, MJPEG over HTTP, garbage.

RTSP: FFmpeg cannot be an RTSP *server* (``-rtsp_flags listen`` is for receiving a pushed
stream), and no RTSP server is packaged for Debian or PyPI that does TCP-interleaved
delivery. So FFmpeg does the real work — reads the clip in real time (``-re``), loops it and
packetises the H.264 into RTP (``-f rtp``, no re-encoding) — and :class:`RtspServer` is a
minimal RTSP (RFC 2326) front: OPTIONS, DESCRIBE (FFmpeg's SDP), SETUP (TCP interleaved
only), PLAY, GET_PARAMETER, TEARDOWN, relaying every RTP packet to each playing client.
Stopping it drops every client, as a rebooting camera does; starting it again on the same
port brings the stream back. Each client has its own send queue, as a camera has a send
buffer per viewer: a client that reads too slowly falls behind (``backlog_s`` says by how
much) and, past ``MAX_QUEUED`` packets, loses packets (``dropped``) without slowing anyone else.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import queue
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from support.tools import require

BOUNDARY = b"frame"
MAX_QUEUED = 4000  # RTP packets (~5 MB, a few seconds of the 1080p clip) per client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _udp_pair() -> tuple[socket.socket, socket.socket]:
    """Two UDP sockets on consecutive ports (RTP even, RTCP odd), as RTP senders expect."""
    for _ in range(50):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.0.1", 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind(("127.0.0.1", port + 1))
                return rtp, rtcp
            except OSError:
                rtcp.close()
        rtp.close()
    raise RuntimeError("no free pair of UDP ports")


class RtspServer:
    """Serves ``clip`` (looped, real time) at ``rtsp://127.0.0.1:<port>/live``."""

    def __init__(self, clip: Path, port: int | None = None) -> None:
        require("ffmpeg")
        self.clip = clip
        self.port = port or free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/live"
        self.clients: dict[socket.socket, _Viewer] = {}
        self.sessions = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self._running = False
        self._ffmpeg: subprocess.Popen[bytes] | None = None
        self._listener: socket.socket | None = None
        self._udp: tuple[socket.socket, socket.socket] | None = None
        self._sdp = ""

    def start(self) -> RtspServer:
        self._udp = _udp_pair()
        rtp_port = self._udp[0].getsockname()[1]
        folder = Path(tempfile.mkdtemp(prefix="rtsp-"))
        sdp_file = folder / "stream.sdp"
        self._ffmpeg = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
             "-i", str(self.clip), "-an", "-c:v", "copy", "-f", "rtp", "-sdp_file",
             str(sdp_file), f"rtp://127.0.0.1:{rtp_port}?pkt_size=1400"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not (sdp_file.exists() and "m=video" in sdp_file.read_text()):
            if time.monotonic() > deadline or self._ffmpeg.poll() is not None:
                self.stop()
                raise RuntimeError("ffmpeg did not start sending RTP")
            time.sleep(0.02)
        self._sdp = _with_controls(sdp_file.read_text())
        shutil.rmtree(folder, ignore_errors=True)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._relay, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop like a camera losing power: the listener, every client and FFmpeg go."""
        self._running = False
        if self._listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone leaves the port bound
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            clients, self.clients = self.clients, {}
        for client, viewer in clients.items():
            viewer.close()
            _close(client)
        if self._ffmpeg is not None:
            self._ffmpeg.kill()
            self._ffmpeg.wait()
        if self._udp is not None:
            for sock in self._udp:
                sock.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while self._running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _relay(self) -> None:
        assert self._udp is not None
        rtp = self._udp[0]
        while self._running:
            try:
                packet = rtp.recv(65536)
            except OSError:
                return
            frame = b"$\x00" + struct.pack(">H", len(packet)) + packet
            now = time.monotonic()
            with self._lock:
                viewers = list(self.clients.values())
            for viewer in viewers:
                try:
                    viewer.queue.put_nowait((now, frame))
                except queue.Full:
                    self.dropped += 1

    def _serve(self, client: socket.socket) -> None:
        session = f"{next(_SESSION_IDS):08d}"
        buffer = b""
        try:
            while self._running:
                request, buffer = _read_request(client, buffer)
                if request is None:
                    return
                method, url, headers = request
                cseq = headers.get("cseq", "0")
                reply = self._answer(method, url, headers, session)
                client.sendall(f"RTSP/1.0 {reply[0]}\r\nCSeq: {cseq}\r\n{reply[1]}".encode())
                if method == "PLAY":
                    viewer = _Viewer(client)
                    with self._lock:
                        self.clients[client] = viewer
                        self.sessions += 1
                    threading.Thread(target=viewer.send, daemon=True).start()
                elif method == "TEARDOWN":
                    return
        except OSError:
            return
        finally:
            with self._lock:
                gone = self.clients.pop(client, None)
            if gone is not None:
                gone.close()
            _close(client)

    def backlog_s(self) -> float:
        """How far behind the live stream the slowest client is, in seconds."""
        with self._lock:
            return max((v.behind for v in self.clients.values()), default=0.0)

    def _answer(
        self, method: str, url: str, headers: dict[str, str], session: str
    ) -> tuple[str, str]:
        if method == "OPTIONS":
            return (
                "200 OK",
                "Public: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN\r\n\r\n",
            )
        if method == "DESCRIBE":
            body = self._sdp.encode()
            return "200 OK", (
                f"Content-Base: {url.rstrip('/')}/\r\nContent-Type: application/sdp\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{self._sdp}"
            )
        if method == "SETUP":
            if "interleaved" not in headers.get("transport", ""):
                return "461 Unsupported Transport", "\r\n"
            return "200 OK", (
                f"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: {session}\r\n\r\n"
            )
        if method in ("PLAY", "GET_PARAMETER", "TEARDOWN"):
            return "200 OK", f"Session: {session}\r\n\r\n"
        return "405 Method Not Allowed", "\r\n"


_SESSION_IDS = itertools.count(10_000_000)


class _Viewer:
    """One playing client: its queue of interleaved RTP packets and how late they go out."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.queue: queue.Queue[tuple[float, bytes]] = queue.Queue(MAX_QUEUED)
        self.behind = 0.0

    def close(self) -> None:
        with contextlib.suppress(queue.Full):  # full: the closed socket ends the sender
            self.queue.put_nowait((0.0, b""))

    def send(self) -> None:
        while True:
            queued_at, frame = self.queue.get()
            if not frame:
                return
            try:
                self.sock.sendall(frame)
            except OSError:
                return
            self.behind = time.monotonic() - queued_at


def _with_controls(sdp: str) -> str:
    lines = [line for line in sdp.strip().splitlines() if line and not line.startswith("a=control")]
    out = []
    for line in lines:
        out.append(line)
        if line.startswith("t="):
            out.append("a=control:*")
        if line.startswith("m=video"):
            out.append("a=control:trackID=0")
    return "\r\n".join(out) + "\r\n"


def _read_request(
    client: socket.socket, buffer: bytes
) -> tuple[tuple[str, str, dict[str, str]] | None, bytes]:
    """The next RTSP request, skipping interleaved RTCP the client sends; None at EOF."""
    while True:
        while buffer[:1] == b"$":
            while len(buffer) < 4:
                chunk = client.recv(4096)
                if not chunk:
                    return None, b""
                buffer += chunk
            size = struct.unpack(">H", buffer[2:4])[0]
            while len(buffer) < 4 + size:
                chunk = client.recv(4096)
                if not chunk:
                    return None, b""
                buffer += chunk
            buffer = buffer[4 + size :]
        if b"\r\n\r\n" in buffer:
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, url, _version = ([*lines[0].split(" "), "", ""])[:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            while len(buffer) < length:
                chunk = client.recv(4096)
                if not chunk:
                    return None, b""
                buffer += chunk
            return (method, url, headers), buffer[length:]
        chunk = client.recv(4096)
        if not chunk:
            return None, b""
        buffer += chunk


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# --- HTTP cameras ------------------------------------------------------------------------------


@dataclass
class HttpCamera:
    """An HTTP camera on a local port; ``body`` writes what each GET receives."""

    body: Callable[[http.server.BaseHTTPRequestHandler, threading.Event], None]
    content_type: str = f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}"
    stop_event: threading.Event = field(default_factory=threading.Event)
    requests: int = 0
    url: str = ""
    _server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> HttpCamera:
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                camera.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", camera.content_type)
                self.end_headers()
                try:
                    camera.body(self, camera.stop_event)
                except OSError:
                    return

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stream"
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def mjpeg_camera(jpegs: list[bytes], fps: float = 25.0) -> HttpCamera:
    """An MJPEG camera sending ``jpegs`` in a loop at ``fps``, like a cheap IP camera."""

    def body(handler: http.server.BaseHTTPRequestHandler, stop: threading.Event) -> None:
        for jpeg in itertools.cycle(jpegs):
            head = b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
            handler.wfile.write(head % (BOUNDARY, len(jpeg)) + jpeg + b"\r\n")
            if stop.wait(1 / fps):
                return

    return HttpCamera(body)


def garbage_camera() -> HttpCamera:
    """A "camera" that answers 200 and then streams random bytes: no video in it."""

    def body(handler: http.server.BaseHTTPRequestHandler, stop: threading.Event) -> None:
        noise = bytes(range(256)) * 64
        while not stop.wait(0.01):
            handler.wfile.write(noise)

    return HttpCamera(body, content_type="video/mp4")
