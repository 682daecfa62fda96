// Section 6 of the group codec: the chains other participants give us. A
// distribution from a sender this page trusts is taken up at once; one from a
// sender not trusted yet is held aside (the latest one per sender) until a
// vouch for it arrives. codec.js keeps the chains, the held states and each
// sender key's history, and runs these on its promise chain; `op` lends them
// its wipe-checked await.

import { bytesEqual, toHex } from "./bytes.js";
import { ChainHistory, SenderChains } from "./chains.js";
import { reasonOf, warning } from "./codec-events.js";
import * as e2ee from "./e2ee.js";

/** @typedef {import("./codec-admission.js").Op} Op */

/** A `direct` frame: a sender's chain state, sealed to us. @param {Op} op @param {Record<string, any>} frame @param {object[]} events */
export async function onDirect(op, frame, events) {
  const { codec } = op;
  const peer = codec.roster.get(frame.from);
  if (!codec.ctx || frame.from === codec.me) return;
  if (!peer?.keys || !(frame.payload instanceof Uint8Array)) {
    events.push(warning("key_rejected", "A key from an unknown participant was ignored.", frame.from));
    return;
  }
  let state;
  try {
    state = await op.alive(
      e2ee.openDistribution({
        ctx: codec.ctx,
        sender: frame.from,
        recipient: codec.me,
        mine: codec.keys.x,
        peerXPub: peer.keys.xPub,
        payload: frame.payload,
      }),
    );
  } catch (err) {
    if (codec.wiped) throw err;
    events.push(warning("key_rejected", `A key from ${frame.from} was rejected (${reasonOf(err)}).`, frame.from));
    return;
  }
  if (peer.trusted) takeUp(op, peer.pid, state, events);
  else codec.held.set(peer.pid, state); // one per sender, until a vouch arrives
}

/**
 * Take up `pid`'s chain state (section 6); the history of its keys refuses any chain taken up before.
 * @param {Op} op @param {string} pid @param {import("./e2ee.js").ChainState} state @param {object[]} events
 */
export function takeUp(op, pid, state, events) {
  const { codec } = op;
  let chains = codec.chains.get(pid);
  if (!chains) {
    const peer = codec.roster.get(pid);
    const key = `${pid}/${toHex(peer.keys.sPub)}`;
    let history = codec.histories.get(key);
    if (!history) codec.histories.set(key, (history = new ChainHistory()));
    codec.chains.set(pid, (chains = new SenderChains(history)));
  }
  try {
    chains.accept(state);
  } catch (err) {
    events.push(warning("key_rejected", `A key from ${pid} was rejected (${reasonOf(err)}).`, pid));
  }
}

// ---- frames of ours the server refused (a spent budget, `flood`) ----

/**
 * `frame` reached nobody: a chain handed out counts as held only if it could
 * have arrived; a vouch is kept to be sent again.
 * @param {import("./codec.js").GroupCodec} codec @param {{t: string, to?: string, pid?: string}} frame
 */
export function refused(codec, frame) {
  if (frame.t === "direct" && typeof frame.to === "string") {
    codec.sentTo.delete(frame.to);
    codec.refusedChains.add(frame.to);
  } else if (frame.t === "vouch" && typeof frame.pid === "string") {
    codec.refusedVouches.set(frame.pid, frame);
  }
}

/** What was refused and is still wanted, once: our current chain, and a vouch for the same keys under our anchor. */
export async function retry(op) {
  const { codec } = op;
  const chains = [...codec.refusedChains];
  const vouches = [...codec.refusedVouches.values()];
  codec.refusedChains.clear();
  codec.refusedVouches.clear();
  for (const pid of chains) {
    const peer = codec.roster.get(pid);
    if (peer) await op.offer(peer, []);
  }
  for (const v of vouches) {
    const held = codec.roster.get(v.pid)?.vouches.get(toHex(v.by)) ?? [];
    const same = held.some((h) => bytesEqual(h.anchor, v.anchor) && bytesEqual(h.sig, v.sig));
    if (same && codec.door && bytesEqual(codec.door.anchor, v.anchor)) op.emit(v);
  }
}
