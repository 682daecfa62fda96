// A group's content rules as a browser page applies them (moderation/content/
// README.md, docs/e2ee.md section 11): the shipped rules (GET
// /content-rules.json, fetched once per page), with the group's tuning applied
// only if a facilitator this page trusts signed it. The twin of
// clients/content.py (ContentGuard, sender_cw, union_cw) on the Python side.
//
//   const rules = await groupPolicy({rules: welcome.group.content_rules, groupId, trusted});
//   // {policy, tuning, warning: null | {code: "rules_unverified", message}}
//   const v = evaluate(text, rules.policy);
//
// Nothing here holds a message: the pages evaluate and forget.

import { concat, fromB64u, lp, toB64u, utf8 } from "./bytes.js";
import { RulesError, TUNING_FORMAT, applyTuning, compilePolicy, evaluate, expand } from "./content.js";
import { ed25519Sign, ed25519Verify } from "./e2ee-primitives.js";

export { evaluate, TUNING_FORMAT };

export const RULES_URL = "/content-rules.json";
export const RULES_LABEL = "safespace/v1/content-rules";
export const RULES_UNVERIFIED = "rules_unverified";
export const UNVERIFIED_MESSAGE =
  "This group's own content rules could not be checked as coming from its facilitators, so the standard rules apply.";
/** A body's content warning: at most this many code points (docs/e2ee.md section 5). */
export const MAX_CW_CHARS = 80;
export const CW_SEPARATOR = ", ";

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

/** What a facilitator signs: lp(label) || lp(group_id) || lp(tuning), the tuning's exact UTF-8 text. */
export function rulesStatement(groupId, tuning) {
  return concat(lp(utf8(RULES_LABEL)), lp(utf8(groupId)), lp(utf8(tuning)));
}

/**
 * Sign a tuning for `PATCH /api/groups/{groupId}` `{"content_rules": ...}`.
 * @param {{pub: Uint8Array, key: CryptoKey}} identity the console's Ed25519 identity
 * @param {string} groupId @param {string} tuningText the exact JSON text stored and signed
 * @returns {Promise<{tuning: string, by: string, sig: string}>} `by` and `sig` base64url without padding
 */
export async function signTuning(identity, groupId, tuningText) {
  const sig = await ed25519Sign(identity, rulesStatement(groupId, tuningText));
  return { tuning: tuningText, by: toB64u(identity.pub), sig: toB64u(sig) };
}

/**
 * The tuning text of a group's `content_rules` once its signature is checked;
 * null when there are none; throws Error(code rules_unverified) otherwise.
 */
export async function checkedTuning(rules, groupId, trusted) {
  if (rules === null || rules === undefined) return null;
  const bad = () => Object.assign(new Error(UNVERIFIED_MESSAGE), { code: RULES_UNVERIFIED });
  if (typeof rules !== "object") throw bad();
  const { tuning, by, sig } = rules;
  if (typeof tuning !== "string" || typeof by !== "string" || typeof sig !== "string") throw bad();
  let pub;
  let signature;
  let statement;
  try {
    pub = fromB64u(by);
    signature = fromB64u(sig);
    statement = rulesStatement(String(groupId), tuning);
  } catch {
    throw bad();
  }
  const known = (trusted ?? []).some((k) => k.length === pub.length && k.every((b, i) => b === pub[i]));
  if (!known || !(await ed25519Verify(pub, signature, statement))) throw bad();
  return tuning;
}

/**
 * The policy a page applies for a group: the shipped rules, with the group's
 * tuning if it verifies against `trusted` (the link's `f` keys; the console's
 * own key and its co-facilitators'). A tuning present but not verified (or
 * that cannot be applied) leaves the shipped rules, with a warning.
 * @param {{rules: object | null | undefined, groupId: string, trusted: Uint8Array[]}} spec
 * @returns {Promise<{policy: import("./content.js").Policy, tuning: string | null,
 *   warning: {code: string, message: string} | null}>}
 */
export async function groupPolicy({ rules, groupId, trusted }) {
  try {
    const tuning = await checkedTuning(rules, groupId, trusted);
    if (tuning === null) return { policy: await shippedPolicyOnce(), tuning: null, warning: null };
    if (!tuned.has(tuning)) {
      const made = shippedRules().then((doc) => compilePolicy(applyTuning(doc, JSON.parse(tuning))));
      tuned.set(tuning, made);
      made.catch(() => tuned.delete(tuning));
    }
    return { policy: await tuned.get(tuning), tuning, warning: null };
  } catch (err) {
    if (err?.code !== RULES_UNVERIFIED && !(err instanceof RulesError) && !(err instanceof SyntaxError)) throw err;
    return {
      policy: await shippedPolicyOnce(),
      tuning: null,
      warning: { code: RULES_UNVERIFIED, message: UNVERIFIED_MESSAGE },
    };
  }
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
