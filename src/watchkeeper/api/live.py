"""The live runtime behind this app, if any: what ``serve`` started beside the API.

``create_app`` keeps it on ``app.state.services``; without it (tests, ``watchkeeper api``
tools) the API still answers everything stored, and live answers say the service is not
running here.
"""

from __future__ import annotations

from fastapi import Request

from watchkeeper.usecases.runtime import Runtime


def runtime(request: Request) -> Runtime | None:
    """The runtime this app was created with, or None."""
    services: Runtime | None = request.app.state.services
    return services
