// Section 6 of the group codec: the chains other participants give us. A
// distribution from a sender this page trusts is taken up at once; one from a
// sender not trusted yet is held aside (the latest one per sender) until a
// vouch for it arrives. codec.js keeps the chains, the held states and each
// sender key's history, and runs these on its promise chain; `op` lends them
// its wipe-checked await.

import { toHex } from "./bytes.js";
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
