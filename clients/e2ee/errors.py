"""Refusals of the encryption layer, in the project's one exception tree.

``E2EEError`` is a ``SafespaceError`` (structured: ``code``, ``reason``,
``detail``) and also a ``ValueError``, which is what the codec seam in
``clients/payload.py`` promised callers from the start. These errors never
travel on the wire: ``code`` is ``bad_frame`` (the client's catch-all, as for
``ClientError``) and ``why`` says precisely what was wrong, in a stable word
tests and user interfaces can switch on. Like every reason in the project,
the sentences are fixed: they never echo a payload or a name.
"""

from __future__ import annotations

from enum import StrEnum

from rooms.errors import Code, SafespaceError


class Why(StrEnum):
    # Opening: the bytes themselves.
    MALFORMED = "malformed"  # a length or a field does not parse
    VERSION = "version"  # a version byte this implementation does not speak
    KIND = "kind"  # a payload of another kind than its frame says
    CONTEXT = "context"  # sealed for another room or session
    SENDER = "sender"  # the header names someone else than the frame's sender
    UNTRUSTED = "untrusted"  # the sender has no valid vouch (and the link names facilitators)
    SIGNATURE = "signature"  # the signature does not verify
    UNKNOWN_CHAIN = "unknown_chain"  # no chain of that sender with that id and epoch
    REPLAY = "replay"  # an index already used (or its key dropped)
    TOO_FAR = "too_far"  # a jump of more than MAX_SKIP indexes
    DECRYPT = "decrypt"  # AES-GCM refused (altered, forwarded, or the wrong key)
    COMMITMENT = "commitment"  # the commitment does not match key and text
    NOT_FOR_ME = "not_for_me"  # no entry for this participant
    STALE = "stale"  # a distribution that would move a chain back
    NONCE_REPLAY = "nonce_replay"  # a private entry's nonce seen before from that sender
    # Sealing.
    NOT_READY = "not_ready"  # before the welcome: no context, no chain
    NO_RECIPIENT = "no_recipient"  # no trusted facilitator is present
    UNKNOWN_MESSAGE = "unknown_message"  # a report of a message this client never opened
    CW_TOO_LONG = "cw_too_long"  # a content warning over MAX_CW_CHARS characters, once trimmed
    # Admission.
    BAD_LINK = "bad_link"  # a facilitator key in the link that is not 32 bytes of base64url
    # A group's content rules (section 11).
    RULES_UNVERIFIED = "rules_unverified"  # not signed by a trusted identity, or malformed


REASONS: dict[Why, str] = {
    Why.MALFORMED: "The encrypted payload is malformed.",
    Why.VERSION: "The encrypted payload has a version this client does not know.",
    Why.KIND: "The encrypted payload is not of the kind its frame says.",
    Why.CONTEXT: "The message was sealed for another room or session.",
    Why.SENDER: "The message names another sender than the one who sent it.",
    Why.UNTRUSTED: "The sender has not been vouched for by a facilitator you trust.",
    Why.SIGNATURE: "The message's signature does not verify.",
    Why.UNKNOWN_CHAIN: "No key for this message has reached this client.",
    Why.REPLAY: "This message was already received (or its key is gone).",
    Why.TOO_FAR: "The message is too far ahead of the sender's last one.",
    Why.DECRYPT: "The message does not decrypt.",
    Why.COMMITMENT: "The message's commitment does not match its key and text.",
    Why.NOT_FOR_ME: "The message is not addressed to this participant.",
    Why.STALE: "The key distribution is older than the key already held.",
    Why.NONCE_REPLAY: "This private message was already received.",
    Why.NOT_READY: "Encryption is not ready: the room has not welcomed this client yet.",
    Why.NO_RECIPIENT: "No facilitator whose keys are verified is here to receive it.",
    Why.UNKNOWN_MESSAGE: "This client cannot report a message it could not read.",
    Why.CW_TOO_LONG: "A content warning is at most 80 characters. Nothing was sent.",
    Why.BAD_LINK: "The link's facilitator key is damaged; please ask for the link again.",
    Why.RULES_UNVERIFIED: "The group's content rules are not signed by a facilitator you "
    "trust; the shipped rules apply.",
}


class E2EEError(SafespaceError, ValueError):
    """Root of the encryption layer's refusals; ``why`` is the precise, stable reason."""

    def __init__(self, why: Why) -> None:
        super().__init__(Code.BAD_FRAME, REASONS[why], why=str(why))
        self.why = why
        self.args = (f"{why}: {self.reason}",)


class CannotOpen(E2EEError):
    """A payload, distribution or vouch that is rejected; nothing was changed."""


class CannotSeal(E2EEError):
    """Nothing can be sealed (no context, nobody to seal to, nothing to report, a cw too long)."""
