"""Counters for /metrics, in Prometheus text format. Counts only: never a name,
a group title, a payload or its size distribution per person."""

from __future__ import annotations

from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self.connections = 0
        self.frames_received = 0
        self.frames_relayed = 0
        self.messages = 0
        self.rejections: Counter[str] = Counter()
        self.closes: Counter[int] = Counter()

    def render(self, rooms: int) -> str:
        lines = [
            "# HELP safespace_connections Open websocket connections on this node.",
            "# TYPE safespace_connections gauge",
            f"safespace_connections {self.connections}",
            "# HELP safespace_rooms Live sessions with state on this node.",
            "# TYPE safespace_rooms gauge",
            f"safespace_rooms {rooms}",
            "# HELP safespace_frames_received_total Frames read from clients.",
            "# TYPE safespace_frames_received_total counter",
            f"safespace_frames_received_total {self.frames_received}",
            "# HELP safespace_frames_relayed_total Frames handed to client sockets.",
            "# TYPE safespace_frames_relayed_total counter",
            f"safespace_frames_relayed_total {self.frames_relayed}",
            "# HELP safespace_messages_total Chat messages accepted for relay.",
            "# TYPE safespace_messages_total counter",
            f"safespace_messages_total {self.messages}",
            "# HELP safespace_rejections_total Frames refused, by error code.",
            "# TYPE safespace_rejections_total counter",
        ]
        lines += [
            f'safespace_rejections_total{{code="{code}"}} {n}'
            for code, n in sorted(self.rejections.items())
        ]
        lines += [
            "# HELP safespace_closes_total Connections closed by the server, by close code.",
            "# TYPE safespace_closes_total counter",
        ]
        lines += [
            f'safespace_closes_total{{code="{code}"}} {n}'
            for code, n in sorted(self.closes.items())
        ]
        return "\n".join(lines) + "\n"
