// Content rules in the browser: normalisation, the twin of moderation/content/normalise.py.
// What a message says once its disguises are removed; every step here has a
// Python counterpart of the same name (moderation/content/README.md).
// Plain ES module, no dependencies; clients/web/content.js is the entry point.

const DROP = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const SPACE = /^[\p{Zs}\p{Zl}\p{Zp}\t\n\v\f\r\x1c-\x1f\x85]$/u;
const LETTER = /\p{L}/u;
const ALNUM = /[\p{L}\p{N}]/u;
export const ALNUM_ONE = /^[\p{L}\p{N}]$/u;
export const LETTER_ONE = /^\p{L}$/u;
const TWO_DIGITS = /^\p{Nd}\p{Nd}/u;
export const CONTROL = /^\p{Cc}$/u;
const ASCII = /^[\x00-\x7f]*$/;
const LETTERS = /^\p{L}+$/u;
const ASCII_LETTERS = /^[a-z]+$/;
const REPEATS = /(.)\1+/gsu;
const SPACED_MIN = 3;
const SPACED_GAP_MAX = 2;
const GLUE_MAX = 3;
const CACHE_MAX = 50000;

export const cpLength = (s) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

export function isSpace(c) {
  return SPACE.test(c);
}

/** One code point of the plain view: decomposed, lower case, marks and invisibles gone. */
export function base(char) {
  let out = "";
  for (const d of char.normalize("NFKD")) {
    for (const e of d.toLowerCase().normalize("NFKD")) {
      if (DROP.test(e)) continue;
      out += SPACE.test(e) ? " " : e;
    }
  }
  return out;
}

function charClass(chars) {
  return [...new Set(chars)].sort().map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("");
}

export class Normaliser {
  constructor(tables) {
    this.tables = tables;
    this._plain = new Map();
    this._fold = new Map();
    const symbols = Object.keys(tables.substitutions).filter((c) => !ALNUM_ONE.test(c)).join("");
    const inner = Object.keys(tables.inner).join("") + tables.joiners;
    const word = symbols ? `[\\p{L}\\p{N}${charClass(symbols)}]` : "[\\p{L}\\p{N}]";
    const joined = inner ? `(?:[${charClass(inner)}]+${word}+)*` : "";
    this._token = new RegExp(`(${word}+${joined})`, "u");
    this._symbols = [...new Set(symbols)];
    this._leet = new Map([...Object.entries(tables.substitutions), ...Object.entries(tables.inner)]);
    this._joiners = new Set(tables.joiners);
    this._alike = new Map(Object.entries(tables.alike));
    this._asciiPlain = this._asciiTable(false);
    this._asciiFold = this._asciiTable(true);
  }

  _char(c, fold) {
    const cache = fold ? this._fold : this._plain;
    let value = cache.get(c);
    if (value === undefined) {
      value = base(c);
      if (fold) {
        let out = "";
        for (const e of value) out += this.tables.confusables[e] ?? e;
        value = out;
      }
      if (cache.size < CACHE_MAX) cache.set(c, value);
    }
    return value;
  }

  /**
   * A view of `text` (the plain view, or the folded one), and for each of its
   * UTF-16 units the start and end in `text` of the code point it came from
   * (`starts` null: the identity, as for an ASCII text that maps one to one).
   */
  view(text, fold) {
    const ascii = fold ? this._asciiFold : this._asciiPlain;
    if (ascii && ASCII.test(text)) {
      // Lower case does most of it natively; the few others (whitespace, `) are fixed up.
      let out = text.toLowerCase();
      if (ascii.fix) out = out.replace(ascii.fix, (c) => ascii.table[c.charCodeAt(0)]);
      return { text: out, starts: null, ends: null };
    }
    let out = "";
    const starts = [];
    const ends = [];
    let i = 0;
    for (const c of text) {
      const v = this._char(c, fold);
      const end = i + c.length;
      for (let k = 0; k < v.length; k++) {
        starts.push(i);
        ends.push(end);
      }
      out += v;
      i = end;
    }
    return { text: out, starts, ends };
  }

  /**
   * Each ASCII character's view, if every one is exactly one character (else
   * null), and a pattern of those that are not simply their lower case.
   */
  _asciiTable(fold) {
    const table = [];
    let differ = "";
    for (let k = 0; k < 128; k++) {
      const c = String.fromCharCode(k);
      const v = this._char(c, fold);
      if (v.length !== 1) return null;
      table.push(v);
      if (v !== c.toLowerCase()) differ += c;
    }
    return { table, fix: differ ? new RegExp(`[${charClass(differ)}]`, "g") : null };
  }

  /**
   * A string holding every character the plain view of `text` holds (and
   * more), cheaply: an ASCII character of that view comes from itself, its
   * upper case or the value of one of the text's non-ASCII characters.
   */
  plainProbe(text) {
    if (ASCII.test(text)) return text;
    let values = "";
    for (const c of new Set(text)) if (c.charCodeAt(0) > 0x7f) values += this._char(c, false);
    return text + values;
  }

  tokens(folded) {
    // Split with a capture: gaps and tokens alternate, as in the Python engine.
    const parts = folded.split(this._token);
    let found = [];
    let pos = 0;
    for (let k = 0; k < parts.length; k++) {
      const part = parts[k];
      if (k % 2) found.push([pos, pos + part.length, part]);
      pos += part.length;
    }
    if (this._symbols.length && this._symbols.some((s) => folded.includes(s))) {
      // A token of symbols only ("$$", "@") is punctuation, not a word.
      found = found.filter((t) => ALNUM.test(t[2]));
    }
    found = joinSpaced(found, folded);
    const texts = [];
    const starts = [];
    const ends = [];
    const glued = [];
    let prevEnd = -1;
    for (const [a, b, raw] of found) {
      texts.push(ASCII_LETTERS.test(raw) || LETTERS.test(raw) ? raw : this._process(raw));
      if (prevEnd < 0) glued.push(false);
      else if (a - prevEnd > 2 * GLUE_MAX) glued.push(false);
      else {
        const gap = folded.slice(prevEnd, a);
        glued.push(!gap.includes(" ") && cpLength(gap) <= GLUE_MAX);
      }
      starts.push(a);
      ends.push(b);
      prevEnd = b;
    }
    return { texts, starts, ends, glued };
  }

  _process(raw) {
    let token = "";
    for (const c of raw) if (!this._joiners.has(c)) token += c;
    if (LETTER.test(token) && !TWO_DIGITS.test(token)) {
      let out = "";
      for (const c of token) out += this._leet.get(c) ?? c;
      token = out;
    }
    return token;
  }

  merged(token) {
    let out = "";
    for (const c of token) out += this._alike.get(c) ?? c;
    return out;
  }

  static collapse(text) {
    return text.replace(REPEATS, "$1");
  }
}

function joinSpaced(found, folded) {
  const single = (t) => t[2].length === 1 || (t[2].length === 2 && cpLength(t[2]) === 1);
  const gap = (x, y) => (y[0] - x[1] > 2 * SPACED_GAP_MAX ? SPACED_GAP_MAX + 1 : cpLength(folded.slice(x[1], y[0])));
  const out = [];
  let i = 0;
  const n = found.length;
  while (i < n) {
    let j = i;
    while (j + 1 < n && single(found[j]) && single(found[j + 1])) {
      const g = gap(found[j], found[j + 1]);
      if (g < 1 || g > SPACED_GAP_MAX) break;
      j++;
    }
    if (j - i + 1 >= SPACED_MIN) {
      out.push([found[i][0], found[j][1], found.slice(i, j + 1).map((t) => t[2]).join("")]);
      i = j + 1;
    } else {
      out.push(found[i]);
      i++;
    }
  }
  return out;
}
