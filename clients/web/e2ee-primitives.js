// The cryptographic primitives of docs/e2ee.md on WebCrypto only
// (globalThis.crypto.subtle): hashes, HKDF, AES-256-GCM, X25519 and Ed25519
// over raw bytes, the same in Chromium and in Node 20. e2ee.js builds the
// spec's encodings on them and re-exports them, so that `import * as e2ee`
// still names the whole spec.

import { FormatError, concat, fromB64u } from "./bytes.js";

const subtle = globalThis.crypto.subtle;

export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const TAG_BYTES = 16;

/**
 * A payload or distribution that must not be accepted; `reason` says which
 * check failed, in the same words as the Python core's `Why`: malformed,
 * version, kind, context, sender, untrusted, signature, unknown_chain, replay,
 * too_far, decrypt, commitment, not_for_me, stale, nonce_replay.
 * It is defined here because the primitives refuse with it already (decrypt).
 */
export class RejectError extends Error {
  /** @param {string} reason @param {string} [message] */
  constructor(reason, message) {
    super(message ?? reason);
    this.name = "RejectError";
    this.reason = reason;
  }
}

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
