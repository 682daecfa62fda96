"""Pure moderation policy: the server-side pipeline over frame metadata.

The content-warning rules engine (DESIGN.md section 4.2) will live here too.
"""
