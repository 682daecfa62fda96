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
// Sealing and opening (sections 5 and 8) are in codec-messages.js; a
// facilitator's admissions (its anchor, its door, its signed removals, section
// 3) in codec-admission.js; taking up the chains others give us (section 6) in
// codec-distributions.js; the events, warnings and CodecError the page is
// given, in codec-events.js. Whom to trust under which anchor is roster.js's.

import { toHex } from "./bytes.js";
import * as admission from "./codec-admission.js";
import * as distributions from "./codec-distributions.js";
import { CodecError, UNVERIFIED_WARNING, warning, wipedError } from "./codec-events.js";
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
   *   anchorStore?: import("./codec-admission.js").AnchorStore,
   *   send?: (frame: object) => void}} options
   *   `trustedIdentities`: for a member, the link's `f` keys (none: unverified mode);
   *   for a facilitator, its co-facilitators' identities (its own `identity` is added).
   *   `anchorStore`: a facilitator's memory of its anchor across a reload (none: a new anchor per page).
   *   `send`: called with each frame as soon as it is made (otherwise see `takeOutgoing`).
   */
  constructor({ keys, role = "member", trustedIdentities = [], identity, anchorStore, send }) {
    if (role === "facilitator" && !identity) throw new CodecError("no_identity", "A facilitator needs its identity key.");
    this.keys = keys;
    this.role = role;
    this.identity = role === "facilitator" ? identity : undefined;
    const identities = [...trustedIdentities, ...(this.identity ? [this.identity.pub] : [])];
    this.unverified = identities.length === 0;
    this.bundle = e2ee.bundle(keys.x.pub, keys.s.pub);
    this.roster = new TrustRoster({ identities, unverified: this.unverified, ownBundle: this.bundle, ownIdentity: this.identity?.pub });
    /** A facilitator's anchor and own account of its door (section 3); null for a member. */
    this.door = this.identity ? new admission.FacilitatorDoor({ identity: this.identity, store: anchorStore }) : null;
    this.send = send;
    /** @type {object[]} */
    this.outbox = [];
    this.me = null;
    this.ctx = null;
    /** Our sending chain. @type {import("./e2ee.js").ChainState | null} */
    this.chain = null;
    /** pid -> hex chain_id of ours it was last given */
    this.sentTo = new Map();
    /** Frames of ours the server refused (a spent budget), to send again on `retry()`. */
    this.refusedChains = new Set();
    /** @type {Map<string, object>} */
    this.refusedVouches = new Map();
    /** pid -> its chains as we hold them (for its current keys) @type {Map<string, SenderChains>} */
    this.chains = new Map();
    /**
     * "pid/hex(s_pub)" -> the chain ids ever taken up from those keys, kept for
     * the whole session: departures and roster changes never reset it.
     * @type {Map<string, import("./chains.js").ChainHistory>}
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
    /** id -> the payload this page opened under it (its own included), the last REPORTABLE_KEPT: a report must match it. */
    this.openedPayloads = new Map();
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

  // ---- a facilitator's door (section 3.2): its own acts, not the server's word ----

  /**
   * This facilitator opened (`open`, `unlock`) or closed (`start`, `lock`) the door.
   * In order with the frames handed in before it. @param {boolean} open @returns {Promise<void>}
   */
  setDoor(open) {
    return this.#serial(async () => {
      if (this.door) this.door.open = Boolean(open);
    });
  }

  /** This facilitator admits knocker `pid` (`admit`): vouched for when it arrives. @param {string} pid @returns {Promise<void>} */
  lettingIn(pid) {
    return this.#serial(async () => {
      this.door?.admitting.add(pid);
    });
  }

  /**
   * Vouch by hand for member `pid`, whom the server let in past this facilitator's locked door.
   * @param {string} pid @returns {Promise<CodecEvent[]>} throws CodecError("no_recipient")
   */
  vouchFor(pid) {
    return this.#serial(async () => {
      const events = [];
      await admission.vouchFor(this.#op, pid, events);
      return events;
    });
  }

  /**
   * The `by` and `proof` of this facilitator's removal of `pid` (section 3.3).
   * @param {string} pid @param {boolean} forGood
   * @returns {Promise<{by: Uint8Array, proof: Uint8Array} | null>} null when this page holds no keys for `pid`
   */
  signRemoval(pid, forGood) {
    return this.#serial(() => admission.signRemoval(this.#op, pid, forGood));
  }

  /** @param {string} pid @returns {boolean} the server let member `pid` in past this facilitator's locked door, unvouched */
  notAdmitted(pid) {
    return this.door?.notAdmitted.has(pid) === true;
  }

  /** @param {string} pid @returns {boolean} `pid` is shown with keys a trusted facilitator's signed removal barred */
  isBarred(pid) {
    const peer = this.roster.get(pid);
    return peer !== undefined && this.roster.isBarred(peer);
  }

  /** @returns {object[]} the frames queued so far, in order; the outbox is emptied */
  takeOutgoing() {
    return this.outbox.splice(0);
  }

  /**
   * The server refused one of our frames (`flood`: a budget was spent): it reached
   * nobody. A chain handed out counts as held only if it could have arrived.
   * @param {{t: string, to?: string, pid?: string}} frame as this codec sent it
   */
  refused(frame) {
    distributions.refused(this, frame);
  }

  /** Send again what was refused and is still wanted: our current chain, a vouch for the same keys. */
  retry() {
    return this.#serial(() => distributions.retry(this.#op)).catch((err) => {
      if (err instanceof CodecError && err.code === "wiped") return;
      throw err;
    });
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
    const maps = [this.sentTo, this.chains, this.histories, this.held, this.nonces, this.ownPending, this.reportable, this.openedPayloads];
    for (const map of maps) map.clear();
    this.roster.clear();
    this.door?.wipe();
    this.outbox.length = 0;
    this.chain = null;
    this.keys = null;
    this.identity = undefined;
  }

  // ---- internals ----

  /**
   * What codec-messages.js, codec-admission.js and codec-distributions.js are lent: this
   * codec, its wipe-checked await, its outbox, and its way of settling trust.
   */
  #op = {
    codec: this,
    alive: (promise) => this.#alive(promise),
    emit: (frame) => this.#emit(frame),
    settle: (peers, events) => this.#settleTrust(peers, events),
    offer: (peer, events) => this.#offerChain(peer, events),
  };

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
        await this.#onGone(frame, events);
        break;
      case "state":
        this.door?.onState(frame.state); // the server may close our door, never open it
        break;
      case "vouch":
        await this.#onVouch(frame, events);
        break;
      case "direct":
        await distributions.onDirect(this.#op, frame, events);
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
        this.door?.ended(); // the anchor kept for a reload goes too
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
    const group = String(frame.group?.id ?? "");
    const session = String(frame.session ?? "");
    this.me = frame.you;
    this.ctx = e2ee.ctx(group, session);
    this.roster.ctx = this.ctx;
    this.roster.me = this.me;
    if (this.door) {
      this.door.arrive(group, session, frame.state);
      this.roster.ownAnchor = this.door.anchor;
    }
    if (this.unverified) events.push({ type: "warning", ...UNVERIFIED_WARNING });
    const entries = [];
    for (const entry of frame.roster ?? []) {
      const { peer, newKeys } = this.roster.upsert(entry);
      if (newKeys) this.#forgetChains(peer.pid);
      entries.push({ peer, newKeys, vouches: entry.vouches });
    }
    for (const { peer, newKeys } of entries) await this.#forPeer(peer, events, () => this.#checkKeys(peer, newKeys, events));
    // Every vouch first (those for ourselves name the anchors the others count under), then trust.
    for (const { peer, vouches } of entries) await this.#takeVouches(peer, vouches);
    for (const peer of this.roster.all()) await this.#refreshTrust(peer, events);
    for (const peer of this.roster.all()) {
      await this.#forPeer(peer, events, () => admission.vouchIfNeeded(this.#op, peer, events, { arrival: "welcome" }));
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
    const moved = await this.#takeVouches(peer, entry.vouches);
    // Other keys for someone we knew: the page that held the old ones is gone,
    // so a new chain (once), and nothing of the old one for the new keys.
    const replaced = known && newKeys && peer.pid !== this.me;
    const rekeyed = await this.#settleTrust(moved ? this.roster.all() : [peer], events, { offer: !replaced });
    if (replaced && !rekeyed) await this.#rekey(events);
    await admission.vouchIfNeeded(this.#op, peer, events, { arrival: newKeys || !known });
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
        await admission.vouchIfNeeded(this.#op, peer, events);
      }
      return;
    }
    if (!frame.present) {
      if (frame.keys !== undefined && this.roster.setBundle(peer, frame.keys)) {
        // On a break from a new page: the new keys, vouched for anew (so the
        // private thread reaches them), and not in the room.
        peer.present = false;
        this.#forgetChains(peer.pid);
        await this.#checkKeys(peer, true, events);
        await this.#refreshTrust(peer, events);
        await admission.vouchIfNeeded(this.#op, peer, events, { arrival: true });
      }
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
      await this.#rekey(events);
      // Our vouch for the new page (if our door lets it in) gives it the new chain.
      await admission.vouchIfNeeded(this.#op, peer, events, { arrival: true });
      return;
    }
    // Back: whatever it held of ours may be gone, so it gets our chain again.
    this.sentTo.delete(peer.pid);
    await this.#offerChain(peer, events);
  }

  /**
   * `left` or `removed`: gone for the session. A removal signed by a trusted
   * facilitator bars the keys first; a facilitator whose member went renews its anchor.
   */
  async #onGone(frame, events) {
    if (!this.ctx || frame.pid === this.me) return;
    const role = this.roster.get(frame.pid)?.role;
    if (frame.t === "removed") await admission.barIfSigned(this.#op, frame);
    // A pid that left or was removed never comes back in this session (the
    // server gives a returning member a new one): one shown again is a replay.
    this.roster.gone.add(frame.pid);
    await this.#onDeparture(frame.pid, { gone: true }, events);
    await admission.onDeparted(this.#op, frame.pid, role, events);
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
    if (!this.ctx || !peer) return;
    const { kept, anchorMoved } = await this.#alive(this.roster.addVouch(peer, frame));
    if (!kept) return;
    await this.#settleTrust(anchorMoved ? this.roster.all() : [peer], events);
    // A co-facilitator's page its own identity vouched for: ours follows.
    if (peer.role === "facilitator") await admission.vouchIfNeeded(this.#op, peer, events);
  }

  /**
   * Check and keep the vouches of a roster entry.
   * @returns {Promise<boolean>} whether one of them gave its signer a new current anchor for us
   */
  async #takeVouches(peer, vouches) {
    let moved = false;
    for (const v of Array.isArray(vouches) ? vouches : []) {
      if (v === null || typeof v !== "object") continue;
      const { anchorMoved } = await this.#alive(this.roster.addVouch(peer, v));
      moved ||= anchorMoved;
    }
    return moved;
  }

  /**
   * A roster entry's keys were just set. Under our own pid they must be our own
   * bundle (else: keys_mismatch, and they are never trusted or vouched); anyone
   * else's new keys must not be barred (keys_barred) and must allow an X25519
   * agreement (else: unusable).
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
    if (this.roster.isBarred(peer)) {
      events.push(
        warning(
          "keys_barred",
          `The server shows ${peer.pid} with the keys of someone a facilitator removed: nothing is shared with them.`,
          peer.pid,
        ),
      );
      return;
    }
    if (await this.#alive(e2ee.agreementWorks(this.keys.x, peer.keys.xPub))) return;
    this.roster.markUnusable(peer);
    events.push(warning("keys_unusable", `The keys of ${peer.pid} cannot be used; nothing is shared with them.`, peer.pid));
  }

  /**
   * Recompute trust; on becoming trusted, take up the state held aside for it.
   * @returns {Promise<"gained" | "lost" | null>}
   */
  async #refreshTrust(peer, events) {
    const changed = this.roster.refresh(peer);
    if (this.wiped) throw wipedError();
    if (peer.trusted && this.held.has(peer.pid)) {
      const state = this.held.get(peer.pid);
      this.held.delete(peer.pid);
      distributions.takeUp(this.#op, peer.pid, state, events);
    }
    if (!changed || peer.pid === this.me) return null;
    events.push({ type: "trust", pid: peer.pid, trusted: peer.trusted });
    return peer.trusted ? "gained" : "lost";
  }

  /**
   * Trust looked at again for `peers`. Someone who stopped being trusted (the
   * signer's anchor moved on without them) counts as departing: a new chain for
   * those who remain. Someone who became trusted gets our chain (unless `offer` is false).
   * @returns {Promise<boolean>} whether a new chain was started
   */
  async #settleTrust(peers, events, { offer = true } = {}) {
    const list = [...peers];
    let lost = false;
    for (const peer of list) if ((await this.#refreshTrust(peer, events)) === "lost") lost = true;
    if (lost) await this.#rekey(events);
    else if (offer) for (const peer of list) await this.#offerChain(peer, events);
    return lost;
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
}
