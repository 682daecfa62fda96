// Admission and removal as docs/e2ee.md section 3 signs them: a facilitator's
// vouch (3.2), under its anchor (3.1), and its signed removal (3.3). Pure
// encodings and signatures; who is trusted under which anchor is roster.js's
// business, and when to sign, codec.js's. Re-exported by e2ee.js.

import { concat, lp, randomBytes, u8 } from "./bytes.js";
import { ed25519Sign, ed25519Verify } from "./e2ee-primitives.js";

/** @typedef {import("./e2ee-primitives.js").KeyPair} KeyPair */

/** A facilitator's anchor, per session (section 3.1): `u64 generation || 8 random bytes`. */
export const ANCHOR_BYTES = 16;

export const ADMISSION_LABELS = Object.freeze({
  admit: "safespace/v2/admit",
  remove: "safespace/v1/remove",
});

/**
 * The order of an anchor: its first 8 bytes, big-endian (-1 for a malformed one).
 * @param {Uint8Array | null | undefined} anchor @returns {bigint}
 */
export function anchorGeneration(anchor) {
  if (!(anchor instanceof Uint8Array) || anchor.length !== ANCHOR_BYTES) return -1n;
  return new DataView(anchor.buffer, anchor.byteOffset, 8).getBigUint64(0);
}

/**
 * A fresh anchor, ordered after `previous`: the clock in ms, or one more than
 * the previous generation if the clock has not moved past it, then 8 random bytes.
 * @param {Uint8Array | null} [previous] @param {number} [nowMs] @returns {Uint8Array}
 */
export function newAnchor(previous = null, nowMs = Date.now()) {
  const after = previous ? anchorGeneration(previous) + 1n : 0n;
  const clock = BigInt(Math.floor(nowMs));
  const out = new Uint8Array(ANCHOR_BYTES);
  new DataView(out.buffer).setBigUint64(0, clock > after ? clock : after);
  out.set(randomBytes(8), 8);
  return out;
}

// ---- 3.2 vouches ----

/**
 * `lp("safespace/v2/admit") || ctx || lp(anchor) || lp(pid) || lp(role) || lp(bundle)`
 * @param {Uint8Array} ctxBytes @param {Uint8Array} anchor @param {string} pid @param {string} role @param {Uint8Array} bundleBytes
 * @returns {Uint8Array}
 */
export function admitStatement(ctxBytes, anchor, pid, role, bundleBytes) {
  return concat(lp(ADMISSION_LABELS.admit), ctxBytes, lp(anchor), lp(pid), lp(role), lp(bundleBytes));
}

/**
 * @param {KeyPair} identity the facilitator's long-term Ed25519 key
 * @param {Uint8Array} ctxBytes @param {Uint8Array} anchor @param {string} pid @param {string} role @param {Uint8Array} bundleBytes
 * @returns {Promise<Uint8Array>} the 64-byte vouch signature
 */
export function signVouch(identity, ctxBytes, anchor, pid, role, bundleBytes) {
  return ed25519Sign(identity, admitStatement(ctxBytes, anchor, pid, role, bundleBytes));
}

/**
 * @param {Uint8Array} identityPub @param {Uint8Array} sig
 * @param {Uint8Array} ctxBytes @param {Uint8Array} anchor @param {string} pid @param {string} role @param {Uint8Array} bundleBytes
 * @returns {Promise<boolean>}
 */
export function verifyVouch(identityPub, sig, ctxBytes, anchor, pid, role, bundleBytes) {
  if (!(bundleBytes instanceof Uint8Array) || !(anchor instanceof Uint8Array)) return Promise.resolve(false);
  return ed25519Verify(identityPub, sig, admitStatement(ctxBytes, anchor, pid, role, bundleBytes));
}

// ---- 3.3 signed removals ----

/**
 * `lp("safespace/v1/remove") || ctx || lp(pid) || lp(bundle) || u8 for_good`
 * @param {Uint8Array} ctxBytes @param {string} pid @param {Uint8Array} bundleBytes @param {boolean} forGood
 * @returns {Uint8Array}
 */
export function removeStatement(ctxBytes, pid, bundleBytes, forGood) {
  return concat(lp(ADMISSION_LABELS.remove), ctxBytes, lp(pid), lp(bundleBytes), u8(forGood ? 1 : 0));
}

/**
 * @param {KeyPair} identity @param {Uint8Array} ctxBytes @param {string} pid @param {Uint8Array} bundleBytes @param {boolean} forGood
 * @returns {Promise<Uint8Array>} the 64-byte proof
 */
export function signRemoval(identity, ctxBytes, pid, bundleBytes, forGood) {
  return ed25519Sign(identity, removeStatement(ctxBytes, pid, bundleBytes, forGood));
}

/**
 * @param {Uint8Array} identityPub @param {Uint8Array} proof
 * @param {Uint8Array} ctxBytes @param {string} pid @param {Uint8Array} bundleBytes @param {boolean} forGood
 * @returns {Promise<boolean>}
 */
export function verifyRemoval(identityPub, proof, ctxBytes, pid, bundleBytes, forGood) {
  if (!(bundleBytes instanceof Uint8Array) || !(proof instanceof Uint8Array)) return Promise.resolve(false);
  return ed25519Verify(identityPub, proof, removeStatement(ctxBytes, pid, bundleBytes, forGood));
}
