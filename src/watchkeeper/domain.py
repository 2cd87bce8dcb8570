"""The values that travel through Watchkeeper, from a camera frame to a match.

They are plain dataclasses of NumPy arrays and numbers: no I/O, no framework types, so that
every stage can be tested alone and every value a worker emits can be pickled and sent to
another process or machine (see DESIGN.md, "Scale-out").

The faces of one frame travel together as one columnar batch (:class:`Faces`) so that
quality filtering, alignment and gallery search run vectorised over the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ImageArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture of a camera, stamped with where and when it was taken.

    ``timestamp`` is the wall-clock time of the picture (for a file: the file's start time,
    or the Unix epoch, plus the presentation time), ``index`` the source frame number.
    """

    camera: str
    index: int
    timestamp: float
    image: ImageArray  # H×W×3, BGR, uint8

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp).astimezone()


@dataclass(slots=True)
class Faces:
    """The faces found in one image, as parallel arrays (one row per face).

    Index it with a boolean mask or an index array to filter: ``faces[faces.scores > 0.8]``.
    """

    boxes: FloatArray  # (N, 4) x1, y1, x2, y2 in image pixels
    landmarks: FloatArray  # (N, 5, 2) right eye, left eye, nose, right and left mouth corner
    scores: FloatArray  # (N,) detector confidence 0..1
    quality: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32))  # (N,) 0..1

    def __post_init__(self) -> None:
        if self.quality.shape[0] != self.boxes.shape[0]:
            self.quality = np.zeros(self.boxes.shape[0], np.float32)

    @classmethod
    def empty(cls) -> Faces:
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            landmarks=np.zeros((0, 5, 2), np.float32),
            scores=np.zeros(0, np.float32),
        )

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def __getitem__(self, index: Any) -> Faces:
        return Faces(
            boxes=self.boxes[index].reshape(-1, 4),
            landmarks=self.landmarks[index].reshape(-1, 5, 2),
            scores=np.atleast_1d(self.scores[index]),
            quality=np.atleast_1d(self.quality[index]),
        )

    @property
    def sizes(self) -> FloatArray:
        """The shorter side of each box, in pixels: what decides whether a face is usable."""
        wh = self.boxes[:, 2:4] - self.boxes[:, 0:2]
        return np.asarray(wh.min(axis=1), np.float32)

    def largest(self) -> int:
        """Index of the face with the largest box area."""
        wh = self.boxes[:, 2:4] - self.boxes[:, 0:2]
        return int(np.argmax(wh[:, 0] * wh[:, 1]))


@dataclass(frozen=True, slots=True)
class Template:
    """A face embedding and the model that made it: templates of different models never meet."""

    vector: FloatArray  # (D,) L2-normalised
    model: str  # e.g. "sface-2021dec-int8bq@1"


@dataclass(slots=True)
class Observation:
    """One face of one track in one frame: what a track keeps while it is open."""

    frame_index: int
    timestamp: float
    box: FloatArray  # (4,)
    landmarks: FloatArray  # (5, 2)
    score: float
    quality: float
    aligned: ImageArray  # 112×112×3 BGR, kept only for the best frames of a track
    template: FloatArray | None = None  # its embedding, once computed (never computed twice)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Why one sighting did, or did not, produce a match: numbers and a reason, nothing else.

    Filled in by the matcher so that an operator (and ``run --json``) can tell a person who was
    not there from one who was seen but scored too low, was never embedded, or was blocked by
    the accountability rules. It holds no template and no crop: a non-match leaves only this.
    """

    embedded: int  # faces of the track that were embedded
    best_score: float | None  # the highest fused score against anyone enrolled (None: nobody)
    threshold: float | None  # the threshold of that best candidate's watchlist
    reason: str  # one of REASONS

    REASONS = (
        "matched",
        "below threshold",
        "not embedded: no face of the track was embedded",
        "nothing enrolled",
        "no authorised deployment",
        "person pending approval",
        "entry expired",
        "watchlist review overdue",
    )


@dataclass(slots=True)
class Sighting:
    """A person seen by one camera for a while: a closed track, reduced to what matching needs.

    It lives in memory only. It reaches the store only when it matched a watchlist (or when
    the camera's retention policy archives it), so passers-by leave no trace.
    """

    camera: str
    track_id: int
    started_at: float
    ended_at: float
    first_frame: int
    last_frame: int
    detections: int  # frames in which the track was seen
    best_frame: int
    best_box: FloatArray  # (4,) in the best frame
    best_crop: ImageArray  # the face with a margin, cut from the best frame, BGR
    best_quality: float
    templates: FloatArray  # (K, D) embeddings of the K best frames
    model: str
    template_frames: list[int] = field(default_factory=list)
    outcome: Outcome | None = None  # set by the matcher: why it matched or did not

    @property
    def duration(self) -> float:
        return self.ended_at - self.started_at


@dataclass(frozen=True, slots=True)
class Candidate:
    """One enrolled person that a probe resembles, before the open-set decision."""

    person_id: int
    watchlist_id: int
    score: float  # fused cosine similarity
    template_id: int  # the enrolled template that scored best


@dataclass(frozen=True, slots=True)
class Match:
    """A sighting that resembles an enrolled person above that watchlist's threshold."""

    camera: str
    track_id: int
    person_id: int
    watchlist_id: int
    score: float
    threshold: float
    template_id: int
    model: str
