"""Clients of safespace-chat: the Python library, the terminal client, and web/.

Clients never import chatserver/; they share only the wire schema in
``rooms.wire`` (DESIGN.md section 2).
"""
