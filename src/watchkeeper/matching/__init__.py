"""Matching: search a sighting's templates in the gallery and decide open-set."""

from watchkeeper.matching.decision import Decision, Fusion, Verdict, decide
from watchkeeper.matching.gallery import Gallery, IdentityScores, SearchResult

__all__ = [
    "Decision",
    "Fusion",
    "Gallery",
    "IdentityScores",
    "SearchResult",
    "Verdict",
    "decide",
]
