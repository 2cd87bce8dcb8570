"""Which frames to analyse: a steady analysis rate whatever the source's frame rate.

A frame is taken when its time reaches the next due time, and the due time then moves on by
one analysis period (not from the frame's own time), so a 25 fps source analysed at 5 fps
gives every 5th frame, and a 30 fps source at 7 fps gives gaps of 4 and 5 frames that average
out to exactly 7 per second.
"""

from __future__ import annotations

# Frame times are rationals turned into floats; this absorbs their rounding.
EPSILON_S = 1e-6


class Sampler:
    """Decides, frame by frame, whether a frame is due for analysis.

    Example::

        sampler = Sampler(5.0)
        [t for t in (i / 25 for i in range(25)) if sampler.due(t)]  # 0.0, 0.2, 0.4, 0.6, 0.8
    """

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"the analysis rate must be above 0 frames per second, not {fps}")
        self.period = 1.0 / fps
        self._next: float | None = None

    def due(self, t: float) -> bool:
        """Whether the frame at time ``t`` (seconds, non-decreasing) is to be analysed."""
        if self._next is not None and t < self._next - EPSILON_S:
            return False
        if self._next is None:
            self._next = t
        self._next += self.period
        if self._next <= t:
            # After a gap in the source (a stall, a seek), restart the rhythm instead of
            # taking a burst of frames to catch up with due times long past.
            self._next = t + self.period
        return True
