"""The I/O shell of safespace-chat: HTTP, websockets, fan-out, storage, CLI.

It feeds commands to the pure core in rooms/ and moderation/ and carries out
the outcomes they return (DESIGN.md section 2).
"""
