"""The pure domain of safespace-chat: groups, seat links, sessions, roster.

No I/O, no asyncio, no clock: commands in, events out (DESIGN.md section 3).
"""
