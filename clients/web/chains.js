// What a receiver keeps of one sender's chains (docs/e2ee.md sections 5 and 6):
// the current chain and the one before it, each with the keys of indexes it
// jumped over, and (ChainHistory) every chain id it ever took up from that
// sender's keys. Every method computes the new state aside and keeps it only
// once every check has passed, so a rejected payload changes nothing.

import { bytesEqual, toHex } from "./bytes.js";
import { CHAIN_IDS_KEPT, MAX_KEPT, MAX_SKIP, RejectError, openRoomCiphertext, parseTextBody, stepChain } from "./e2ee.js";

/**
 * @typedef {import("./e2ee.js").ChainState} ChainState
 * @typedef {ChainState & {kept: Map<number, {mk: Uint8Array, nonce: Uint8Array}>}} ReceiveChain
 */

/** @param {ChainState} state @returns {ReceiveChain} */
function receiveChain(state) {
  return { chainId: state.chainId.slice(), epoch: state.epoch, index: state.index, ck: state.ck.slice(), kept: new Map() };
}

/**
 * What one receiver remembers of one sender's keys for the whole session,
 * after the chains themselves are gone (the sender left, the roster changed):
 * the chain ids it took up, and the highest epoch among them. A distribution
 * the server saved and sends again can then never start an old chain afresh.
 * Only ids and an epoch, no key material.
 */
export class ChainHistory {
  /** @param {number} [limit] ids remembered, oldest forgotten first (the epoch still covers them) */
  constructor(limit = CHAIN_IDS_KEPT) {
    this.limit = limit;
    /** @type {Set<string>} hex chain ids, in the order taken up */
    this.ids = new Set();
    /** the highest epoch taken up; -1 before any */
    this.epoch = -1;
  }

  get size() {
    return this.ids.size;
  }

  /** @param {Uint8Array} chainId */
  has(chainId) {
    return this.ids.has(toHex(chainId));
  }

  /** @param {ChainState} state */
  add(state) {
    this.ids.add(toHex(state.chainId));
    if (state.epoch > this.epoch) this.epoch = state.epoch;
    for (const old of this.ids) {
      if (this.ids.size <= this.limit) break;
      this.ids.delete(old); // Set iterates oldest first
    }
  }
}

/** One sender's chains, as one receiver holds them. */
export class SenderChains {
  /**
   * @param {ChainHistory} [history] the sender's keys' history, which outlives
   *   this object: pass the same one to every SenderChains for the same keys
   */
  constructor(history = new ChainHistory()) {
    this.history = history;
    /** @type {ReceiveChain | null} */
    this.current = null;
    /** @type {ReceiveChain | null} */
    this.previous = null;
  }

  /**
   * Take up a distributed chain state (section 6).
   * @param {ChainState} state
   * @returns {"new" | "ahead"} throws RejectError("stale") for a state that would move back
   */
  accept(state) {
    const cur = this.current;
    if (cur !== null && bytesEqual(state.chainId, cur.chainId)) {
      // The same chain: only ever forward. Keys kept for indexes the chain
      // jumped over stay valid, so they stay.
      if (state.epoch !== cur.epoch || state.index <= cur.index) throw new RejectError("stale", "that chain state is not ahead");
      cur.index = state.index;
      cur.ck = state.ck.slice();
      return "ahead";
    }
    if (this.history.has(state.chainId)) throw new RejectError("stale", "that chain was taken up before");
    if (state.epoch < (cur?.epoch ?? this.history.epoch)) throw new RejectError("stale", "that chain is older than one taken up already");
    this.history.add(state);
    this.previous = cur;
    this.current = receiveChain(state);
    return "new";
  }

  /** @param {Uint8Array} chainId @param {number} epoch @returns {ReceiveChain | null} */
  find(chainId, epoch) {
    for (const chain of [this.current, this.previous]) {
      if (chain !== null && chain.epoch === epoch && bytesEqual(chain.chainId, chainId)) return chain;
    }
    return null;
  }

  /**
   * Steps 5 to 8 of section 5 for a payload that passed steps 1 to 4. Step 7
   * includes the body: one that is not `{"text": str}` (with a valid `cw`, if
   * any) is refused before anything changes.
   * @param {import("./e2ee.js").RoomPayload} p
   * @returns {Promise<{body: Uint8Array, text: string, cw?: string, mk: Uint8Array, nonce: Uint8Array}>} throws RejectError
   */
  async open(p) {
    const { chainId, epoch, index } = p.header;
    const chain = this.find(chainId, epoch);
    if (chain === null) throw new RejectError("unknown_chain", "no key for that chain");

    if (index < chain.index) {
      const kept = chain.kept.get(index);
      if (kept === undefined) throw new RejectError("replay", "that message was read already, or its key is gone");
      const body = await openRoomCiphertext(p, kept.mk, kept.nonce);
      const opened = parseTextBody(body);
      chain.kept.delete(index);
      return { body, ...opened, mk: kept.mk, nonce: kept.nonce };
    }
    if (index - chain.index > MAX_SKIP) throw new RejectError("too_far", "that message is too far ahead");

    // Step over the indexes jumped over, remembering only as many keys as
    // will survive the MAX_KEPT trim anyway (they are the newest).
    let ck = chain.ck;
    const skipped = [];
    for (let i = chain.index; i < index; i++) {
      const step = await stepChain(ck);
      skipped.push([i, { mk: step.mk, nonce: step.nonce }]);
      if (skipped.length > MAX_KEPT) skipped.shift();
      ck = step.nextCk;
    }
    const step = await stepChain(ck);
    const body = await openRoomCiphertext(p, step.mk, step.nonce);
    const opened = parseTextBody(body);

    chain.index = index + 1;
    chain.ck = step.nextCk;
    for (const [i, keys] of skipped) chain.kept.set(i, keys);
    for (const i of chain.kept.keys()) {
      if (chain.kept.size <= MAX_KEPT) break;
      chain.kept.delete(i); // Map iterates oldest first
    }
    return { body, ...opened, mk: step.mk, nonce: step.nonce };
  }

  /** Forget the chains and overwrite their keys (a wipe). The history stays with its owner. */
  clear() {
    for (const chain of [this.current, this.previous]) {
      if (chain === null) continue;
      chain.ck.fill(0);
      for (const keys of chain.kept.values()) {
        keys.mk.fill(0);
        keys.nonce.fill(0);
      }
      chain.kept.clear();
    }
    this.current = null;
    this.previous = null;
  }

  /** A description for tests and diagnostics; never includes key material. */
  describe() {
    const one = (c) => c && { chainId: toHex(c.chainId), epoch: c.epoch, index: c.index, kept: [...c.kept.keys()] };
    return { current: one(this.current), previous: one(this.previous) };
  }
}

/** The nonces of private and report entries already seen from one sender (section 8). */
export class NonceMemory {
  /** @param {number} limit */
  constructor(limit) {
    this.limit = limit;
    /** @type {Set<string>} */
    this.seen = new Set();
  }

  /** @param {Uint8Array} nonce */
  has(nonce) {
    return this.seen.has(toHex(nonce));
  }

  /** @param {Uint8Array} nonce */
  add(nonce) {
    this.seen.add(toHex(nonce));
    // Set iterates in insertion order: drop the oldest beyond the limit.
    for (const old of this.seen) {
      if (this.seen.size <= this.limit) break;
      this.seen.delete(old);
    }
  }
}
