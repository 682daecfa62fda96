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

import { bytesEqual, toHex, fromUtf8 } from "./bytes.js";
import { ChainHistory, NonceMemory, SenderChains } from "./chains.js";
import * as e2ee from "./e2ee.js";
import { TrustRoster } from "./roster.js";

const { KIND_PRIVATE, KIND_REPORT, PRIVATE_NONCES_KEPT, RejectError } = e2ee;

/** How many opened room messages are kept (in memory, their keys included) so that they can be reported. */
export const REPORTABLE_KEPT = 200;
/** How many of our own sent messages wait for their echo from the server. */
const OWN_PENDING_KEPT = 256;

export const UNVERIFIED_WARNING = Object.freeze({
  code: "unverified_link",
  message:
    "This link carries no facilitator key, so nobody in the room can be verified: " +
    "the server could add someone who reads along. Ask your facilitator for a new link.",
});

/** A local refusal (nothing was sent); `code` says why: not_ready, no_recipient, unknown_message, wiped, ... */
export class CodecError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "CodecError";
    this.code = code;
  }
}

function wipedError() {
  return new CodecError("wiped", "This conversation was wiped.");
}

/**
 * @typedef {{type: "message", id: number, from: string, ts?: number, own: boolean, text: string | null, cw?: string, reason?: string}
 *   | {type: "private", from: string, ts?: number, text: string | null, reason?: string}
 *   | {type: "report", from: string, ts?: number, msg: number, verified: boolean,
 *      reported: {from: string, text: string | null, cw?: string} | null, note: string | null, reason?: string}
 *   | {type: "trust", pid: string, trusted: boolean}
 *   | {type: "warning", code: string, message: string, pid?: string}} CodecEvent
 *   `reason`, when a payload could not be opened, is RejectError's word (untrusted, replay, ...).
 *   `cw`, present only when the sender gave one, is the content warning in the message's body.
 *   Warning codes: unverified_link, untrusted, key_rejected (a chain state refused),
 *   keys_unusable (a participant's keys cannot be used: never trusted), keys_mismatch
 *   (the server lists other keys than this page's under its own pid).
 *
 * @typedef {{x: import("./e2ee.js").KeyPair, s: import("./e2ee.js").KeyPair}} ParticipantKeys
 * @typedef {{frame: object, warnings: CodecEvent[]}} Sealed
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
    return this.#serial(() => this.#sealRoom(text, extra, cw));
  }

  /**
   * Seal a private message to the trusted facilitators present and queue its `private` frame.
   * @param {string} text @param {object} [extra]
   * @returns {Promise<Sealed>} throws CodecError("not_ready" | "no_recipient")
   */
  sealPrivate(text, extra = {}) {
    return this.#serial(() => this.#sealToFacilitators(KIND_PRIVATE, e2ee.textBody(text), { t: "private", ...extra }));
  }

  /**
   * Seal a report of room message `msgId` (one this codec opened) and queue its `report` frame.
   * @param {number} msgId @param {string} note @param {object} [extra]
   * @returns {Promise<Sealed>} throws CodecError("unknown_message" | "no_recipient")
   */
  sealReport(msgId, note, extra = {}) {
    return this.#serial(async () => {
      const seen = this.reportable.get(msgId);
      if (!seen) throw new CodecError("unknown_message", "Only a message this page could read can be reported.");
      const body = e2ee.reportBody({ msg: msgId, ...seen, note });
      return this.#sealToFacilitators(KIND_REPORT, body, { t: "report", msg: msgId, ...extra });
    });
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
        events.push(await this.#onMessage(frame));
        break;
      // A facilitator gets its own private and report frames back; it has no
      // entry in them (it does not encrypt to itself), so there is nothing to show.
      case "private":
        if (frame.from !== this.me) events.push(await this.#onPrivate(frame));
        break;
      case "report":
        if (frame.from !== this.me) events.push(await this.#onReport(frame));
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

  // ---- section 5: room messages ----

  async #sealRoom(text, extra, cw) {
    if (!this.chain) throw new CodecError("not_ready", "Not in the room yet.");
    const warning = e2ee.trimContentWarning(cw);
    if (warning !== undefined && [...warning].length > e2ee.MAX_CW_CHARS) {
      throw new CodecError("cw_too_long", `A content warning is at most ${e2ee.MAX_CW_CHARS} characters. Nothing was sent.`);
    }
    const body = e2ee.textBody(text, warning);
    const { chainId, epoch, index, ck } = this.chain;
    const step = await this.#alive(e2ee.stepChain(ck));
    const header = e2ee.header({ ctx: this.ctx, sender: this.me, epoch, chainId, index });
    const payload = await this.#alive(e2ee.sealRoomPayload({ header, signer: this.keys.s, mk: step.mk, nonce: step.nonce, body }));
    this.chain = { chainId, epoch, index: index + 1, ck: step.nextCk }; // the used key is gone
    // Its key and body, to check the server's echo by (#ownEcho).
    const sent = { text, ...(warning === undefined ? {} : { cw: warning }), body, mk: step.mk, nonce: step.nonce };
    remember(this.ownPending, ownKey(chainId, epoch, index), sent, OWN_PENDING_KEPT);
    const frame = { t: "chat", payload, ...extra };
    this.#emit(frame);
    return { frame, warnings: this.#sendWarnings() };
  }

  /** @returns {Promise<CodecEvent>} */
  async #onMessage(frame) {
    const base = { type: "message", id: frame.id, from: frame.from, ts: frame.ts, own: frame.from === this.me };
    try {
      if (!this.ctx || !(frame.payload instanceof Uint8Array)) throw new RejectError("malformed");
      if (base.own) return { ...base, ...(await this.#ownEcho(frame.payload)) };
      const opened = await this.#openRoom(frame.from, frame.payload);
      if (Number.isInteger(frame.id)) {
        const key = new Uint8Array([...opened.mk, ...opened.nonce]);
        remember(this.reportable, frame.id, { from: frame.from, payload: frame.payload.slice(), key, body: opened.body }, REPORTABLE_KEPT);
      }
      return { ...base, text: opened.text, ...(opened.cw === undefined ? {} : { cw: opened.cw }) };
    } catch (err) {
      if (this.wiped) throw err;
      return { ...base, text: null, reason: reasonOf(err) };
    }
  }

  /** Steps 1 to 8, the body's text included; the chain moves only once everything checked out. */
  async #openRoom(from, payload) {
    const p = e2ee.parseRoomPayload(payload);
    e2ee.checkHeader(p.header, this.ctx, from);
    const peer = this.roster.get(from);
    if (!peer?.trusted || !peer.keys) throw new RejectError("untrusted");
    if (!(await this.#alive(e2ee.verifyRoomSignature(p, peer.keys.sPub)))) throw new RejectError("signature");
    const chains = this.chains.get(from);
    if (!chains) throw new RejectError("unknown_chain");
    return this.#alive(chains.open(p));
  }

  /**
   * Our own message back from the server, opened with what we remember sealing
   * (once): the header names us, our signature verifies, and the key we used
   * opens it to exactly the body we sealed. @returns {Promise<{text: string, cw?: string}>}
   */
  async #ownEcho(payload) {
    const p = e2ee.parseRoomPayload(payload);
    e2ee.checkHeader(p.header, this.ctx, this.me);
    if (!(await this.#alive(e2ee.verifyRoomSignature(p, this.keys.s.pub)))) throw new RejectError("signature");
    const key = ownKey(p.header.chainId, p.header.epoch, p.header.index);
    const sent = this.ownPending.get(key);
    if (sent === undefined) throw new RejectError("replay");
    const body = await this.#alive(e2ee.openRoomCiphertext(p, sent.mk, sent.nonce));
    if (!bytesEqual(body, sent.body)) throw new RejectError("decrypt", "not the body we sealed");
    this.ownPending.delete(key);
    return { text: sent.text, ...(sent.cw === undefined ? {} : { cw: sent.cw }) };
  }

  // ---- section 8: to the facilitators ----

  async #sealToFacilitators(kind, body, frameFields) {
    if (!this.ctx) throw new CodecError("not_ready", "Not in the room yet.");
    const candidates = [...this.roster.all()].filter(
      (p) => p.role === "facilitator" && p.trusted && p.present && p.keys && p.pid !== this.me,
    );
    // One facilitator whose keys fail must not keep the message from the others.
    const recipients = [];
    const skipped = [];
    for (const p of candidates) {
      if (await this.#alive(e2ee.agreementWorks(this.keys.x, p.keys.xPub))) recipients.push({ pid: p.pid, xPub: p.keys.xPub });
      else skipped.push(warning("keys_unusable", `The keys of ${p.pid} could not be used; they cannot read this.`, p.pid));
    }
    if (recipients.length === 0) {
      throw new CodecError("no_recipient", "No facilitator who can be verified is in the room right now.");
    }
    const payload = await this.#alive(e2ee.sealToFacilitators({ kind, ctx: this.ctx, sender: this.me, mine: this.keys.x, recipients, body }));
    const frame = { ...frameFields, payload };
    this.#emit(frame);
    return { frame, warnings: [...this.#sendWarnings(), ...skipped] };
  }

  /** Decrypt our entry of a private or report payload; the nonce is remembered only once all is well. */
  async #openForMe(frame, kind) {
    if (!this.ctx || !(frame.payload instanceof Uint8Array)) throw new RejectError("malformed");
    const peer = this.roster.get(frame.from);
    if (!peer?.keys || !peer.trusted) throw new RejectError("untrusted");
    const { nonce, body } = await this.#alive(
      e2ee.openFacilitatorEntry({
        payload: frame.payload,
        kind,
        ctx: this.ctx,
        sender: frame.from,
        me: this.me,
        mine: this.keys.x,
        senderXPub: peer.keys.xPub,
      }),
    );
    let memory = this.nonces.get(frame.from);
    if (!memory) this.nonces.set(frame.from, (memory = new NonceMemory(PRIVATE_NONCES_KEPT)));
    if (memory.has(nonce)) throw new RejectError("nonce_replay");
    return { body, remember: () => memory.add(nonce) };
  }

  async #onPrivate(frame) {
    const base = { type: "private", from: frame.from, ts: frame.ts };
    try {
      const { body, remember: keepNonce } = await this.#openForMe(frame, KIND_PRIVATE);
      const { text } = e2ee.parseTextBody(body, { cw: false }); // a private body has no cw
      keepNonce();
      return { ...base, text };
    } catch (err) {
      if (this.wiped) throw err;
      return { ...base, text: null, reason: reasonOf(err) };
    }
  }

  async #onReport(frame) {
    const base = { type: "report", from: frame.from, ts: frame.ts, msg: frame.msg };
    try {
      const { body, remember: keepNonce } = await this.#openForMe(frame, KIND_REPORT);
      const report = e2ee.parseReportBody(body);
      keepNonce();
      // The server's `msg` must be the one the reporter sealed, or the
      // facilitator would be shown another message as the reported one.
      const verified =
        (frame.msg === undefined || frame.msg === report.msg) &&
        (await this.#alive(e2ee.verifyReport({ ctx: this.ctx, report, senderSPubs: this.roster.signingKeys.get(report.from) ?? [] })));
      return { ...base, msg: report.msg, verified, reported: { from: report.from, ...shownBody(report.body) }, note: report.note };
    } catch (err) {
      if (this.wiped) throw err;
      return { ...base, verified: false, reported: null, note: null, reason: reasonOf(err) };
    }
  }

  /** Said on every send: what the user should know about who may read along. */
  #sendWarnings() {
    const warnings = this.unverified ? [{ type: "warning", ...UNVERIFIED_WARNING }] : [];
    for (const peer of this.roster.all()) {
      if (peer.present && !peer.trusted && peer.pid !== this.me) {
        warnings.push(warning("untrusted", "Someone in the room is not verified by a facilitator and cannot read this.", peer.pid));
      }
    }
    return warnings;
  }
}

function warning(code, message, pid) {
  return { type: "warning", code, message, ...(pid === undefined ? {} : { pid }) };
}

function reasonOf(err) {
  if (err instanceof RejectError) return err.reason;
  if (err instanceof e2ee.FormatError) return "malformed";
  return "error";
}

function ownKey(chainId, epoch, index) {
  return `${epoch}/${toHex(chainId)}/${index}`;
}

/** Keep `value` under `key`, dropping the oldest entries beyond `limit`. */
function remember(map, key, value, limit) {
  map.set(key, value);
  for (const old of map.keys()) {
    if (map.size <= limit) break;
    map.delete(old);
  }
}

/** The reported text (and content warning) as the facilitator is shown them (verified or not). */
function shownBody(body) {
  try {
    const { text, cw } = e2ee.parseTextBody(body);
    return { text, ...(cw === undefined ? {} : { cw }) };
  } catch {
    try {
      return { text: fromUtf8(body) };
    } catch {
      return { text: null };
    }
  }
}
