"""How far apart a stream's key frames come, and whether decoding them alone is safe.

A key frame decodes on its own; the frames between refer back to it. A camera whose picture
has been still for a while can therefore skip every packet but the key frames and still be
decoded correctly when it wakes — provided it wakes right after a key frame, which holds when
the wish is read only between packets: while key frames only are decoded, the last packet the
decoder took was one. How often a still camera looks is then the stream's key-frame interval,
so a stream whose key frames come further apart than the limit (a long or "smart" GOP) is
never put to key frames only.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from typing import Any

import av

RECENT_GAPS = 4  # the longest of the last few intervals decides: GOPs may vary


class KeyFrameClock:
    """Watches the packets of one stream for key frames and times the gaps between them."""

    def __init__(self, max_interval_s: float, time_base: Fraction) -> None:
        self.max_interval_s = max_interval_s
        self.time_base = time_base
        self._last: float | None = None
        self._gaps: deque[float] = deque(maxlen=RECENT_GAPS)

    def see(self, packet: av.Packet[Any]) -> None:
        if not packet.is_keyframe or packet.pts is None:
            return
        at = float(packet.pts * self.time_base)
        if self._last is not None and at > self._last:
            self._gaps.append(at - self._last)
        self._last = at

    @property
    def interval_s(self) -> float | None:
        """The longest recent gap between key frames (seconds); None before two were seen."""
        return max(self._gaps) if self._gaps else None

    @property
    def short_enough(self) -> bool:
        """Whether key frames come often enough to look at them alone (two gaps seen at least)."""
        return len(self._gaps) >= 2 and max(self._gaps) <= self.max_interval_s

    @staticmethod
    def skippable(packet: av.Packet[Any]) -> bool:
        """A packet that may be left undecoded while key frames only are wanted: not a key
        frame, and not the empty packet that flushes the decoder at the end."""
        return not packet.is_keyframe and packet.size > 0
