"""Start `plabel view`: check the options, pick the token, build the app and run it on uvicorn."""
from __future__ import annotations

import secrets
import socket
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


def _server(ws: Workspace, o: ViewOptions) -> tuple[Any, Guard, socket.socket]:
    """uvicorn's server for the app, its guard, and the socket it will serve (bound here, so that a
    bad address or a port in use is one clear error before anything starts)."""
    import uvicorn

    from plabel.view.app import make_app
    from plabel.view.data import warm
    from plabel.view.snapshot import Snapshots

    validate(o)
    sock = _bind(o.host, o.port)
    guard = guard_for(o)
    snaps = Snapshots(ws)
    warm(snaps)  # the first page is then as quick as the next
    config = uvicorn.Config(make_app(ws, o, guard, snaps), log_level="warning", access_log=False,
                            server_header=False)
    return uvicorn.Server(config), guard, sock


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def _started(sock: socket.socket, guard: Guard, o: ViewOptions) -> Started:
    port = sock.getsockname()[1]
    name = f"[{o.host}]" if ":" in o.host else o.host
    return Started(url=f"http://{name}:{port}/" + (f"?token={guard.token}" if guard.token else ""),
                   token=guard.token)


def serve(ws: Workspace, o: ViewOptions, on_start: Callable[[Started], None] | None = None) -> None:
    """Run the view until interrupted (Ctrl+C); `on_start` hears the URL once the socket listens."""
    server, guard, sock = _server(ws, o)
    if on_start is not None:
        on_start(_started(sock, guard, o))
    server.run(sockets=[sock])


@contextmanager
def running(ws: Workspace, o: ViewOptions) -> Iterator[Started]:
    """The view served from a background thread for the block (a notebook, a test); stopped after."""
    import threading
    import time

    server, guard, sock = _server(ws, o)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)
    try:
        yield _started(sock, guard, o)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
