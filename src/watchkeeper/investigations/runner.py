"""Scans started through the API: one background thread per case, at most one per case.

The thread runs the same :func:`~watchkeeper.investigations.scan.run_scan` as the command
line (worker processes, checkpoints); its progress is read from the store like any scan's, so
the API shows the same progress whoever started the scan. A scan may only read recordings
under ``investigations.recordings_dir``: a user of the API must not be able to make the
server open any file it can read.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from watchkeeper.context import AppContext
from watchkeeper.investigations.errors import CaseRefused, InvestigationError
from watchkeeper.investigations.scan import ScanReport, ScanRequest, run_scan

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BackgroundScan:
    thread: threading.Thread
    report: ScanReport | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.thread.is_alive()


class ScanRunner:
    """The API's scans, by case id."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._scans: dict[int, BackgroundScan] = {}
        self._lock = threading.Lock()

    def resolve(self, relative: str) -> Path:
        """A path given to the API, inside the recordings folder (else refused)."""
        root = self.ctx.settings.investigations.recordings_dir
        if root is None:
            raise InvestigationError(
                "scans cannot be started through the API here "
                "(investigations.recordings_dir is not set): use 'watchkeeper investigate scan'"
            )
        base = root.resolve()
        path = (base / relative).resolve()
        if path != base and base not in path.parents:
            raise CaseRefused(f"{relative} is outside the recordings folder")
        return path

    def start(self, case_id: int, request: ScanRequest) -> BackgroundScan:
        with self._lock:
            current = self._scans.get(case_id)
            if current is not None and current.running:
                raise InvestigationError(f"a scan of case {case_id} is already running")
            scan = BackgroundScan(
                threading.Thread(target=self._run, args=(case_id, request), daemon=True)
            )
            self._scans[case_id] = scan
            scan.thread.start()
        return scan

    def get(self, case_id: int) -> BackgroundScan | None:
        return self._scans.get(case_id)

    def _run(self, case_id: int, request: ScanRequest) -> None:
        scan = self._scans[case_id]
        try:
            scan.report = run_scan(self.ctx, request)
        except Exception as exc:  # reported through the API; the server goes on
            scan.error = str(exc)
            log.error("scan of case %s failed: %s", case_id, exc)
