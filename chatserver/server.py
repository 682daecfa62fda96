"""How uvicorn runs the app: one place, used by ``chatserver serve`` and the tests.

Binary frames over 64 KiB are refused by the websocket layer (close 1009);
per-message compression stays off (payloads are ciphertext, which does not
compress, and compressing secrets beside attacker-chosen data leaks them).
"""

from __future__ import annotations

import os
import socket

import uvicorn
from starlette.applications import Starlette

from chatserver import logs
from chatserver.transport import SafespaceWebSocketProtocol
from rooms.wire import MAX_FRAME_BYTES


def uvicorn_config(
    app: Starlette, host: str, port: int, log_level: str = "warning", *, fast_path: bool = True
) -> uvicorn.Config:
    """``fast_path=False`` runs on uvicorn's stock protocol (plain ASGI sends), as tests do too.

    The application's loggers go to stderr at ``Config.log_level``
    (``LOG_LEVEL``, default INFO); uvicorn's own stay at ``log_level``
    (warning unless the operator says otherwise), because its access lines
    name every member's address. Whatever the levels, no frame's or body's
    content is ever printed: ``chatserver.logs`` filters uvicorn's and
    ``websockets``' loggers, once ``uvicorn.Config`` has set them up.
    """
    services = getattr(app.state, "services", None)
    app_level = services.config.log_level if services is not None else "INFO"
    for name in (log_level, app_level):
        logs.level(name)  # a wrong LOG_LEVEL stops here, with a clear message
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=SafespaceWebSocketProtocol if fast_path else "websockets-sansio",
        ws_max_size=MAX_FRAME_BYTES,
        ws_per_message_deflate=False,
        log_level=log_level,
        access_log=os.environ.get("ACCESS_LOG", "") == "1",
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        lifespan="on",
    )
    logs.configure(app_level, log_level)
    return config


# The kernel's send buffer per connection. Left to autotuning it grows to
# megabytes, which a member who stopped reading would hold on to before the
# server even notices; chat needs far less (accepted sockets inherit this).
SEND_BUFFER_BYTES = int(os.environ.get("SOCKET_SEND_BUFFER", 256 * 1024))


def bound_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (port 0: a free one), so a caller knows the port before serving."""
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say
    # they are TCP, and without it every small response waits ~40 ms for a
    # delayed ACK (the stdlib loop; uvloop sets it either way).
    sock = socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock
