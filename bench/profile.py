"""Summarise py-spy's raw (collapsed-stack) output: where the server's time goes.

    python -m bench.profile var/bench/profile.raw

Each line of the raw format is ``frame;frame;...;leaf COUNT``, a frame being
``function (file:line)``. This prints the functions with the most samples on
top of the stack (self), the most samples anywhere in the stack (inclusive),
and self samples summed by activity and by package.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")

PACKAGES = (
    ("chatserver/", "chatserver (ours)"),
    ("rooms/", "rooms (ours)"),
    ("moderation/", "moderation (ours)"),
    ("uvicorn/", "uvicorn"),
    ("websockets/", "websockets"),
    ("starlette/", "starlette"),
    ("asyncio/", "asyncio"),
    ("msgpack/", "msgpack"),
    ("uvloop/", "uvloop"),
)


# What our server spends its time on, by the function on top of the stack.
# First match wins; the patterns are matched against ``function (pkg/module.py)``.
ACTIVITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("socket writes (transport.write in the fan-out outlet)", ("write_frame (",)),
    ("the event loop itself (uvloop: epoll, callbacks)", ("Runner.run (",)),
    (
        "websocket frame parsing (websockets, uvicorn's protocol)",
        (
            "websockets/frames.py",
            "websockets/protocol.py",
            "websockets/streams.py",
            "websockets_sansio_impl.py",
        ),
    ),
    (
        "the ASGI hop per inbound frame (asyncio.Queue, Starlette, middleware)",
        ("asyncio/", "starlette/", "uvicorn/", "SecurityHeaders"),
    ),
    (
        "ours: receive loop, codec, pipeline, hub, per-recipient send",
        ("chatserver/", "rooms/", "moderation/", "<string>"),
    ),
)


@dataclass(frozen=True)
class Summary:
    total: int
    self_by_func: Counter[str]
    incl_by_func: Counter[str]
    self_by_package: Counter[str]
    self_by_activity: Counter[str]


def short(frame: str) -> str:
    """``function (path/to/pkg/module.py:12)`` -> ``function (pkg/module.py)``."""
    m = _FRAME.match(frame.strip())
    if m is None:
        return frame.strip()
    parts = m["file"].split("/")
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    elif len(parts) > 2:
        parts = parts[-2:]
    return f"{m['func']} ({'/'.join(parts)})"


def package(frame: str) -> str:
    for marker, name in PACKAGES:
        if marker in frame:
            return name
    m = _FRAME.match(frame.strip())
    return "other" if m is None else f"other ({m['file'].rsplit('/', 1)[-1]})"


def activity(name: str) -> str:
    for label, patterns in ACTIVITIES:
        if any(p in name for p in patterns):
            return label
    return "other"


def summarise(raw: str) -> Summary:
    self_by: Counter[str] = Counter()
    incl_by: Counter[str] = Counter()
    by_pkg: Counter[str] = Counter()
    by_activity: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        leaf = frames[-1]
        self_by[short(leaf)] += count
        by_activity[activity(short(leaf))] += count
        by_pkg[package(leaf)] += count
        for name in {short(f) for f in frames}:
            incl_by[name] += count
    return Summary(total, self_by, incl_by, by_pkg, by_activity)


def render(s: Summary, top: int = 25) -> str:
    def pct(n: int) -> str:
        return f"{100.0 * n / s.total:5.1f}%" if s.total else "  n/a"

    out = [f"{s.total} samples"]
    out.append("\nself time by activity:")
    out += [f"  {pct(n)}  {name}" for name, n in s.self_by_activity.most_common()]
    out.append("\nself time by package (leaf frame):")
    out += [f"  {pct(n)}  {name}" for name, n in s.self_by_package.most_common()]
    out.append(f"\ntop {top} functions by self time:")
    out += [f"  {pct(n)}  {name}" for name, n in s.self_by_func.most_common(top)]
    out.append(f"\ntop {top} functions by inclusive time:")
    out += [f"  {pct(n)}  {name}" for name, n in s.incl_by_func.most_common(top)]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("raw", type=Path)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    print(render(summarise(args.raw.read_text()), args.top))


if __name__ == "__main__":
    main()
