// What a receiver keeps of one sender's chains (docs/e2ee.md sections 5 and 6):
// the current chain and the one before it, each with the keys of indexes it
// jumped over. Every method computes the new state aside and keeps it only
// once every check has passed, so a rejected payload changes nothing.

import { bytesEqual, toHex } from "./bytes.js";
import { MAX_KEPT, MAX_SKIP, RejectError, openRoomCiphertext, stepChain } from "./e2ee.js";

/**
 * @typedef {import("./e2ee.js").ChainState} ChainState
 * @typedef {ChainState & {kept: Map<number, {mk: Uint8Array, nonce: Uint8Array}>}} ReceiveChain
 */

/** @param {ChainState} state @returns {ReceiveChain} */
function receiveChain(state) {
  return { chainId: state.chainId.slice(), epoch: state.epoch, index: state.index, ck: state.ck.slice(), kept: new Map() };
}

/** One sender's chains, as one receiver holds them. */
export class SenderChains {
  constructor() {
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
    if (cur === null) {
      this.current = receiveChain(state);
      return "new";
    }
    if (bytesEqual(state.chainId, cur.chainId)) {
      // The same chain: only ever forward. Keys kept for indexes the chain
      // jumped over stay valid, so they stay.
      if (state.epoch !== cur.epoch || state.index <= cur.index) throw new RejectError("stale", "that chain state is not ahead");
      cur.index = state.index;
      cur.ck = state.ck.slice();
      return "ahead";
    }
    if (this.previous !== null && bytesEqual(state.chainId, this.previous.chainId)) {
      throw new RejectError("stale", "that chain was replaced already");
    }
    if (state.epoch < cur.epoch) throw new RejectError("stale", "that chain is older than the current one");
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
   * Steps 5 to 8 of section 5 for a payload that passed steps 1 to 4.
   * @param {import("./e2ee.js").RoomPayload} p
   * @returns {Promise<{body: Uint8Array, mk: Uint8Array, nonce: Uint8Array}>} throws RejectError
   */
  async open(p) {
    const { chainId, epoch, index } = p.header;
    const chain = this.find(chainId, epoch);
    if (chain === null) throw new RejectError("unknown_chain", "no key for that chain");

    if (index < chain.index) {
      const kept = chain.kept.get(index);
      if (kept === undefined) throw new RejectError("replay", "that message was read already, or its key is gone");
      const body = await openRoomCiphertext(p, kept.mk, kept.nonce);
      chain.kept.delete(index);
      return { body, mk: kept.mk, nonce: kept.nonce };
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

    chain.index = index + 1;
    chain.ck = step.nextCk;
    for (const [i, keys] of skipped) chain.kept.set(i, keys);
    for (const i of chain.kept.keys()) {
      if (chain.kept.size <= MAX_KEPT) break;
      chain.kept.delete(i); // Map iterates oldest first
    }
    return { body, mk: step.mk, nonce: step.nonce };
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
