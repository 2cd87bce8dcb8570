"""Evaluation: how accurate the system is on labelled data, and which threshold to run.

``metrics`` holds the definitions (ROC/DET, TAR@FAR, EER, FNIR@FPIR), ``datasets`` reads the
common layouts, ``runner`` runs verification and identification tests, ``report`` writes the
HTML and JSON evidence and ``cli`` is ``watchkeeper eval``.
"""

from watchkeeper.evaluation.runner import (
    IdentificationResult,
    VerificationResult,
    identify,
    verify,
)
from watchkeeper.evaluation.templates import Probes, TemplateStore

__all__ = [
    "IdentificationResult",
    "Probes",
    "TemplateStore",
    "VerificationResult",
    "identify",
    "verify",
]
