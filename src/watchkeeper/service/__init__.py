"""The single-machine runtime of ``watchkeeper serve``: cameras, batched inference, alerts.

``manager`` runs one camera ``runner`` (a :class:`~watchkeeper.pipeline.CameraWorker` on a
thread) per enabled camera; ``batcher`` is the inference interface they share; ``runtime``
wires them with the alert service, the outbox dispatcher and the live event broker into
the :class:`~watchkeeper.usecases.runtime.Runtime` that ``serve`` hosts; ``cli`` is
``watchkeeper camera``. See docs/architecture.md.
"""

from watchkeeper.service.batcher import Inference, InferenceBatcher
from watchkeeper.service.camera import CameraRunner, CameraSpec
from watchkeeper.service.manager import CameraManager
from watchkeeper.service.runtime import Services

__all__ = [
    "CameraManager",
    "CameraRunner",
    "CameraSpec",
    "Inference",
    "InferenceBatcher",
    "Services",
]
