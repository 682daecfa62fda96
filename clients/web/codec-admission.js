// A facilitator's side of admission (docs/e2ee.md sections 3.1 to 3.3): its
// anchor, its own account of the door, whom it vouches for by itself and whom
// only by hand, the new anchor when someone it vouched for goes, and its
// signed removals. codec.js owns the roster and runs these on its promise
// chain; `op` lends them its wipe-checked await, its outbox and its way of
// settling trust (a new chain when someone stops being trusted).

import { bytesEqual, toHex } from "./bytes.js";
import { CodecError, warning } from "./codec-events.js";
import * as e2ee from "./e2ee.js";

/** The session states in which the door stands open (docs/protocol.md section 7). */
export const OPEN_DOOR = new Set(["lobby", "live_unlocked"]);

/**
 * Where a facilitator's page keeps its anchor and the pids it vouched for across a
 * reload (the console: sessionStorage, console-keep.js). Keyed by group and session id.
 * @typedef {{load: (group: string, session: string) => {anchor: Uint8Array, vouched: string[]} | null,
 *   save: (group: string, session: string, memory: {anchor: Uint8Array, vouched: string[]}) => void,
 *   drop: () => void}} AnchorStore
 *
 * @typedef {{codec: import("./codec.js").GroupCodec, alive: <T>(promise: Promise<T>) => Promise<T>,
 *   emit: (frame: object) => void, settle: (peers: Iterable<import("./roster.js").Peer>, events: object[]) => Promise<void>}} Op
 */

/** What one facilitator's page knows of its own admissions in this session. */
export class FacilitatorDoor {
  /** @param {{identity: import("./e2ee.js").KeyPair, store?: AnchorStore}} options */
  constructor({ identity, store }) {
    this.identity = identity;
    this.store = store ?? null;
    /** @type {Uint8Array | null} the anchor every vouch of ours names now */
    this.anchor = null;
    /** @type {[string, string] | null} group and session id */
    this.place = null;
    /** open by our own account: at arrival, or by our open and unlock since; start, lock, a server's state close it */
    this.open = false;
    /** pids this facilitator admitted from the knock queue */
    this.admitting = new Set();
    /** pids (members and co-facilitators) this facilitator vouched for this session */
    this.vouched = new Set();
    /** members the server let in past our locked door, whom we did not vouch for */
    this.notAdmitted = new Set();
  }

  /**
   * The `welcome`: the anchor and vouched pids kept for this session (a reload), or a new anchor.
   * @param {string} group @param {string} session @param {unknown} state the welcome's session state
   */
  arrive(group, session, state) {
    this.open = OPEN_DOOR.has(/** @type {string} */ (state));
    const same = this.place && this.place[0] === group && this.place[1] === session;
    if (same && this.anchor) return;
    this.place = [group, session];
    let kept = null;
    try {
      kept = this.store?.load(group, session) ?? null;
    } catch {
      kept = null; // storage refused: as if there were none
    }
    if (kept && kept.anchor instanceof Uint8Array && kept.anchor.length === e2ee.ANCHOR_BYTES) {
      this.anchor = kept.anchor.slice();
      this.vouched = new Set((kept.vouched ?? []).filter((pid) => typeof pid === "string"));
    } else {
      this.anchor = e2ee.newAnchor();
      this.vouched = new Set();
    }
    this.save();
  }

  /** May we vouch for member `pid` by ourselves? @param {string} pid */
  lets(pid) {
    return this.open || this.admitting.has(pid) || this.vouched.has(pid);
  }

  /** A `state` frame from the server can close our door, never open it. @param {unknown} state */
  onState(state) {
    if (!OPEN_DOOR.has(/** @type {string} */ (state))) this.open = false;
  }

  /** A new anchor (section 3.1): every vouch under the old one stops counting. */
  renew() {
    this.anchor = e2ee.newAnchor(this.anchor);
    this.save();
  }

  /** @param {string} pid @returns {boolean} whether we had vouched for it */
  departed(pid) {
    this.admitting.delete(pid);
    this.notAdmitted.delete(pid);
    const was = this.vouched.delete(pid);
    if (was) this.save();
    return was;
  }

  save() {
    if (!this.store || !this.place || !this.anchor) return;
    try {
      this.store.save(this.place[0], this.place[1], { anchor: this.anchor.slice(), vouched: [...this.vouched] });
    } catch {
      // storage refused: a reload then starts with a new anchor, as the spec allows
    }
  }

  /** The session ended: nothing of it is kept, here or in storage. */
  ended() {
    try {
      this.store?.drop();
    } catch {
      // nothing was kept
    }
    this.wipe();
  }

  /** The page's memory goes (a wipe); what storage keeps for a reload stays. */
  wipe() {
    this.anchor = null;
    this.place = null;
    this.open = false;
    for (const set of [this.admitting, this.vouched, this.notAdmitted]) set.clear();
  }
}

/**
 * A facilitator vouches for itself (with its own bundle only), for a co-facilitator
 * whose page another trusted identity vouched for, and for a member its door lets in;
 * a member it does not let in is `not_admitted` (only said when `arrival`: the member
 * just reached the roster, "welcome" when it was there as we arrived).
 * @param {Op} op @param {import("./roster.js").Peer} peer @param {object[]} events
 * @param {{arrival?: boolean | "welcome"}} [options]
 */
export async function vouchIfNeeded(op, peer, events, { arrival = false } = {}) {
  const { codec } = op;
  const door = codec.door;
  const roster = codec.roster;
  if (!door?.anchor || !peer.keys || roster.isBarred(peer) || roster.isGone(peer)) return;
  const own = [door.identity.pub];
  if (roster.vouchedBy(peer, own)) return;
  if (peer.pid === codec.me) {
    if (peer.role === "facilitator" && roster.isMe(peer)) await sign(op, peer, events);
    return;
  }
  if (peer.role === "facilitator") {
    if (roster.vouchedByAnother(peer)) await sign(op, peer, events);
    return;
  }
  if (peer.role !== "member") return;
  if (door.lets(peer.pid)) {
    await sign(op, peer, events);
    return;
  }
  // In while our door was locked, and not by our admit: the lock holds against
  // the server too. The facilitator may still vouch by hand (vouchFor).
  if (!arrival) return;
  door.notAdmitted.add(peer.pid);
  events.push({ ...warning("not_admitted", notAdmittedText(peer.pid, arrival === "welcome"), peer.pid), welcome: arrival === "welcome" });
}

/**
 * What `not_admitted` says, true in either case: someone who came in while our door
 * was closed, or someone already in the room when we arrived behind a closed door
 * (admitted by whom, this page cannot know).
 * @param {string} who @param {boolean} atWelcome @returns {string}
 */
export function notAdmittedText(who, atWelcome) {
  const then = atWelcome ? "was in the room when you arrived, with your door closed" : "entered while your door was closed";
  return `${who} ${then}, without your admission. You have not vouched for them; let them in only if you know who they are.`;
}

/**
 * Vouch by hand for member `pid`, whom the server let in past our locked door.
 * @param {Op} op @param {string} pid @param {object[]} events throws CodecError("no_recipient")
 */
export async function vouchFor(op, pid, events) {
  const { codec } = op;
  const peer = codec.roster.get(pid);
  if (!codec.door?.anchor || !peer || peer.pid === codec.me || peer.role !== "member" || !peer.keys || codec.roster.isBarred(peer)) {
    throw new CodecError("no_recipient", "Only a member in the room whose keys can be used can be let in.");
  }
  await sign(op, peer, events);
}

/**
 * Someone left or was removed. A member we vouched for: a new anchor, and at once
 * our vouches again under it for ourselves, our co-facilitators and the members we
 * vouched for who are still on the roster. The one who left is not among them.
 * @param {Op} op @param {string} pid @param {string | undefined} role its role before it went @param {object[]} events
 */
export async function onDeparted(op, pid, role, events) {
  const { codec } = op;
  const door = codec.door;
  if (!door?.anchor || !door.departed(pid) || role !== "member") return;
  door.renew();
  codec.roster.ownAnchor = door.anchor; // our vouches under the old one stop counting here too
  const again = [...codec.roster.all()].filter((p) => p.pid === codec.me || door.vouched.has(p.pid));
  for (const peer of again) {
    if (!peer.keys || codec.roster.isBarred(peer)) continue;
    if (peer.pid === codec.me && (peer.role !== "facilitator" || !codec.roster.isMe(peer))) continue;
    await sign(op, peer, events, { settle: false });
  }
  await op.settle(codec.roster.all(), events);
}

/**
 * Our signed removal of `pid` (section 3.3), over its keys as we hold them.
 * @param {Op} op @param {string} pid @param {boolean} forGood
 * @returns {Promise<{by: Uint8Array, proof: Uint8Array} | null>} null: we hold no keys for it (a knocker)
 */
export async function signRemoval(op, pid, forGood) {
  const { codec } = op;
  const peer = codec.roster.get(pid);
  if (!codec.door || !codec.ctx || !peer?.bundle) return null;
  const proof = await op.alive(e2ee.signRemoval(codec.door.identity, codec.ctx, pid, peer.bundle, Boolean(forGood)));
  return { by: codec.door.identity.pub.slice(), proof };
}

/**
 * A `removed` frame whose `by` is one of our trusted identities and whose proof
 * verifies over the participant's pid and bundle as we hold them: that bundle is
 * barred for as long as this page lives. Without a valid proof nothing is barred.
 * @param {Op} op @param {Record<string, any>} frame @returns {Promise<boolean>} whether it barred
 */
export async function barIfSigned(op, frame) {
  const { codec } = op;
  const peer = codec.roster.get(frame.pid);
  const { by, proof } = frame;
  if (!codec.ctx || !peer?.bundle || !(by instanceof Uint8Array) || !(proof instanceof Uint8Array)) return false;
  if (!codec.roster.identities.some((id) => bytesEqual(id, by))) return false;
  const bundle = peer.bundle;
  if (!(await op.alive(e2ee.verifyRemoval(by, proof, codec.ctx, peer.pid, bundle, frame.for_good === true)))) return false;
  codec.roster.bar(bundle);
  return true;
}

/** Sign, send and at once apply our vouch for `peer` under our current anchor. */
async function sign(op, peer, events, { settle = true } = {}) {
  const { codec } = op;
  const door = codec.door;
  const anchor = door.anchor;
  const { pid, role, bundle } = peer;
  const sig = await op.alive(e2ee.signVouch(door.identity, codec.ctx, anchor, pid, role, bundle));
  if (codec.roster.get(pid) !== peer || peer.bundle !== bundle) return; // the entry changed meanwhile
  op.emit({ t: "vouch", pid, by: door.identity.pub, anchor, sig });
  // Applied at once rather than on the server's echo (which then changes
  // nothing): our own vouch needs no one's word.
  codec.roster.keepVouch(peer, toHex(door.identity.pub), anchor, sig);
  if (pid !== codec.me) door.vouched.add(pid);
  door.notAdmitted.delete(pid);
  door.save();
  if (settle) await op.settle([peer], events);
}
