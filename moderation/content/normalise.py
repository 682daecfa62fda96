"""Text normalisation for the content rules: what a message "says" once disguises are removed.

Every step here has a twin in clients/web/content.js, and the two must give
the same tokens for every text (tests/moderation/test_content_parity.py runs
both over the shared vectors and a fuzz set). The tables (look-alikes,
substitutions) are data from the rules file, so they cannot drift apart.

The steps, in order (moderation/content/README.md has the long form):

1. Per code point: NFKD, lower case, NFKD again (lowering can decompose, as
   with U+0130), drop combining marks and format characters (Mn, Me, Cf: accents,
   zero-width joiners, bidi controls), map every kind of whitespace to " ".
   That is the *plain* view, which keeps digits and symbols for the
   personal-information patterns.
2. The *folded* view also maps look-alike letters to Latin (Cyrillic, Greek,
   small capitals...) through the rules file's ``confusables`` table.
3. Tokens are runs of letters, digits and substitution symbols; inner
   symbols (``!`` in ``sh!t``) and joiners (apostrophes) only count between
   two of those. Runs of three or more one-character tokens with one or two
   characters between them ("k i l l", "k.i.l.l") are written together.
4. In a token with a letter (and not starting with two digits, so "500mg"
   stays a quantity), digits and symbols become letters (``k1ll`` -> kill).

Matching (engine.py) then compares *lookup forms*: letters treated alike
merged (l -> i, so ``1`` may stand for either) and repeated letters collapsed.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate, chain, compress, count, islice, repeat
from operator import add, sub
from typing import TypeVar

_DROP = frozenset({"Mn", "Me", "Cf"})
_SPACES = frozenset({"Zs", "Zl", "Zp"})
# Whitespace beyond the Z categories: the C0/C1 controls Python's isspace()
# and JavaScript's \s disagree about are listed here once, for both engines.
_SPACE_CHARS = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85")

# One-character tokens with one or two characters between them, three or more in a row.
SPACED_MIN = 3
SPACED_GAP_MAX = 2
# Punctuation with no space, of at most this many characters, glues two tokens
# into one word ("ki.ll", "self-harm"); a longer gap or any space separates them.
GLUE_MAX = 3
# A bound on what the per-character caches may hold: a hostile text of many
# distinct code points must not grow them without limit.
_CACHE_MAX = 50_000
# The same for the caches of whole tokens.
_MEMO_MAX = 20_000
_K = TypeVar("_K")
_V = TypeVar("_V")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Up to about this many extra UTF-8 bytes (a few dozen non-ASCII characters),
# finding them with a regex beats ``set(text)``; past it, the set is cheaper.
_FEW_NON_ASCII = 64


def non_ascii(text: str) -> set[str]:
    """The distinct non-ASCII characters of ``text``.

    Iterating a text makes a new string object for each character beyond
    Latin-1 (an apostrophe typed on a phone is one), so ``set(text)`` costs
    about the same for a text with three of them as for one in Cyrillic. The
    regex makes a string only for the characters it finds: several times
    cheaper when they are few (the common case, English typed on a phone),
    more than twice as dear when most characters are. The length of the UTF-8
    encoding, which C works out in a fraction of either, tells which case it is
    (a lone surrogate, which a decrypted text may hold, is let through).
    """
    if len(text.encode("utf-8", "surrogatepass")) - len(text) < _FEW_NON_ASCII:
        return set(_NON_ASCII.findall(text))
    return {c for c in set(text) if not c.isascii()}


def is_space(char: str) -> bool:
    """Whitespace as both engines define it (Z categories and the listed controls)."""
    return char in _SPACE_CHARS or unicodedata.category(char) in _SPACES


def base(char: str) -> str:
    """One code point of the plain view: decomposed, lower case, marks and invisibles gone."""
    out: list[str] = []
    for d in unicodedata.normalize("NFKD", char):
        for e in unicodedata.normalize("NFKD", d.lower()):
            cat = unicodedata.category(e)
            if cat in _DROP:
                continue
            out.append(" " if cat in _SPACES or e in _SPACE_CHARS else e)
    return "".join(out)


class Memo(dict[_K, _V]):
    """``convert(key)``, computed on first sight and remembered (a message repeats its words).

    Bounded (emptied when full), as a hostile text may vary without end.
    """

    def __init__(self, convert: Callable[[_K], _V]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, key: _K) -> _V:
        value = self._convert(key)
        if len(self) >= _MEMO_MAX:
            self.clear()
        self[key] = value
        return value


class _Table(dict[int, str]):
    """A ``str.translate`` table that computes and remembers each code point on first sight.

    With ``keep`` set, it makes the *shape* of the folded view instead: token
    characters as they are, every other character a space.
    """

    def __init__(self, convert: Mapping[str, str], keep: frozenset[str] | None = None) -> None:
        super().__init__()
        self._convert = convert
        self._keep = keep

    def __missing__(self, key: int) -> str:
        char = chr(key)
        value = "".join(self._convert.get(e, e) for e in base(char))
        if self._keep is not None:
            value = "".join(e if e.isalnum() or e in self._keep else " " for e in value)
        if len(self) < _CACHE_MAX:
            self[key] = value
        return value

    def apply(self, text: str) -> str:
        """``text.translate(self)``, faster for a text with a few distinct non-ASCII characters.

        CPython translates ASCII text through a fast path and anything else one
        character at a time. So each non-ASCII character is first replaced by
        its value, when that value is ASCII and the table leaves it as it is
        (then translating the replaced text again changes nothing more).
        """
        if not text.isascii():
            for char in non_ascii(text):
                value = self[ord(char)]
                if not (value.isascii() and value.translate(self) == value):
                    return text.translate(self)
                text = text.replace(char, value)
        return text.translate(self)


@dataclass(frozen=True, slots=True)
class Tables:
    """The rules file's normalisation data, already validated by policy.py."""

    confusables: Mapping[str, str]
    substitutions: Mapping[str, str]
    inner: Mapping[str, str]
    joiners: str
    alike: Mapping[str, str]


@dataclass(slots=True)
class Tokens:
    """The folded text's words, and where they lie in it.

    ``texts``: each token as matching reads it; ``pieces[k]``: the characters
    of the folded view token k covers; ``start(k)``: where it begins in that
    view; ``folded``: the view itself (what lies between two tokens). Most
    texts never need where a token begins, and a hit only needs it up to its
    last token, so the starts are summed from ``_rest`` only as far as asked
    (``Normaliser.tokens`` and ``place`` make that iterator lazily); the view
    is made on first use when ``place`` left a function for it (only glue
    needs it).
    """

    texts: list[str]
    pieces: list[str]
    _rest: Iterator[int]
    _view: str | Callable[[], str]
    _starts: list[int] = field(default_factory=list)

    def start(self, k: int) -> int:
        """Where token ``k`` begins in the folded view."""
        starts = self._starts
        if k >= len(starts):
            starts.extend(islice(self._rest, k + 1 - len(starts)))
        return starts[k]

    @property
    def folded(self) -> str:
        if not isinstance(self._view, str):
            self._view = self._view()
        return self._view

    def glued(self, k: int) -> bool:
        """Whether only punctuation, and little of it (no space), separates token k from k - 1."""
        if k == 0:
            return False
        start = self.start(k)
        end = self._starts[k - 1] + len(self.pieces[k - 1])
        return start - end <= GLUE_MAX and " " not in self.folded[end:start]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Where tokens ``first..last`` lie in the folded view."""
        end = self.start(last) + len(self.pieces[last])
        return self._starts[first], end


@dataclass(slots=True)
class Words:
    """A text's tokens as ``Normaliser.quick`` found them, and what it needs to place them.

    ``raws``: each token as it stands in the folded view (``texts`` are what
    matching reads, ``view`` their words view); ``chunks``: the runs of token
    characters of ``shape``, the folded view with every character that is not
    a token character made a space; ``cores``: the chunks with inner symbols
    trimmed off their ends (the very same list when no chunk needed it).
    ``raws`` are the cores less those without a letter or digit (punctuation).
    """

    text: str
    texts: list[str]
    view: str
    raws: list[str]
    chunks: list[str]
    cores: list[str]
    shape: str


def _class(chars: str) -> str:
    """A regex character class body listing ``chars`` as \\uXXXX escapes (BMP only, checked)."""
    return "".join(f"\\u{ord(c):04x}" for c in sorted(set(chars)))


class Normaliser:
    """Builds the views and tokens of a text for one set of tables."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self._plain = _Table({})
        self._fold = _Table(tables.confusables)
        # Symbols that stand for letters anywhere in a token ($, @, digits are
        # already word characters), and those that only count inside one.
        symbols = "".join(c for c in tables.substitutions if not c.isalnum())
        inner = "".join(tables.inner) + tables.joiners
        # One character class is several times faster in ``re`` than an
        # alternation; \w also holds "_", which fold() turns into \x00 (a
        # character no table may use, so still punctuation) to keep it out.
        word = f"[\\w{_class(symbols)}]"
        joined = f"(?:[{_class(inner)}]+{word}+)*" if inner else ""
        self._token = re.compile(f"({word}+{joined})")
        self._symbols = frozenset(symbols)
        self._inner = inner
        self._edges = tuple((c, f" {c}", f"{c} ") for c in inner)
        # A chunk stripped of these at both ends is "" when it has no letter or
        # digit: it is punctuation, no token.
        self._nonword = symbols + inner
        self._shape = _Table(tables.confusables, frozenset(symbols + inner))
        self._leet = str.maketrans({**tables.substitutions, **tables.inner})
        self._unjoin = str.maketrans(dict.fromkeys(tables.joiners, None))
        self._alike = str.maketrans(dict(tables.alike))
        self._readings = Memo(self._process)
        # Whether each ASCII character is exactly one character in both views,
        # so that offsets need no table (the common case: a plain English text).
        self.ascii_one_to_one = all(
            len(v) == 1 for k, v in tables.confusables.items() if k.isascii()
        )

    # -- views -----------------------------------------------------------

    def plain(self, text: str) -> str:
        """The plain view: what personal-information patterns read."""
        return self._plain.apply(text)

    def fold(self, text: str) -> str:
        """The folded view: the plain view with look-alike letters made Latin."""
        folded = self._fold.apply(text)
        return folded.replace("_", "\x00") if "_" in folded else folded

    def origin(self, text: str, folded: bool) -> Callable[[int], int]:
        """A function from an offset in a view of ``text`` to the code point it came from.

        Only needed to report where a rule matched, so computed only then, and
        only as the running length of the view after each code point: the
        character at offset k came from the first code point whose running
        length passes k (one that became nothing is skipped, as it should be).
        """
        table = self._fold if folded else self._plain
        ends = list(accumulate(map(len, map(table.__getitem__, map(ord, text)))))
        return partial(bisect_right, ends)

    # -- tokens ----------------------------------------------------------

    def quick(self, text: str) -> Words | None:
        """The tokens of ``text`` without positions or glue; None if it cannot tell.

        Its ``texts`` equal ``tokens(fold(text)).texts`` (tests hold it so).

        A run of token characters between spaces in the shape, trimmed of inner
        symbols, is exactly one token (unless it is symbols only: then it is
        punctuation). Spaced letters need the gaps' lengths, so for those it
        answers None and the caller uses ``tokens``.
        """
        shape = self._shape.apply(text)
        chunks = shape.split()
        # Inner symbols count only between word characters, and a chunk of
        # symbols only is no token: only a chunk with an inner symbol touching
        # a space or an end, or with a symbol, can need trimming. (Looking for
        # the symbol alone first is several times cheaper than for the pairs.)
        cores = raws = chunks
        if any(
            c in shape
            and (before in shape or after in shape or shape.startswith(c) or shape.endswith(c))
            for c, before, after in self._edges
        ):
            cores = list(map(str.strip, chunks, repeat(self._inner)))
            raws = list(filter(None, cores)) if "" in cores else cores
        if self._symbols and any(s in shape for s in self._symbols):
            raws = list(compress(cores, map(str.strip, cores, repeat(self._nonword))))
        # A one-character raw reads as one character and a longer one as more
        # (substitutions are one letter each, and joiners sit only between
        # two other characters), so spaced letters show in the words view.
        texts = self._texts(raws)
        view = words_view(texts)
        if _SPACED.search(view):
            return None
        return Words(text, texts, view, raws, chunks, cores, shape)

    def place(self, words: Words) -> Tokens:
        """``tokens(fold(words.text))``, from what ``quick`` found, without the token regex.

        The shape is as long as the folded view, and its spaces are where the
        view has no token character. So splitting it on " " gives every chunk,
        and where each begins follows from the lengths of the pieces before it.
        """
        parts = words.shape.split(" ")
        # Piece m begins after pieces 0..m-1 and the m spaces that ended them;
        # the empty pieces (between two spaces) hold no chunk. All lazy: a
        # hit needs the starts only up to its last token.
        begins = map(add, accumulate(map(len, parts), initial=0), count())
        starts: Iterator[int] = compress(begins, parts)
        chunks, cores = words.chunks, words.cores
        if cores is not chunks:  # some chunks lost inner symbols: move their starts
            trimmed = map(str.lstrip, chunks, repeat(self._inner))
            lost = map(sub, map(len, chunks), map(len, trimmed))
            starts = map(add, starts, lost)
        if len(cores) != len(words.raws):  # keep the starts of the chunks quick() kept
            starts = compress(starts, map(str.strip, cores, repeat(self._nonword)))
        return Tokens(words.texts, words.raws, starts, partial(self.fold, words.text))

    def plain_probe(self, text: str) -> str:
        """A string holding every character ``plain(text)`` holds (and more), cheaply.

        An ASCII character's plain view is its lower case (or a space); a
        non-ASCII character's is looked up (and kept as it is: NFKD can make
        an upper-case letter, as U+210C does). So a character absent from the
        probe is absent from the view, and the view need not be built.
        """
        lower = text.lower()
        if text.isascii():
            return lower
        return lower + "".join([self._plain[ord(c)] for c in non_ascii(text)])

    def _texts(self, raws: list[str]) -> list[str]:
        if "".join(raws).isalpha():
            return raws
        # Some token has a digit, a symbol or a joiner ("i'm"). A message repeats
        # its words, so looking each one's reading up beats testing each token.
        return list(map(self._readings.__getitem__, raws))

    def tokens(self, folded: str) -> Tokens:
        """Split the folded view into tokens; see the module docstring for the rules."""
        parts = self._token.split(folded)
        raws = parts[1::2]
        gaps = parts[0::2]
        pieces = raws
        if self._symbols and any(s in folded for s in self._symbols):
            raws, gaps = _drop_symbol_only(raws, gaps)
            pieces = raws
        if _SPACED.search(words_view(raws)):
            raws, gaps, pieces = _join_spaced(raws, gaps)
        return Tokens(self._texts(raws), pieces, _starts(gaps, pieces), folded)

    def _process(self, raw: str) -> str:
        """Joiners out; in a word with a letter, digits and symbols read as letters."""
        token = raw.translate(self._unjoin)
        if token.isalpha() or token.isdecimal():  # "dont", "2024": nothing to substitute
            return token
        if any(c.isalpha() for c in token) and not token[:2].isdecimal():
            token = token.translate(self._leet)
        return token

    # -- lookup forms ----------------------------------------------------

    def merged(self, token: str) -> str:
        """Letters treated alike made one (l -> i), repeats kept."""
        return token.translate(self._alike)

    @staticmethod
    def collapse(text: str) -> str:
        """Runs of one repeated character made one: "kiiil" -> "kil"."""
        return _REPEATS.sub(r"\1", text)


_REPEATS = re.compile(r"(.)\1+", re.DOTALL)
# Three one-character tokens in a row (a sign of spaced letters), in a words view.
_SPACED = re.compile(" " + "[^ ] " * SPACED_MIN)


def words_view(tokens: list[str]) -> str:
    """The *words* view that word patterns read: each token with a space either side."""
    return f" {' '.join(tokens)} "


def _starts(gaps: list[str], pieces: list[str]) -> Iterator[int]:
    """Where each token begins: after the gap before it and the token before (and so on)."""
    return accumulate(map(add, map(len, gaps[:-1]), chain((0,), map(len, pieces))))


def _drop_symbol_only(raws: list[str], gaps: list[str]) -> tuple[list[str], list[str]]:
    """A token of symbols only ("$$", "@") is punctuation: fold it into the gaps around it."""
    out_raws: list[str] = []
    out_gaps = [gaps[0]]
    for raw, gap in zip(raws, gaps[1:], strict=True):
        if any(c.isalnum() for c in raw):
            out_raws.append(raw)
            out_gaps.append(gap)
        else:
            out_gaps[-1] += raw + gap
    return out_raws, out_gaps


def _join_spaced(raws: list[str], gaps: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Merge runs of one-character tokens ("k i l l", "k.i.l.l") into one token each.

    Returns the tokens, the gaps between them and the piece of the folded view
    each covers (a merged token covers the characters between its letters).
    """
    out_raws: list[str] = []
    out_gaps = [gaps[0]]
    pieces: list[str] = []
    i, n = 0, len(raws)
    while i < n:
        j = i
        while (
            j + 1 < n
            and len(raws[j]) == 1
            and len(raws[j + 1]) == 1
            and 1 <= len(gaps[j + 1]) <= SPACED_GAP_MAX
        ):
            j += 1
        if j - i + 1 >= SPACED_MIN:
            out_raws.append("".join(raws[i : j + 1]))
            between = zip(raws[i:j], gaps[i + 1 : j + 1], strict=True)
            pieces.append("".join(r + g for r, g in between) + raws[j])
        else:
            j = i
            out_raws.append(raws[i])
            pieces.append(raws[i])
        out_gaps.append(gaps[j + 1])
        i = j + 1
    return out_raws, out_gaps, pieces
