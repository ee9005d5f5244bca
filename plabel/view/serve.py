"""Start `plabel view`: check the options, pick the token, build the app and run it on uvicorn."""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from plabel.errors import UsageError
from plabel.view.options import ViewOptions, validate
from plabel.view.security import Guard
from plabel.workspace import Workspace

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, kw_only=True)
class Started:
    url: str  # what to open, with the token where one is asked
    token: str | None


def guard_for(o: ViewOptions) -> Guard:
    """The Host names and the token a server on o.host needs: off loopback always a token (a
    random one unless given), on loopback only when given."""
    token = o.token if o.token is not None else (None if o.loopback else secrets.token_urlsafe(24))
    wildcard = o.host in ("0.0.0.0", "::")  # any interface: the browser may use any name for it
    hosts = frozenset({*LOOPBACK_NAMES, o.host, *o.allowed_hosts, *(["*"] if wildcard else [])})
    return Guard(hosts=hosts, token=token)


def _server(ws: Workspace, o: ViewOptions) -> tuple[Any, Guard]:
    import uvicorn

    from plabel.view.app import make_app

    validate(o)
    guard = guard_for(o)
    config = uvicorn.Config(make_app(ws, o, guard), host=o.host, port=o.port, log_level="warning",
                            access_log=False, server_header=False)
    return uvicorn.Server(config), guard


def _started(server: Any, guard: Guard, o: ViewOptions) -> Started:
    port = server.servers[0].sockets[0].getsockname()[1]
    name = f"[{o.host}]" if ":" in o.host else o.host
    return Started(url=f"http://{name}:{port}/" + (f"?token={guard.token}" if guard.token else ""),
                   token=guard.token)


def serve(ws: Workspace, o: ViewOptions, on_start: Callable[[Started], None] | None = None) -> None:
    """Run the view until interrupted (Ctrl+C); `on_start` hears the URL once the socket listens."""
    import asyncio

    server, guard = _server(ws, o)

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started and on_start is not None:
            on_start(_started(server, guard, o))
        await task

    try:
        asyncio.run(main())
    except OSError as e:
        raise UsageError(f"cannot listen on {o.host}:{o.port}: {e.strerror or e}") from None
    if not server.started:
        raise UsageError(f"cannot listen on {o.host}:{o.port} (in use, or not an address of this machine)")


@contextmanager
def running(ws: Workspace, o: ViewOptions) -> Iterator[Started]:
    """The view served from a background thread for the block (a notebook, a test); stopped after."""
    import threading
    import time

    server, guard = _server(ws, o)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)
    if not server.started:
        raise UsageError(f"cannot listen on {o.host}:{o.port} (in use, or not an address of this machine)")
    try:
        yield _started(server, guard, o)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
