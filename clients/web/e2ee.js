// The end-to-end encryption of docs/e2ee.md, byte for byte, on WebCrypto only
// (globalThis.crypto.subtle and crypto.getRandomValues): the same module runs
// in Chromium and in Node 20. Section numbers below are the spec's.
//
// This module is pure: encodings and constructions, no state. The primitives
// they are built of are in e2ee-primitives.js (re-exported here); the state
// machine that decides who gets which chain lives in codec.js. Section 3's
// vouches and removals are in e2ee-admission.js (re-exported here too).

import { encode, decode } from "./vendor/msgpack/index.mjs";
import { FormatError, Reader, bytesEqual, concat, fromUtf8, lp, randomBytes, u8, u32, utf8 } from "./bytes.js";
import { ADMISSION_LABELS } from "./e2ee-admission.js";
import {
  KEY_BYTES,
  RejectError,
  SIGNATURE_BYTES,
  TAG_BYTES,
  aesGcmOpen,
  aesGcmSeal,
  ed25519Sign,
  ed25519Verify,
  hkdf,
  hmacSha256,
  sha256,
  x25519,
} from "./e2ee-primitives.js";

// lp() is section 1's notation; the other byte helpers live in bytes.js.
export { FormatError, lp } from "./bytes.js";
// The primitives and section 3's signatures, so that `import * as e2ee` names the whole spec.
export * from "./e2ee-primitives.js";
export * from "./e2ee-admission.js";

/** @typedef {import("./e2ee-primitives.js").KeyPair} KeyPair */

// ---- 9. constants ----------------------------------------------------------

export const BUNDLE_VERSION = 1;
export const HEADER_VERSION = 1;
export const STATE_VERSION = 1;
export const KIND_CHAT = 0x01;
export const KIND_DISTRIBUTION = 0x10;
export const KIND_PRIVATE = 0x20;
export const KIND_REPORT = 0x30;
export const MAX_SKIP = 1000;
export const MAX_KEPT = 64;
export const CHAINS_KEPT = 2;
export const PRIVATE_NONCES_KEPT = 1024;
/** Chain ids remembered per sender key for the whole session (section 10), oldest forgotten first. */
export const CHAIN_IDS_KEPT = 4096;

// KEY_BYTES, SIGNATURE_BYTES and TAG_BYTES are the primitives' (e2ee-primitives.js).
export const BUNDLE_BYTES = 65;
export const CHAIN_ID_BYTES = 16;
export const NONCE_BYTES = 12;
export const COMMITMENT_BYTES = 32;
export const STATE_BYTES = 57;

export const LABELS = Object.freeze({
  ...ADMISSION_LABELS,
  message: "safespace/v1/message",
  commit: "safespace/v1/commit",
  sign: "safespace/v1/sign",
  distribute: "safespace/v1/distribute",
  private: "safespace/v1/private",
});

// ---- 1. ctx, 2. keys ---------------------------------------------------------

/** `lp(group_id) || lp(session_id)` @param {string} groupId @param {string} sessionId @returns {Uint8Array} */
export function ctx(groupId, sessionId) {
  return concat(lp(groupId), lp(sessionId));
}

/** `u8 1 || x_pub || s_pub` (65 bytes) @param {Uint8Array} xPub @param {Uint8Array} sPub @returns {Uint8Array} */
export function bundle(xPub, sPub) {
  if (xPub.length !== 32 || sPub.length !== 32) throw new FormatError("public keys are 32 bytes");
  return concat(u8(BUNDLE_VERSION), xPub, sPub);
}

/**
 * @param {unknown} bytes a roster entry's `keys`
 * @returns {{xPub: Uint8Array, sPub: Uint8Array} | null} null for an unusable bundle (never trusted)
 */
export function parseBundle(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== BUNDLE_BYTES || bytes[0] !== BUNDLE_VERSION) return null;
  return { xPub: bytes.slice(1, 33), sPub: bytes.slice(33, 65) };
}

// ---- 3. vouches and removals: e2ee-admission.js ----------------------------

// ---- 4. sender chains --------------------------------------------------------

/**
 * @typedef {{chainId: Uint8Array, epoch: number, index: number, ck: Uint8Array}} ChainState
 * `index` is the index of the next message and `ck` its chain key.
 */

/** @param {number} epoch @returns {ChainState} a fresh chain at index 0 */
export function newChain(epoch) {
  return { chainId: randomBytes(CHAIN_ID_BYTES), epoch, index: 0, ck: randomBytes(KEY_BYTES) };
}

const STEP_MESSAGE = Uint8Array.of(0x01);
const STEP_NEXT = Uint8Array.of(0x02);

/**
 * One step of a chain: the keys for the message with chain key `ck`, and the next chain key.
 * @param {Uint8Array} ck
 * @returns {Promise<{seed: Uint8Array, nextCk: Uint8Array, mk: Uint8Array, nonce: Uint8Array}>}
 */
export async function stepChain(ck) {
  const seed = await hmacSha256(ck, STEP_MESSAGE);
  const nextCk = await hmacSha256(ck, STEP_NEXT);
  // A bare "..." in the spec is the label's bytes as they are: this HKDF info
  // is the one label that is not length-prefixed (section 1's notation).
  const okm = await hkdf(seed, utf8(LABELS.message), KEY_BYTES + NONCE_BYTES);
  return { seed, nextCk, mk: okm.slice(0, KEY_BYTES), nonce: okm.slice(KEY_BYTES) };
}

// ---- 5. room messages --------------------------------------------------------

/**
 * @typedef {{version: number, kind: number, ctx: Uint8Array, sender: string,
 *   epoch: number, chainId: Uint8Array, index: number}} Header
 */

/**
 * `u8 1 || u8 kind || ctx || lp(sender_pid) || u32 epoch || chain_id || u32 index`
 * @param {{kind?: number, ctx: Uint8Array, sender: string, epoch: number, chainId: Uint8Array, index: number}} h
 * @returns {Uint8Array}
 */
export function header({ kind = KIND_CHAT, ctx: ctxBytes, sender, epoch, chainId, index }) {
  if (chainId.length !== CHAIN_ID_BYTES) throw new FormatError("chain_id is 16 bytes");
  return concat(u8(HEADER_VERSION), u8(kind), ctxBytes, lp(sender), u32(epoch), chainId, u32(index));
}

/** @param {Uint8Array} bytes @returns {Header} throws FormatError */
export function parseHeader(bytes) {
  const r = new Reader(bytes);
  const version = r.u8();
  const kind = r.u8();
  const start = r.at;
  r.lp(); // group id
  r.lp(); // session id
  const ctxBytes = bytes.slice(start, r.at);
  const sender = fromUtf8(r.lp());
  const epoch = r.u32();
  const chainId = r.take(CHAIN_ID_BYTES);
  const index = r.u32();
  r.end();
  return { version, kind, ctx: ctxBytes, sender, epoch, chainId, index };
}

/** A content warning is at most this many characters (code points), once trimmed (section 5). */
export const MAX_CW_CHARS = 80;

// The white space trimmed off a content warning: Unicode's White_Space, and
// U+FEFF. Spelled out rather than String.prototype.trim(), because Python's
// and JavaScript's notions of white space differ, and the body's bytes must not.
const CW_SPACE = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]";
const CW_TRIM = new RegExp(`^${CW_SPACE}+|${CW_SPACE}+$`, "gu");

/**
 * A content warning as a body carries it: trimmed; `undefined` when nothing is left (or none was given).
 * Does not check the length (`textBody` does). @param {string | undefined | null} cw @returns {string | undefined}
 */
export function trimContentWarning(cw) {
  if (cw === undefined || cw === null) return undefined;
  if (typeof cw !== "string") throw new TypeError("a content warning must be a string");
  const trimmed = cw.replace(CW_TRIM, "");
  return trimmed === "" ? undefined : trimmed;
}

/**
 * The body of a room message: msgpack `{"text": str}`, or `{"text": str, "cw": str}` (keys in
 * that order) with the sender's content warning, trimmed, if anything is left of it. A private
 * message's body is `{"text": str}` only (give no `cw`).
 * @param {string} text @param {string} [cw]
 * @returns {Uint8Array} throws RangeError (`code` "cw_too_long") for a cw over MAX_CW_CHARS characters
 */
export function textBody(text, cw) {
  if (typeof text !== "string") throw new TypeError("text must be a string");
  const warning = trimContentWarning(cw);
  if (warning === undefined) return encode({ text });
  if ([...warning].length > MAX_CW_CHARS) {
    throw Object.assign(new RangeError(`A content warning is at most ${MAX_CW_CHARS} characters.`), { code: "cw_too_long" });
  }
  return encode({ text, cw: warning });
}

/**
 * @param {Uint8Array} body
 * @param {{cw?: boolean}} [options] `cw: false` reads a private message's body, where `cw` means
 *   nothing: an unknown key, ignored
 * @returns {{text: string, cw?: string}} unknown keys are ignored; throws RejectError("malformed") if
 *   there is no text, or a `cw` that is not a string of 1 to MAX_CW_CHARS characters
 */
export function parseTextBody(body, { cw: withCw = true } = {}) {
  const map = decodeMap(body);
  if (typeof map.text !== "string") throw new RejectError("malformed", "the body has no text");
  if (!withCw || !Object.hasOwn(map, "cw")) return { text: map.text };
  const cw = map.cw;
  if (typeof cw !== "string" || cw === "" || [...cw].length > MAX_CW_CHARS) {
    throw new RejectError("malformed", "the body's content warning is not a short string");
  }
  return { text: map.text, cw };
}

function decodeMap(bytes) {
  let value;
  try {
    value = decode(bytes);
  } catch {
    throw new RejectError("malformed", "the body is not msgpack");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw new RejectError("malformed", "the body is not a map");
  }
  return value;
}

/**
 * `SHA-256(lp("safespace/v1/commit") || mk || nonce || body)`; `key` may be `mk || nonce` in one piece.
 * @param {Uint8Array} key mk (32) or mk || nonce (44) @param {Uint8Array} nonce (empty when `key` holds it) @param {Uint8Array} body
 * @returns {Promise<Uint8Array>}
 */
export function commitment(key, nonce, body) {
  return sha256(concat(lp(LABELS.commit), key, nonce, body));
}

/** What the sender signs: `lp("safespace/v1/sign") || lp(header) || commitment || ciphertext`. */
export function signedMessage(headerBytes, commitmentBytes, ciphertext) {
  return concat(lp(LABELS.sign), lp(headerBytes), commitmentBytes, ciphertext);
}

/**
 * Seal one room message (section 5) with keys already stepped out of the chain.
 * @param {{header: Uint8Array, signer: KeyPair, mk: Uint8Array, nonce: Uint8Array, body: Uint8Array}} m
 * @returns {Promise<Uint8Array>} `lp(header) || signature || commitment || ciphertext`
 */
export async function sealRoomPayload({ header: headerBytes, signer, mk, nonce, body }) {
  const ciphertext = await aesGcmSeal(mk, nonce, body, headerBytes);
  const commit = await commitment(mk, nonce, body);
  const signature = await ed25519Sign(signer, signedMessage(headerBytes, commit, ciphertext));
  return concat(lp(headerBytes), signature, commit, ciphertext);
}

/**
 * @typedef {{headerBytes: Uint8Array, header: Header, signature: Uint8Array,
 *   commitment: Uint8Array, ciphertext: Uint8Array}} RoomPayload
 */

/** Step 1: split a room payload; any length error is a FormatError. @param {Uint8Array} payload @returns {RoomPayload} */
export function parseRoomPayload(payload) {
  const r = new Reader(payload);
  const headerBytes = r.lp();
  const signature = r.take(SIGNATURE_BYTES);
  const commit = r.take(COMMITMENT_BYTES);
  const ciphertext = r.rest();
  if (ciphertext.length < TAG_BYTES) throw new FormatError("ciphertext shorter than its tag");
  return { headerBytes, header: parseHeader(headerBytes), signature, commitment: commit, ciphertext };
}

/**
 * Step 2: version, kind, ctx and the server's word on the sender.
 * @param {Header} h @param {Uint8Array} ctxBytes @param {string} from the frame's `from`
 * throws RejectError
 */
export function checkHeader(h, ctxBytes, from) {
  if (h.version !== HEADER_VERSION) throw new RejectError("version");
  if (h.kind !== KIND_CHAT) throw new RejectError("kind");
  if (!bytesEqual(h.ctx, ctxBytes)) throw new RejectError("context");
  if (h.sender !== from) throw new RejectError("sender");
}

/** Step 4. @param {RoomPayload} p @param {Uint8Array} sPub @returns {Promise<boolean>} */
export function verifyRoomSignature(p, sPub) {
  return ed25519Verify(sPub, p.signature, signedMessage(p.headerBytes, p.commitment, p.ciphertext));
}

/**
 * Step 7: decrypt with the stepped keys and check the commitment.
 * @param {RoomPayload} p @param {Uint8Array} mk @param {Uint8Array} nonce
 * @returns {Promise<Uint8Array>} the body; throws RejectError("decrypt" | "commitment")
 */
export async function openRoomCiphertext(p, mk, nonce) {
  const body = await aesGcmOpen(mk, nonce, p.ciphertext, p.headerBytes);
  if (!bytesEqual(await commitment(mk, nonce, body), p.commitment)) throw new RejectError("commitment");
  return body;
}

// ---- 6. distributing chains --------------------------------------------------

/** `lp("safespace/v1/distribute") || ctx || lp(S.pid) || lp(R.pid)` */
export function distributionInfo(ctxBytes, senderPid, recipientPid) {
  return concat(lp(LABELS.distribute), ctxBytes, lp(senderPid), lp(recipientPid));
}

/** `lp("safespace/v1/private") || ctx || lp(S.pid) || lp(F.pid)` */
export function privateInfo(ctxBytes, senderPid, facilitatorPid) {
  return concat(lp(LABELS.private), ctxBytes, lp(senderPid), lp(facilitatorPid));
}

/**
 * `HKDF(X25519(mine, peer), info, 32)`: the same from both ends.
 * @param {KeyPair} mine @param {Uint8Array} peerXPub @param {Uint8Array} info @returns {Promise<Uint8Array>}
 */
export async function pairwiseKey(mine, peerXPub, info) {
  return hkdf(await x25519(mine, peerXPub), info, KEY_BYTES);
}

/** `u8 1 || chain_id || u32 epoch || u32 index || ck` (57 bytes) @param {ChainState} s @returns {Uint8Array} */
export function encodeChainState({ chainId, epoch, index, ck }) {
  return concat(u8(STATE_VERSION), chainId, u32(epoch), u32(index), ck);
}

/** @param {Uint8Array} bytes @returns {ChainState} throws FormatError / RejectError("version") */
export function parseChainState(bytes) {
  if (bytes.length !== STATE_BYTES) throw new FormatError("a chain state is 57 bytes");
  const r = new Reader(bytes);
  if (r.u8() !== STATE_VERSION) throw new RejectError("version");
  const chainId = r.take(CHAIN_ID_BYTES);
  const epoch = r.u32();
  const index = r.u32();
  const ck = r.take(KEY_BYTES);
  return { chainId, epoch, index, ck };
}

/**
 * @param {{ctx: Uint8Array, sender: string, recipient: string, mine: KeyPair, peerXPub: Uint8Array,
 *   state: ChainState, nonce?: Uint8Array}} d  `nonce` only for test vectors; omitted: random
 * @returns {Promise<Uint8Array>} `u8 0x10 || nonce || AES-256-GCM(k, nonce, state, aad = info)`
 */
export async function sealDistribution({ ctx: ctxBytes, sender, recipient, mine, peerXPub, state, nonce = randomBytes(NONCE_BYTES) }) {
  const info = distributionInfo(ctxBytes, sender, recipient);
  const k = await pairwiseKey(mine, peerXPub, info);
  return concat(u8(KIND_DISTRIBUTION), nonce, await aesGcmSeal(k, nonce, encodeChainState(state), info));
}

/**
 * @param {{ctx: Uint8Array, sender: string, recipient: string, mine: KeyPair, peerXPub: Uint8Array, payload: Uint8Array}} d
 *   `sender` is the frame's `from`, `recipient` is this client's pid
 * @returns {Promise<ChainState>} throws FormatError / RejectError
 */
export async function openDistribution({ ctx: ctxBytes, sender, recipient, mine, peerXPub, payload }) {
  const r = new Reader(payload);
  if (r.u8() !== KIND_DISTRIBUTION) throw new RejectError("kind");
  const nonce = r.take(NONCE_BYTES);
  const sealed = r.rest();
  if (sealed.length !== STATE_BYTES + TAG_BYTES) throw new FormatError("a distribution carries 57 bytes of state");
  const info = distributionInfo(ctxBytes, sender, recipient);
  const k = await pairwiseKey(mine, peerXPub, info);
  return parseChainState(await aesGcmOpen(k, nonce, sealed, info));
}

// ---- 8. messages to the facilitators -----------------------------------------

/**
 * Encrypt `body` once per facilitator, pairwise.
 * @param {{kind: number, ctx: Uint8Array, sender: string, mine: KeyPair,
 *   recipients: Array<{pid: string, xPub: Uint8Array}>, body: Uint8Array, nonces?: Uint8Array[]}} p
 *   `nonces` only for test vectors; omitted: random
 * @returns {Promise<Uint8Array>} `u8 kind || u8 count || entry * count`
 */
export async function sealToFacilitators({ kind, ctx: ctxBytes, sender, mine, recipients, body, nonces }) {
  if (kind !== KIND_PRIVATE && kind !== KIND_REPORT) throw new FormatError("kind is 0x20 or 0x30");
  if (recipients.length < 1 || recipients.length > 0xff) throw new FormatError("1 to 255 recipients");
  const entries = [];
  for (let i = 0; i < recipients.length; i++) {
    const { pid, xPub } = recipients[i];
    const nonce = nonces ? nonces[i] : randomBytes(NONCE_BYTES);
    const info = privateInfo(ctxBytes, sender, pid);
    const sealed = await aesGcmSeal(await pairwiseKey(mine, xPub, info), nonce, body, info);
    entries.push(lp(pid), nonce, u32(sealed.length), sealed);
  }
  return concat(u8(kind), u8(recipients.length), ...entries);
}

/**
 * At least one entry, and at most one per facilitator: a payload that names
 * someone twice is malformed (which entry would count?).
 * @param {Uint8Array} payload
 * @returns {{kind: number, entries: Array<{pid: string, nonce: Uint8Array, sealed: Uint8Array}>}}
 *   throws FormatError, or RejectError("kind") for a kind other than 0x20 and 0x30
 */
export function parseFacilitatorPayload(payload) {
  const r = new Reader(payload);
  const kind = r.u8();
  if (kind !== KIND_PRIVATE && kind !== KIND_REPORT) throw new RejectError("kind");
  const count = r.u8();
  const entries = [];
  for (let i = 0; i < count; i++) {
    const pid = fromUtf8(r.lp());
    const nonce = r.take(NONCE_BYTES);
    const sealed = r.take(r.u32());
    if (sealed.length < TAG_BYTES) throw new FormatError("an entry shorter than its tag");
    entries.push({ pid, nonce, sealed });
  }
  r.end();
  if (count === 0 || new Set(entries.map((e) => e.pid)).size !== count) throw new FormatError("no entry, or one named twice");
  return { kind, entries };
}

/**
 * Decrypt this facilitator's entry. Replay memory is the caller's (codec.js):
 * it gets the entry's nonce back.
 * @param {{payload: Uint8Array, kind: number, ctx: Uint8Array, sender: string, me: string,
 *   mine: KeyPair, senderXPub: Uint8Array}} p  `kind` the frame calls for: 0x20 `private`, 0x30 `report`
 * @returns {Promise<{nonce: Uint8Array, body: Uint8Array}>} throws FormatError / RejectError
 */
export async function openFacilitatorEntry({ payload, kind, ctx: ctxBytes, sender, me, mine, senderXPub }) {
  const parsed = parseFacilitatorPayload(payload);
  if (parsed.kind !== kind) throw new RejectError("kind");
  const entry = parsed.entries.find((e) => e.pid === me);
  if (!entry) throw new RejectError("not_for_me", "no entry for this facilitator");
  const info = privateInfo(ctxBytes, sender, me);
  const body = await aesGcmOpen(await pairwiseKey(mine, senderXPub, info), entry.nonce, entry.sealed, info);
  return { nonce: entry.nonce, body };
}

/**
 * @typedef {{msg: number, from: string, payload: Uint8Array, key: Uint8Array, body: Uint8Array, note: string}} ReportBody
 */

/** The report body, keys in the spec's order. @param {ReportBody} r @returns {Uint8Array} */
export function reportBody({ msg, from, payload, key, body, note }) {
  return encode({ msg, from, payload, key, body, note });
}

/** @param {Uint8Array} bytes @returns {ReportBody} throws RejectError("malformed") */
export function parseReportBody(bytes) {
  const m = decodeMap(bytes);
  const ok =
    Number.isInteger(m.msg) &&
    typeof m.from === "string" &&
    m.payload instanceof Uint8Array &&
    m.key instanceof Uint8Array &&
    m.body instanceof Uint8Array &&
    typeof m.note === "string";
  if (!ok) throw new RejectError("malformed", "the report body lacks a field");
  return { msg: m.msg, from: m.from, payload: m.payload.slice(), key: m.key.slice(), body: m.body.slice(), note: m.note };
}

/**
 * Section 8's verification: the reported sender really sent exactly this body.
 * @param {{ctx: Uint8Array, report: ReportBody, senderSPubs: Uint8Array[]}} v
 *   `senderSPubs`: the signing keys the reported sender was trusted with in this
 *   session (it may have come back from a new page, or left, since)
 * @returns {Promise<boolean>}
 */
export async function verifyReport({ ctx: ctxBytes, report, senderSPubs }) {
  if (report.key.length !== KEY_BYTES + NONCE_BYTES) return false;
  let p;
  try {
    p = parseRoomPayload(report.payload);
    checkHeader(p.header, ctxBytes, report.from);
  } catch {
    return false;
  }
  let signed = false;
  for (const sPub of senderSPubs) if (!signed) signed = await verifyRoomSignature(p, sPub);
  if (!signed) return false;
  if (!bytesEqual(await commitment(report.key, new Uint8Array(0), report.body), p.commitment)) return false;
  try {
    const opened = await aesGcmOpen(report.key.slice(0, KEY_BYTES), report.key.slice(KEY_BYTES), p.ciphertext, p.headerBytes);
    return bytesEqual(opened, report.body);
  } catch {
    return false;
  }
}
