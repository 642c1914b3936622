"""Running `async def` views, hooks and handlers from synchronous WSGI code, without asgiref.

Each call runs the coroutine on a fresh event loop in the calling thread, in a copy of the
caller's contextvars (so `request`, `g`, ... work inside). If that thread already runs an event
loop, the coroutine runs on a helper thread instead, again in a copy of the caller's context.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import typing as t
from functools import wraps


def _run_in_thread(ctx: contextvars.Context, coro: t.Coroutine[t.Any, t.Any, t.Any]) -> t.Any:
    box: dict[str, t.Any] = {}

    def target() -> None:
        try:
            box["value"] = ctx.run(asyncio.run, coro)
        except BaseException as e:
            box["error"] = e

    thread = threading.Thread(target=target, name="framework-async-view")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def run_sync(func: t.Callable[..., t.Coroutine[t.Any, t.Any, t.Any]]) -> t.Callable[..., t.Any]:
    """A synchronous function that runs `func(...)` to completion and returns its result."""

    @wraps(func)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        coro = func(*args, **kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        return _run_in_thread(contextvars.copy_context(), coro)

    return wrapper
