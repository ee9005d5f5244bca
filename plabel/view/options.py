"""What `plabel view` takes (imports neither Starlette nor uvicorn: the CLI reads the defaults)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from plabel.errors import UsageError, check_fields
from plabel.fields import cli, comma_items

PAGE_SIZE = 60  # images per grid page


@dataclass(frozen=True, kw_only=True)
class ViewOptions:
    host: str = field(default="127.0.0.1", metadata=cli(
        "Address to listen on. Any address but loopback needs the token (printed once, or --token)."))
    port: int = field(default=8765, metadata=cli("Port to listen on (0: any free port).", min=0, max=65535))
    token: str | None = field(default=None, metadata=cli(
        "The access token (default: a random one, printed in the URL; required off loopback)."))
    allowed_hosts: tuple[str, ...] = field(default=(), metadata=cli(
        "Host names the browser may use besides the address and localhost (Host header check; comma-separated).",
        "--allow-host", type=str | None, default=None, parse=comma_items))
    sql_rows: int = field(default=1000, metadata=cli("SQL console: rows shown (and in a CSV download) at most.",
                                                     min=1))
    sql_seconds: float = field(default=10.0, metadata=cli("SQL console: a query is stopped after this long."))
    reviewer: str | None = field(default=None, metadata=cli(
        "Recorded as the annotator of reviews made in the browser (default: the user's login name)."))

    @property
    def loopback(self) -> bool:
        """The address is this machine's own (127.0.0.0/8, ::1, localhost)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def validate(o: ViewOptions) -> None:
    check_fields(o)
    if not o.host or any(c.isspace() for c in o.host):
        raise UsageError(f"`host` must be an address or host name (got {o.host!r})")
    if not 0 < o.sql_seconds <= 3600:
        raise UsageError(f"`sql_seconds` must be in (0, 3600] (got {o.sql_seconds})")
    if o.sql_rows < 1:
        raise UsageError("`sql_rows` must be >= 1")
    if o.token is not None and len(o.token) < 16:
        raise UsageError("`token` must be at least 16 characters (it guards the workspace)")
