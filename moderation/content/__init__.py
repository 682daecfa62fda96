"""Content rules (DESIGN.md section 4.2): rules are data, evaluated on the clients.

Messages are end-to-end encrypted, so the sender's client evaluates a message
before sealing it and every receiver's client again after opening it. The
rules file format, the normalisation and the matching are documented in
moderation/content/README.md; clients/web/content.js is the browser's twin.

    from moderation.content import default_policy, evaluate
    verdict = evaluate(text, default_policy())
"""

from __future__ import annotations

from moderation.content.engine import CLEAR, Match, Verdict, evaluate
from moderation.content.policy import (
    ACTIONS,
    FORMAT,
    TUNING_FORMAT,
    Category,
    Policy,
    RulesError,
    apply_tuning,
    default_document,
    default_policy,
    load_policy,
    tuned_policy,
)

__all__ = [
    "ACTIONS",
    "CLEAR",
    "FORMAT",
    "TUNING_FORMAT",
    "Category",
    "Match",
    "Policy",
    "RulesError",
    "Verdict",
    "apply_tuning",
    "default_document",
    "default_policy",
    "evaluate",
    "load_policy",
    "tuned_policy",
]
