// Keys the server refused for a spent budget (`flood`) are not counted as
// delivered (issue 16): the codec is told, and `retry()` sends what is still
// wanted. GroupCodec against GroupCodec through the stand-in server (harness.mjs).

import test from "node:test";
import assert from "node:assert/strict";

import { FakeRoom, facilitator, member } from "./harness.mjs";

test("a refused chain is sent again on retry, and the message after it is read", async () => {
  const r = new FakeRoom();
  const fac = await facilitator();
  const F = await r.join(fac.codec, { name: "Alex" });
  const A = await r.join(await member([fac.identity.pub]), { name: "Robin" });
  const a = r.people.get(A).codec;
  // Sam arrives; the server refuses Robin's chain for Sam (Robin's budget is spent).
  const relay = r.relayFrom.bind(r);
  let refused = null;
  r.relayFrom = (pid, frame) => {
    if (!refused && pid === A && frame.t === "direct") {
      refused = frame;
      a.refused(frame); // what the client does with the `flood` error naming this frame
      return;
    }
    relay(pid, frame);
  };
  const S = await r.join(await member([fac.identity.pub]), { name: "Sam" });
  assert.ok(refused && refused.to === S, "Robin's chain for Sam was refused");
  r.relayFrom = relay;
  await a.retry();
  await r.relay(A);
  const m = await r.say(A, "after the refusal");
  assert.equal(r.seen(S, m), "after the refusal");
  assert.equal(r.seen(F, m), "after the refusal");
});

test("a refused vouch is sent again on retry, unless its keys or anchor changed", async () => {
  const r = new FakeRoom();
  const fac = await facilitator();
  const F = await r.join(fac.codec, { name: "Alex" });
  const f = r.people.get(F).codec;
  const relay = r.relayFrom.bind(r);
  let refused = null;
  r.relayFrom = (pid, frame) => {
    if (!refused && pid === F && frame.t === "vouch" && frame.pid !== F) {
      refused = frame;
      f.refused(frame);
      return;
    }
    relay(pid, frame);
  };
  const A = await r.join(await member([fac.identity.pub]), { name: "Robin" });
  r.relayFrom = relay;
  assert.ok(refused && refused.pid === A);
  assert.equal(r.people.get(A).codec.isTrusted(F), false, "no vouch for Robin reached anyone");
  await f.retry();
  await r.relay(F);
  assert.ok(r.people.get(A).codec.isTrusted(F), "the vouch went again, and Robin trusts the room");
  // Nothing left to retry: a second retry sends nothing.
  await f.retry();
  assert.deepEqual(f.takeOutgoing(), []);
});
