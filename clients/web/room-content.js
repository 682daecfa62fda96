// The group's content rules in the member room (moderation/content/README.md):
// which rules are in force (the welcome's `group.content_rules`, then any
// `content_rules` frame), the check of a message before it is sealed, the
// labels of a message after it is opened, and the small panel under the
// composer that tells the sender what the rules said.
//
// The rules run here because nobody else can read the messages: before
// sealing (block, warn, cw, alert) and again after opening, so that a
// modified sender cannot leave a warning out.

import { evaluate, groupPolicy, messagesFor, senderCw, shippedPolicyOnce, unionCw } from "./content-policy.js";
import { parseLink } from "./link.js";
import { $, el } from "./room-view.js";
import { banner, page } from "./room-page.js";

/** Compile the shipped rules while the member reads the ground rules. */
export function prefetchRules() {
  shippedPolicyOnce().catch(() => {});
}

/**
 * The group's rules as they stand now (`rules`: a group's `content_rules`, or
 * null for the shipped ones). Later checks wait for them. The tuning must be
 * signed (v2, with its version) by a key of the link; one older than a tuning
 * this page verified before is a replay: refused, the rules in force stay, and
 * the banner says so (rules_replayed), as it says rules_unverified.
 */
export function setRules(rules, groupId) {
  page.rulesSpec = { rules: rules ?? null, groupId: groupId ?? "" };
  const gen = ++page.rulesGen;
  let trusted = [];
  try {
    trusted = parseLink(page.link).identities;
  } catch {
    trusted = [];
  }
  const loading = groupPolicy({ rules: rules ?? null, groupId: groupId ?? "", trusted });
  page.content = loading;
  loading.then(
    (r) => {
      if (gen === page.rulesGen) banner("banner-rules", r.warning ? r.warning.message : null);
    },
    () => {
      if (gen === page.rulesGen) page.content = null; // tried again at the next check
    },
  );
}

/** The rules in force (waiting for them if they are still loading). */
async function current() {
  if (!page.content) setRules(page.rulesSpec?.rules ?? null, page.rulesSpec?.groupId ?? "");
  return page.content;
}

/**
 * What the rules say about a message about to be sent.
 * @param {string} text @param {string} own the member's own warning (trimmed, may be "")
 * @param {boolean} confirmed the member already chose to go on despite a `warn`
 * @returns {Promise<{send: boolean, ask?: boolean, cw?: string, labels: string[], alerts: string[], messages: string[]}>}
 */
export async function checkOutgoing(text, own, confirmed) {
  let rules;
  try {
    rules = await current();
  } catch {
    throw new Error("The group's content rules could not be loaded, so nothing was sent. Please try again.");
  }
  const v = evaluate(text, rules.policy);
  if (v.block.length) return { send: false, labels: v.cw, alerts: v.alert, messages: messagesFor(rules.policy, v.block) };
  if (v.warn.length && !confirmed) {
    return { send: false, ask: true, labels: v.cw, alerts: [], messages: messagesFor(rules.policy, v.warn) };
  }
  const cwCats = v.categories.filter((id) => rules.policy.category(id)?.action === "cw");
  return {
    send: true,
    cw: senderCw(own || undefined, v.cw),
    labels: v.cw,
    alerts: v.alert,
    messages: messagesFor(rules.policy, cwCats),
  };
}

/** The warning to show an opened message behind: the body's, and this page's own labels. */
export async function incomingCw(m) {
  if (m.text === null) return m.cw;
  try {
    const rules = await current();
    return unionCw(m.cw, evaluate(m.text, rules.policy).cw);
  } catch {
    return m.cw;
  }
}

// ---- the panel under the composer ----

/**
 * @param {"block" | "warn" | "cw" | null} kind null hides it
 * @param {{title?: string, messages?: string[]}} [what]
 */
export function showCheck(kind, { title = "", messages = [] } = {}) {
  const box = $("content-check");
  box.querySelector(".content-care")?.remove(); // shown again only for the block that needs it
  if (!kind) {
    box.hidden = true;
    box.dataset.kind = "";
    $("content-check-title").textContent = "";
    $("content-check-messages").replaceChildren();
    return;
  }
  box.dataset.kind = kind;
  $("content-check-title").textContent = title;
  $("content-check-messages").replaceChildren(...messages.map((text) => el("li", "", text)));
  $("content-check-actions").hidden = kind !== "warn";
  $("content-check-hint").hidden = true;
  box.hidden = false;
}
