// The end-to-end encryption of docs/e2ee.md, byte for byte, on WebCrypto only
// (globalThis.crypto.subtle and crypto.getRandomValues): the same module runs
// in Chromium and in Node 20. Section numbers below are the spec's.
//
// This module is pure: primitives and encodings, no state. The state machine
// that decides who gets which chain lives in codec.js.

import { encode, decode } from "./vendor/msgpack/index.mjs";
import { FormatError, Reader, bytesEqual, concat, fromB64u, fromUtf8, lp, randomBytes, u8, u32, utf8 } from "./bytes.js";

// lp() is section 1's notation; the other byte helpers live in bytes.js.
export { FormatError, lp } from "./bytes.js";

const subtle = globalThis.crypto.subtle;

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

export const BUNDLE_BYTES = 65;
export const CHAIN_ID_BYTES = 16;
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const SIGNATURE_BYTES = 64;
export const COMMITMENT_BYTES = 32;
export const STATE_BYTES = 57;
export const TAG_BYTES = 16;

export const LABELS = Object.freeze({
  admit: "safespace/v1/admit",
  message: "safespace/v1/message",
  commit: "safespace/v1/commit",
  sign: "safespace/v1/sign",
  distribute: "safespace/v1/distribute",
  private: "safespace/v1/private",
});

/**
 * A payload or distribution that must not be accepted; `reason` says which
 * check failed, in the same words as the Python core's `Why`: malformed,
 * version, kind, context, sender, untrusted, signature, unknown_chain, replay,
 * too_far, decrypt, commitment, not_for_me, stale, nonce_replay.
 */
export class RejectError extends Error {
  /** @param {string} reason @param {string} [message] */
  constructor(reason, message) {
    super(message ?? reason);
    this.name = "RejectError";
    this.reason = reason;
  }
}

// ---- primitives --------------------------------------------------------------

const ZERO_SALT = new Uint8Array(32);

/** @param {Uint8Array} data @returns {Promise<Uint8Array>} 32 bytes */
export async function sha256(data) {
  return new Uint8Array(await subtle.digest("SHA-256", data));
}

/** @param {Uint8Array} key @param {Uint8Array} msg @returns {Promise<Uint8Array>} 32 bytes */
export async function hmacSha256(key, msg) {
  const k = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, msg));
}

/**
 * HKDF-SHA256 with salt = 32 zero bytes (section 1).
 * @param {Uint8Array} ikm @param {Uint8Array} info @param {number} length in bytes
 * @returns {Promise<Uint8Array>}
 */
export async function hkdf(ikm, info, length) {
  const k = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const bits = await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: ZERO_SALT, info }, k, length * 8);
  return new Uint8Array(bits);
}

async function aesKey(key, usage) {
  if (key.length !== KEY_BYTES) throw new FormatError("AES-256 needs a 32-byte key");
  return subtle.importKey("raw", key, "AES-GCM", false, [usage]);
}

/**
 * AES-256-GCM, the 16-byte tag appended.
 * @param {Uint8Array} key @param {Uint8Array} nonce 12 bytes @param {Uint8Array} plaintext @param {Uint8Array} aad
 * @returns {Promise<Uint8Array>}
 */
export async function aesGcmSeal(key, nonce, plaintext, aad) {
  const k = await aesKey(key, "encrypt");
  const out = await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, k, plaintext);
  return new Uint8Array(out);
}

/**
 * @param {Uint8Array} key @param {Uint8Array} nonce @param {Uint8Array} sealed ciphertext || tag @param {Uint8Array} aad
 * @returns {Promise<Uint8Array>} the plaintext; throws RejectError("decrypt") on any failure
 */
export async function aesGcmOpen(key, nonce, sealed, aad) {
  if (sealed.length < TAG_BYTES) throw new RejectError("decrypt", "ciphertext shorter than its tag");
  const k = await aesKey(key, "decrypt");
  try {
    const out = await subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, k, sealed);
    return new Uint8Array(out);
  } catch {
    throw new RejectError("decrypt", "AES-GCM authentication failed");
  }
}

// A raw 32-byte private key goes into WebCrypto as PKCS#8: a fixed DER prefix
// (RFC 8410: SEQUENCE, version 0, the curve's OID, OCTET STRING of the key)
// followed by the key. Exporting it as JWK then gives us the public half.
const PKCS8_PREFIX = {
  X25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20),
  Ed25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20),
};
const PRIVATE_USAGES = { X25519: ["deriveBits"], Ed25519: ["sign"] };

/**
 * @typedef {{pub: Uint8Array, key: CryptoKey, priv?: Uint8Array}} KeyPair
 * `key` is the private CryptoKey; `priv` is kept only when the caller supplied it (tests, vectors).
 */

async function keyPairFromPrivate(alg, priv) {
  if (!(priv instanceof Uint8Array) || priv.length !== KEY_BYTES) throw new FormatError(`${alg} private key must be 32 bytes`);
  const pkcs8 = concat(PKCS8_PREFIX[alg], priv);
  const extractable = await subtle.importKey("pkcs8", pkcs8, { name: alg }, true, PRIVATE_USAGES[alg]);
  const jwk = await subtle.exportKey("jwk", extractable);
  const pub = fromB64u(jwk.x);
  // Hold a non-extractable copy only: nothing on the page can read the key back out.
  const key = await subtle.importKey("jwk", jwk, { name: alg }, false, PRIVATE_USAGES[alg]);
  return { pub, key, priv: priv.slice() };
}

async function generateKeyPair(alg) {
  const pair = await subtle.generateKey({ name: alg }, false, alg === "X25519" ? ["deriveBits"] : ["sign", "verify"]);
  const pub = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  return { pub, key: pair.privateKey };
}

/** @param {Uint8Array} [priv] raw 32 bytes; omitted: a fresh key @returns {Promise<KeyPair>} */
export function x25519KeyPair(priv) {
  return priv === undefined ? generateKeyPair("X25519") : keyPairFromPrivate("X25519", priv);
}

/** @param {Uint8Array} [priv] raw 32-byte seed; omitted: a fresh key @returns {Promise<KeyPair>} */
export function ed25519KeyPair(priv) {
  return priv === undefined ? generateKeyPair("Ed25519") : keyPairFromPrivate("Ed25519", priv);
}

/**
 * @param {KeyPair} mine @param {Uint8Array} peerPub 32 bytes
 * @returns {Promise<Uint8Array>} the 32-byte shared secret; throws RejectError("agreement") for a bad peer key
 */
export async function x25519(mine, peerPub) {
  let shared;
  try {
    const peer = await subtle.importKey("raw", peerPub, { name: "X25519" }, false, []);
    shared = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: peer }, mine.key, 256));
  } catch {
    shared = null;
  }
  // WebCrypto throws for a low-order key already; the check is here in case one does not.
  if (shared === null || shared.every((b) => b === 0)) {
    // Nothing can be opened with such a key: to the caller it is a decryption failure.
    throw new RejectError("decrypt", "X25519 failed (a bad or low-order public key)");
  }
  return shared;
}

/**
 * Can `mine` agree on a secret with `peerPub`? False for a low-order key (an
 * all-zero shared secret) or one WebCrypto refuses: such a bundle is unusable.
 * @param {KeyPair} mine @param {Uint8Array} peerPub @returns {Promise<boolean>}
 */
export async function agreementWorks(mine, peerPub) {
  try {
    await x25519(mine, peerPub);
    return true;
  } catch (err) {
    if (err instanceof RejectError) return false;
    throw err;
  }
}

/** @param {KeyPair} signer @param {Uint8Array} msg @returns {Promise<Uint8Array>} 64 bytes */
export async function ed25519Sign(signer, msg) {
  return new Uint8Array(await subtle.sign("Ed25519", signer.key, msg));
}

/** @param {Uint8Array} pub @param {Uint8Array} sig @param {Uint8Array} msg @returns {Promise<boolean>} */
export async function ed25519Verify(pub, sig, msg) {
  if (!(pub instanceof Uint8Array) || pub.length !== 32) return false;
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) return false;
  try {
    const k = await subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    return await subtle.verify("Ed25519", k, sig, msg);
  } catch {
    return false;
  }
}

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

// ---- 3. vouches --------------------------------------------------------------

/**
 * `lp("safespace/v1/admit") || ctx || lp(pid) || lp(role) || lp(bundle)`
 * @param {Uint8Array} ctxBytes @param {string} pid @param {string} role @param {Uint8Array} bundleBytes
 * @returns {Uint8Array}
 */
export function admitStatement(ctxBytes, pid, role, bundleBytes) {
  return concat(lp(LABELS.admit), ctxBytes, lp(pid), lp(role), lp(bundleBytes));
}

/**
 * @param {KeyPair} identity the facilitator's long-term Ed25519 key
 * @param {Uint8Array} ctxBytes @param {string} pid @param {string} role @param {Uint8Array} bundleBytes
 * @returns {Promise<Uint8Array>} the 64-byte vouch signature
 */
export function signVouch(identity, ctxBytes, pid, role, bundleBytes) {
  return ed25519Sign(identity, admitStatement(ctxBytes, pid, role, bundleBytes));
}

/**
 * @param {Uint8Array} identityPub @param {Uint8Array} sig
 * @param {Uint8Array} ctxBytes @param {string} pid @param {string} role @param {Uint8Array} bundleBytes
 * @returns {Promise<boolean>}
 */
export function verifyVouch(identityPub, sig, ctxBytes, pid, role, bundleBytes) {
  if (!(bundleBytes instanceof Uint8Array)) return Promise.resolve(false);
  return ed25519Verify(identityPub, sig, admitStatement(ctxBytes, pid, role, bundleBytes));
}

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
