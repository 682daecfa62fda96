// Who is in the room as the encryption sees them, and whom this page trusts
// (docs/e2ee.md section 3). A participant is trusted when a facilitator whose
// identity this page knows (the link's `f` keys, or the facilitator's own and
// its co-facilitators') signed exactly its pid, role and bundle, in this room
// and session. The server builds the roster, but cannot forge that.

import { bytesEqual } from "./bytes.js";
import * as e2ee from "./e2ee.js";

/**
 * @typedef {{pid: string, role: string, present: boolean,
 *   bundle: Uint8Array | null, keys: {xPub: Uint8Array, sPub: Uint8Array} | null,
 *   vouches: Array<{by: Uint8Array, sig: Uint8Array}>, trusted: boolean}} Peer
 */

export class TrustRoster {
  /**
   * @param {{identities: Uint8Array[], unverified: boolean, ownBundle?: Uint8Array}} trust
   *   `unverified`: a link without `f` keys, so everyone with usable keys is trusted;
   *   `ownBundle`: this page's bundle, the only keys ever trusted under its own pid
   */
  constructor({ identities, unverified, ownBundle }) {
    this.identities = identities;
    this.unverified = unverified;
    this.ownBundle = ownBundle ?? null;
    /** @type {Uint8Array | null} set on welcome */
    this.ctx = null;
    /** @type {string | null} our own pid, set on welcome */
    this.me = null;
    this.cleared = false;
    /** @type {Map<string, Peer>} */
    this.peers = new Map();
    /** pid -> every signing key it was trusted with this session (reports may outlive a page) */
    this.signingKeys = new Map();
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
   * Add or refresh a roster entry (`welcome.roster[*]`, `joined.p`).
   * @param {{pid: string, role: string, present?: boolean, keys?: Uint8Array, vouches?: Array<{by: Uint8Array, sig: Uint8Array}>}} entry
   * @returns {{peer: Peer, newKeys: boolean}} `newKeys`: chains held for the old keys are void
   */
  upsert(entry) {
    let peer = this.peers.get(entry.pid);
    if (!peer) {
      peer = { pid: entry.pid, role: entry.role, present: true, bundle: null, keys: null, vouches: [], trusted: false };
      this.peers.set(entry.pid, peer);
    }
    peer.role = entry.role;
    peer.present = entry.present !== false;
    const newKeys = this.setBundle(peer, entry.keys);
    for (const v of entry.vouches ?? []) this.addVouch(peer, v?.by, v?.sig);
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
    peer.vouches = [];
    return true;
  }

  /** A bundle whose keys cannot be used (a low-order X25519 key): never trusted, never vouched. @param {Peer} peer */
  markUnusable(peer) {
    peer.keys = null;
    peer.vouches = [];
    peer.trusted = false;
  }

  /**
   * Keys under our own pid that are not our own bundle: the server's, perhaps. Never trusted.
   * @param {Peer} peer @returns {boolean}
   */
  isOwnPidWithOtherKeys(peer) {
    return peer.pid === this.me && !(peer.bundle !== null && this.ownBundle !== null && bytesEqual(peer.bundle, this.ownBundle));
  }

  /** @returns {boolean} false for a malformed vouch or one held already */
  addVouch(peer, by, sig) {
    if (!(by instanceof Uint8Array) || !(sig instanceof Uint8Array)) return false;
    if (peer.vouches.some((v) => bytesEqual(v.by, by) && bytesEqual(v.sig, sig))) return false;
    peer.vouches.push({ by: by.slice(), sig: sig.slice() });
    return true;
  }

  /**
   * Recompute `peer.trusted`.
   * @param {Peer} peer @returns {Promise<boolean>} whether it changed
   */
  async refresh(peer) {
    const was = peer.trusted;
    const usable = peer.keys !== null && !this.isOwnPidWithOtherKeys(peer);
    const trusted = usable && (this.unverified || (await this.vouchedBy(peer, this.identities)));
    if (this.cleared) return false; // wiped while we were checking: nothing is written back
    peer.trusted = trusted;
    if (peer.trusted) {
      const known = this.signingKeys.get(peer.pid) ?? [];
      if (!known.some((k) => bytesEqual(k, peer.keys.sPub))) known.push(peer.keys.sPub);
      this.signingKeys.set(peer.pid, known);
    }
    return peer.trusted !== was;
  }

  /**
   * A vouch by one of `identities` that verifies over the peer's current pid, role and bundle.
   * @param {Peer} peer @param {Uint8Array[]} identities @returns {Promise<boolean>}
   */
  async vouchedBy(peer, identities) {
    if (!peer.keys || !this.ctx) return false; // an unusable bundle is never trusted
    for (const v of peer.vouches) {
      if (!identities.some((id) => bytesEqual(id, v.by))) continue;
      if (await e2ee.verifyVouch(v.by, v.sig, this.ctx, peer.pid, peer.role, peer.bundle)) return true;
    }
    return false;
  }

  clear() {
    this.cleared = true;
    this.peers.clear();
    this.signingKeys.clear();
  }
}
