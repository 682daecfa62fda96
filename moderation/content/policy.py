"""Rules documents: loading, validation, per-group tuning (format: moderation/content/README.md).

A rules document is plain JSON data, the same bytes for the Python engine and
the browser's (clients/web/content.js validates it by the same rules). It is
validated completely before anything is compiled, and a mistake is reported
as ``RulesError`` with the place (``categories.substances.words[3]``) and a
fixed description of the problem, never the offending text itself.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from moderation.content.combine import Outcome, outcome
from moderation.content.matcher import Matcher, Spec
from moderation.content.normalise import Memo, Normaliser, Tables, is_space
from moderation.content.patterns import PatternError, check_pattern
from rooms.errors import Code, SafespaceError

FORMAT = "safespace-content-rules/1"
TUNING_FORMAT = "safespace-content-tuning/1"
DEFAULT_RULES = Path(__file__).with_name("default_rules.json")

Action = Literal["off", "warn", "cw", "block"]
# The ladder a facilitator turns a category up or down along: each step
# restricts more what readers receive without the sender's say.
ACTIONS: tuple[Action, ...] = ("off", "warn", "cw", "block")
VIEWS = ("words", "text")

_ID = re.compile(r"[a-z][a-z0-9_]{0,31}")
_BRACES = re.compile(r"\{([^{}]*)\}")
_EXPANSIONS_MAX = 2000
_ENTRY_MAX = 200
_LABEL_MAX = 60
_MESSAGE_MAX = 400
_DOC_KEYS = frozenset({"format", "name", "note", "normalise", "categories"})
_NORMALISE_KEYS = frozenset({"confusables", "substitutions", "inner", "joiners", "alike"})
_CATEGORY_KEYS = frozenset(
    {"id", "label", "message", "action", "alert", "words", "phrases", "patterns", "ignore", "note"}
)
_TUNING_KEYS = frozenset({"action", "alert", "add_words", "add_phrases", "ignore"})


class RulesError(SafespaceError):
    """A rules or tuning document that is not valid; ``where`` names the field."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(
            Code.BAD_RULES, f"The content rules are not valid: {where}: {problem}.", where=where
        )
        self.where = where
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Category:
    """One category of a rules document, as validated."""

    id: str
    label: str
    message: str
    action: Action
    alert: bool
    words: tuple[str, ...]
    phrases: tuple[str, ...]
    patterns: tuple[tuple[str, str], ...]  # (regex, view)
    ignore: tuple[str, ...]

    @property
    def active(self) -> bool:
        """Whether the category does anything at all when it matches."""
        return self.action != "off" or self.alert


class Policy:
    """A validated, compiled rules document; build one per group and reuse it."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        doc = _validated(document)
        self.document: dict[str, Any] = doc
        self.name: str = doc.get("name", "")
        self.categories: tuple[Category, ...] = tuple(
            _category(c, f"categories.{c['id']}") for c in doc["categories"]
        )
        self.by_id: dict[str, Category] = {c.id: c for c in self.categories}
        # What each set of categories met so far decides (combine.py).
        self.outcomes: Memo[frozenset[int], Outcome] = Memo(partial(outcome, self.categories))
        self.normaliser = Normaliser(_tables(doc["normalise"]))
        specs = []
        for index, cat in enumerate(self.categories):
            if not cat.active:
                continue
            where = f"categories.{cat.id}"
            specs.append(
                Spec(
                    index=index,
                    words=_expanded(cat.words, f"{where}.words"),
                    phrases=_expanded(cat.phrases, f"{where}.phrases"),
                    patterns=cat.patterns,
                    ignore=_expanded(cat.ignore, f"{where}.ignore"),
                )
            )
        try:
            self.matcher = Matcher(self.normaliser, specs)
        except ValueError as exc:  # Matcher names the entry in args[0], the problem in args[1]
            where_index, problem = exc.args
            cat_index, field, i = where_index
            raise RulesError(
                f"categories.{self.categories[cat_index].id}.{field}[{i}]", problem
            ) from None

    def category(self, category_id: str) -> Category:
        return self.by_id[category_id]


def load_policy(path: str | Path) -> Policy:
    """Read and compile a rules file (JSON, UTF-8)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RulesError("file", f"not readable as UTF-8 JSON ({type(exc).__name__})") from None
    return Policy(document)


_default: Policy | None = None


def default_policy() -> Policy:
    """The rules file shipped with safespace-chat, compiled once per process."""
    global _default
    if _default is None:
        _default = load_policy(DEFAULT_RULES)
    return _default


_default_document: dict[str, Any] | None = None


def default_document() -> dict[str, Any]:
    """The shipped rules as a document (a fresh copy: callers may tune it)."""
    global _default_document
    if _default_document is None:
        _default_document = json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))
    return copy.deepcopy(_default_document)


def tuned_policy(tuning_json: str) -> Policy:
    """The shipped rules with a group's tuning (the JSON text a facilitator signed)."""
    try:
        tuning = json.loads(tuning_json)
    except json.JSONDecodeError:
        raise RulesError("tuning", "not JSON") from None
    return Policy(apply_tuning(default_document(), tuning))


def apply_tuning(document: Mapping[str, Any], tuning: Mapping[str, Any]) -> dict[str, Any]:
    """A group's rules: ``document`` with a facilitator's tuning applied, validated.

    Tuning changes categories only (the normalisation tables stay shared):
    ``{"format": TUNING_FORMAT, "categories": {"substances": {"action": "off"},
    "insults": {"action": "block", "add_words": [...], "add_phrases": [...],
    "ignore": [...], "alert": true}}}``. The result is a whole rules document,
    the thing a facilitator signs and every member's client compiles.
    """
    doc = _validated(document)
    if not isinstance(tuning, Mapping):
        raise RulesError("tuning", "must be an object")
    _keys(tuning, frozenset({"format", "categories", "note"}), "tuning")
    if tuning.get("format") != TUNING_FORMAT:
        raise RulesError("tuning.format", f'must be "{TUNING_FORMAT}"')
    changes = tuning.get("categories", {})
    if not isinstance(changes, Mapping):
        raise RulesError("tuning.categories", "must be an object of category id to changes")
    by_id = {c["id"]: c for c in doc["categories"]}
    for cat_id, change in changes.items():
        where = f"tuning.categories.{cat_id}"
        if cat_id not in by_id:
            raise RulesError(where, "no such category in the rules")
        if not isinstance(change, Mapping):
            raise RulesError(where, "must be an object")
        _keys(change, _TUNING_KEYS, where)
        cat = by_id[cat_id]
        if "action" in change:
            cat["action"] = _action(change["action"], f"{where}.action")
        if "alert" in change:
            cat["alert"] = _bool(change["alert"], f"{where}.alert")
        for field, target in (
            ("add_words", "words"),
            ("add_phrases", "phrases"),
            ("ignore", "ignore"),
        ):
            if field in change:
                added = _strings(change[field], f"{where}.{field}")
                cat[target] = [
                    *cat.get(target, []),
                    *(a for a in added if a not in cat.get(target, [])),
                ]
    Policy(doc)  # the tuned document must compile: a bad word fails here, not on a member's client
    return doc


# -- validation -----------------------------------------------------------


def _validated(document: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``document`` with its shape checked and defaults filled in."""
    if not isinstance(document, Mapping):
        raise RulesError("document", "must be an object")
    doc: dict[str, Any] = copy.deepcopy(dict(document))
    _keys(doc, _DOC_KEYS, "document")
    if doc.get("format") != FORMAT:
        raise RulesError("format", f'must be "{FORMAT}"')
    for field in ("name", "note"):
        if field in doc and not isinstance(doc[field], str):
            raise RulesError(field, "must be a string")
    if not isinstance(doc.get("normalise"), Mapping):
        raise RulesError("normalise", "must be an object")
    _tables(doc["normalise"])
    cats = doc.get("categories")
    if not isinstance(cats, list) or not cats:
        raise RulesError("categories", "must be a non-empty list")
    seen: set[str] = set()
    for i, cat in enumerate(cats):
        where = f"categories[{i}]"
        if not isinstance(cat, dict):
            raise RulesError(where, "must be an object")
        cat_id = cat.get("id")
        if not isinstance(cat_id, str) or not _ID.fullmatch(cat_id):
            raise RulesError(f"{where}.id", "must be 1-32 of a-z, 0-9, _ starting with a letter")
        if cat_id in seen:
            raise RulesError(f"{where}.id", "used twice")
        seen.add(cat_id)
        cat.setdefault("alert", False)
        for field in ("words", "phrases", "patterns", "ignore"):
            cat.setdefault(field, [])
        _category(cat, f"categories.{cat_id}")
    return doc


def _category(cat: Mapping[str, Any], where: str) -> Category:
    _keys(cat, _CATEGORY_KEYS, where)
    patterns = cat["patterns"]
    if not isinstance(patterns, list):
        raise RulesError(f"{where}.patterns", "must be a list")
    checked: list[tuple[str, str]] = []
    for i, pattern in enumerate(patterns):
        here = f"{where}.patterns[{i}]"
        if not isinstance(pattern, Mapping):
            raise RulesError(here, 'must be an object {"regex": ..., "view": "words" | "text"}')
        _keys(pattern, frozenset({"regex", "view", "note"}), here)
        regex, view = pattern.get("regex"), pattern.get("view", "words")
        if not isinstance(regex, str):
            raise RulesError(f"{here}.regex", "must be a string")
        if view not in VIEWS:
            raise RulesError(f"{here}.view", 'must be "words" or "text"')
        try:
            check_pattern(regex)
            re.compile(regex, re.ASCII)
        except PatternError as exc:
            raise RulesError(f"{here}.regex", exc.args[0]) from None
        except re.error as exc:
            raise RulesError(f"{here}.regex", f"not a regular expression ({exc.msg})") from None
        checked.append((regex, view))
    return Category(
        id=cat["id"],
        label=_text(cat.get("label"), f"{where}.label", _LABEL_MAX),
        message=_text(cat.get("message"), f"{where}.message", _MESSAGE_MAX),
        action=_action(cat.get("action"), f"{where}.action"),
        alert=_bool(cat["alert"], f"{where}.alert"),
        words=tuple(_strings(cat["words"], f"{where}.words")),
        phrases=tuple(_strings(cat["phrases"], f"{where}.phrases")),
        patterns=tuple(checked),
        ignore=tuple(_strings(cat["ignore"], f"{where}.ignore")),
    )


def _tables(section: Mapping[str, Any]) -> Tables:
    _keys(section, _NORMALISE_KEYS, "normalise")

    def mapping(field: str, *, key_ok: Any, value_ok: Any, value_rule: str) -> dict[str, str]:
        value = section.get(field, {})
        where = f"normalise.{field}"
        if not isinstance(value, Mapping):
            raise RulesError(where, "must be an object")
        for k, v in value.items():
            if len(k) != 1 or not _bmp(k) or not key_ok(k):
                raise RulesError(where, "keys must be single characters of the kind it lists")
            if not isinstance(v, str) or not value_ok(v):
                raise RulesError(where, f"values must be {value_rule}")
        return dict(value)

    def latin(v: str) -> bool:
        return bool(re.fullmatch(r"[a-z]", v))

    def symbol(k: str) -> bool:
        # Not "_" nor a control character: fold() uses those as plain punctuation.
        return not k.isalpha() and not is_space(k) and k != "_" and not _control(k)

    joiners = section.get("joiners", "")
    if not isinstance(joiners, str) or any(
        c.isalnum() or is_space(c) or not _bmp(c) or c == "_" or _control(c) for c in joiners
    ):
        raise RulesError("normalise.joiners", "must be a string of punctuation characters")
    confusables = mapping(
        "confusables",
        key_ok=lambda k: k != " ",
        value_ok=lambda v: len(v) <= 4 and " " not in v and v == v.lower(),
        value_rule="at most four lower-case characters without spaces",
    )
    substitutions = mapping(
        "substitutions", key_ok=symbol, value_ok=latin, value_rule="one letter a-z"
    )
    inner = mapping(
        "inner",
        key_ok=lambda k: symbol(k) and not k.isalnum(),
        value_ok=latin,
        value_rule="one letter a-z",
    )
    # A joiner is dropped and a substitution read as a letter: one character
    # cannot be both (the tokens would depend on which rule went first).
    if any(c in substitutions or c in inner for c in joiners):
        raise RulesError("normalise.joiners", "must not hold a character of substitutions or inner")
    return Tables(
        confusables=confusables,
        substitutions=substitutions,
        inner=inner,
        joiners=joiners,
        alike=mapping(
            "alike", key_ok=lambda k: latin(k), value_ok=latin, value_rule="one letter a-z"
        ),
    )


def _control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


def _bmp(char: str) -> bool:
    """One UTF-16 unit, not a surrogate: the same single character in both engines."""
    return ord(char) <= 0xFFFF and not 0xD800 <= ord(char) <= 0xDFFF


def _keys(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise RulesError(
                where, f"unknown field {key!r}" if _ID.fullmatch(str(key)) else "unknown field"
            )


def _action(value: object, where: str) -> Action:
    for action in ACTIONS:
        if value == action:
            return action
    raise RulesError(where, "must be one of off, warn, cw, block")


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise RulesError(where, "must be true or false")
    return value


def _text(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise RulesError(where, f"must be a non-empty string of at most {limit} characters")
    return value


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list):
        raise RulesError(where, "must be a list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > _ENTRY_MAX:
            raise RulesError(
                f"{where}[{i}]", f"must be a non-empty string of at most {_ENTRY_MAX} characters"
            )
    return list(value)


def expand(entry: str) -> list[str]:
    """Brace alternatives written out: "kill{,s,ed} {you,u}" -> kill you, kill u, kills you..."""
    parts = _BRACES.split(entry)
    # parts alternates literal text and the inside of a {...}
    out = [""]
    for i, part in enumerate(parts):
        options = part.split(",") if i % 2 else [part]
        out = [o + p for o in out for p in options]
        if len(out) > _EXPANSIONS_MAX:
            raise ValueError(f"more than {_EXPANSIONS_MAX} alternatives")
    if any(c in o for o in out for c in "{}"):
        raise ValueError("an unmatched or nested { }")
    return out


def _expanded(entries: Sequence[str], where: str) -> tuple[tuple[str, ...], ...]:
    """Each entry's alternatives, in order; the Matcher reports problems by entry index."""
    out = []
    for i, entry in enumerate(entries):
        try:
            out.append(tuple(expand(entry)))
        except ValueError as exc:
            raise RulesError(f"{where}[{i}]", str(exc)) from None
    return tuple(out)
