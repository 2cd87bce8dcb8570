"""How long this process holds the GIL: py-spy, sampling the one thread that holds it.

Camera workers are threads of one process (docs/architecture.md), and all of them need the
GIL between the calls into FFmpeg, OpenCV, OpenVINO and ONNX Runtime that release it. The
share of wall time that *some* thread holds the GIL is therefore what bounds the cameras one
process can carry, whatever the cores: at a share of 1 every further camera only waits.

py-spy (``record --gil``) samples the process from outside at a fixed rate and keeps a stack
only when its thread holds the GIL, so the samples divided by the ticks are that share.
Checked on this kind of machine: one thread spinning in Python reads 0.999 at 100 and 200
samples a second; four such threads 0.97 (the hand-overs between them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

RATE = 100  # samples a second: py-spy keeps up with it on 2 cores (checked)


@dataclass(slots=True)
class GilSample:
    """What the sampler saw over its window."""

    seconds: float
    held: float = 0.0  # share of the window in which a counted thread held the GIL
    excluded: float = 0.0  # share held by threads left out (the bench's own camera servers)
    # where in Watchkeeper the GIL was held (the innermost of its frames), with shares
    holders: list[tuple[str, float]] = field(default_factory=list)


class GilSampler:
    """``with GilSampler(seconds) as sampler: ...`` samples this process for ``seconds``
    from entering; ``sampler.result`` is filled on leaving (which waits for the window).

    Stacks with a frame from a file named in ``exclude`` are counted apart: the benches
    serve their cameras from threads of their own process, which a service does not.
    """

    def __init__(self, seconds: float, exclude: Sequence[str] = ()) -> None:
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which(
            "py-spy"
        )
        if spy is None:
            raise SystemExit("py-spy is not installed: pip install -e '.[dev]'")
        self.spy = spy
        self.seconds = max(1, round(seconds))
        self.exclude = tuple(exclude)
        self.result = GilSample(self.seconds)
        self._folder = tempfile.TemporaryDirectory(prefix="wk-gil-")
        self._raw = Path(self._folder.name) / "gil.raw"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> GilSampler:
        self._process = subprocess.Popen(
            [
                self.spy, "record", "--pid", str(os.getpid()), "--duration", str(self.seconds),
                "--rate", str(RATE), "--format", "raw", "--output", str(self._raw),
                "--gil", "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._process is not None
        _, stderr = self._process.communicate()
        try:
            if self._process.returncode != 0 or not self._raw.exists():
                reason = stderr.decode(errors="replace").strip().splitlines()[-1:]
                raise SystemExit(
                    f"py-spy could not sample this process ({' '.join(reason)}); it needs "
                    "ptrace: run as root or set kernel.yama.ptrace_scope to 0"
                )
            self.result = self._read()
        finally:
            self._folder.cleanup()

    def _read(self) -> GilSample:
        ticks = self.seconds * RATE
        counted, excluded = Counter[str](), 0
        for line in self._raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if any(name in stack for name in self.exclude):
                excluded += int(count)
            else:
                counted[_ours(stack.split(";"))] += int(count)
        held = sum(counted.values())
        return GilSample(
            seconds=self.seconds,
            held=round(held / ticks, 4),
            excluded=round(excluded / ticks, 4),
            holders=[(frame, round(n / ticks, 4)) for frame, n in counted.most_common(12)],
        )


def _ours(frames: list[str]) -> str:
    """The function of the innermost frame of Watchkeeper's own code (or the innermost
    frame if none is), without its line: ``name (path)``."""
    frame = next((f for f in reversed(frames) if "watchkeeper/" in f), frames[-1])
    return re.sub(r":\d+\)$", ")", frame)
