"""The regular-expression subset that Python's ``re`` and JavaScript's RegExp read alike.

A rules file is evaluated by both engines, so a pattern must mean the same
thing in ``re.compile(p, re.ASCII)`` and ``new RegExp(p, "gu")``. Rather than
hope, both engines parse every pattern with the same small grammar at load
time and refuse anything outside it (clients/web/content.js has the twin):

* literals: any character but ``^ $ \\ . * + ? ( ) [ ] { } |``, and no
  upper-case ASCII letter (both views are lower case, so one never matches);
* ``.``, ``^``, ``$`` (the views hold no line breaks, so these agree);
* escapes ``\\d \\D \\w \\W \\s \\S \\b \\B``, ``\\uXXXX`` and a backslash before
  one of the special characters above or ``/`` (ASCII meanings in both:
  ``re.ASCII`` there, the ``u`` flag without ``i`` here);
* classes ``[...]`` and ``[^...]`` of literals, escapes and ranges ``a-z``;
  ``[``, a lone ``-`` and the doubled ``&& || ~~ --`` must be escaped;
* groups ``(...)``, ``(?:...)``, lookahead ``(?=...)`` ``(?!...)`` and
  fixed-width lookbehind ``(?<=...)`` ``(?<!...)``;
* quantifiers ``* + ? {n} {n,} {n,m}`` (n, m <= 1000), each optionally lazy.

Not allowed: backreferences, named groups, inline flags, possessive
quantifiers, atomic groups, ``\\A \\Z \\p``. Two extra rules keep matching
cheap and iteration identical: a pattern must not be able to match the empty
string, and an unbounded repetition may not contain another one (``(a+)*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

SPECIAL = frozenset("^$\\.*+?()[]{}|")
_CLASS_ESCAPES = frozenset("dDwWsS")
_QUANT_MAX = 1000
PATTERN_MAX = 1000


class PatternError(ValueError):
    """A pattern outside the subset; ``problem`` says what, ``at`` where (0-based)."""

    def __init__(self, problem: str, at: int) -> None:
        super().__init__(f"{problem} (at character {at})")
        self.problem = problem
        self.at = at


# A set of characters, or None for "too many to be worth listing".
Chars = frozenset[str] | None
# A set of strings, or None for "too many, or not known".
Strings = frozenset[str] | None
_DIGITS = frozenset("0123456789")
_SPACE = frozenset(" \t\n\r\x0b\x0c")
_SET_MAX = 256
# At most this many strings in a set of Strings (a product of alternatives
# grows fast), and a repetition spelled out only up to this many times.
_STRINGS_MAX = 64
_SPELL_MAX = 8


@dataclass(frozen=True, slots=True)
class _Width:
    """What the parser knows of a piece of pattern: its width, and scan hints.

    ``first``: the characters a match can start with; ``need``: a set of
    characters of which every match contains at least one; ``exact``: every
    string the piece can match, when there are few; ``factors``: strings of
    which every match contains at least one. Python's engine uses the hints to
    skip a pattern (nothing needed is in the text) or to try it only where a
    match can start; they never change what matches.
    """

    lo: int
    hi: int | None  # None: unbounded
    unbounded: bool  # holds an unbounded repetition somewhere
    first: Chars = None
    need: Chars = None
    exact: Strings = None
    factors: Strings = None


_EMPTY: frozenset[str] = frozenset()
_NOTHING: frozenset[str] = frozenset({""})
# Anchors, \b and lookarounds: they match no character.
_ZERO = _Width(0, 0, False, _EMPTY, None, _NOTHING, None)


def _one(chars: Chars) -> _Width:
    strings = chars if chars is not None and len(chars) <= _STRINGS_MAX else None
    return _Width(1, 1, False, chars, chars, strings, strings)


@dataclass(frozen=True, slots=True)
class Hints:
    """Scan hints of a whole pattern (see _Width); None where nothing useful is known."""

    first: Chars
    need: Chars
    factors: Strings = None


@lru_cache(maxsize=256)
def check_pattern(source: str) -> Hints:
    """Raise PatternError unless ``source`` is inside the subset both engines agree on.

    Remembered (a policy is checked, then compiled; a tuned one has the same
    patterns again), as the hints take a few milliseconds to work out.
    """
    if not source:
        raise PatternError("empty pattern", 0)
    if len(source) > PATTERN_MAX:
        raise PatternError(f"longer than {PATTERN_MAX} characters", PATTERN_MAX)
    parser = _Parser(source)
    width = parser.alternation()
    if parser.i < len(source):
        raise PatternError("unbalanced )", parser.i)
    if width.lo == 0:
        raise PatternError("the pattern can match an empty string", 0)
    return Hints(width.first, width.need, width.factors)


def _union(sets: list[Chars]) -> Chars:
    out: set[str] = set()
    for s in sets:
        if s is None:
            return None
        out |= s
    return frozenset(out)


def _product(a: Strings, b: Strings) -> Strings:
    """Every string of ``a`` followed by every one of ``b``; None if unknown or too many."""
    if a is None or b is None or len(a) * len(b) > _STRINGS_MAX:
        return None
    if len(b) == 1:  # the common case, a literal character: half the cost
        (y,) = b
        return frozenset([x + y for x in a])
    return frozenset([x + y for x in a for y in b])


def _spelled(exact: Strings, lo: int, hi: int | None) -> Strings:
    """The strings ``exact`` repeated lo to hi times can make; None if unknown or too many."""
    if exact is None or hi is None or hi > _SPELL_MAX:
        return None
    out: set[str] = set()
    power: Strings = _NOTHING
    for times in range(hi + 1):
        if power is None:
            return None
        if times >= lo:
            out |= power
        power = _product(power, exact)
    return frozenset(out) if len(out) <= _STRINGS_MAX else None


def _best(sets: list[Strings]) -> Strings:
    """The most useful set of factors: one a text is least likely to hold.

    A set holding "" tells nothing (every text holds it). Preferred: sets of
    strings with a space at both ends, which in the words view are whole words
    (matcher.Scan turns them into a set of words); then the longest shortest
    string; then the fewest strings.
    """
    known = [s for s in sets if s and "" not in s]
    if not known:
        return None

    def score(s: frozenset[str]) -> tuple[bool, int, int]:
        spaced = all(len(f) > 2 and f[0] == " " == f[-1] for f in s)
        return (spaced, min(map(len, s)), -len(s))

    return max(known, key=score)


def _escape_set(letter: str) -> Chars:
    return {"d": _DIGITS, "s": _SPACE}.get(letter)


def _strings_union(sets: list[Strings]) -> Strings:
    out = _union(sets)
    return out if out is not None and len(out) <= _STRINGS_MAX else None


def _rarest(sets: list[Chars]) -> Chars:
    """The most useful "need" among those of a sequence's required parts."""
    known = [s for s in sets if s is not None]
    if not known:
        return None

    def common(s: frozenset[str]) -> bool:
        return any(c.isalpha() or c == " " for c in s)

    return min(known, key=lambda s: (common(s), len(s)))


class _Parser:
    def __init__(self, source: str) -> None:
        self.s = source
        self.i = 0

    def _peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def _fail(self, problem: str) -> PatternError:
        return PatternError(problem, self.i)

    def alternation(self) -> _Width:
        widths = [self.sequence()]
        while self._peek() == "|":
            self.i += 1
            widths.append(self.sequence())
        his = [w.hi for w in widths]
        return _Width(
            min(w.lo for w in widths),
            None if None in his else max(h for h in his if h is not None),
            any(w.unbounded for w in widths),
            _union([w.first for w in widths]),
            _union([w.need for w in widths]),
            _strings_union([w.exact for w in widths]),
            _strings_union([w.factors for w in widths]),
        )

    def sequence(self) -> _Width:
        lo, unbounded = 0, False
        hi: int | None = 0
        firsts: list[Chars] = []
        needs: list[Chars] = []
        # Every match holds a match of each part, and of each run of parts in
        # a row: ``run`` is what the current run of parts with known strings
        # can match, begun again where a part is unknown or the run too big
        # (then what the whole sequence can match is not known either).
        run: frozenset[str] = _NOTHING
        whole = True
        factors: list[Strings] = []
        while self._peek() not in ("", "|", ")"):
            width, repeatable = self.atom()
            if self._peek() in ("*", "+", "?", "{"):
                if not repeatable:
                    raise self._fail("nothing to repeat")
                qlo, qhi = self.quantifier()
                if qhi is None and width.unbounded:
                    raise self._fail("an unbounded repetition inside another")
                width = _Width(
                    width.lo * qlo,
                    None if qhi is None or width.hi is None else width.hi * qhi,
                    width.unbounded or qhi is None,
                    width.first,
                    width.need if qlo else None,
                    _spelled(width.exact, qlo, qhi),
                    width.factors if qlo else None,
                )
                if self._peek() == "?":
                    self.i += 1
                if self._peek() in ("*", "+", "?", "{"):
                    raise self._fail("a repetition of a repetition (possessive?)")
            if lo == 0:  # everything so far can be empty: this part can start a match
                firsts.append(width.first)
            if width.lo:
                needs.append(width.need)
            lo += width.lo
            hi = None if hi is None or width.hi is None else hi + width.hi
            unbounded = unbounded or width.unbounded
            if width.exact is None:  # else the run holding this part says more
                factors.append(width.factors)
            longer = _product(run, width.exact)
            if longer is None:
                factors.append(run)
                longer = width.exact if width.exact is not None else _NOTHING
                whole = False
            run = longer
        factors.append(run)
        first = _union(firsts) if lo else None  # an empty sequence may start with anything
        exact = run if whole else None
        return _Width(lo, hi, unbounded, first, _rarest(needs), exact, _best(factors))

    def atom(self) -> tuple[_Width, bool]:
        c = self.s[self.i]
        if c == "(":
            return self.group()
        if c == "[":
            return _one(self.char_class()), True
        if c == "\\":
            return self.escape()
        if c == ".":
            self.i += 1
            return _one(None), True
        if c in "^$":
            self.i += 1
            return _ZERO, False
        if c in "*+?{":
            raise self._fail("nothing to repeat")
        if c in "]}":
            raise self._fail(f"write \\{c} for a literal {c}")
        if "A" <= c <= "Z":
            raise self._fail("upper-case letter (the text is lower case when patterns run)")
        self.i += 1
        return _one(frozenset(c)), True

    def group(self) -> tuple[_Width, bool]:
        self.i += 1
        look = ""
        if self._peek() == "?":
            for prefix in ("?:", "?=", "?!", "?<=", "?<!"):
                if self.s.startswith(prefix, self.i):
                    look = prefix
                    break
            else:
                raise self._fail(
                    "unsupported group: use (...), (?:...), (?=...), (?!...), (?<=...)"
                )
            self.i += len(look)
        inner = self.alternation()
        if self._peek() != ")":
            raise self._fail("missing )")
        self.i += 1
        if look in ("?<=", "?<!") and inner.lo != inner.hi:
            raise self._fail("a lookbehind must have a fixed width")
        if look and look != "?:":
            return _ZERO, False
        return inner, True

    def escape(self) -> tuple[_Width, bool]:
        self.i += 1
        c = self._peek()
        if not c:
            raise self._fail("a pattern cannot end with a backslash")
        self.i += 1
        if c in _CLASS_ESCAPES:
            return _one(_escape_set(c)), True
        if c in "bB":
            return _ZERO, False
        if c in SPECIAL or c == "/":
            return _one(frozenset(c)), True
        if c == "u":
            return _one(frozenset(chr(self._hex4()))), True
        self.i -= 1
        raise self._fail(f"unsupported escape \\{c}")

    def _hex4(self) -> int:
        digits = self.s[self.i : self.i + 4]
        if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise self._fail("\\u needs four hexadecimal digits")
        self.i += 4
        return int(digits, 16)

    def char_class(self) -> Chars:
        self.i += 1
        negated = self._peek() == "^"
        if negated:
            self.i += 1
        if self._peek() == "]":
            raise self._fail("an empty class")
        members: set[str] | None = set()
        while True:
            c = self._peek()
            if not c:
                raise self._fail("missing ]")
            if c == "]":
                self.i += 1
                if negated or members is None or len(members) > _SET_MAX:
                    return None
                return frozenset(members)
            atom_start = self.i
            low = self.class_atom()
            if self._peek() == "-" and self.s[self.i + 1 : self.i + 2] not in ("", "]"):
                self.i += 1
                high = self.class_atom()
                if low is None or high is None:
                    raise self._fail("a range cannot start or end with a class escape")
                if low > high:
                    raise self._fail("a range out of order")
                if members is not None and high - low < _SET_MAX:
                    members.update(chr(k) for k in range(low, high + 1))
                else:
                    members = None
            elif self._peek() == "-":
                raise self._fail("write \\- for a literal - in a class")
            elif members is not None:
                if low is None:
                    escaped = _escape_set(self.s[atom_start + 1])
                    members = None if escaped is None else members | escaped
                else:
                    members.add(chr(low))

    def class_atom(self) -> int | None:
        c = self._peek()
        if not c:
            raise self._fail("missing ]")
        if c == "\\":
            self.i += 1
            e = self._peek()
            if not e:
                raise self._fail("missing ]")
            self.i += 1
            if e in _CLASS_ESCAPES:
                return None
            if e in SPECIAL or e in "/-":
                return ord(e)
            if e == "u":
                return self._hex4()
            self.i -= 1
            raise self._fail(f"unsupported escape \\{e} in a class")
        if c in "[-":
            raise self._fail(f"write \\{c} for a literal {c} in a class")
        if c in "&|~" and self.s[self.i + 1 : self.i + 2] == c:
            raise self._fail(f"escape one of a doubled {c}{c} in a class")
        if "A" <= c <= "Z":
            raise self._fail("upper-case letter (the text is lower case when patterns run)")
        self.i += 1
        return ord(c)

    def quantifier(self) -> tuple[int, int | None]:
        c = self.s[self.i]
        self.i += 1
        if c == "*":
            return 0, None
        if c == "+":
            return 1, None
        if c == "?":
            return 0, 1
        lo = self._number()
        hi: int | None = lo
        if self._peek() == ",":
            self.i += 1
            hi = self._number() if self._peek() != "}" else None
        if self._peek() != "}":
            raise self._fail("a repetition is {n}, {n,} or {n,m}; write \\{ for a literal {")
        self.i += 1
        if lo > _QUANT_MAX or (hi is not None and hi > _QUANT_MAX):
            raise self._fail(f"a repetition bound above {_QUANT_MAX}")
        if hi is not None and hi < lo:
            raise self._fail("a repetition {n,m} with m < n")
        return lo, hi

    def _number(self) -> int:
        start = self.i
        while self._peek().isdigit() and self._peek() in "0123456789":
            self.i += 1
        if self.i == start:
            raise self._fail("a repetition is {n}, {n,} or {n,m}; write \\{ for a literal {")
        return int(self.s[start : self.i])
