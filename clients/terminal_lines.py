"""What the terminal client prints for each frame: one function per frame type.

Each takes the terminal, the event and the sender's (or subject's) name as
the room shows it, and prints through ``Terminal.say``, which makes every
line inert. A frame type missing from ``LINES`` prints nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from clients.client import Event

if TYPE_CHECKING:
    from clients.terminal import Terminal

Line = Callable[["Terminal", Event, str], None]

# What each session state (docs/protocol.md section 7) means to a person
# reading a terminal; a state this client does not know is shown as it is.
_SESSION_WORDS = {
    "scheduled": "The room is not open yet",
    "lobby": "The room is open; the meeting has not started",
    "live_locked": "The meeting has started; the door is locked, newcomers knock",
    "live_unlocked": "The meeting has started; the door is open",
    "ended": "The meeting is over",
}


def session_words(state: str) -> str:
    """A sentence for a session state, for the welcome and every change of state."""
    return _SESSION_WORDS.get(state, f"The session is {state.replace('_', ' ')}")


def _msg(term: Terminal, event: Event, who: str) -> None:
    f = event.fields
    if event.text is None:
        term.say(f"[{f['id']}] {who}: (unreadable message)")
    elif event.cw is None:
        term.say(f"[{f['id']}] {who}: {event.text}")
    elif f.get("from") == term.client.pid:
        # One's own: the writer knows what they wrote, the label is enough.
        term.say(f"[{f['id']}] {who}: [content warning: {event.cw}] {event.text}")
    else:
        term.hide(f["id"], who, event.text)
        term.say(f"[{f['id']}] {who}: [content warning: {event.cw}] (type /show {f['id']} to read)")


def _welcome(term: Terminal, event: Event, who: str) -> None:
    f = event.fields
    term.say(f"* You are in '{f['group']['title']}' as {term.client.name_of(f['you'])}.")
    term.say(f"* {session_words(f['state'])}. Type /help for commands.")


def _state(term: Terminal, event: Event, who: str) -> None:
    paused = " (paused)" if event.fields["paused"] else ""
    term.say(f"* {session_words(event.fields['state'])}{paused}")


def _muted(term: Terminal, event: Event, who: str) -> None:
    until = event.fields.get("until")
    how = (
        f"timed out until {time.strftime('%H:%M:%S', time.localtime(until))}" if until else "muted"
    )
    term.say(f"* {_you_or(term, event, who)} {how}")


def _you_or(term: Terminal, event: Event, who: str) -> str:
    return "You are" if event.fields["pid"] == term.client.pid else f"{who} is"


def _deleted(term: Terminal, event: Event, who: str) -> None:
    term.hidden.pop(event.fields["id"], None)
    term.say(f"* message {event.fields['id']} was deleted by a facilitator")


def _report(term: Terminal, event: Event, who: str) -> None:
    term.say(f"(report) {who} reported message {event.fields['msg']}: {event.text}")
    r = event.reported
    cw = f"[content warning: {r.cw}] " if r is not None and r.cw is not None else ""
    if r is not None and event.verified:
        # The id the report's proof carries (the server's frame named the same one).
        term.say(
            f"  verified: message {r.msg}: {term.client.name_of(r.sender)} wrote: {cw}{r.text}"
        )
    elif r is not None and r.id_mismatch:
        term.say(
            f"  NOT verified: the message you saw as number {r.msg} is another one; "
            f"the server numbered them differently for you and the reporter: {cw}{r.text}"
        )
    elif r is not None:
        term.say(f"  NOT verified (could not be checked): {cw}{r.text}")


def _alert(term: Terminal, event: Event, who: str) -> None:
    f = event.fields
    if f.get("kind") == "content" and f.get("local"):
        # Our own client's finding in a message we opened: category and sender only.
        term.say(
            f"(content alert) message {f.get('msg')} from {who}: {term.label(f.get('category'))}"
        )
    elif f.get("kind") == "content":
        # Told by the sender's client (even when its message was blocked).
        term.say(f"(alert) {who}: content: {term.label(f.get('category'))}")
    else:
        term.say(f"(alert) {who}: {f['kind']} {f.get('category') or ''}".rstrip())
    if not f.get("local"):
        count = f" ({f['count']} times)" if f.get("count", 1) > 1 else ""
        term.say(f"  alert {f['id']}{count}: /handled {f['id']} once you have checked in")


# What a member is told of their support request in each status
# (docs/protocol.md section 5a): true in that status, and nothing more.
SUPPORT_WORDS = {
    "waiting": "No facilitator is in the room right now. Your request will reach the first "
    "facilitator who comes back.",
    "sent": "Your request is on its way to the facilitators in the room.",
    "seen": "A facilitator has your request on their screen.",
    "handled": "A facilitator has seen your request and marked it as handled.",
}
CONTENT_WAITING = (
    "No facilitator is in the room right now; the alert will reach the first facilitator "
    "who comes back."
)


def _alert_status(term: Terminal, event: Event, who: str) -> None:
    f = event.fields
    if f["kind"] == "support":
        term.say(f"* {SUPPORT_WORDS.get(f['status'], 'Your request is ' + f['status'] + '.')}")
        if f["status"] == "waiting":
            term.crisis_resources()
    elif f["status"] == "waiting":
        term.say(f"* {CONTENT_WAITING}")


def _thread(term: Terminal, event: Event) -> str:
    """Whose private thread a private message is in, as the reader sees it."""
    thread = event.fields.get("thread")
    if thread is None:
        return "private, facilitators only"
    if thread == term.client.pid:
        return "private, with the facilitators"
    return f"private with {term.client.name_of(thread)}"


def _presence(term: Terminal, event: Event, who: str) -> str:
    f = event.fields
    if f["pid"] == term.client.pid:
        if f["present"]:
            return "* You are back in the room."
        return (
            "* You have stepped out. The room is hidden while you are away; /private, "
            "/support and /crisis still work. /back to return."
        )
    if f["present"]:
        return f"* {who} is back"
    return f"* {who} stepped out" if f.get("connected", True) else f"* {who} is not connected"


def _said(text: Callable[[Event, str], str]) -> Line:
    """A frame shown as one line made from its fields."""
    return lambda term, event, who: term.say(text(event, who))


LINES: dict[str, Line] = {
    "msg": _msg,
    "welcome": _welcome,
    "knocking": _said(
        lambda e, who: (
            "* The meeting has started, so you are knocking: "
            "please wait for a facilitator to answer."
        )
    ),
    "joined": _said(lambda e, who: f"* {e.fields['p']['name']} joined"),
    "presence": lambda term, e, who: term.say(_presence(term, e, who)),
    "left": _said(lambda e, who: f"* {who} left"),
    "removed": _said(
        lambda e, who: f"* {who} was removed{' for good' if e.fields['for_good'] else ''}"
    ),
    "state": _state,
    "knock": _said(
        lambda e, who: (
            f"* {e.fields['p']['name']} is knocking: /admit {e.fields['p']['name']} or /refuse"
        )
    ),
    "muted": _muted,
    "unmuted": lambda term, e, who: term.say(f"* {_you_or(term, e, who)} no longer muted"),
    "hand": _said(lambda e, who: f"* {who} {'raised' if e.fields['up'] else 'lowered'} a hand"),
    "deleted": _deleted,
    "private": lambda term, e, who: term.say(f"({_thread(term, e)}) {who}: {e.text}"),
    "report": _report,
    "warning": lambda term, e, who: term.warn(e.fields),
    "alert": _alert,
    "alert_status": _alert_status,
    "handled": lambda term, e, who: term.say(
        f"* alert {e.fields['id']} was marked handled by {term.client.name_of(e.fields['by'])}"
    ),
    "content_rules": _said(
        lambda e, who: "* The group's content rules changed (/rules lists them)."
    ),
    "reminder": _said(
        lambda e, who: f"* {e.fields['minutes_left']} minutes left of the planned time"
    ),
    "ended": _said(lambda e, who: "* The session has ended. Thank you for being here."),
    "error": _said(lambda e, who: f"! {e.fields['message']} ({e.fields['code']})"),
    "closed": _said(lambda e, who: f"* Disconnected ({e.fields['code']})"),
}
