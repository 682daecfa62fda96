"""The labelled support-group corpus of the content rules (see ../README.md, "The corpus").

``lines.jsonl`` is the data; ``make_corpus`` writes it from the hand-written
base lines in ``lines_flagged`` and ``lines_ordinary``.
"""
