// The co-facilitators this device trusts: identity keys its facilitator
// entered or confirmed on this device, never a key the server offered. The
// console's codec trusts them (docs/e2ee.md section 3.2) and checked links
// carry them (section 2). Kept in localStorage (public keys only).
import { fromB64u, toB64u } from "./bytes.js";

const STORAGE = "safespace.cofacilitators";

/** @returns {string[]} the base64url identity keys, in the order they were added */
export function coFacilitatorKeyTexts() {
  try {
    const list = JSON.parse(localStorage.getItem(STORAGE) ?? "[]");
    return Array.isArray(list) ? list.filter((k) => typeof k === "string") : [];
  } catch {
    return [];
  }
}

/** @returns {Uint8Array[]} the identity keys this device trusts as co-facilitators */
export function trustedCoFacilitators() {
  const keys = [];
  for (const text of coFacilitatorKeyTexts()) {
    try {
      const key = fromB64u(text);
      if (key.length === 32) keys.push(key);
    } catch {
      // a damaged entry is skipped, never trusted
    }
  }
  return keys;
}

/**
 * A pasted identity key as this device keeps it: base64url without padding of
 * exactly 32 bytes (an `f=` in front is allowed), or null.
 * @param {string} text @returns {string | null}
 */
export function coFacilitatorKeyText(text) {
  const t = String(text ?? "").trim().replace(/^f=/, "");
  if (!/^[A-Za-z0-9_-]{43}$/.test(t)) return null;
  try {
    const key = fromB64u(t);
    // 43 characters hold 32 bytes and 2 spare bits, which must be zero: one key, one spelling.
    return key.length === 32 && toB64u(key) === t ? t : null;
  } catch {
    return null;
  }
}

function store(list) {
  localStorage.setItem(STORAGE, JSON.stringify(list));
}

/**
 * Trust a co-facilitator's identity key on this device (its facilitator typed
 * or pasted it, having it from that person, not from the server).
 * @param {string} text the base64url key @param {{own?: string | null}} [options] this console's own key
 * @returns {string[]} the list now
 * @throws {Error} with `code` "bad_key" (not 32 bytes of base64url) or "own_key"
 */
export function addCoFacilitator(text, { own = null } = {}) {
  const key = coFacilitatorKeyText(text);
  if (!key) {
    throw Object.assign(new Error("That is not an identity key: it is 43 characters of base64url (32 bytes)."), { code: "bad_key" });
  }
  if (own && key === own) {
    throw Object.assign(new Error("That is this browser's own key: it is always in your links."), { code: "own_key" });
  }
  const list = coFacilitatorKeyTexts();
  if (!list.includes(key)) {
    list.push(key);
    store(list);
  }
  return list;
}

/**
 * Stop trusting a co-facilitator's key on this device.
 * @param {string} text @returns {string[]} the list now
 */
export function removeCoFacilitator(text) {
  const key = String(text ?? "").trim().replace(/^f=/, "");
  const list = coFacilitatorKeyTexts().filter((k) => k !== key);
  store(list);
  return list;
}
