// Content rules in the browser: the regular-expression subset that Python's
// `re` (with re.ASCII) and JavaScript's RegExp (with the u flag) read alike,
// the twin of moderation/content/patterns.py. Both engines parse every
// pattern of a rules file with this grammar at load time and refuse anything
// outside it (moderation/content/README.md lists the subset).

import { LETTER_ONE } from "./content-text.js";

/** A pattern outside the regular-expression subset both engines agree on. */
export class PatternError extends Error {
  constructor(problem, at) {
    super(`${problem} (at character ${at})`);
    this.name = "PatternError";
    this.problem = problem;
    this.at = at;
  }
}

const SPECIAL = new Set("^$\\.*+?()[]{}|");
const CLASS_ESCAPES = new Set("dDwWsS");
const QUANT_MAX = 1000;
const PATTERN_MAX = 1000;
const HEX = /^[0-9a-fA-F]{4}$/;

/** Throw PatternError unless `source` is inside the subset both engines agree on. */
export function checkPattern(source) {
  const s = Array.from(source);
  if (!s.length) throw new PatternError("empty pattern", 0);
  if (s.length > PATTERN_MAX) throw new PatternError(`longer than ${PATTERN_MAX} characters`, PATTERN_MAX);
  const p = new PatternParser(s);
  const width = p.alternation();
  if (p.i < s.length) throw new PatternError("unbalanced )", p.i);
  if (width.lo === 0) throw new PatternError("the pattern can match an empty string", 0);
  return { need: width.need };
}

// Widths as in patterns.py, with one scan hint: `need`, a Set of characters
// one of which every match contains (null: none worth listing). The engine
// skips a pattern, and even building the plain view, when none is present.
const ZERO = { lo: 0, hi: 0, unbounded: false, need: null };
const one = (need) => ({ lo: 1, hi: 1, unbounded: false, need });
const DIGITS = new Set("0123456789");
const SPACES = new Set(" \t\n\r\v\f");
const SET_MAX = 256;
const escapeSet = (letter) => (letter === "d" ? DIGITS : letter === "s" ? SPACES : null);

function union(sets) {
  const out = new Set();
  for (const s of sets) {
    if (s === null) return null;
    for (const c of s) out.add(c);
  }
  return out;
}

function rarest(sets) {
  const known = sets.filter((s) => s !== null);
  if (!known.length) return null;
  const common = (s) => [...s].some((c) => c === " " || LETTER_ONE.test(c));
  return known.reduce((best, s) => {
    const a = [common(s), s.size];
    const b = [common(best), best.size];
    return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]) ? s : best;
  });
}

class PatternParser {
  constructor(s) {
    this.s = s;
    this.i = 0;
  }
  peek() {
    return this.i < this.s.length ? this.s[this.i] : "";
  }
  fail(problem) {
    return new PatternError(problem, this.i);
  }
  startsWith(prefix) {
    return this.s.slice(this.i, this.i + prefix.length).join("") === prefix;
  }
  alternation() {
    const widths = [this.sequence()];
    while (this.peek() === "|") {
      this.i++;
      widths.push(this.sequence());
    }
    const his = widths.map((w) => w.hi);
    return {
      lo: Math.min(...widths.map((w) => w.lo)),
      hi: his.includes(null) ? null : Math.max(...his),
      unbounded: widths.some((w) => w.unbounded),
      need: union(widths.map((w) => w.need)),
    };
  }
  sequence() {
    let lo = 0;
    let hi = 0;
    let unbounded = false;
    const needs = [];
    while (!["", "|", ")"].includes(this.peek())) {
      let [width, repeatable] = this.atom();
      if (["*", "+", "?", "{"].includes(this.peek())) {
        if (!repeatable) throw this.fail("nothing to repeat");
        const [qlo, qhi] = this.quantifier();
        if (qhi === null && width.unbounded) throw this.fail("an unbounded repetition inside another");
        width = {
          lo: width.lo * qlo,
          hi: qhi === null || width.hi === null ? null : width.hi * qhi,
          unbounded: width.unbounded || qhi === null,
          need: qlo ? width.need : null,
        };
        if (this.peek() === "?") this.i++;
        if (["*", "+", "?", "{"].includes(this.peek())) throw this.fail("a repetition of a repetition (possessive?)");
      }
      if (width.lo) needs.push(width.need);
      lo += width.lo;
      hi = hi === null || width.hi === null ? null : hi + width.hi;
      unbounded = unbounded || width.unbounded;
    }
    return { lo, hi, unbounded, need: rarest(needs) };
  }
  atom() {
    const c = this.s[this.i];
    if (c === "(") return this.group();
    if (c === "[") return [one(this.charClass()), true];
    if (c === "\\") return this.escape();
    if (c === ".") {
      this.i++;
      return [one(null), true];
    }
    if (c === "^" || c === "$") {
      this.i++;
      return [ZERO, false];
    }
    if ("*+?{".includes(c)) throw this.fail("nothing to repeat");
    if (c === "]" || c === "}") throw this.fail(`write \\${c} for a literal ${c}`);
    if (c >= "A" && c <= "Z") throw this.fail("upper-case letter (the text is lower case when patterns run)");
    this.i++;
    return [one(new Set([c])), true];
  }
  group() {
    this.i++;
    let look = "";
    if (this.peek() === "?") {
      for (const prefix of ["?:", "?=", "?!", "?<=", "?<!"]) {
        if (this.startsWith(prefix)) {
          look = prefix;
          break;
        }
      }
      if (!look) throw this.fail("unsupported group: use (...), (?:...), (?=...), (?!...), (?<=...)");
      this.i += look.length;
    }
    const inner = this.alternation();
    if (this.peek() !== ")") throw this.fail("missing )");
    this.i++;
    if ((look === "?<=" || look === "?<!") && inner.lo !== inner.hi) throw this.fail("a lookbehind must have a fixed width");
    if (look && look !== "?:") return [ZERO, false];
    return [inner, true];
  }
  escape() {
    this.i++;
    const c = this.peek();
    if (!c) throw this.fail("a pattern cannot end with a backslash");
    this.i++;
    if (CLASS_ESCAPES.has(c)) return [one(escapeSet(c)), true];
    if (c === "b" || c === "B") return [ZERO, false];
    if (SPECIAL.has(c) || c === "/") return [one(new Set([c])), true];
    if (c === "u") return [one(new Set([String.fromCodePoint(this.hex4())])), true];
    this.i--;
    throw this.fail(`unsupported escape \\${c}`);
  }
  hex4() {
    const digits = this.s.slice(this.i, this.i + 4).join("");
    if (!HEX.test(digits)) throw this.fail("\\u needs four hexadecimal digits");
    this.i += 4;
    return parseInt(digits, 16);
  }
  charClass() {
    this.i++;
    const negated = this.peek() === "^";
    if (negated) this.i++;
    if (this.peek() === "]") throw this.fail("an empty class");
    let members = new Set();
    for (;;) {
      const c = this.peek();
      if (!c) throw this.fail("missing ]");
      if (c === "]") {
        this.i++;
        return negated || members === null || members.size > SET_MAX ? null : members;
      }
      const atomStart = this.i;
      const low = this.classAtom();
      const next = this.i + 1 < this.s.length ? this.s[this.i + 1] : "";
      if (this.peek() === "-" && next !== "" && next !== "]") {
        this.i++;
        const high = this.classAtom();
        if (low === null || high === null) throw this.fail("a range cannot start or end with a class escape");
        if (low > high) throw this.fail("a range out of order");
        if (members !== null && high - low < SET_MAX) for (let k = low; k <= high; k++) members.add(String.fromCodePoint(k));
        else members = null;
      } else if (this.peek() === "-") {
        throw this.fail("write \\- for a literal - in a class");
      } else if (members !== null) {
        if (low === null) {
          const escaped = escapeSet(this.s[atomStart + 1]);
          members = escaped === null ? null : union([members, escaped]);
        } else members.add(String.fromCodePoint(low));
      }
    }
  }
  classAtom() {
    const c = this.peek();
    if (!c) throw this.fail("missing ]");
    if (c === "\\") {
      this.i++;
      const e = this.peek();
      if (!e) throw this.fail("missing ]");
      this.i++;
      if (CLASS_ESCAPES.has(e)) return null;
      if (SPECIAL.has(e) || e === "/" || e === "-") return e.codePointAt(0);
      if (e === "u") return this.hex4();
      this.i--;
      throw this.fail(`unsupported escape \\${e} in a class`);
    }
    if (c === "[" || c === "-") throw this.fail(`write \\${c} for a literal ${c} in a class`);
    if ("&|~".includes(c) && this.s[this.i + 1] === c) throw this.fail(`escape one of a doubled ${c}${c} in a class`);
    if (c >= "A" && c <= "Z") throw this.fail("upper-case letter (the text is lower case when patterns run)");
    this.i++;
    return c.codePointAt(0);
  }
  quantifier() {
    const c = this.s[this.i];
    this.i++;
    if (c === "*") return [0, null];
    if (c === "+") return [1, null];
    if (c === "?") return [0, 1];
    const lo = this.number();
    let hi = lo;
    if (this.peek() === ",") {
      this.i++;
      hi = this.peek() !== "}" ? this.number() : null;
    }
    if (this.peek() !== "}") throw this.fail("a repetition is {n}, {n,} or {n,m}; write \\{ for a literal {");
    this.i++;
    if (lo > QUANT_MAX || (hi !== null && hi > QUANT_MAX)) throw this.fail(`a repetition bound above ${QUANT_MAX}`);
    if (hi !== null && hi < lo) throw this.fail("a repetition {n,m} with m < n");
    return [lo, hi];
  }
  number() {
    const start = this.i;
    while (/^[0-9]$/.test(this.peek())) this.i++;
    if (this.i === start) throw this.fail("a repetition is {n}, {n,} or {n,m}; write \\{ for a literal {");
    return parseInt(this.s.slice(start, this.i).join(""), 10);
  }
}
