"""Configuration from environment variables (docs/operations.md lists them all)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


@dataclass(frozen=True)
class Config:
    """Everything an operator can set; the defaults give the embedded single node.

    ``backend_url`` picks the live fan-out (``memory://`` or, later,
    ``redis://``); ``store_url`` the durable data (``sqlite:///path``, or
    ``redis://host:port/db``: then the login and link attempt limits are
    counted in that Redis too, one limit for every node sharing it).
    ``public_url`` is what private links start with. ``allowed_origins`` are
    the page origins allowed to open websockets; empty means "this server's
    own origin only". ``log_level`` is the application's loggers' level
    (``LOG_LEVEL``, unset: INFO) and ``server_log_level`` uvicorn's (the same
    ``LOG_LEVEL``, unset: warning, since uvicorn's lines name members'
    addresses); ``chatserver.logs`` says what each shows.
    """

    store_url: str = "sqlite:///var/safespace.sqlite3"
    backend_url: str = "memory://"
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: tuple[str, ...] = field(default=())
    hello_timeout_seconds: float = 30.0
    waiting_per_address: int = 16
    rules_per_link: int = 2
    entries_per_minute: int = 12
    queue_frames: int = 512
    queue_bytes: int = 1024 * 1024
    login_attempts_per_minute: int = 10
    link_attempts_per_minute: int = 30
    api_token_hours: float = 12.0
    metrics_token: str = ""
    log_level: str = "INFO"
    server_log_level: str = "warning"

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        env = os.environ
        backend = env.get("BACKEND_URL") or env.get("REDIS_URL") or cls.backend_url
        values: dict[str, object] = {
            "store_url": env.get("STORE_URL") or cls.store_url,
            "backend_url": backend,
            "public_url": env.get("PUBLIC_URL") or cls.public_url,
            "allowed_origins": tuple(
                o.strip().rstrip("/")
                for o in env.get("ALLOWED_ORIGINS", "").split(",")
                if o.strip()
            ),
            "hello_timeout_seconds": max(1.0, float(env.get("HELLO_TIMEOUT_SECONDS") or 30.0)),
            "waiting_per_address": _int("WAITING_PER_ADDRESS", cls.waiting_per_address),
            "rules_per_link": _int("RULES_PER_LINK", cls.rules_per_link),
            "entries_per_minute": _int("ENTRIES_PER_MINUTE", cls.entries_per_minute),
            "queue_frames": _int("QUEUE_FRAMES", cls.queue_frames),
            "queue_bytes": _int("QUEUE_BYTES", cls.queue_bytes),
            "login_attempts_per_minute": _int("LOGIN_ATTEMPTS_PER_MINUTE", 10),
            "link_attempts_per_minute": _int("LINK_ATTEMPTS_PER_MINUTE", 30),
            "metrics_token": env.get("METRICS_TOKEN", ""),
            "log_level": (env.get("LOG_LEVEL") or cls.log_level).upper(),
            "server_log_level": (env.get("LOG_LEVEL") or cls.server_log_level).lower(),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
