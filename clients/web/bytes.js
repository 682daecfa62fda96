// Byte helpers for the encodings of docs/e2ee.md: big-endian integers, lp(),
// a bounds-checked reader, hex and base64url. Uint8Array everywhere; no Node
// Buffer, so the same module runs in the browser.

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A length or parse error in an encoding: the input is rejected as a whole. */
export class FormatError extends Error {
  constructor(message) {
    super(message);
    this.name = "FormatError";
  }
}

/** @param {string} text @returns {Uint8Array} */
export function utf8(text) {
  return encoder.encode(text);
}

/** @param {Uint8Array} bytes @returns {string} throws FormatError on invalid UTF-8 */
export function fromUtf8(bytes) {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new FormatError("invalid UTF-8");
  }
}

/** @param {...Uint8Array} parts @returns {Uint8Array} */
export function concat(...parts) {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** @param {number} n @returns {Uint8Array} one byte */
export function u8(n) {
  if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new FormatError("u8 out of range");
  return Uint8Array.of(n);
}

/** @param {number} n @returns {Uint8Array} two bytes, big-endian */
export function u16(n) {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new FormatError("u16 out of range");
  return Uint8Array.of(n >>> 8, n & 0xff);
}

/** @param {number} n @returns {Uint8Array} four bytes, big-endian */
export function u32(n) {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new FormatError("u32 out of range");
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * `u16 len(x) || x`; a string is measured after UTF-8 encoding.
 * @param {Uint8Array|string} x
 * @returns {Uint8Array}
 */
export function lp(x) {
  const bytes = typeof x === "string" ? utf8(x) : x;
  if (!(bytes instanceof Uint8Array)) throw new TypeError("lp() takes bytes or a string");
  if (bytes.length > 0xffff) throw new FormatError("lp(): longer than 65535 bytes");
  return concat(u16(bytes.length), bytes);
}

/** Reads an encoding front to back; every overrun is a FormatError. */
export class Reader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    if (!(bytes instanceof Uint8Array)) throw new FormatError("not bytes");
    this.bytes = bytes;
    this.at = 0;
  }

  get remaining() {
    return this.bytes.length - this.at;
  }

  /** @param {number} n @returns {Uint8Array} a copy, so later edits of the input change nothing */
  take(n) {
    if (n > this.remaining) throw new FormatError("truncated");
    const out = this.bytes.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8() {
    return this.take(1)[0];
  }

  u16() {
    const b = this.take(2);
    return (b[0] << 8) | b[1];
  }

  u32() {
    const b = this.take(4);
    return ((b[0] << 24) >>> 0) + ((b[1] << 16) | (b[2] << 8) | b[3]);
  }

  lp() {
    return this.take(this.u16());
  }

  rest() {
    return this.take(this.remaining);
  }

  /** Trailing bytes are a length error too. */
  end() {
    if (this.remaining !== 0) throw new FormatError("trailing bytes");
  }
}

/** @param {Uint8Array} a @param {Uint8Array} b @returns {boolean} without an early exit */
export function bytesEqual(a, b) {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** @param {Uint8Array} bytes @returns {string} lowercase hex */
export function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** @param {string} hex @returns {Uint8Array} */
export function fromHex(hex) {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) {
    throw new FormatError("not hex");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** @param {Uint8Array} bytes @returns {string} base64url without padding */
export function toB64u(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** @param {string} text base64url, padding optional @returns {Uint8Array} */
export function fromB64u(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new FormatError("not base64url");
  const plain = text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (plain.length % 4 === 1) throw new FormatError("not base64url");
  const bin = atob(plain + "=".repeat((4 - (plain.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** @param {number} n @returns {Uint8Array} n bytes from the platform's CSPRNG */
export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}
