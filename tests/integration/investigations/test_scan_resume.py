"""An interrupted scan resumes from its checkpoints: same results, no duplicates, no re-reading.

Two ways to be interrupted: SIGKILL of the whole command (its worker processes die with it)
while it scans several recordings in parallel, and Ctrl-C in the middle of one recording
whose checkpoint lies in the middle (a recording with a gap in which nobody is in view).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from case_kit import CLIP_START, open_case

from watchkeeper.demo import CLIP
from watchkeeper.investigations import scan
from watchkeeper.store import Database
from watchkeeper.store import investigations as store

COPIES = ("arcade-1", "arcade-2", "arcade-3")


def _sources(db_url: str, case_id: int) -> list[store.CaseSource]:
    db = Database(db_url)
    try:
        with db.session(readonly=True) as s:
            return store.sources_of(s, case_id)
    finally:
        db.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and "spawn_main" in (entry / "cmdline").read_text():
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _by_file(candidates: list[store.CaseCandidate], sources: dict[int, str]):
    files: dict[str, set[tuple[int, int, int, int, float]]] = {}
    for c in candidates:
        files.setdefault(sources[c.source_id], set()).add(
            (c.track_id, c.first_frame, c.last_frame, c.best_frame, round(c.score, 5))
        )
    return files


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and PDEATHSIG")
def test_a_scan_killed_halfway_finishes_with_the_same_results_and_rereads_no_finished_file(
    ctx, probe_jpeg, tmp_path
):
    folder = tmp_path / "recordings"
    folder.mkdir()
    for camera in COPIES:
        shutil.copyfile(CLIP, folder / f"{camera}_{CLIP_START:%Y%m%d-%H%M%S}.mp4")
    case_id = open_case(ctx, cameras=COPIES, probe=probe_jpeg)
    url = ctx.settings.database
    command = [
        sys.executable, "-m", "watchkeeper", "--data-dir", str(ctx.settings.data_dir),
        "investigate", "scan", "MP-1", str(folder), "--workers", "2", "--json",
    ]  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    workers: set[int] = set()
    while time.monotonic() < deadline and first.poll() is None:
        workers.update(_children(first.pid))
        if any(s.state == "done" for s in _sources(url, case_id)):
            break
        time.sleep(0.1)
    assert first.poll() is None, first.communicate()
    workers.update(_children(first.pid))
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert len(workers) == 2
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "the workers outlived the killed scan"

    before = {s.path: s for s in _sources(url, case_id)}
    finished = [path for path, s in before.items() if s.state == "done"]
    unfinished = [s for s in before.values() if s.state != "done"]
    # Two workers read two copies at once, so both may just have finished; the third waits.
    assert 1 <= len(finished) <= 2 and len(before) == 3
    assert unfinished and all(s.state == "pending" for s in unfinished)
    for path in finished:  # had the second run opened them again, it would find them corrupt
        Path(path).write_bytes(b"\0" * 4096)

    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    states = {f["path"]: (f["state"], f["frames_analysed"]) for f in report["files"]}
    assert all(states[path] == ("already done", 0) for path in finished)
    assert all(states[s.path][0] == "done" for s in unfinished)
    with ctx.db.session(readonly=True) as s:
        candidates = store.candidates_of(s, case_id)
        paths = {src.id: src.path for src in store.sources_of(s, case_id)}
        assert all(src.state == "done" for src in store.sources_of(s, case_id))
    per_file = _by_file(candidates, paths)
    reference = per_file[finished[0]]  # scanned in one go before the kill
    assert reference and all(found == reference for found in per_file.values())
    assert len(per_file) == 3
    assert len(candidates) == 3 * len(reference)  # nothing twice
    assert len({(c.source_id, c.track_id) for c in candidates}) == len(candidates)


def _clip_with_a_gap(path: Path) -> Path:
    """The clip at 960×540 with 2 s of an empty scene after its first 40 frames."""
    with av.open(str(CLIP)) as source:
        frames = [f.to_ndarray(format="bgr24")[::2, ::2] for f in source.decode(video=0)]
    empty = np.zeros_like(frames[0])
    sequence = frames[:40] + [empty] * 50 + frames[40:]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 960, 540, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "25"}
        stream.time_base = Fraction(1, 25)
        for index, image in enumerate(sequence):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


class _CtrlC:
    """Interrupts the scan (as Ctrl-C would) once it analysed ``frame``."""

    def __init__(self, frame: int) -> None:
        self.frame = frame

    def planned(self, files: list[tuple[int, str, int]]) -> None:
        pass

    def advanced(self, source_id: int, frame: int) -> None:
        if frame >= self.frame:
            raise KeyboardInterrupt

    def finished(self, report: scan.FileReport) -> None:
        pass


def test_a_scan_interrupted_mid_file_resumes_after_its_last_empty_scene(ctx, probe_jpeg, tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    video = _clip_with_a_gap(folder / f"arcade_{CLIP_START:%Y%m%d-%H%M%S}.mp4")
    whole = open_case(ctx, "MP-whole", probe=probe_jpeg)
    resumed = open_case(ctx, "MP-resumed", probe=probe_jpeg)
    request = scan.ScanRequest(whole, [video], workers=1)
    reference = scan.run_scan(ctx, request, analyzer=ctx.analyzer)
    assert reference.candidates >= 2  # the subject before and after the gap

    interrupted = scan.ScanRequest(resumed, [video], workers=1)
    with pytest.raises(KeyboardInterrupt):
        scan.run_scan(ctx, interrupted, _CtrlC(120), analyzer=ctx.analyzer)
    with ctx.db.session(readonly=True) as s:
        (checkpoint,) = store.sources_of(s, resumed)
        kept_before = store.count_candidates(s, resumed)
    assert checkpoint.state == "pending" and checkpoint.last_frame >= 115
    assert 40 < checkpoint.resume_frame <= 95  # in the empty scene, after every track closed
    assert kept_before >= 1  # what was found before the checkpoint is already stored

    report = scan.run_scan(ctx, interrupted, analyzer=ctx.analyzer)
    (file,) = report.files
    assert (file.state, file.resumed_from) == ("done", checkpoint.resume_frame)
    assert file.frames_analysed < reference.files[0].frames_analysed
    with ctx.db.session(readonly=True) as s:
        expected = {
            (c.track_id, c.first_frame, c.last_frame, round(c.score, 5))
            for c in store.candidates_of(s, whole)
        }
        got = [
            (c.track_id, c.first_frame, c.last_frame, round(c.score, 5))
            for c in store.candidates_of(s, resumed)
        ]
    assert sorted(got) == sorted(expected)
