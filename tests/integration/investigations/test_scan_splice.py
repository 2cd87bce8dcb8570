"""A case for the person seen only after a cut finds them there (spliced recording).

Before scene-cut detection the scan carried the first segment's clearest track across the
cut; screened on its best face (the first person), the second person's faces were never
compared with the probe, and the case found them nowhere after the cut.
"""

from __future__ import annotations

from pathlib import Path

from case_kit import CLIP_START, open_case

from splice_kit import CUT, second_person_jpeg, spliced_clip
from watchkeeper.investigations import results, scan


def test_a_case_for_the_second_person_finds_them_after_the_cut(ctx, tmp_path: Path) -> None:
    spliced = spliced_clip(tmp_path / "spliced.mp4")
    folder = tmp_path / "rec"
    folder.mkdir()
    video = folder / f"arcade_{CLIP_START:%Y%m%d-%H%M%S}.mp4"
    video.symlink_to(spliced)
    case_id = open_case(ctx, probe=second_person_jpeg(spliced))
    request = scan.ScanRequest(case_id, [video], workers=1)
    report = scan.run_scan(ctx, request, None, analyzer=ctx.analyzer)
    (done,) = report.files
    assert (done.state, done.frames_analysed) == ("done", 21)
    with ctx.db.session() as s:
        found = results.ranked(s, case_id)
    assert found, "no candidate for the second person"
    after = [c for c in found if c["first_frame"] >= CUT]
    assert after and after[0]["best_frame"] >= CUT
    assert all(not (c["first_frame"] < CUT <= c["last_frame"]) for c in found)
