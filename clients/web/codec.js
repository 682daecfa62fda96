// The group codec: the state machine of docs/e2ee.md sections 3, 5, 6, 7 and 8.
// Sans-I/O: it consumes decoded server frames and produces frames to send
// (an outbox, drained by the caller or handed to a `send` function as they are
// made) and events for the page. It never touches a socket.
//
// WebCrypto is asynchronous, so every operation (an inbound frame, a seal) is
// run on one internal promise chain: frames are processed strictly in arrival
// order, and frames produced by one operation are in the outbox before the
// next operation starts. That is what keeps a distribution ahead of the first
// message on its chain. A wipe, on the other hand, happens at once: every
// operation checks after each await whether it came, and stops if so.
//
// Sealing and opening (sections 5 and 8) are in codec-messages.js; the events,
// warnings and CodecError the page is given, in codec-events.js.

import { bytesEqual, toHex } from "./bytes.js";
import { ChainHistory, SenderChains } from "./chains.js";
import { CodecError, UNVERIFIED_WARNING, reasonOf, warning, wipedError } from "./codec-events.js";
import * as messages from "./codec-messages.js";
import * as e2ee from "./e2ee.js";
import { TrustRoster } from "./roster.js";

export { CodecError, UNVERIFIED_WARNING } from "./codec-events.js";
export { REPORTABLE_KEPT } from "./codec-messages.js";

/**
 * @typedef {{x: import("./e2ee.js").KeyPair, s: import("./e2ee.js").KeyPair}} ParticipantKeys
 * @typedef {import("./codec-events.js").CodecEvent} CodecEvent
 * @typedef {import("./codec-events.js").Sealed} Sealed
 */

export class GroupCodec {
  /**
   * Use `GroupCodec.create` unless you hold keys already.
   * @param {{keys: ParticipantKeys, role?: "member" | "facilitator",
   *   trustedIdentities?: Uint8Array[], identity?: import("./e2ee.js").KeyPair,
   *   send?: (frame: object) => void}} options
   *   `trustedIdentities`: for a member, the link's `f` keys (none: unverified mode);
   *   for a facilitator, its co-facilitators' identities (its own `identity` is added).
   *   `send`: called with each frame as soon as it is made (otherwise see `takeOutgoing`).
   */
  constructor({ keys, role = "member", trustedIdentities = [], identity, send }) {
    if (role === "facilitator" && !identity) throw new CodecError("no_identity", "A facilitator needs its identity key.");
    this.keys = keys;
    this.role = role;
    this.identity = role === "facilitator" ? identity : undefined;
    const identities = [...trustedIdentities, ...(this.identity ? [this.identity.pub] : [])];
    this.unverified = identities.length === 0;
    this.bundle = e2ee.bundle(keys.x.pub, keys.s.pub);
    this.roster = new TrustRoster({ identities, unverified: this.unverified, ownBundle: this.bundle });
    this.send = send;
    /** @type {object[]} */
    this.outbox = [];
    this.me = null;
    this.ctx = null;
    /** Our sending chain. @type {import("./e2ee.js").ChainState | null} */
    this.chain = null;
    /** pid -> hex chain_id of ours it was last given */
    this.sentTo = new Map();
    /** pid -> its chains as we hold them (for its current keys) @type {Map<string, SenderChains>} */
    this.chains = new Map();
    /**
     * "pid/hex(s_pub)" -> the chain ids ever taken up from those keys, kept for
     * the whole session: departures and roster changes never reset it.
     * @type {Map<string, ChainHistory>}
     */
    this.histories = new Map();
    /** States from senders not trusted yet, one per sender. @type {Map<string, import("./e2ee.js").ChainState>} */
    this.held = new Map();
    /** @type {Map<string, NonceMemory>} */
    this.nonces = new Map();
    /** What we sealed, until the server echoes it: {text, cw?, body, mk, nonce} by epoch/chain/index. */
    this.ownPending = new Map();
    /** The last REPORTABLE_KEPT opened room messages by id, for reports: {from, payload, key, body}. */
    this.reportable = new Map();
    this.wiped = false;
    this.queue = Promise.resolve();
  }

  /**
   * A codec with fresh keys for this page.
   * @param {Omit<ConstructorParameters<typeof GroupCodec>[0], "keys"> & {keys?: ParticipantKeys}} [options]
   * @returns {Promise<GroupCodec>}
   */
  static async create(options = {}) {
    const keys = options.keys ?? { x: await e2ee.x25519KeyPair(), s: await e2ee.ed25519KeyPair() };
    return new GroupCodec({ ...options, keys });
  }

  // ---- the public surface: every call runs in arrival order ----

  /**
   * Feed one decoded server frame.
   * @param {Record<string, any>} frame
   * @returns {Promise<CodecEvent[]>}
   */
  handle(frame) {
    // After a wipe (or `ended`) frames still in flight change nothing.
    return this.#serial(() => this.#handle(frame)).catch((err) => {
      if (err instanceof CodecError && err.code === "wiped") return [];
      throw err;
    });
  }

  /**
   * Seal a room message and queue its `chat` frame (after any frame queued before it).
   * @param {string} text @param {object} [extra] more fields for the frame, e.g. `{ref}`
   * @param {{cw?: string}} [options] `cw`: a content warning, sealed in the body (trimmed; none if empty)
   * @returns {Promise<Sealed>} throws CodecError("not_ready" | "cw_too_long"); nothing is sent then
   */
  sealRoom(text, extra = {}, { cw } = {}) {
    return this.#serial(() => messages.sealRoom(this.#op, text, extra, cw));
  }

  /**
   * Seal a private message to the trusted facilitators present and queue its `private` frame.
   * With `to` (a facilitator's page only): a reply into member `to`'s private thread, sealed
   * to that member first (a member this page trusts, present or on a break) and the facilitators.
   * @param {string} text @param {string} [to] a member's pid @param {object} [extra] more frame fields
   * @returns {Promise<Sealed>} throws CodecError("not_ready" | "no_recipient")
   */
  sealPrivate(text, to = undefined, extra = {}) {
    return this.#serial(() => messages.sealPrivate(this.#op, text, to ?? undefined, extra));
  }

  /**
   * Seal a report of room message `msgId` (one this codec opened) and queue its `report` frame.
   * @param {number} msgId @param {string} note @param {object} [extra]
   * @returns {Promise<Sealed>} throws CodecError("unknown_message" | "no_recipient")
   */
  sealReport(msgId, note, extra = {}) {
    return this.#serial(() => messages.sealReport(this.#op, msgId, note, extra));
  }

  /** @returns {object[]} the frames queued so far, in order; the outbox is emptied */
  takeOutgoing() {
    return this.outbox.splice(0);
  }

  /** @returns {Promise<void>} once every operation handed in so far has run */
  settled() {
    return this.#serial(async () => {}).catch(() => {});
  }

  /** @param {string} pid @returns {boolean} */
  isTrusted(pid) {
    return this.roster.get(pid)?.trusted === true;
  }

  /** @returns {string[]} trusted participants who are present, ourselves excluded */
  trustedPresent() {
    return [...this.roster.all()].filter((p) => p.trusted && p.present && p.pid !== this.me).map((p) => p.pid);
  }

  /**
   * True once we hold a chain of `pid`'s and `pid` was given our current chain.
   * @param {string} pid @returns {boolean}
   */
  readyWith(pid) {
    return (
      this.isTrusted(pid) &&
      this.chains.get(pid)?.current != null &&
      this.chain !== null &&
      this.sentTo.get(pid) === toHex(this.chain.chainId)
    );
  }

  /**
   * Drop everything: keys, chains, texts. The codec refuses to seal afterwards,
   * and an operation under way when this is called stops at its next step
   * without writing anything back or sending anything.
   */
  wipe() {
    this.wiped = true;
    for (const chains of this.chains.values()) chains.clear();
    for (const sent of this.ownPending.values()) for (const k of [sent.mk, sent.nonce]) k.fill(0);
    for (const seen of this.reportable.values()) seen.key.fill(0);
    this.chain?.ck.fill(0);
    for (const map of [this.sentTo, this.chains, this.histories, this.held, this.nonces, this.ownPending, this.reportable]) map.clear();
    this.roster.clear();
    this.outbox.length = 0;
    this.chain = null;
    this.keys = null;
    this.identity = undefined;
  }

  // ---- internals ----

  /** What codec-messages.js is lent: this codec, its wipe-checked await and its outbox. */
  #op = { codec: this, alive: (promise) => this.#alive(promise), emit: (frame) => this.#emit(frame) };

  #serial(fn) {
    const run = this.queue.then(async () => {
      if (this.wiped) throw wipedError();
      try {
        return await fn();
      } catch (err) {
        // A wipe in the middle of an operation pulls the keys from under it.
        throw this.wiped ? wipedError() : err;
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Await `promise`, then stop (throw "wiped") if the codec was wiped meanwhile.
   * Every await of an operation goes through here, so that nothing an
   * operation does after its awaits (state kept, frames sent) outlives a wipe.
   */
  async #alive(promise) {
    const value = await promise;
    if (this.wiped) throw wipedError();
    return value;
  }

  #emit(frame) {
    if (this.wiped) throw wipedError();
    this.outbox.push(frame);
    if (this.send) for (const f of this.takeOutgoing()) this.send(f);
  }

  /** Run `fn` for one peer of several: a failure is that peer's alone, and the others still get theirs. */
  async #forPeer(peer, events, fn) {
    try {
      await fn();
    } catch (err) {
      if (this.wiped) throw err;
      events.push(warning("keys_unusable", `The keys of ${peer.pid} could not be used.`, peer.pid));
    }
  }

  async #handle(frame) {
    const events = [];
    switch (frame?.t) {
      case "welcome":
        await this.#onWelcome(frame, events);
        break;
      case "joined":
        if (frame.p && this.ctx) await this.#onArrival(frame.p, events);
        break;
      case "presence":
        await this.#onPresence(frame, events);
        break;
      case "left":
      case "removed":
        await this.#onDeparture(frame.pid, { gone: true }, events);
        break;
      case "vouch":
        await this.#onVouch(frame, events);
        break;
      case "direct":
        await this.#onDirect(frame, events);
        break;
      case "msg":
        events.push(await messages.onMessage(this.#op, frame));
        break;
      // A facilitator gets its own private and report frames back; it has no
      // entry in them (it does not encrypt to itself), so there is nothing to show.
      case "private":
        if (frame.from !== this.me) events.push(await messages.onPrivate(this.#op, frame));
        break;
      case "report":
        if (frame.from !== this.me) events.push(await messages.onReport(this.#op, frame));
        break;
      case "ended":
        this.wipe(); // the session is over: nothing of it is kept
        break;
      default:
        break; // every other frame is no business of the encryption
    }
    return events;
  }

  // ---- sections 3 and 7: the roster, trust, and when chains move ----

  async #onWelcome(frame, events) {
    if ((frame.role === "member" || frame.role === "facilitator") && frame.role !== this.role) {
      throw new CodecError("role_mismatch", "The server's role for this page differs from the codec's.");
    }
    this.me = frame.you;
    this.ctx = e2ee.ctx(String(frame.group?.id ?? ""), String(frame.session ?? ""));
    this.roster.ctx = this.ctx;
    this.roster.me = this.me;
    if (this.unverified) events.push({ type: "warning", ...UNVERIFIED_WARNING });
    const changed = new Set();
    for (const entry of frame.roster ?? []) {
      const { peer, newKeys } = this.roster.upsert(entry);
      if (newKeys) {
        this.#forgetChains(peer.pid);
        changed.add(peer);
      }
    }
    for (const peer of this.roster.all()) {
      await this.#forPeer(peer, events, async () => {
        await this.#checkKeys(peer, changed.has(peer), events);
        await this.#refreshTrust(peer, events);
        await this.#vouchIfNeeded(peer, events);
      });
    }
    this.chain = e2ee.newChain(0);
    for (const peer of this.roster.all()) await this.#offerChain(peer, events);
  }

  /** `joined`: a participant reaches the roster (or is shown again, perhaps with other keys). */
  async #onArrival(entry, events) {
    const known = typeof entry.pid === "string" && this.roster.get(entry.pid) !== undefined;
    const { peer, newKeys } = this.roster.upsert(entry);
    if (newKeys) this.#forgetChains(peer.pid);
    await this.#checkKeys(peer, newKeys, events);
    await this.#refreshTrust(peer, events);
    await this.#vouchIfNeeded(peer, events);
    // Other keys for someone we knew: the page that held the old ones is gone.
    if (known && newKeys && peer.pid !== this.me) await this.#rekey(events);
    await this.#offerChain(peer, events);
  }

  async #onPresence(frame, events) {
    const peer = this.roster.get(frame.pid);
    if (!this.ctx || !peer) return;
    if (frame.pid === this.me) {
      // The server's word on our own keys: never trusted, vouched or used unless they are ours.
      if (frame.present && frame.keys !== undefined) {
        const newKeys = this.roster.setBundle(peer, frame.keys);
        await this.#checkKeys(peer, newKeys, events);
        await this.#refreshTrust(peer, events);
        await this.#vouchIfNeeded(peer, events);
      }
      return;
    }
    if (!frame.present) {
      await this.#onDeparture(frame.pid, { gone: false }, events);
      return;
    }
    peer.present = true;
    if (frame.keys !== undefined && this.roster.setBundle(peer, frame.keys)) {
      // A new page: new keys, so the old vouches and chains mean nothing, and
      // the old page (replaced, perhaps without a presence false) counts as
      // departed: a new chain for everyone else.
      this.#forgetChains(peer.pid);
      await this.#checkKeys(peer, true, events);
      await this.#refreshTrust(peer, events);
      await this.#vouchIfNeeded(peer, events);
      await this.#rekey(events); // the new page, if trusted already, is given the new chain here
      return;
    }
    // Back: whatever it held of ours may be gone, so it gets our chain again.
    this.sentTo.delete(peer.pid);
    await this.#offerChain(peer, events);
  }

  /**
   * Someone stepped out, lost the connection, left or was removed: start a
   * new chain that only those still here get.
   */
  async #onDeparture(pid, { gone }, events) {
    if (!this.ctx || pid === this.me) return;
    if (gone) {
      // Gone for this session: its chains go (their ids stay in `histories`).
      this.roster.delete(pid);
      this.#forgetChains(pid);
    } else if (this.roster.get(pid)) {
      // Stepped out or lost the connection: its chains are kept, so that a
      // distribution the server saved cannot start them again from the start.
      this.roster.get(pid).present = false;
    }
    await this.#rekey(events);
  }

  async #onVouch(frame, events) {
    const peer = this.roster.get(frame.pid);
    if (!this.ctx || !peer || !this.roster.addVouch(peer, frame.by, frame.sig)) return;
    await this.#refreshTrust(peer, events);
    await this.#offerChain(peer, events);
  }

  /**
   * A roster entry's keys were just set. Under our own pid they must be our own
   * bundle (else: keys_mismatch, and they are never trusted or vouched); anyone
   * else's new keys must allow an X25519 agreement (else: unusable).
   */
  async #checkKeys(peer, newKeys, events) {
    if (peer.pid === this.me) {
      if (peer.bundle !== null && this.roster.isOwnPidWithOtherKeys(peer)) {
        events.push(
          warning(
            "keys_mismatch",
            "The server lists keys under your name that are not this page's. Someone may be trying to read along; " +
              "tell your facilitator.",
            peer.pid,
          ),
        );
      }
      return;
    }
    if (!newKeys || !peer.keys) return;
    if (await this.#alive(e2ee.agreementWorks(this.keys.x, peer.keys.xPub))) return;
    this.roster.markUnusable(peer);
    events.push(warning("keys_unusable", `The keys of ${peer.pid} cannot be used; nothing is shared with them.`, peer.pid));
  }

  /** Recompute trust; on becoming trusted, take up the state held aside for it. */
  async #refreshTrust(peer, events) {
    const changed = await this.#alive(this.roster.refresh(peer));
    if (peer.trusted && this.held.has(peer.pid)) {
      const state = this.held.get(peer.pid);
      this.held.delete(peer.pid);
      this.#takeUp(peer.pid, state, events);
    }
    if (changed && peer.pid !== this.me) events.push({ type: "trust", pid: peer.pid, trusted: peer.trusted });
  }

  /** A facilitator vouches for itself (with its own bundle only) and for every member that lacks its vouch. */
  async #vouchIfNeeded(peer, events) {
    if (!this.identity || !peer.keys) return;
    const isSelf = peer.pid === this.me;
    if (isSelf ? peer.role !== "facilitator" || !bytesEqual(peer.bundle, this.bundle) : peer.role !== "member") return;
    if (await this.#alive(this.roster.vouchedBy(peer, [this.identity.pub]))) return;
    const sig = await this.#alive(e2ee.signVouch(this.identity, this.ctx, peer.pid, peer.role, peer.bundle));
    this.#emit({ t: "vouch", pid: peer.pid, by: this.identity.pub, sig });
    // Applied at once rather than on the server's echo (which then changes
    // nothing): our own vouch needs no one's word.
    this.roster.addVouch(peer, this.identity.pub, sig);
    await this.#refreshTrust(peer, events);
  }

  async #rekey(events) {
    if (!this.chain) return;
    this.chain = e2ee.newChain(this.chain.epoch + 1);
    this.sentTo.clear();
    for (const peer of this.roster.all()) await this.#offerChain(peer, events);
  }

  /** Give `peer` our current chain if it is trusted, present, and does not have it yet; a failure is this peer's alone. */
  async #offerChain(peer, events) {
    if (!this.chain || !peer.trusted || !peer.present || !peer.keys || peer.pid === this.me) return;
    const chainId = toHex(this.chain.chainId);
    if (this.sentTo.get(peer.pid) === chainId) return;
    await this.#forPeer(peer, events, async () => {
      const payload = await this.#alive(
        e2ee.sealDistribution({
          ctx: this.ctx,
          sender: this.me,
          recipient: peer.pid,
          mine: this.keys.x,
          peerXPub: peer.keys.xPub,
          state: this.chain,
        }),
      );
      this.#emit({ t: "direct", to: peer.pid, payload });
      this.sentTo.set(peer.pid, chainId);
    });
  }

  #forgetChains(pid) {
    this.chains.get(pid)?.clear();
    this.chains.delete(pid);
    this.held.delete(pid);
    this.sentTo.delete(pid);
  }

  // ---- section 6: chains given to us ----

  async #onDirect(frame, events) {
    const peer = this.roster.get(frame.from);
    if (!this.ctx || frame.from === this.me) return;
    if (!peer?.keys || !(frame.payload instanceof Uint8Array)) {
      events.push(warning("key_rejected", "A key from an unknown participant was ignored.", frame.from));
      return;
    }
    let state;
    try {
      state = await this.#alive(
        e2ee.openDistribution({
          ctx: this.ctx,
          sender: frame.from,
          recipient: this.me,
          mine: this.keys.x,
          peerXPub: peer.keys.xPub,
          payload: frame.payload,
        }),
      );
    } catch (err) {
      if (this.wiped) throw err;
      events.push(warning("key_rejected", `A key from ${frame.from} was rejected (${reasonOf(err)}).`, frame.from));
      return;
    }
    if (peer.trusted) this.#takeUp(peer.pid, state, events);
    else this.held.set(peer.pid, state); // one per sender, until a vouch arrives
  }

  /** Take up `pid`'s chain state (section 6); the history of its keys refuses any chain taken up before. */
  #takeUp(pid, state, events) {
    let chains = this.chains.get(pid);
    if (!chains) {
      const peer = this.roster.get(pid);
      const key = `${pid}/${toHex(peer.keys.sPub)}`;
      let history = this.histories.get(key);
      if (!history) this.histories.set(key, (history = new ChainHistory()));
      this.chains.set(pid, (chains = new SenderChains(history)));
    }
    try {
      chains.accept(state);
    } catch (err) {
      events.push(warning("key_rejected", `A key from ${pid} was rejected (${reasonOf(err)}).`, pid));
    }
  }
}
