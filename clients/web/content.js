// Content rules in the browser: the twin of moderation/content (Python).
//
// Messages are end-to-end encrypted, so the rules run on the clients: on the
// sender's side before sealing, and again on every receiver's side after
// opening, so a modified client cannot skip a warning. Both engines read the
// same rules document (moderation/content/default_rules.json, or a group's
// tuned copy) and must give the same categories and actions for every text;
// tests/vectors/content.json and a fuzz set hold them to it. The format, the
// normalisation and the matching are described in moderation/content/README.md;
// every step below has a Python counterpart of the same name.
//
// Plain ES modules, no dependencies: Node 20 and current browsers. This one
// holds rules documents and evaluation; content-matcher.js the matching,
// content-text.js the normalisation, content-patterns.js the regular-expression
// subset.
//
//   import { compilePolicy, evaluate } from "./content.js";
//   const policy = compilePolicy(await (await fetch(url)).json());
//   const verdict = evaluate(text, policy);
//   // {categories, action: "none"|"warn"|"cw"|"block", warn, cw, block, alert,
//   //  matches: [{category, start, end}]}  (start/end: UTF-16 offsets into text)

import { ALNUM_ONE, CONTROL, LETTER_ONE, Normaliser, cpLength, isSpace } from "./content-text.js";
import { PatternError, checkPattern } from "./content-patterns.js";
import { Matcher, MatcherError, bisectLeft, bisectRight, patternHits } from "./content-matcher.js";

export { base, isSpace } from "./content-text.js";
export { PatternError, checkPattern } from "./content-patterns.js";

export const FORMAT = "safespace-content-rules/1";
export const TUNING_FORMAT = "safespace-content-tuning/1";
/** The ladder a facilitator turns a category up or down along. */
export const ACTIONS = Object.freeze(["off", "warn", "cw", "block"]);
export const VIEWS = Object.freeze(["words", "text"]);

const ID = /^[a-z][a-z0-9_]{0,31}$/;
const BRACES = /\{([^{}]*)\}/;
const EXPANSIONS_MAX = 2000;
const ENTRY_MAX = 200;
const LABEL_MAX = 60;
const MESSAGE_MAX = 400;
const DOC_KEYS = new Set(["format", "name", "note", "normalise", "categories"]);
const NORMALISE_KEYS = new Set(["confusables", "substitutions", "inner", "joiners", "alike"]);
const CATEGORY_KEYS = new Set(["id", "label", "message", "action", "alert", "words", "phrases", "patterns", "ignore", "note"]);
const TUNING_KEYS = new Set(["action", "alert", "add_words", "add_phrases", "ignore"]);

/** A rules or tuning document that is not valid; `where` names the field (never its text). */
export class RulesError extends Error {
  constructor(where, problem) {
    super(`The content rules are not valid: ${where}: ${problem}.`);
    this.name = "RulesError";
    this.code = "bad_rules";
    this.where = where;
    this.problem = problem;
  }
}

// ---------------------------------------------------------------------------
// Rules documents (policy.py)

const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

function checkKeys(obj, allowed, where) {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) throw new RulesError(where, ID.test(key) ? `unknown field '${key}'` : "unknown field");
  }
}

function checkAction(value, where) {
  if (!ACTIONS.includes(value)) throw new RulesError(where, "must be one of off, warn, cw, block");
  return value;
}

function checkBool(value, where) {
  if (typeof value !== "boolean") throw new RulesError(where, "must be true or false");
  return value;
}

function checkText(value, where, limit) {
  if (typeof value !== "string" || !value.trim() || cpLength(value) > limit) {
    throw new RulesError(where, `must be a non-empty string of at most ${limit} characters`);
  }
  return value;
}

function checkStrings(value, where) {
  if (!Array.isArray(value)) throw new RulesError(where, "must be a list of strings");
  value.forEach((item, i) => {
    if (typeof item !== "string" || !item.trim() || cpLength(item) > ENTRY_MAX) {
      throw new RulesError(`${where}[${i}]`, `must be a non-empty string of at most ${ENTRY_MAX} characters`);
    }
  });
  return [...value];
}

/** Brace alternatives written out: "kill{,s,ed} {you,u}" -> kill you, kill u, kills you... */
export function expand(entry) {
  const parts = entry.split(BRACES);
  let out = [""];
  parts.forEach((part, i) => {
    const options = i % 2 ? part.split(",") : [part];
    out = out.flatMap((o) => options.map((p) => o + p));
    if (out.length > EXPANSIONS_MAX) throw new Error(`more than ${EXPANSIONS_MAX} alternatives`);
  });
  if (out.some((o) => o.includes("{") || o.includes("}"))) throw new Error("an unmatched or nested { }");
  return out;
}

function expanded(entries, where) {
  return entries.map((entry, i) => {
    try {
      return expand(entry);
    } catch (exc) {
      throw new RulesError(`${where}[${i}]`, exc.message);
    }
  });
}

function tables(section) {
  checkKeys(section, NORMALISE_KEYS, "normalise");
  const latin = (v) => /^[a-z]$/.test(v);
  // Not "_" nor a control character: the Python engine uses those as plain punctuation.
  const symbol = (k) => !LETTER_ONE.test(k) && !isSpace(k) && k !== "_" && !CONTROL.test(k);
  const mapping = (field, keyOk, valueOk, valueRule) => {
    const value = field in section ? section[field] : {};
    const where = `normalise.${field}`;
    if (!isObject(value)) throw new RulesError(where, "must be an object");
    for (const [k, v] of Object.entries(value)) {
      if (!bmp(k) || !keyOk(k)) {
        throw new RulesError(where, "keys must be single characters of the kind it lists");
      }
      if (typeof v !== "string" || !valueOk(v)) throw new RulesError(where, `values must be ${valueRule}`);
    }
    return { ...value };
  };
  const joiners = "joiners" in section ? section.joiners : "";
  const bmp = (c) => c.length === 1 && !(c >= "\ud800" && c <= "\udfff");
  if (typeof joiners !== "string" || Array.from(joiners).some((c) => ALNUM_ONE.test(c) || isSpace(c) || !bmp(c) || c === "_" || CONTROL.test(c))) {
    throw new RulesError("normalise.joiners", "must be a string of punctuation characters");
  }
  const confusables = mapping(
    "confusables",
    (k) => k !== " ",
    (v) => cpLength(v) <= 4 && !v.includes(" ") && v === v.toLowerCase(),
    "at most four lower-case characters without spaces",
  );
  const substitutions = mapping("substitutions", symbol, latin, "one letter a-z");
  const inner = mapping("inner", (k) => symbol(k) && !ALNUM_ONE.test(k), latin, "one letter a-z");
  // A joiner is dropped and a substitution read as a letter: one character
  // cannot be both (the tokens would depend on which rule went first).
  if (Array.from(joiners).some((c) => Object.hasOwn(substitutions, c) || Object.hasOwn(inner, c))) {
    throw new RulesError("normalise.joiners", "must not hold a character of substitutions or inner");
  }
  return {
    confusables,
    substitutions,
    inner,
    joiners,
    alike: mapping("alike", latin, latin, "one letter a-z"),
  };
}

function checkCategory(cat, where) {
  checkKeys(cat, CATEGORY_KEYS, where);
  const patterns = cat.patterns;
  if (!Array.isArray(patterns)) throw new RulesError(`${where}.patterns`, "must be a list");
  const checked = patterns.map((pattern, i) => {
    const here = `${where}.patterns[${i}]`;
    if (!isObject(pattern)) throw new RulesError(here, 'must be an object {"regex": ..., "view": "words" | "text"}');
    checkKeys(pattern, new Set(["regex", "view", "note"]), here);
    const regex = pattern.regex;
    const view = "view" in pattern ? pattern.view : "words";
    if (typeof regex !== "string") throw new RulesError(`${here}.regex`, "must be a string");
    if (!VIEWS.includes(view)) throw new RulesError(`${here}.view`, 'must be "words" or "text"');
    try {
      checkPattern(regex);
      new RegExp(regex, "u");
    } catch (exc) {
      if (exc instanceof PatternError) throw new RulesError(`${here}.regex`, exc.message);
      throw new RulesError(`${here}.regex`, `not a regular expression (${exc.message})`);
    }
    return [regex, view];
  });
  return {
    id: cat.id,
    label: checkText(cat.label, `${where}.label`, LABEL_MAX),
    message: checkText(cat.message, `${where}.message`, MESSAGE_MAX),
    action: checkAction(cat.action, `${where}.action`),
    alert: checkBool(cat.alert, `${where}.alert`),
    words: checkStrings(cat.words, `${where}.words`),
    phrases: checkStrings(cat.phrases, `${where}.phrases`),
    patterns: checked,
    ignore: checkStrings(cat.ignore, `${where}.ignore`),
    get active() {
      return this.action !== "off" || this.alert;
    },
  };
}

function validated(document) {
  if (!isObject(document)) throw new RulesError("document", "must be an object");
  const doc = structuredClone(document);
  checkKeys(doc, DOC_KEYS, "document");
  if (doc.format !== FORMAT) throw new RulesError("format", `must be "${FORMAT}"`);
  for (const field of ["name", "note"]) {
    if (field in doc && typeof doc[field] !== "string") throw new RulesError(field, "must be a string");
  }
  if (!isObject(doc.normalise)) throw new RulesError("normalise", "must be an object");
  tables(doc.normalise);
  const cats = doc.categories;
  if (!Array.isArray(cats) || !cats.length) throw new RulesError("categories", "must be a non-empty list");
  const seen = new Set();
  cats.forEach((cat, i) => {
    const where = `categories[${i}]`;
    if (!isObject(cat)) throw new RulesError(where, "must be an object");
    const id = cat.id;
    if (typeof id !== "string" || !ID.test(id)) {
      throw new RulesError(`${where}.id`, "must be 1-32 of a-z, 0-9, _ starting with a letter");
    }
    if (seen.has(id)) throw new RulesError(`${where}.id`, "used twice");
    seen.add(id);
    if (!("alert" in cat)) cat.alert = false;
    for (const field of ["words", "phrases", "patterns", "ignore"]) if (!(field in cat)) cat[field] = [];
    checkCategory(cat, `categories.${id}`);
  });
  return doc;
}

/** A validated, compiled rules document; build one per group and reuse it. */
export class Policy {
  constructor(document) {
    const doc = validated(document);
    this.document = doc;
    this.name = doc.name ?? "";
    this.categories = doc.categories.map((c) => checkCategory(c, `categories.${c.id}`));
    this.byId = new Map(this.categories.map((c) => [c.id, c]));
    this.normaliser = new Normaliser(tables(doc.normalise));
    const specs = [];
    this.categories.forEach((cat, index) => {
      if (!cat.active) return;
      const where = `categories.${cat.id}`;
      specs.push({
        index,
        words: expanded(cat.words, `${where}.words`),
        phrases: expanded(cat.phrases, `${where}.phrases`),
        patterns: cat.patterns,
        ignore: expanded(cat.ignore, `${where}.ignore`),
      });
    });
    try {
      this.matcher = new Matcher(this.normaliser, specs);
    } catch (exc) {
      if (!(exc instanceof MatcherError)) throw exc;
      throw new RulesError(`categories.${this.categories[exc.index].id}.${exc.field}[${exc.i}]`, exc.problem);
    }
  }

  category(id) {
    return this.byId.get(id);
  }
}

/** Validate and compile a rules document (the parsed JSON). Throws RulesError. */
export function compilePolicy(document) {
  return new Policy(document);
}

/**
 * A group's rules: `document` with a facilitator's tuning applied, validated.
 * Tuning: {format: TUNING_FORMAT, categories: {<id>: {action?, alert?,
 * add_words?, add_phrases?, ignore?}}}. Returns a whole rules document.
 */
export function applyTuning(document, tuning) {
  const doc = validated(document);
  if (!isObject(tuning)) throw new RulesError("tuning", "must be an object");
  checkKeys(tuning, new Set(["format", "categories", "note"]), "tuning");
  if (tuning.format !== TUNING_FORMAT) throw new RulesError("tuning.format", `must be "${TUNING_FORMAT}"`);
  const changes = "categories" in tuning ? tuning.categories : {};
  if (!isObject(changes)) throw new RulesError("tuning.categories", "must be an object of category id to changes");
  const byId = new Map(doc.categories.map((c) => [c.id, c]));
  for (const [id, change] of Object.entries(changes)) {
    const where = `tuning.categories.${id}`;
    if (!byId.has(id)) throw new RulesError(where, "no such category in the rules");
    if (!isObject(change)) throw new RulesError(where, "must be an object");
    checkKeys(change, TUNING_KEYS, where);
    const cat = byId.get(id);
    if ("action" in change) cat.action = checkAction(change.action, `${where}.action`);
    if ("alert" in change) cat.alert = checkBool(change.alert, `${where}.alert`);
    for (const [field, target] of [["add_words", "words"], ["add_phrases", "phrases"], ["ignore", "ignore"]]) {
      if (field in change) {
        const added = checkStrings(change[field], `${where}.${field}`);
        const have = cat[target] ?? [];
        cat[target] = [...have, ...added.filter((a) => !have.includes(a))];
      }
    }
  }
  new Policy(doc);
  return doc;
}

// ---------------------------------------------------------------------------
// Evaluation (engine.py)

const RANK = { off: 0, warn: 1, cw: 2, block: 3 };
const OVERALL = ["none", "warn", "cw", "block"];

/**
 * Evaluate `text` (a message body, as typed or as decrypted) against `policy`.
 * Returns {categories, action, warn, cw, block, alert, matches}; see the README
 * for how several categories combine.
 */
export function evaluate(text, policy) {
  const n = policy.normaliser;
  const m = policy.matcher;
  const folded = n.view(text, true);
  const tokens = n.tokens(folded.text);
  const tokenHits = m.wordHits(tokens);
  if (m.wordPatterns.length) {
    const found = patternHits(m.wordPatterns, ` ${tokens.texts.join(" ")} `, tokens.texts);
    if (found.length) tokenHits.push(...toTokens(found, tokens.texts));
  }
  let textHits = [];
  let plain = null;
  if (m.textPatterns.length) {
    // The plain view is built only if one of its patterns may match at all.
    const probe = n.plainProbe(text);
    const may = ([, , gate]) => !gate || gate.some((c) => probe.includes(c) || probe.includes(c.toUpperCase()));
    if (m.textPatterns.some(may)) {
      plain = n.view(text, false);
      textHits = patternHits(m.textPatterns, plain.text);
    }
  }
  const spans = new Map();
  const add = (a, b, cat) => spans.set(`${a},${b},${cat}`, [a, b, cat]);
  const start = (view, k) => (view.starts ? view.starts[k] : k);
  const end = (view, k) => (view.ends ? view.ends[k - 1] : k);
  for (const [cat, i, j] of tokenHits) add(start(folded, tokens.starts[i]), end(folded, tokens.ends[j]), cat);
  for (const [cat, a, b] of textHits) add(start(plain, a), end(plain, b), cat);
  return verdict(policy, [...spans.values()]);
}

function toTokens(found, texts) {
  // The words view: " " + tokens joined by " " + " ".
  const starts = [];
  const ends = [];
  let pos = 1;
  for (const t of texts) {
    starts.push(pos);
    pos += t.length;
    ends.push(pos);
    pos += 1;
  }
  const out = [];
  for (const [cat, a, b] of found) {
    const last = bisectLeft(starts, b) - 1;
    if (last < 0) continue; // spaces only, no word: nothing to report
    out.push([cat, Math.min(bisectRight(ends, a), last), last]);
  }
  return out;
}

function verdict(policy, spans) {
  const hit = [...new Set(spans.map((s) => s[2]))].sort((x, y) => x - y);
  const cats = hit.map((i) => policy.categories[i]);
  const rank = cats.length ? Math.max(...cats.map((c) => RANK[c.action])) : 0;
  const labels = [];
  for (const c of cats) if ((c.action === "cw" || c.action === "block") && !labels.includes(c.label)) labels.push(c.label);
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
  return {
    categories: cats.map((c) => c.id),
    action: OVERALL[rank],
    warn: cats.filter((c) => c.action === "warn").map((c) => c.id),
    cw: labels,
    block: cats.filter((c) => c.action === "block").map((c) => c.id),
    alert: cats.filter((c) => c.alert).map((c) => c.id),
    matches: spans.map(([start, end, cat]) => ({ category: policy.categories[cat].id, start, end })),
  };
}
