"""Dependencies shared by the routes: the live service state (settings come from
`rag.config.get_settings`, which tests replace through `app.dependency_overrides`)."""

from __future__ import annotations

from fastapi import Request

from api.errors import Unavailable
from api.state import ServiceState
from rag.config import get_settings

__all__ = ["get_settings", "get_state"]


async def get_state(request: Request) -> ServiceState:
    # async although it only reads an attribute: FastAPI runs a plain `def` dependency in its worker
    # threads, and a burst of 1,000 requests then started 40 of them that stayed, with 28 MB more
    # resident memory that never came back (bench/chaos_fuzz.py; 8 MB with this).
    state = getattr(request.app.state, "service", None)
    if state is None:
        raise Unavailable("the service is starting: the index is not loaded yet")
    return state
