// A group's content rules as a browser page applies them (moderation/content/
// README.md, docs/e2ee.md section 11): the shipped rules (GET
// /content-rules.json, fetched once per page), with the group's tuning applied
// only if a facilitator this page trusts signed it. The twin of
// clients/content.py (ContentGuard, sender_cw, union_cw) on the Python side.
//
//   const rules = await groupPolicy({rules: welcome.group.content_rules, groupId, trusted});
//   // {policy, tuning, warning: null | {code: "rules_unverified" | "rules_replayed", message}}
//   const v = evaluate(text, rules.policy);
//
// A page remembers, per group, the highest (version, signed_at) it verified
// (rulesMemory): a verified tuning that sorts below it is a replay, refused,
// and the rules in force stay (warning rules_replayed).
//
// Nothing here holds a message: the pages evaluate and forget.

import { concat, fromB64u, lp, toB64u, u32, utf8 } from "./bytes.js";
import { RulesError, TUNING_FORMAT, applyTuning, compilePolicy, evaluate, expand } from "./content.js";
import { ed25519Sign, ed25519Verify } from "./e2ee-primitives.js";

export { evaluate, TUNING_FORMAT };

export const RULES_URL = "/content-rules.json";
export const RULES_LABEL = "safespace/v2/content-rules";
export const RULES_UNVERIFIED = "rules_unverified";
export const RULES_REPLAYED = "rules_replayed";
export const UNVERIFIED_MESSAGE =
  "This group's own content rules could not be checked as coming from its facilitators, so the standard rules apply.";
export const REPLAYED_MESSAGE =
  "The server showed an older version of this group's content rules than one this page already had: it was refused, and the rules in force stay.";
/** A tuning's version: a u32 from 1; its signed_at: milliseconds, 0 to 2^53 (docs/e2ee.md section 11). */
export const MAX_VERSION = 0xffffffff;
export const MAX_SIGNED_AT = 2 ** 53;
/** A body's content warning: at most this many code points (docs/e2ee.md section 5). */
export const MAX_CW_CHARS = 80;
export const CW_SEPARATOR = ", ";

const validVersion = (v) => Number.isInteger(v) && v >= 1 && v <= MAX_VERSION;
const validSignedAt = (t) => Number.isInteger(t) && t >= 0 && t <= MAX_SIGNED_AT;
const B64U = /^[A-Za-z0-9_-]+$/; // no padding, as the Python side reads it

/** @param {number} n an integer 0 to 2^53 @returns {Uint8Array} eight bytes, big-endian */
export function u64(n) {
  if (!validSignedAt(n)) throw new RangeError("u64 out of range");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

let shippedDocument = null; // Promise<object>: the shipped rules, fetched once
let shippedPolicy = null; // Promise<Policy>
const tuned = new Map(); // tuning text -> Promise<Policy> (compiling costs a moment)

/** The shipped rules document (fetched once per page). @returns {Promise<object>} */
export function shippedRules(url = RULES_URL) {
  if (!shippedDocument) {
    shippedDocument = fetch(url, { cache: "no-store", credentials: "omit" }).then(async (res) => {
      if (!res.ok) throw new Error("The content rules could not be loaded.");
      return res.json();
    });
    shippedDocument.catch(() => (shippedDocument = null)); // try again next time
  }
  return shippedDocument;
}

/** The shipped rules, compiled once. @returns {Promise<import("./content.js").Policy>} */
export function shippedPolicyOnce() {
  if (!shippedPolicy) {
    shippedPolicy = shippedRules().then((doc) => compilePolicy(doc));
    shippedPolicy.catch(() => (shippedPolicy = null));
  }
  return shippedPolicy;
}

/**
 * What a facilitator signs: lp(label) || lp(group_id) || u32 version || u64 signed_at || lp(tuning),
 * the tuning's exact UTF-8 text.
 */
export function rulesStatement(groupId, tuning, version, signedAt) {
  if (!validVersion(version) || !validSignedAt(signedAt)) {
    throw new RangeError("A tuning's version is 1 to 2^32-1, its signed_at 0 to 2^53.");
  }
  return concat(lp(utf8(RULES_LABEL)), lp(utf8(groupId)), u32(version), u64(signedAt), lp(utf8(tuning)));
}

/**
 * Sign a tuning for `PATCH /api/groups/{groupId}` `{"content_rules": ...}`.
 * @param {{pub: Uint8Array, key: CryptoKey}} identity the console's Ed25519 identity
 * @param {string} groupId @param {string} tuningText the exact JSON text stored and signed
 * @param {{version: number, signedAt?: number}} when `version` one more than the tuning it
 *   replaces (1 for a group's first); `signedAt` milliseconds since 1970 (default: now)
 * @returns {Promise<{tuning: string, by: string, sig: string, version: number, signed_at: number}>}
 *   `by` and `sig` base64url without padding
 */
export async function signTuning(identity, groupId, tuningText, { version, signedAt = Date.now() }) {
  const sig = await ed25519Sign(identity, rulesStatement(groupId, tuningText, version, signedAt));
  return { tuning: tuningText, by: toB64u(identity.pub), sig: toB64u(sig), version, signed_at: signedAt };
}

/**
 * A group's `content_rules` once its signature is checked: `{tuning, version, signedAt}`;
 * null when there are none; throws Error(code rules_unverified) otherwise (a tuning
 * without a version, as the old v1 label signed it, included).
 */
export async function checkedRules(rules, groupId, trusted) {
  if (rules === null || rules === undefined) return null;
  const bad = () => Object.assign(new Error(UNVERIFIED_MESSAGE), { code: RULES_UNVERIFIED });
  if (typeof rules !== "object") throw bad();
  const { tuning, by, sig, version, signed_at: signedAt } = rules;
  if (typeof tuning !== "string" || typeof by !== "string" || typeof sig !== "string") throw bad();
  if (!validVersion(version) || !validSignedAt(signedAt) || !B64U.test(by) || !B64U.test(sig)) throw bad();
  let pub;
  let signature;
  let statement;
  try {
    pub = fromB64u(by);
    signature = fromB64u(sig);
    statement = rulesStatement(String(groupId), tuning, version, signedAt);
  } catch {
    throw bad();
  }
  if (pub.length !== 32 || signature.length !== 64) throw bad();
  const known = (trusted ?? []).some((k) => k.length === pub.length && k.every((b, i) => b === pub[i]));
  if (!known || !(await ed25519Verify(pub, signature, statement))) throw bad();
  return { tuning, version, signedAt };
}

/** The tuning text of a group's `content_rules` once checked (see checkedRules); null when none. */
export async function checkedTuning(rules, groupId, trusted) {
  const checked = await checkedRules(rules, groupId, trusted);
  return checked === null ? null : checked.tuning;
}

/** `a` sorts below `b`: by version, then signed_at. */
const olderThan = (a, b) => a.version < b.version || (a.version === b.version && a.signedAt < b.signedAt);

const memories = new Map(); // group id -> this page's memory of its rules

/**
 * What a page remembers of a group's rules for its whole life: the highest
 * `{version, signedAt}` it verified (never forgotten) and the rules in force.
 * @param {string} groupId
 * @returns {{highest: {version: number, signedAt: number} | null, shown: number,
 *   inForce: Promise<{policy: import("./content.js").Policy, tuning: string | null}> | null}}
 */
export function rulesMemory(groupId) {
  const key = String(groupId ?? "");
  if (!memories.has(key)) memories.set(key, newRulesMemory());
  return memories.get(key);
}

/**
 * Note the version a group's `content_rules` claim (checked or not), so that a
 * tuning signed later on this page takes a higher one. @returns the group's memory
 */
export function noteRules(groupId, rules, memory = rulesMemory(groupId)) {
  if (validVersion(rules?.version)) memory.shown = Math.max(memory.shown, rules.version);
  return memory;
}

/** A fresh memory (a new session of its own; tests). */
export function newRulesMemory() {
  return { highest: null, shown: 0, inForce: null };
}

/**
 * The `version` a tuning signed now takes: one more than any this page saw for the group
 * (the group's current `content_rules` included, checked or not), 1 for its first.
 * @param {string} groupId @param {object | null | undefined} current the group's `content_rules`
 */
export function nextVersion(groupId, current) {
  const memory = noteRules(groupId, current);
  return Math.min(Math.max(memory.shown, memory.highest?.version ?? 0) + 1, MAX_VERSION);
}

/**
 * The policy a page applies for a group: the shipped rules, with the group's
 * tuning if it verifies against `trusted` (the link's `f` keys; the console's
 * own key and its co-facilitators'). A tuning present but not verified (or
 * that cannot be applied) leaves the shipped rules, with a warning.
 * A verified tuning older than one this page verified before for the group
 * (`memory`, by default the page's own) is refused as a replay: the rules in
 * force stay, with a rules_replayed warning.
 * @param {{rules: object | null | undefined, groupId: string, trusted: Uint8Array[],
 *   memory?: ReturnType<typeof newRulesMemory>}} spec
 * @returns {Promise<{policy: import("./content.js").Policy, tuning: string | null,
 *   warning: {code: string, message: string} | null}>}
 */
export async function groupPolicy({ rules, groupId, trusted, memory = rulesMemory(groupId) }) {
  noteRules(groupId, rules, memory);
  let checked = null;
  try {
    checked = await checkedRules(rules, groupId, trusted);
  } catch (err) {
    if (err?.code !== RULES_UNVERIFIED) throw err;
    return inForce(memory, unverified());
  }
  if (checked !== null) {
    if (memory.highest && olderThan(checked, memory.highest)) {
      // A replay: the rules in force stay (the shipped ones if none were set yet).
      const kept = await (memory.inForce ?? shippedPolicyOnce().then((policy) => ({ policy, tuning: null })));
      return { policy: kept.policy, tuning: kept.tuning, warning: { code: RULES_REPLAYED, message: REPLAYED_MESSAGE } };
    }
    memory.highest = { version: checked.version, signedAt: checked.signedAt };
  }
  const tuning = checked?.tuning ?? null;
  return inForce(
    memory,
    (async () => {
      if (tuning === null) return { policy: await shippedPolicyOnce(), tuning: null, warning: null };
      if (!tuned.has(tuning)) {
        const made = shippedRules().then((doc) => compilePolicy(applyTuning(doc, JSON.parse(tuning))));
        tuned.set(tuning, made);
        made.catch(() => tuned.delete(tuning));
      }
      try {
        return { policy: await tuned.get(tuning), tuning, warning: null };
      } catch (err) {
        if (!(err instanceof RulesError) && !(err instanceof SyntaxError)) throw err;
        return unverified();
      }
    })(),
  );
}

/** The shipped rules, with the warning that the group's own could not be checked. */
async function unverified() {
  return { policy: await shippedPolicyOnce(), tuning: null, warning: { code: RULES_UNVERIFIED, message: UNVERIFIED_MESSAGE } };
}

/** `result` (a promise) becomes the rules in force for the memory, and is returned. */
function inForce(memory, result) {
  const loading = typeof result?.then === "function" ? result : Promise.resolve(result);
  const kept = loading.then(({ policy, tuning }) => ({ policy, tuning }));
  memory.inForce = kept;
  kept.catch(() => {
    if (memory.inForce === kept) memory.inForce = null;
  });
  return loading;
}

const cpLength = (s) => [...s].length;

/**
 * The warning a sender's body carries: the sender's own first, then the rules'
 * labels joined by ", ", each only if the whole stays within 80 characters
 * (never cut: a receiver adds a label left out). As clients/content.py sender_cw.
 * @param {string | undefined} own already trimmed @param {string[]} labels @returns {string | undefined}
 */
export function senderCw(own, labels) {
  const parts = own ? [own] : [];
  const named = new Set(own ? own.split(CW_SEPARATOR) : []);
  for (const label of labels) {
    if (named.has(label)) continue;
    if (cpLength([...parts, label].join(CW_SEPARATOR)) <= MAX_CW_CHARS) {
      parts.push(label);
      named.add(label);
    }
  }
  return parts.join(CW_SEPARATOR) || undefined;
}

/** What a receiver shows: the body's warning, then its own labels the body lacks (as union_cw). */
export function unionCw(bodyCw, labels) {
  const parts = bodyCw ? [bodyCw] : [];
  const named = new Set(bodyCw ? bodyCw.split(CW_SEPARATOR) : []);
  for (const label of labels) {
    if (!named.has(label)) {
      parts.push(label);
      named.add(label);
    }
  }
  return parts.join(CW_SEPARATOR) || undefined;
}

/** The rules' messages for categories (what the sender is told), without repeats. */
export function messagesFor(policy, categories) {
  return [...new Set(categories.map((id) => policy.category(id)?.message).filter(Boolean))];
}

/** A category's label, or its id when the policy does not know it. */
export function labelOf(policy, id) {
  return policy?.category(id)?.label ?? id;
}

/**
 * Is a tuning entry one word once normalised (`add_words`) or more (`add_phrases`)?
 * Decided by the engine's own normaliser, on the first of its brace alternatives.
 */
export function isOneWord(policy, entry) {
  let first = entry;
  try {
    first = expand(entry)[0];
  } catch {
    // the engine names the problem when the tuning is applied
  }
  const n = policy.normaliser;
  return n.tokens(n.view(first, true).text).texts.length <= 1;
}
