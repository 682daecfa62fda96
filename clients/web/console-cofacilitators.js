// The co-facilitators this device trusts: identity keys its facilitator
// entered or confirmed on this device, never a key the server offered. The
// console's codec trusts them (docs/e2ee.md section 3.2) and checked links
// carry them (section 2). Kept in localStorage (public keys only).
import { fromB64u } from "./bytes.js";

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
