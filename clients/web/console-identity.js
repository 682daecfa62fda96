// The facilitator's long-term Ed25519 identity key (docs/e2ee.md section 2),
// one per account in this browser.
//
// It is kept in IndexedDB (database `safespace-console`) as a NON-extractable
// CryptoKey: the page can sign vouches with it but nothing, not even this
// page, can read the private key back out. The public half is kept raw, to
// register it (PUT /api/me/identity) and to put it in links. This database
// holds keys only: never a message, a member's name or a transcript. Records
// are keyed by a hash of the account name, so not even that is stored plainly.

import { toB64u, toHex, utf8 } from "./bytes.js";
import { ed25519KeyPair, sha256 } from "./e2ee-primitives.js";

export const DB_NAME = "safespace-console";
const DB_VERSION = 1;
const STORE = "identity";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDb() {
  const req = indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
  };
  return request(req);
}

async function recordId(account) {
  return toHex(await sha256(utf8(`safespace/console/identity\n${account}`)));
}

function usable(rec) {
  return rec && rec.pub instanceof Uint8Array && rec.pub.length === 32 && rec.key instanceof CryptoKey;
}

/**
 * This browser's identity key for `account`: the stored one, or a new one
 * made and stored now.
 * @param {string} account
 * @returns {Promise<{pub: Uint8Array, key: CryptoKey, created: boolean}>} a KeyPair for codec.js
 */
export async function loadOrCreateIdentity(account) {
  const id = await recordId(account);
  const db = await openDb();
  try {
    const found = await request(db.transaction(STORE).objectStore(STORE).get(id));
    if (usable(found)) return { pub: found.pub, key: found.key, created: false };
    // Made outside the transaction (WebCrypto is asynchronous and would let it
    // commit), then added only if another tab did not get there first.
    const pair = await ed25519KeyPair(); // non-extractable private key
    const tx = db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    const raced = await request(store.get(id));
    if (usable(raced)) return { pub: raced.pub, key: raced.key, created: false };
    store.put({ pub: pair.pub, key: pair.key }, id);
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return { pub: pair.pub, key: pair.key, created: true };
  } finally {
    db.close();
  }
}

/**
 * Which of `accounts` has a key kept in this browser: after a reload the page
 * has its login token (sessionStorage) but not its account name, and finds it
 * among the facilitators of its groups. Reads only; nothing is stored.
 * @param {Iterable<string>} accounts @returns {Promise<string[]>}
 */
export async function accountsWithKey(accounts) {
  const db = await openDb();
  try {
    const found = [];
    for (const account of new Set(accounts)) {
      const rec = await request(db.transaction(STORE).objectStore(STORE).get(await recordId(account)));
      if (usable(rec)) found.push(account);
    }
    return found;
  } finally {
    db.close();
  }
}

/** @param {Uint8Array} pub @returns {string} base64url without padding, as links and the API carry it */
export function keyText(pub) {
  return toB64u(pub);
}

/**
 * A short fingerprint to compare by eye: the first 8 bytes of SHA-256 over
 * the public key, in four groups of four hex digits.
 * @param {Uint8Array} pub @returns {Promise<string>}
 */
export async function fingerprint(pub) {
  const hex = toHex((await sha256(pub)).slice(0, 8));
  return hex.match(/.{4}/g).join(" ");
}
