"""Dependencies shared by the routes: the live service state (settings come from
`rag.config.get_settings`, which tests replace through `app.dependency_overrides`)."""

from __future__ import annotations

from fastapi import Request

from api.errors import Unavailable
from api.state import ServiceState
from rag.config import get_settings

__all__ = ["get_settings", "get_state"]


def get_state(request: Request) -> ServiceState:
    state = getattr(request.app.state, "service", None)
    if state is None:
        raise Unavailable("the service is starting: the index is not loaded yet")
    return state
