// Who is in the room as the encryption sees them, and whom this page trusts
// (docs/e2ee.md section 3). A participant is trusted when a facilitator whose
// identity this page knows (the link's `f` keys, or the facilitator's own and
// its co-facilitators') signed exactly its pid, role and bundle, in this room
// and session, under that facilitator's *current anchor*: for our own
// identity, our own anchor; for another, the anchor of the latest vouch it
// signed for this very page. The server builds the roster, but cannot forge
// that, nor bring back a vouch from another session or from before a removal
// (it names an older anchor). A bundle a facilitator's signed removal barred
// is never trusted again while the page lives.

import { bytesEqual, fromHex, toHex } from "./bytes.js";
import * as e2ee from "./e2ee.js";

/** Valid vouches kept per participant and signer: the latest anchors, so that arrival order does not matter. */
export const ANCHORS_KEPT = 4;
/** Anchors remembered per signer from vouches for ourselves: one that comes back later never becomes current again. */
const OWN_ANCHORS_REMEMBERED = 4096;

/**
 * @typedef {{anchor: Uint8Array, sig: Uint8Array}} AnchoredVouch
 * @typedef {{pid: string, role: string, present: boolean,
 *   bundle: Uint8Array | null, keys: {xPub: Uint8Array, sPub: Uint8Array} | null,
 *   vouches: Map<string, AnchoredVouch[]>, trusted: boolean}} Peer
 *   `vouches`: hex(signer) -> the valid vouches under its last ANCHORS_KEPT anchors, oldest first
 * @typedef {{by?: unknown, anchor?: unknown, sig?: unknown}} VouchFields
 */

export class TrustRoster {
  /**
   * @param {{identities: Uint8Array[], unverified: boolean, ownBundle?: Uint8Array, ownIdentity?: Uint8Array}} trust
   *   `unverified`: a link without `f` keys, so everyone with usable keys is trusted;
   *   `ownBundle`: this page's bundle, the only keys ever trusted under its own pid;
   *   `ownIdentity`: a facilitator's own identity key, whose current anchor is `ownAnchor`
   */
  constructor({ identities, unverified, ownBundle, ownIdentity }) {
    this.identities = identities;
    this.unverified = unverified;
    this.ownBundle = ownBundle ?? null;
    this.ownIdentity = ownIdentity ?? null;
    /** A facilitator's own current anchor (codec.js sets it). @type {Uint8Array | null} */
    this.ownAnchor = null;
    /** @type {Uint8Array | null} set on welcome */
    this.ctx = null;
    /** @type {string | null} our own pid, set on welcome */
    this.me = null;
    this.cleared = false;
    /** @type {Map<string, Peer>} */
    this.peers = new Map();
    /** pid -> every signing key it was trusted with this session (reports may outlive a page) */
    this.signingKeys = new Map();
    /** hex(signer) -> the anchors of its valid vouches for this page, in the order first seen (the last is current) */
    this.anchorsForMe = new Map();
    /** hex(bundle) of every bundle a trusted facilitator's signed removal barred (section 3.3) */
    this.barred = new Set();
    /** pids that left or were removed this session: the server never gives one back, so none is trusted again */
    this.gone = new Set();
  }

  /** @param {string} pid @returns {Peer | undefined} */
  get(pid) {
    return this.peers.get(pid);
  }

  /** @returns {IterableIterator<Peer>} */
  all() {
    return this.peers.values();
  }

  /** @param {string} pid */
  delete(pid) {
    this.peers.delete(pid);
  }

  /**
   * Add or refresh a roster entry (`welcome.roster[*]`, `joined.p`). Its vouches
   * are checked and kept by the caller (`addVouch`), once the keys are set.
   * @param {{pid: string, role: string, present?: boolean, keys?: Uint8Array}} entry
   * @returns {{peer: Peer, newKeys: boolean}} `newKeys`: chains held for the old keys are void
   */
  upsert(entry) {
    let peer = this.peers.get(entry.pid);
    if (!peer) {
      peer = { pid: entry.pid, role: entry.role, present: true, bundle: null, keys: null, vouches: new Map(), trusted: false };
      this.peers.set(entry.pid, peer);
    }
    // A vouch signs the role too: another role voids the vouches held.
    if (peer.role !== entry.role) peer.vouches = new Map();
    peer.role = entry.role;
    peer.present = entry.present !== false;
    const newKeys = this.setBundle(peer, entry.keys);
    return { peer, newKeys };
  }

  /**
   * @param {Peer} peer @param {unknown} bundle
   * @returns {boolean} true if the keys changed: the old vouches are dropped (they signed the old keys)
   */
  setBundle(peer, bundle) {
    const bytes = bundle instanceof Uint8Array ? bundle : null;
    if (bytes && peer.bundle && bytesEqual(bytes, peer.bundle)) return false;
    if (!bytes && !peer.bundle) return false;
    peer.bundle = bytes ? bytes.slice() : null;
    peer.keys = e2ee.parseBundle(peer.bundle);
    peer.vouches = new Map();
    return true;
  }

  /** A bundle whose keys cannot be used (a low-order X25519 key): never trusted, never vouched. @param {Peer} peer */
  markUnusable(peer) {
    peer.keys = null;
    peer.vouches = new Map();
    peer.trusted = false;
  }

  /**
   * Keys under our own pid that are not our own bundle: the server's, perhaps. Never trusted.
   * @param {Peer} peer @returns {boolean}
   */
  isOwnPidWithOtherKeys(peer) {
    return peer.pid === this.me && !(peer.bundle !== null && this.ownBundle !== null && bytesEqual(peer.bundle, this.ownBundle));
  }

  /** Our own roster entry, with our own bundle. @param {Peer} peer */
  isMe(peer) {
    return peer.pid === this.me && !this.isOwnPidWithOtherKeys(peer);
  }

  // ---- 3.3: barred bundles ----

  /** Bar `bundle` for as long as this page lives: never trusted, vouched or given a chain. @param {Uint8Array} bundle */
  bar(bundle) {
    this.barred.add(toHex(bundle));
    for (const peer of this.peers.values()) if (this.isBarred(peer)) peer.vouches = new Map();
  }

  /** @param {Peer} peer @returns {boolean} */
  isBarred(peer) {
    return peer.bundle !== null && this.barred.has(toHex(peer.bundle));
  }

  /** A pid that left or was removed this session, shown again: a replay, never trusted. @param {Peer} peer */
  isGone(peer) {
    return this.gone.has(peer.pid);
  }

  // ---- 3.1 and 3.2: vouches under anchors ----

  /**
   * Check a vouch for `peer` and keep it if valid: its `by` is one of our trusted
   * identities and its signature verifies over the peer's current pid, role and
   * bundle under the anchor it names. Any other is ignored (section 10).
   * @param {Peer} peer @param {VouchFields} v
   * @returns {Promise<{kept: boolean, anchorMoved: boolean}>} `anchorMoved`: a vouch for this
   *   page that gives its signer a new current anchor (every peer's trust must be looked at again)
   */
  async addVouch(peer, { by, anchor, sig } = {}) {
    const none = { kept: false, anchorMoved: false };
    if (!(by instanceof Uint8Array) || !(anchor instanceof Uint8Array) || !(sig instanceof Uint8Array)) return none;
    if (anchor.length !== e2ee.ANCHOR_BYTES || !this.#trustedIdentity(by)) return none;
    if (!this.ctx || !peer.keys || this.isBarred(peer) || this.isOwnPidWithOtherKeys(peer)) return none;
    const signer = toHex(by);
    const held = peer.vouches.get(signer) ?? [];
    if (held.some((v) => bytesEqual(v.anchor, anchor) && bytesEqual(v.sig, sig))) return none; // held already
    const { pid, role, bundle } = peer;
    const valid = await e2ee.verifyVouch(by, sig, this.ctx, anchor, pid, role, bundle);
    // Wiped, or the entry changed, while we were checking: nothing is written back.
    if (!valid || this.cleared || this.peers.get(pid) !== peer || peer.bundle !== bundle || peer.role !== role) return none;
    this.keepVouch(peer, signer, anchor, sig);
    return { kept: true, anchorMoved: this.isMe(peer) && this.#learnAnchor(by, signer, anchor) };
  }

  /**
   * Keep a vouch known to be valid (our own, just signed): the latest under each
   * anchor, the last ANCHORS_KEPT anchors per signer.
   * @param {Peer} peer @param {string} signer hex @param {Uint8Array} anchor @param {Uint8Array} sig
   */
  keepVouch(peer, signer, anchor, sig) {
    const list = (peer.vouches.get(signer) ?? []).filter((v) => !bytesEqual(v.anchor, anchor));
    list.push({ anchor: anchor.slice(), sig: sig.slice() });
    while (list.length > ANCHORS_KEPT) list.shift();
    peer.vouches.set(signer, list);
  }

  /**
   * A valid vouch by `by` for this page: its anchor becomes `by`'s current one
   * if its generation is higher than the current one's. An earlier anchor (the
   * server replaying an older vouch for us, or delivering two renewals out of
   * order) never comes back.
   * @returns {boolean} whether the current anchor moved
   */
  #learnAnchor(by, signer, anchor) {
    if (this.ownIdentity && bytesEqual(by, this.ownIdentity)) return false; // ours is ours to choose
    const seen = this.anchorsForMe.get(signer) ?? [];
    const hex = toHex(anchor);
    const current = seen.at(-1);
    if (seen.includes(hex)) return false;
    if (current !== undefined && e2ee.anchorGeneration(anchor) <= e2ee.anchorGeneration(fromHex(current))) return false;
    seen.push(hex);
    while (seen.length > OWN_ANCHORS_REMEMBERED) seen.shift();
    this.anchorsForMe.set(signer, seen);
    return true;
  }

  /**
   * The anchor under which `identity`'s vouches count for this page, or null (none yet).
   * @param {Uint8Array} identity @returns {Uint8Array | string | null} bytes for our own, hex for another's
   */
  currentAnchor(identity) {
    if (this.ownIdentity && bytesEqual(identity, this.ownIdentity)) return this.ownAnchor;
    return this.anchorsForMe.get(toHex(identity))?.at(-1) ?? null;
  }

  /**
   * A kept vouch by one of `identities` under that identity's current anchor.
   * @param {Peer} peer @param {Uint8Array[]} identities @returns {boolean}
   */
  vouchedBy(peer, identities) {
    if (!peer.keys || !this.ctx || this.isBarred(peer) || this.isGone(peer)) return false; // an unusable or barred bundle, or a gone pid, is never trusted
    for (const id of identities) {
      const current = this.currentAnchor(id);
      if (current === null) continue;
      const hex = typeof current === "string" ? current : toHex(current);
      if ((peer.vouches.get(toHex(id)) ?? []).some((v) => toHex(v.anchor) === hex)) return true;
    }
    return false;
  }

  /**
   * A kept vouch by a trusted identity other than our own, under any anchor: the
   * mark of a co-facilitator's live page (section 3.2, who vouches for whom).
   * @param {Peer} peer @returns {boolean}
   */
  vouchedByAnother(peer) {
    const own = this.ownIdentity ? toHex(this.ownIdentity) : null;
    return [...peer.vouches.entries()].some(([signer, list]) => signer !== own && list.length > 0);
  }

  /**
   * Recompute `peer.trusted`.
   * @param {Peer} peer @returns {boolean} whether it changed
   */
  refresh(peer) {
    if (this.cleared) return false;
    const was = peer.trusted;
    const usable = peer.keys !== null && !this.isOwnPidWithOtherKeys(peer) && !this.isBarred(peer) && !this.isGone(peer);
    peer.trusted = usable && (this.unverified || this.vouchedBy(peer, this.identities));
    if (peer.trusted) {
      const known = this.signingKeys.get(peer.pid) ?? [];
      if (!known.some((k) => bytesEqual(k, peer.keys.sPub))) known.push(peer.keys.sPub);
      this.signingKeys.set(peer.pid, known);
    }
    return peer.trusted !== was;
  }

  #trustedIdentity(by) {
    return this.identities.some((id) => bytesEqual(id, by));
  }

  clear() {
    this.cleared = true;
    this.peers.clear();
    this.signingKeys.clear();
    this.anchorsForMe.clear();
    this.barred.clear();
    this.ownAnchor = null;
  }
}
