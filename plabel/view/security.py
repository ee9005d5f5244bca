"""The guards of `plabel view`, as one ASGI middleware: Host header, access token, session and
CSRF token, and the response headers (Content-Security-Policy and friends).

- Host: only the names the server was started for (DNS rebinding: a page on another site that
  resolves its own name to 127.0.0.1 sends its own Host header, and is refused).
- Token (Jupyter-style): `?token=` once, then a cookie; or `Authorization: token <token>`.
  Required whenever the address is not loopback.
- CSRF: every session gets a random id (an HttpOnly, SameSite=Strict cookie); its CSRF token is
  an HMAC of that id with the server's secret, put in each page and required on every POST.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE, TOKEN_COOKIE = "plabel_session", "plabel_token"
CSP = ("default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store")]


@dataclass(frozen=True, kw_only=True)
class Guard:
    hosts: frozenset[str]  # Host header names allowed (without port); "*" allows any
    token: str | None  # None: no token asked (loopback without --token)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def csrf(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: str | None, given: str | None) -> bool:
        return bool(session and given) and hmac.compare_digest(self.csrf(session or ""), given or "")


def host_name(header: str) -> str:
    """The Host header's name without its port ("[::1]:8765" -> "::1")."""
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no cookie
                return {}
    return {k: m.value for k, m in jar.items()}


def header(scope: Scope, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == name), "")


class GuardMiddleware:
    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        g = self.guard
        if "*" not in g.hosts and host_name(header(scope, b"host")) not in g.hosts:
            return await _plain(send, 400, "Invalid host header")
        jar = cookies(scope)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        extra: list[tuple[bytes, bytes]] = []
        if g.token is not None:
            given = query.get("token") or jar.get(TOKEN_COOKIE) or header(scope, b"authorization").removeprefix(
                "token ")
            if not hmac.compare_digest(given.encode(), g.token.encode()):
                return await _plain(send, 403, "This page needs the token that plabel view printed")
            if "token" in query:  # once: keep it in a cookie and drop it from the address bar
                rest = urlencode([(k, v) for k, v in parse_qsl(scope["query_string"].decode()) if k != "token"])
                cookie = f"{TOKEN_COOKIE}={g.token}; HttpOnly; SameSite=Strict; Path=/"
                # never //host or /\host: a browser reads both as another site
                path = "/" + scope.get("raw_path", b"/").decode("latin-1").lstrip("/\\")
                return await _redirect(send, path + (f"?{rest}" if rest else ""), [cookie])
        session = jar.get(SESSION_COOKIE)
        if not session:
            session = secrets.token_hex(16)
            extra.append((b"set-cookie", f"{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/".encode()))
        scope.setdefault("state", {})["session"] = session
        scope["state"]["csrf"] = g.csrf(session)

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS, *extra]
            await send(message)

        await self.app(scope, receive, send_guarded)


async def _plain(send: Send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *HEADERS]})
    await send({"type": "http.response.body", "body": text.encode()})


async def _redirect(send: Send, location: str, set_cookies: list[str]) -> None:
    headers = [(b"location", location.encode("latin-1")), *HEADERS]
    headers += [(b"set-cookie", c.encode("latin-1")) for c in set_cookies]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
