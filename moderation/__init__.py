"""Pure moderation policy: the server-side pipeline over frame metadata
(``pipeline``, ``rate``), and the content rules (DESIGN.md section 4.2,
``moderation/content``): the engine the clients run on text before sealing
and again after opening, since the server never sees the text.
"""
