"""End-to-end encryption for safespace-chat (docs/e2ee.md is the normative spec).

primitives   the only module importing ``cryptography``: raw-byte primitives
encoding     byte layouts: build and strictly parse
chains       sender chains, receiving with a cap on skips and kept keys
sealing      sealing and opening of messages, distributions, privates, reports
admission    vouches, facilitator keys in links, the identity key file
content_rules  a group's content rules, signed by a facilitator (section 11)
roster       ``KeyRoster``: peers' keys and vouches, whom to trust, who holds our chain
codec        ``E2EECodec``: the sans-I/O state machine behind the client's codec seam
errors       ``E2EEError`` and its ``why`` codes
"""

from clients.e2ee.admission import IdentityKey, identities_from_link
from clients.e2ee.codec import E2EECodec
from clients.e2ee.content_rules import checked_tuning, sign_content_rules
from clients.e2ee.errors import CannotOpen, CannotSeal, E2EEError, Why

__all__ = [
    "CannotOpen",
    "CannotSeal",
    "E2EECodec",
    "E2EEError",
    "IdentityKey",
    "Why",
    "checked_tuning",
    "identities_from_link",
    "sign_content_rules",
]
