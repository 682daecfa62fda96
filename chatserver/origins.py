"""Which web pages may talk to this server: the Origin rule of docs/protocol.md.

Browsers always send ``Origin`` on a websocket upgrade and on a cross-site
POST; non-browser clients (the Python and terminal clients) may send none,
and cross-site request forgery needs a browser, so no ``Origin`` is allowed.
A present one must be the server's public origin (``PUBLIC_URL``), one listed
in ``ALLOWED_ORIGINS``, or the request's own ``Host`` when that host is an IP
address or ``localhost``. A host *name* is never trusted from the request:
under DNS rebinding a foreign page's name resolves to this server, and then
its ``Host`` and ``Origin`` agree with each other while both are foreign.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _literal_host(host: str) -> bool:
    """An IP address or localhost: no name a foreign page could rebind to us."""
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_allowed(
    origin: str | None, host: str, public_url: str, allowed: tuple[str, ...]
) -> bool:
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin == origin_of(public_url) or origin in {a.rstrip("/").lower() for a in allowed}:
        return True
    return _literal_host(host) and origin in {f"http://{host}".lower(), f"https://{host}".lower()}
