// Content rules in the browser: matching, the twin of moderation/content/matcher.py.
// A rules document's words, phrases and patterns compiled once, then found in
// a text's tokens and views; content.js validates the document and turns the
// hits into a verdict. Plain ES module, no dependencies.

import { Normaliser, cpLength } from "./content-text.js";
import { checkPattern } from "./content-patterns.js";

// A bound on the token cache (a hostile text may vary without end), and the
// shortest entry worth matching once normalised.
const FORMS_MAX = 20000;
const SHORTEST = 2;

function runs(text) {
  const lengths = [];
  const starts = [];
  let prev = "";
  let i = 0;
  for (const c of text) {
    if (c === prev) lengths[lengths.length - 1]++;
    else {
      lengths.push(1);
      starts.push(i);
      prev = c;
    }
    i++;
  }
  return [lengths, starts];
}

export function bisectRight(list, x) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < list[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function bisectLeft(list, x) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class Entry {
  constructor(category, lengths, bounds) {
    this.category = category;
    this.runs = lengths;
    this.bounds = bounds; // Set of "inside:run" strings
    this.key = `${category}|${lengths.join(",")}|${[...bounds].sort().join(";")}`;
  }
  /** `gaps`: code-point offsets in `merged` where a space (not glue) separates two tokens. */
  fits(merged, gaps) {
    const [lengths, starts] = runs(merged);
    if (lengths.length !== this.runs.length) return false;
    for (let r = 0; r < lengths.length; r++) if (lengths[r] < this.runs[r]) return false;
    for (const q of gaps) {
      const r = bisectRight(starts, q) - 1;
      if (!this.bounds.has(`${q !== starts[r]}:${r}`)) return false;
    }
    return true;
  }
}

function entryProblem(tokens, one) {
  if (!tokens.length) return "has no letters or digits";
  if (one && tokens.length !== 1) return "is more than one word once normalised; list it under phrases";
  if (!one && tokens.length < 2) return "is one word once normalised; list it under words";
  if (cpLength(Normaliser.collapse(tokens.join(""))) < SHORTEST) return "is too short to match safely";
  return "";
}

export class MatcherError extends Error {
  constructor(index, field, i, problem) {
    super(problem);
    this.index = index;
    this.field = field;
    this.i = i;
    this.problem = problem;
  }
}

export class Matcher {
  constructor(normaliser, specs) {
    this._n = normaliser;
    this.keys = new Map();
    this.prefixes = new Set();
    this.wordPatterns = [];
    this.textPatterns = [];
    this._lookups = new Map();
    for (const spec of specs) this._add(spec);
  }

  _add(spec) {
    const ignored = new Set();
    for (const alts of spec.ignore) for (const alt of alts) ignored.add(this._entryTokens(alt).join("\u0000"));
    for (const [field, entries, one] of [["words", spec.words, true], ["phrases", spec.phrases, false]]) {
      entries.forEach((alts, i) => {
        for (const alt of alts) {
          const tokens = this._entryTokens(alt);
          const problem = entryProblem(tokens, one);
          if (problem) throw new MatcherError(spec.index, field, i, problem);
          if (ignored.has(tokens.join("\u0000"))) continue;
          this._file(spec.index, tokens);
        }
      });
    }
    for (const [source, view] of spec.patterns) {
      const { need } = checkPattern(source);
      const gate = need && !need.has(" ") ? [...need] : null;
      const lead = view === "words" ? leadWords(source) : null;
      (view === "words" ? this.wordPatterns : this.textPatterns).push([spec.index, new RegExp(source, "gu"), gate, lead]);
    }
  }

  _entryTokens(entry) {
    const n = this._n;
    return n.tokens(n.view(entry, true).text).texts.map((t) => n.merged(t));
  }

  _file(category, tokens) {
    const merged = tokens.join("");
    const lookup = Normaliser.collapse(merged);
    const [lengths, starts] = runs(merged);
    const bounds = new Set();
    let q = 0;
    for (const token of tokens.slice(0, -1)) {
      q += cpLength(token);
      const r = bisectRight(starts, q) - 1;
      bounds.add(`${q !== starts[r]}:${r}`);
    }
    const entry = new Entry(category, lengths, bounds);
    let filed = this.keys.get(lookup);
    if (!filed) this.keys.set(lookup, (filed = []));
    if (!filed.some((e) => e.key === entry.key)) filed.push(entry);
    let prefix = "";
    for (const c of lookup) this.prefixes.add((prefix += c));
  }

  _lookup(token) {
    let lookup = this._lookups.get(token);
    if (lookup === undefined) {
      lookup = Normaliser.collapse(this._n.merged(token));
      if (this._lookups.size >= FORMS_MAX) this._lookups.clear();
      this._lookups.set(token, lookup);
    }
    return lookup;
  }

  /** [category index, first token, last token] of every entry matched, in scan order. */
  wordHits(tokens) {
    const { texts } = tokens;
    const lookups = texts.map((t) => this._lookup(t));
    const hits = [];
    const seen = new Set();
    const n = texts.length;
    for (let i = 0; i < n; i++) {
      let lookup = lookups[i];
      if (!this.prefixes.has(lookup)) continue;
      let j = i;
      for (;;) {
        const entries = this.keys.get(lookup);
        if (entries) this._confirm(entries, tokens, i, j, hits, seen);
        j++;
        if (j === n) break;
        const more = lookups[j];
        lookup += sameEdge(lookup, more) ? more.slice(more.codePointAt(0) > 0xffff ? 2 : 1) : more;
        if (!this.prefixes.has(lookup)) break;
      }
    }
    return hits;
  }

  /** Check the entries filed under tokens i..j's lookup form against the tokens themselves. */
  _confirm(entries, tokens, i, j, hits, seen) {
    let merged = "";
    let length = 0;
    const gaps = [];
    for (let k = i; k <= j; k++) {
      if (k > i && !tokens.glued[k]) gaps.push(length);
      const m = this._n.merged(tokens.texts[k]);
      merged += m;
      length += cpLength(m);
    }
    for (const entry of entries) {
      const key = `${entry.category},${i},${j}`;
      if (!seen.has(key) && entry.fits(merged, gaps)) {
        seen.add(key);
        hits.push([entry.category, i, j]);
      }
    }
  }
}

/** Whether `a` ends with the code point `b` starts with (repeats collapse across tokens). */
function sameEdge(a, b) {
  const last = a.charCodeAt(a.length - 1);
  if (last < 0xdc00 || last > 0xdfff) return last === b.charCodeAt(0);
  return a.codePointAt(a.length - 2) === b.codePointAt(0);
}

// A words-view pattern that begins with a space, one word or a group of
// plain-word alternatives, and a space (" (?:took|swallowed) ...", " how ..."),
// with no "|" outside parentheses: every match holds one of those
// alternatives' first words as a whole word of the view, so a view without any
// of them need not be searched (Python's Scan.words, from patterns.py's
// factors, skips the same way and more). Returns those words, or null.
const LEAD = /^ (?:\(\?:([a-z0-9 |]+)\)|([a-z0-9]+)) /;
const PLAIN = /^[a-z0-9]+(?: [a-z0-9]+)*$/;

export function leadWords(source) {
  const m = LEAD.exec(source);
  if (m === null || topLevelBar(source)) return null;
  const alts = m[1] !== undefined ? m[1].split("|") : [m[2]];
  if (!alts.every((a) => PLAIN.test(a))) return null;
  return [...new Set(alts.map((a) => a.split(" ")[0]))];
}

function topLevelBar(source) {
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (c === "[") {
      for (i++; i < source.length && source[i] !== "]"; i++) if (source[i] === "\\") i++;
    } else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) return true;
  }
  return false;
}

// Each pattern is searched on its own, and after a match the search goes on
// from its end: the Python engine does the same, so both find the same matches.
// `words` (words view only): the view's words, for the patterns' lead words.
export function patternHits(patterns, view, words = null) {
  const hits = [];
  let seen = null; // the view's words as a Set, made on first need
  for (const [category, pattern, gate, lead] of patterns) {
    if (lead && words) {
      seen ??= new Set(words);
      if (!lead.some((w) => seen.has(w))) continue;
    }
    if (gate && !gate.some((c) => view.includes(c))) continue;
    let pos = 0;
    for (;;) {
      pattern.lastIndex = pos;
      const m = pattern.exec(view);
      if (m === null) break;
      const start = m.index;
      const end = start + m[0].length;
      if (end === start) {
        // cannot happen (checkPattern refuses those) but must not loop
        pos = start + (view.codePointAt(start) > 0xffff ? 2 : 1);
        continue;
      }
      hits.push([category, start, end]);
      pos = end;
    }
  }
  return hits;
}
