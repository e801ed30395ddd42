"""Running blocking `Assistant` calls in worker threads (bounded by a capacity limiter) while text
deltas flow to an async response, and the Server-Sent Events wire format."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.to_thread

KEEPALIVE_S = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(data: Any, event: str | None = None) -> str:
    """One event; `data` is sent as compact JSON (one line, so no `data:` continuation is needed)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


async def in_worker(limiter: anyio.CapacityLimiter | None, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` in a worker thread, at most `limiter.total` at once (waiters are served in order)."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=limiter)


async def ask_stream(
    work: Callable[[Callable[[str], None]], Any], limiter: anyio.CapacityLimiter | None = None
) -> AsyncIterator[tuple[str, Any]]:
    """Yield ("delta", text)... then ("reply", result) or ("error", exception), and ("ping", None)
    while nothing arrives for a while. `work(on_delta)` runs in a worker thread under `limiter`."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(item: tuple[str, Any]) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone (server shutting down): nobody is listening
            pass

    def run() -> None:
        try:
            put(("reply", work(lambda text: put(("delta", text)))))
        except BaseException as e:  # noqa: BLE001 - delivered to the stream as an error event
            put(("error", e))

    # The worker finishes even when the client goes away; its events then fall on the floor.
    task = asyncio.ensure_future(in_worker(limiter, run))
    try:
        while True:
            try:
                kind, value = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
            except TimeoutError:
                yield "ping", None
                continue
            yield kind, value
            if kind != "delta":
                return
    finally:
        if task.done():
            task.result()
