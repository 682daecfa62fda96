// What the facilitator console keeps for a reload of its tab, in that tab's
// sessionStorage: the API token, the id of the group whose room the tab is
// in, and for the session it is in, its anchor and the pids it vouched for
// (docs/e2ee.md section 3.1: a reload must not make strangers of the members
// it admitted, nor let a closed door forget whom it let in). Nothing
// else, ever: no message, name, report or key (a reload cannot read again
// what was sealed to the page's previous keys anyway; the anchor is no
// secret, it travels in every vouch). Gone with the tab; cleared on logout
// and when the login expires, and the anchor when its session ends.

import { fromB64u, toB64u } from "./bytes.js";

const TOKEN = "safespace.console.token";
const GROUP = "safespace.console.group";
const ANCHOR = "safespace.console.anchor";

function put(key, value) {
  try {
    if (value === null || value === undefined) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, String(value));
  } catch {
    // Storage refused (private mode, quota): a reload logs out, as before.
  }
}

function get(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

/** @param {string | null} token */
export const keepToken = (token) => put(TOKEN, token);
/** @param {string | null} gid */
export const keepGroup = (gid) => put(GROUP, gid);
/** @returns {string | null} */
export const keptToken = () => get(TOKEN);
/** @returns {string | null} */
export const keptGroup = () => get(GROUP);

/**
 * The console codec's memory of its admissions (codec-admission.js AnchorStore):
 * one session's at a time, keyed by group and session id.
 * @type {import("./codec-admission.js").AnchorStore}
 */
export const anchorStore = {
  load(group, session) {
    try {
      const kept = JSON.parse(get(ANCHOR)); // none kept: null
      if (kept?.group !== group || kept?.session !== session || !Array.isArray(kept.vouched)) return null;
      return { anchor: fromB64u(kept.anchor), vouched: kept.vouched.filter((pid) => typeof pid === "string") };
    } catch {
      return null;
    }
  },
  save(group, session, { anchor, vouched }) {
    put(ANCHOR, JSON.stringify({ group, session, anchor: toB64u(anchor), vouched }));
  },
  drop() {
    put(ANCHOR, null);
  },
};

/** Logout, or a login that expired: nothing stays. */
export function forgetKept() {
  try {
    sessionStorage.clear();
  } catch {
    // nothing was kept
  }
}
