// GroupCodec against GroupCodec, through a stand-in server (harness.mjs): the
// properties docs/e2ee.md promises, and what a dishonest server cannot do.

import test from "node:test";
import assert from "node:assert/strict";

import { FakeRoom, facilitator, member } from "./harness.mjs";
import { GroupCodec, CodecError } from "../../clients/web/codec.js";
import * as e2ee from "../../clients/web/e2ee.js";
import { concat } from "../../clients/web/bytes.js";

/** A room with a facilitator and two members, everyone verified. */
async function room() {
  const r = new FakeRoom();
  const fac = await facilitator();
  const F = await r.join(fac.codec, { name: "Alex" });
  const A = await r.join(await member([fac.identity.pub]), { name: "Robin" });
  const B = await r.join(await member([fac.identity.pub]), { name: "Sam" });
  return { r, fac, F, A, B };
}

test("everyone vouched reads everyone, their own messages included", async () => {
  const { r, F, A, B } = await room();
  for (const pid of [F, A, B]) {
    for (const other of [F, A, B]) if (other !== pid) assert.ok(r.people.get(pid).codec.readyWith(other), `${pid} ready with ${other}`);
  }
  const m1 = await r.say(A, "hello, I am new here");
  const m2 = await r.say(F, "welcome");
  const m3 = await r.say(B, "hi Robin");
  for (const pid of [F, A, B]) {
    assert.equal(r.seen(pid, m1), "hello, I am new here");
    assert.equal(r.seen(pid, m2), "welcome");
    assert.equal(r.seen(pid, m3), "hi Robin");
  }
  assert.equal(r.people.get(A).events.find((e) => e.id === m1).own, true);
  assert.equal(r.events(A, "warning").length, 0);
});

test("a newcomer cannot read what was sent before it arrived", async () => {
  const { r, fac, A } = await room();
  const before = await r.say(A, "said before Kim came");
  const earlier = r.log.find((l) => l.frame.t === "msg" && l.frame.id === before).frame;
  const K = await r.join(await member([fac.identity.pub]), { name: "Kim" });
  await r.inject(K, earlier); // the server replays it to Kim
  assert.equal(r.seen(K, before), null);
  const after = await r.say(A, "said after");
  assert.equal(r.seen(K, after), "said after");
});

test("a removed member cannot read what follows; those who stay can", async () => {
  const { r, F, A, B } = await room();
  const bCodec = r.people.get(B).codec;
  await r.remove(B);
  const m = await r.say(A, "after Sam was removed");
  const frame = r.log.find((l) => l.frame.t === "msg" && l.frame.id === m).frame;
  const events = await bCodec.handle(frame); // a server that still forwards to Sam
  assert.equal(events[0].text, null);
  assert.equal(events[0].reason, "unknown_chain");
  assert.equal(r.seen(F, m), "after Sam was removed");
  // The distributions of the new chains went to the others only.
  const rekeys = r.log.filter((l) => l.frame.t === "direct" && l.to === B);
  assert.ok(rekeys.every((l) => r.log.indexOf(l) < r.log.findIndex((x) => x.frame.t === "removed")));
});

test("stepping out rekeys; coming back from a new page needs a new vouch", async () => {
  const { r, fac, F, A, B } = await room();
  const epoch = r.people.get(A).codec.chain.epoch;
  await r.stepOut(B);
  assert.equal(r.people.get(A).codec.chain.epoch, epoch + 1);
  const during = await r.say(A, "while Sam was out");
  assert.equal(r.seen(F, during), "while Sam was out");

  const fresh = await member([fac.identity.pub]);
  await r.comeBack(B, fresh);
  assert.ok(r.people.get(A).codec.isTrusted(B)); // re-vouched by the facilitator
  const back = await r.say(A, "welcome back");
  assert.equal(r.seen(B, back), "welcome back");
  const fromB = await r.say(B, "thanks");
  assert.equal(r.seen(A, fromB), "thanks");
  assert.equal(r.seen(F, fromB), "thanks");
});

test("leaving rekeys too", async () => {
  const { r, F, A, B } = await room();
  const bCodec = r.people.get(B).codec;
  await r.leave(B);
  const m = await r.say(F, "after Sam left");
  const frame = r.log.find((l) => l.frame.t === "msg" && l.frame.id === m).frame;
  assert.equal((await bCodec.handle(frame))[0].text, null);
  assert.equal(r.seen(A, m), "after Sam left");
});

test("a participant the server adds without a vouch gets no keys", async () => {
  const { r, F, A, B } = await room();
  // The server shows an intruder to the members but never to the facilitator.
  const intruder = await member([]);
  const pid = "p99";
  const entry = { pid, name: "Eve", role: "member", present: true, keys: intruder.bundle, vouches: [] };
  const sentBefore = r.log.length;
  for (const p of [A, B]) await r.inject(p, { t: "joined", p: entry });
  const newFrames = r.log.slice(sentBefore);
  assert.ok(!newFrames.some((l) => l.frame.t === "direct" && l.frame.to === pid));
  assert.equal(r.people.get(A).codec.isTrusted(pid), false);
  // A vouch by a key that is not in the link does not help either.
  const fake = await e2ee.ed25519KeyPair();
  const ctx = r.people.get(A).codec.ctx;
  const anchor = r.people.get(B).vouches[0].anchor;
  const sig = await e2ee.signVouch(fake, ctx, anchor, pid, "member", intruder.bundle);
  await r.inject(A, { t: "vouch", pid, by: fake.pub, anchor, sig });
  assert.equal(r.people.get(A).codec.isTrusted(pid), false);
  // Nor does the facilitator's vouch for someone else, replayed for the intruder.
  const real = r.people.get(B).vouches[0];
  await r.inject(A, { t: "vouch", pid, ...real });
  assert.equal(r.people.get(A).codec.isTrusted(pid), false);
  void F;
});

test("a message is unreadable from an untrusted sender even with a chain", async () => {
  const { r, A } = await room();
  const eve = await member([]);
  const pid = "p99";
  await r.inject(A, { t: "joined", p: { pid, name: "Eve", role: "member", present: true, keys: eve.bundle, vouches: [] } });
  // Eve has a welcome of her own making and sends A her chain and a message.
  await eve.handle({ t: "welcome", you: pid, role: "member", session: r.session, group: { id: r.group }, roster: [
    { pid, role: "member", present: true, keys: eve.bundle, vouches: [] },
    { pid: A, role: "member", present: true, keys: r.people.get(A).codec.bundle, vouches: [] },
  ] });
  for (const f of eve.takeOutgoing()) if (f.t === "direct") await r.inject(A, { t: "direct", from: pid, payload: f.payload });
  await eve.sealRoom("let me in");
  const [chat] = eve.takeOutgoing();
  await r.inject(A, { t: "msg", id: 50, from: pid, payload: chat.payload, ts: 1 });
  assert.equal(r.seen(A, 50), null);
  assert.equal(r.people.get(A).events.find((e) => e.id === 50).reason, "untrusted");
  assert.ok(r.people.get(A).codec.held.has(pid)); // held aside, not used
});

test("a state from a not-yet-trusted sender is held aside, then taken up on the vouch", async () => {
  const r = new FakeRoom();
  const fac = await facilitator();
  const A = await r.join(await member([fac.identity.pub]), { name: "Robin" });
  const B = await r.join(await member([fac.identity.pub]), { name: "Sam" });
  // No facilitator yet: nobody is trusted, nobody sends keys.
  assert.equal(r.log.filter((l) => l.frame.t === "direct").length, 0);
  const F = await r.join(fac.codec, { name: "Alex" });
  const m = await r.say(A, "now we can talk");
  assert.equal(r.seen(B, m), "now we can talk");
  assert.equal(r.seen(F, m), "now we can talk");
});

test("flipped bits, replays and forwarded distributions are rejected without harm", async () => {
  const { r, fac, F, A, B } = await room();
  const a = r.people.get(A).codec;
  await a.sealRoom("genuine");
  const [chat] = a.takeOutgoing();
  for (const at of [3, 20, chat.payload.length - 1]) {
    const bad = chat.payload.slice();
    bad[at] ^= 1;
    await r.inject(B, { t: "msg", id: 100 + at, from: A, payload: bad, ts: 1 });
    assert.equal(r.seen(B, 100 + at), null);
  }
  await r.inject(B, { t: "msg", id: 200, from: F, payload: chat.payload, ts: 1 }); // wrong `from`
  assert.equal(r.people.get(B).events.find((e) => e.id === 200).reason, "sender");
  await r.inject(B, { t: "msg", id: 201, from: A, payload: chat.payload, ts: 1 });
  assert.equal(r.seen(B, 201), "genuine");
  await r.inject(B, { t: "msg", id: 202, from: A, payload: chat.payload, ts: 1 });
  assert.equal(r.people.get(B).events.find((e) => e.id === 202).reason, "replay");

  // A's chain to B, forwarded to Kim, or re-labelled as coming from F.
  const K = await r.join(await member([fac.identity.pub]), { name: "Kim" });
  const toB = r.log.filter((l) => l.frame.t === "direct" && l.to === B && l.frame.from === A).at(-1).frame;
  const warned = r.events(K, "warning").length;
  await r.inject(K, toB);
  await r.inject(B, { ...toB, from: F });
  assert.equal(r.events(K, "warning").length, warned + 1);
  assert.equal(r.events(B, "warning").at(-1).code, "key_rejected");
  const after = await r.say(A, "still fine");
  assert.equal(r.seen(B, after), "still fine");
  assert.equal(r.seen(K, after), "still fine");
});

test("frames fed without waiting are processed strictly in arrival order", async () => {
  const { r, F, A, B } = await room();
  const a = r.people.get(A).codec;
  const b = r.people.get(B).codec;
  // A sees F step out (B does not, yet): A starts a new chain, sends it to B,
  // then seals a message on it. Nothing is delivered yet.
  await a.handle({ t: "presence", pid: F, present: false });
  await a.sealRoom("on the new chain");
  const out = a.takeOutgoing();
  const direct = out.find((f) => f.t === "direct" && f.to === B);
  const chat = out.find((f) => f.t === "chat");
  assert.ok(out.indexOf(direct) < out.indexOf(chat), "the distribution is queued before the message");
  // B gets both (and a replay) at once; WebCrypto's awaits must not reorder them.
  const msg = { t: "msg", id: 77, from: A, payload: chat.payload, ts: 1 };
  const results = await Promise.all([
    b.handle({ t: "direct", from: A, payload: direct.payload }),
    b.handle(msg),
    b.handle({ ...msg, id: 78 }),
  ]);
  assert.equal(results[1][0].text, "on the new chain");
  assert.equal(results[2][0].reason, "replay");
});

test("private messages reach the facilitators only, once", async () => {
  const { r, F, A, B } = await room();
  await r.privately(A, "I am not ok today");
  const [p] = r.events(F, "private");
  assert.equal(p.text, "I am not ok today");
  assert.equal(r.events(B, "private").length, 0);
  const frame = r.log.find((l) => l.frame.t === "private").frame;
  await r.inject(F, frame); // replayed by the server
  assert.equal(r.events(F, "private").at(-1).reason, "nonce_replay");
  await r.inject(F, { ...frame, from: B }); // claimed by someone else
  assert.equal(r.events(F, "private").at(-1).reason, "decrypt");
});

test("a facilitator's reply into one member's thread reaches that member and the co-facilitators only", async () => {
  const r = new FakeRoom();
  const one = await facilitator();
  const twoIdentity = await e2ee.ed25519KeyPair();
  const first = await facilitator({ identity: one.identity, co: [twoIdentity.pub] });
  const second = await facilitator({ identity: twoIdentity, co: [one.identity.pub] });
  const F1 = await r.join(first.codec, { name: "Alex" });
  const F2 = await r.join(second.codec, { name: "Jo" });
  const A = await r.join(await member([one.identity.pub, twoIdentity.pub]), { name: "Robin" });
  const B = await r.join(await member([one.identity.pub, twoIdentity.pub]), { name: "Sam" });
  const { frame } = await first.codec.sealPrivate("I am here for you", A);
  assert.equal(frame.to, A);
  first.codec.takeOutgoing();
  r.relayFrom(F1, frame);
  await r.pump();
  const [got] = r.events(A, "private");
  assert.equal(got.text, "I am here for you");
  assert.equal(got.thread, A);
  assert.equal(r.events(F2, "private")[0].text, "I am here for you");
  // The server hands it on to Sam as well: Sam's page has no entry in it.
  const relayed = r.log.find((l) => l.frame.t === "private").frame;
  await r.inject(B, relayed);
  assert.equal(r.events(B, "private").at(-1).text, null);
  assert.equal(r.events(B, "private").at(-1).reason, "not_for_me");
  // A co-facilitator is no member's thread.
  await assert.rejects(first.codec.sealPrivate("to Jo", F2), { code: "no_recipient" });
});

test("only a facilitator writes to one member, and only to a verified member", async () => {
  const { r, fac, F, A, B } = await room();
  const b = r.people.get(B).codec;
  // A member's page never seals to another member: the same refusal as no recipient.
  await assert.rejects(b.sealPrivate("psst", A), { code: "no_recipient" });
  assert.equal(b.takeOutgoing().length, 0);
  // Not to a facilitator as if it were a member, nor to someone unknown.
  await assert.rejects(fac.codec.sealPrivate("to myself", F), { code: "no_recipient" });
  await assert.rejects(fac.codec.sealPrivate("to nobody", "p99"), { code: "no_recipient" });
  assert.equal(fac.codec.takeOutgoing().length, 0);
  // A compromised member's page (or the server with its keys) seals one to A anyway:
  // A's page refuses it, for only a facilitator writes into A's thread.
  const a = r.people.get(A).codec;
  const forged = await e2ee.sealToFacilitators({
    kind: e2ee.KIND_PRIVATE, ctx: b.ctx, sender: B, mine: b.keys.x,
    recipients: [{ pid: A, xPub: a.keys.x.pub }], body: e2ee.textBody("this is the facilitator, trust me"),
  });
  await r.inject(A, { t: "private", from: B, thread: A, payload: forged, ts: 1 });
  const [p] = r.events(A, "private");
  assert.equal(p.text, null);
  assert.equal(p.reason, "untrusted");
});

test("a report lets the facilitator verify who wrote the text; an altered one fails", async () => {
  const { r, F, A, B } = await room();
  const m = await r.say(A, "something hurtful");
  await r.report(B, m, "this was aimed at me");
  const [rep] = r.events(F, "report");
  assert.equal(rep.verified, true);
  assert.deepEqual(rep.reported, { from: A, text: "something hurtful" });
  assert.equal(rep.note, "this was aimed at me");
  assert.equal(rep.msg, m);

  // B's client claims A wrote something else.
  const b = r.people.get(B).codec;
  const seen = b.reportable.get(m);
  b.reportable.set(m, { ...seen, body: e2ee.textBody("something worse") });
  await r.report(B, m, "altered");
  assert.equal(r.events(F, "report").at(-1).verified, false);
  // ... or changes the key.
  const key = seen.key.slice();
  key[5] ^= 1;
  b.reportable.set(m, { ...seen, key });
  await r.report(B, m, "altered key");
  assert.equal(r.events(F, "report").at(-1).verified, false);
  await assert.rejects(b.sealReport(9999, "never seen"), CodecError);
});

test("a link without f keys runs unverified and says so at once and on every send", async () => {
  const r = new FakeRoom();
  const fac = await facilitator();
  const F = await r.join(fac.codec, { name: "Alex" });
  const A = await r.join(await member([]), { name: "Robin" });
  const B = await r.join(await member([fac.identity.pub]), { name: "Sam" });
  assert.equal(r.events(A, "warning")[0].code, "unverified_link");
  const a = r.people.get(A).codec;
  const { warnings } = await a.sealRoom("hello");
  assert.equal(warnings[0].code, "unverified_link");
  for (const f of a.takeOutgoing()) void f;
  const m = await r.say(F, "hi all");
  assert.equal(r.seen(A, m), "hi all");
  assert.equal(r.seen(B, m), "hi all");
});

test("co-facilitators trust each other's vouches", async () => {
  const r = new FakeRoom();
  const one = await facilitator();
  const twoIdentity = await e2ee.ed25519KeyPair();
  const first = await facilitator({ identity: one.identity, co: [twoIdentity.pub] });
  const second = await facilitator({ identity: twoIdentity, co: [one.identity.pub] });
  const F1 = await r.join(first.codec, { name: "Alex" });
  const A = await r.join(await member([one.identity.pub, twoIdentity.pub]), { name: "Robin" });
  const F2 = await r.join(second.codec, { name: "Jo" });
  const m = await r.say(F2, "hello from the second facilitator");
  assert.equal(r.seen(A, m), "hello from the second facilitator");
  assert.equal(r.seen(F1, m), "hello from the second facilitator");
  await r.privately(A, "to both of you");
  assert.equal(r.events(F1, "private")[0].text, "to both of you");
  assert.equal(r.events(F2, "private")[0].text, "to both of you");
});

test("wipe drops every key and text; later calls refuse", async () => {
  const { r, A } = await room();
  await r.say(A, "forget me");
  const a = r.people.get(A).codec;
  a.wipe();
  assert.equal(a.chain, null);
  assert.equal(a.reportable.size, 0);
  await assert.rejects(a.sealRoom("x"), { code: "wiped" });
});

test("a facilitator codec needs its identity", async () => {
  await assert.rejects(GroupCodec.create({ role: "facilitator" }), CodecError);
  void concat;
});

// ---- the review's findings: each test failed before its fix ----

/** A `welcome` as the server would send it to `you`, with a roster of the server's making. */
function welcomeTo(you, role, roster, state = "lobby") {
  return { t: "welcome", you, role, session: "sess-1", state, group: { id: "g_0123456789ab", title: "Tuesday group" }, roster };
}

const vouchesFor = (frames, pid) => frames.filter((f) => f.t === "vouch" && f.pid === pid);
const codesOf = (events, code) => events.filter((e) => e.type === "warning" && e.code === code);

test("a facilitator vouches for itself only with its own keys; other keys under its pid are never vouched or trusted", async () => {
  const fac = await facilitator();
  const f = fac.codec;
  const server = await member([]); // keys the server made for itself
  const other = await member([]);
  const robin = await member([fac.identity.pub]);
  const events = await f.handle(welcomeTo("p1", "facilitator", [
    { pid: "p1", role: "facilitator", present: true, keys: server.bundle, vouches: [] },
    { pid: "p2", role: "member", present: true, keys: robin.bundle, vouches: [] },
  ]));
  let out = f.takeOutgoing();
  assert.equal(vouchesFor(out, "p1").length, 0);
  assert.equal(vouchesFor(out, "p2").length, 1); // members are still vouched
  assert.equal(f.isTrusted("p1"), false);
  assert.deepEqual(codesOf(events, "keys_mismatch").map((e) => e.pid), ["p1"]);
  // The same in a `joined` and a `presence` for its own pid.
  for (const frame of [
    { t: "joined", p: { pid: "p1", role: "facilitator", present: true, keys: other.bundle, vouches: [] } },
    { t: "presence", pid: "p1", present: true, name: "Alex", keys: server.bundle },
  ]) {
    const ev = await f.handle(frame);
    assert.deepEqual(codesOf(ev, "keys_mismatch").map((e) => e.pid), ["p1"], frame.t);
    assert.equal(vouchesFor(f.takeOutgoing(), "p1").length, 0, frame.t);
    assert.equal(f.isTrusted("p1"), false, frame.t);
  }
  assert.deepEqual(f.roster.signingKeys.get("p1") ?? [], []);
  // Its own keys, listed at last: vouched, and no warning.
  const ev = await f.handle({ t: "presence", pid: "p1", present: true, name: "Alex", keys: f.bundle });
  out = f.takeOutgoing();
  assert.equal(codesOf(ev, "keys_mismatch").length, 0);
  assert.equal(vouchesFor(out, "p1").length, 1);
  const [self] = vouchesFor(out, "p1");
  assert.ok(await e2ee.verifyVouch(fac.identity.pub, self.sig, f.ctx, self.anchor, "p1", "facilitator", f.bundle));
});

test("a member warns when the server lists other keys under its own pid", async () => {
  const fac = await facilitator();
  const a = await member([fac.identity.pub]);
  const server = await member([]);
  const events = await a.handle(welcomeTo("p2", "member", [
    { pid: "p1", role: "facilitator", present: true, keys: fac.codec.bundle, vouches: [] },
    { pid: "p2", role: "member", present: true, keys: server.bundle, vouches: [] },
  ]));
  assert.deepEqual(codesOf(events, "keys_mismatch").map((e) => e.pid), ["p2"]);
  const joined = await a.handle({ t: "joined", p: { pid: "p2", role: "member", present: true, keys: server.bundle, vouches: [] } });
  assert.deepEqual(codesOf(joined, "keys_mismatch").map((e) => e.pid), ["p2"]);
  const fine = await a.handle({ t: "joined", p: { pid: "p2", role: "member", present: true, keys: a.bundle, vouches: [] } });
  assert.equal(codesOf(fine, "keys_mismatch").length, 0);
});

test("after a departure the server cannot replay an old distribution and the messages since", async () => {
  const { r, A, B } = await room();
  const b = r.people.get(B).codec;
  const m1 = await r.say(A, "one");
  await r.say(A, "two");
  const dist = r.log.find((l) => l.frame.t === "direct" && l.to === B && l.frame.from === A).frame; // A's chain, at index 0
  const msg1 = r.log.find((l) => l.to === B && l.frame.t === "msg" && l.frame.id === m1).frame;
  const entry = r.entry(r.people.get(A));

  // A's connection drops: B keeps A's chains, so the old state moves nothing back.
  await r.stepOut(A);
  await r.inject(B, dist);
  assert.equal(r.events(B, "warning").at(-1)?.code, "key_rejected");
  await r.inject(B, { ...msg1, id: 90 });
  assert.equal(r.seen(B, 90), null);
  assert.equal(r.people.get(B).events.find((e) => e.id === 90).reason, "replay");
  assert.ok(b.chains.get(A)?.current, "chains are kept over presence:false");

  // A leaves; the server shows A again, same keys, same vouch: it names the
  // facilitator's anchor from before A left, which counts for nothing now.
  await r.leave(A);
  assert.equal(b.chains.get(A), undefined, "a participant who left has no chains");
  await r.inject(B, { t: "joined", p: { ...entry, present: true } });
  assert.equal(b.isTrusted(A), false);
  // Shown to the facilitator too (its door is open): a pid that left never
  // comes back in a session (a returning member gets a new one), so nobody
  // vouches for it or trusts it, and A's old chains do not come back.
  await r.inject(r.people.get([...r.people.keys()][0]).pid, { t: "joined", p: { ...entry, present: true } });
  assert.equal(b.isTrusted(A), false);
  await r.inject(B, dist);
  assert.equal(b.chains.get(A)?.current ?? null, null);
  await r.inject(B, { ...msg1, id: 91 });
  assert.equal(r.seen(B, 91), null);
});

const LOW_ORDER = [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))];

test("a bundle with a low-order X25519 key is unusable: never vouched nor trusted, and the others still get keys", async () => {
  const s = await e2ee.ed25519KeyPair();
  for (const xPub of LOW_ORDER) {
    const bad = concat(Uint8Array.of(1), xPub, s.pub);
    const fac = await facilitator();
    const f = fac.codec;
    const robin = await member([fac.identity.pub]);
    const events = await f.handle(welcomeTo("p1", "facilitator", [
      { pid: "p1", role: "facilitator", present: true, keys: f.bundle, vouches: [] },
      { pid: "p2", role: "member", present: true, keys: bad, vouches: [] },
      { pid: "p3", role: "member", present: true, keys: robin.bundle, vouches: [] },
    ]));
    const out = f.takeOutgoing();
    assert.ok(!out.some((fr) => fr.pid === "p2" || fr.to === "p2"), "nothing for the low-order bundle");
    assert.ok(out.some((fr) => fr.t === "direct" && fr.to === "p3"), "the next participant still gets our chain");
    assert.equal(f.isTrusted("p2"), false);
    assert.deepEqual(codesOf(events, "keys_unusable").map((e) => e.pid), ["p2"]);
    // ... and arriving later, in a joined or with new keys in a presence.
    const joined = await f.handle({ t: "joined", p: { pid: "p4", role: "member", present: true, keys: bad, vouches: [] } });
    assert.deepEqual(codesOf(joined, "keys_unusable").map((e) => e.pid), ["p4"]);
    await f.handle({ t: "presence", pid: "p3", present: true, name: "Robin", keys: bad });
    assert.equal(f.isTrusted("p3"), false);
    assert.ok(!f.takeOutgoing().some((fr) => fr.pid === "p4" || fr.to === "p4" || fr.to === "p3"));
  }
  // An unverified member trusts every usable bundle: not this one.
  const a = await member([]);
  const fac = await facilitator();
  await a.handle(welcomeTo("p2", "member", [
    { pid: "p1", role: "member", present: true, keys: concat(Uint8Array.of(1), LOW_ORDER[0], s.pub), vouches: [] },
    { pid: "p2", role: "member", present: true, keys: a.bundle, vouches: [] },
    { pid: "p3", role: "facilitator", present: true, keys: fac.codec.bundle, vouches: [] },
  ]));
  assert.equal(a.isTrusted("p1"), false);
  assert.deepEqual(a.takeOutgoing().map((fr) => fr.to), ["p3"]);
});

test("one recipient that fails does not stop a rekey or a private message reaching the others", async () => {
  const r = new FakeRoom();
  const one = await facilitator();
  const twoIdentity = await e2ee.ed25519KeyPair();
  const first = await facilitator({ identity: one.identity, co: [twoIdentity.pub] });
  const second = await facilitator({ identity: twoIdentity, co: [one.identity.pub] });
  const F1 = await r.join(first.codec, { name: "Alex" });
  const F2 = await r.join(second.codec, { name: "Jo" });
  const A = await r.join(await member([one.identity.pub, twoIdentity.pub]), { name: "Robin" });
  const B = await r.join(await member([one.identity.pub, twoIdentity.pub]), { name: "Sam" });
  const K = await r.join(await member([one.identity.pub, twoIdentity.pub]), { name: "Kim" });
  const a = r.people.get(A).codec;
  // Keys that got past every check but fail when used (defence in depth).
  a.roster.get(F1).keys = { ...a.roster.get(F1).keys, xPub: new Uint8Array(32) };
  a.roster.get(B).keys = { ...a.roster.get(B).keys, xPub: new Uint8Array(32) };
  const epoch = a.chain.epoch;
  await r.stepOut(F2); // A rekeys: B fails, K after it still gets the chain
  assert.equal(a.chain.epoch, epoch + 1);
  assert.ok(a.readyWith(K));
  const m = await r.say(A, "after the rekey");
  assert.equal(r.seen(K, m), "after the rekey");
  await r.comeBack(F2, r.people.get(F2).codec);
  await r.privately(A, "to whoever can read it");
  assert.equal(r.events(F2, "private").at(-1).text, "to whoever can read it");
});

test("our own message's echo is checked: our signature, then it must decrypt to what we sealed", async () => {
  const { r, A } = await room();
  const a = r.people.get(A).codec;
  await a.sealRoom("exactly this");
  const [chat] = a.takeOutgoing();
  for (const [id, at] of [[300, chat.payload.length - 1], [301, 40]]) {
    const bad = chat.payload.slice();
    bad[at] ^= 1;
    await r.inject(A, { t: "msg", id, from: A, payload: bad, ts: 1 });
    assert.equal(r.seen(A, id), null);
  }
  assert.equal(r.people.get(A).events.find((e) => e.id === 300).reason, "signature");
  await r.inject(A, { t: "msg", id: 302, from: A, payload: chat.payload, ts: 1 });
  assert.equal(r.seen(A, 302), "exactly this");
  await r.inject(A, { t: "msg", id: 303, from: A, payload: chat.payload, ts: 1 });
  assert.equal(r.people.get(A).events.find((e) => e.id === 303).reason, "replay");
});

/** Run `fn` with a wipe of `codec` in the middle of the first WebCrypto `method` call it makes. */
async function wipeDuring(codec, method, fn) {
  const subtle = globalThis.crypto.subtle;
  const original = subtle[method];
  subtle[method] = function (...args) {
    delete subtle[method];
    const result = original.apply(subtle, args);
    codec.wipe();
    return result;
  };
  try {
    return await fn();
  } finally {
    delete subtle[method];
  }
}

test("a wipe in the middle of sealing or of a frame stops it: nothing is restored or sent", async () => {
  const { r, A, B } = await room();
  const a = r.people.get(A).codec;
  await assert.rejects(wipeDuring(a, "sign", () => a.sealRoom("not after a wipe")), { code: "wiped" });
  assert.equal(a.chain, null);
  assert.equal(a.ownPending.size, 0);
  assert.deepEqual(a.takeOutgoing(), []);

  const b = r.people.get(B).codec;
  await assert.rejects(wipeDuring(b, "encrypt", () => b.sealPrivate("not after a wipe")), { code: "wiped" });
  assert.deepEqual(b.takeOutgoing(), []);

  const fac = await facilitator();
  const f = fac.codec;
  const robin = await member([fac.identity.pub]);
  const events = await wipeDuring(f, "sign", () => f.handle(welcomeTo("p1", "facilitator", [
    { pid: "p1", role: "facilitator", present: true, keys: f.bundle, vouches: [] },
    { pid: "p2", role: "member", present: true, keys: robin.bundle, vouches: [] },
  ])));
  assert.deepEqual(events, []);
  assert.equal(f.chain, null);
  assert.deepEqual(f.takeOutgoing(), []);
  assert.equal(f.roster.signingKeys.size, 0);
  assert.equal([...f.roster.all()].length, 0);
});

test("new keys under a pid count as a departure of the old page: a new chain it never gets", async () => {
  const { r, fac, F, A, B } = await room();
  const oldB = r.people.get(B).codec;
  const a = r.people.get(A).codec;
  const epoch = a.chain.epoch;
  // A connection replaced (4003): presence true with new keys, no presence false before it.
  const from = r.log.length;
  await r.comeBack(B, await member([fac.identity.pub]));
  assert.equal(a.chain.epoch, epoch + 1);
  assert.equal(r.people.get(F).codec.chain.epoch, epoch + 1);
  const m = await r.say(A, "only for the new page");
  assert.equal(r.seen(B, m), "only for the new page");
  const frame = r.log.find((l) => l.frame.t === "msg" && l.frame.id === m).frame;
  const [seenByOld] = await oldB.handle(frame);
  assert.equal(seenByOld.text, null);
  assert.equal(seenByOld.reason, "unknown_chain");
  assert.deepEqual(r.events(B, "warning"), []); // the new page got each chain once
  assert.equal(r.log.slice(from).filter((l) => l.to === B && l.frame.t === "direct" && l.frame.from === F).length, 1);
  // The same for a `joined` that shows a known pid with new keys.
  const C = (await member([fac.identity.pub])).bundle;
  await r.inject(A, { t: "joined", p: { pid: B, name: "Sam", role: "member", present: true, keys: C, vouches: [] } });
  assert.equal(a.chain.epoch, epoch + 2);
});

test("only the last 200 opened messages can be reported, and none once the session ended", async () => {
  const { r, A, B } = await room();
  const b = r.people.get(B).codec;
  const ids = [];
  for (let i = 0; i < 201; i++) ids.push(await r.say(A, `m${i}`));
  assert.equal(b.reportable.size, 200);
  assert.ok(!b.reportable.has(ids[0]));
  assert.ok(b.reportable.has(ids[1]) && b.reportable.has(ids[200]));
  await assert.rejects(b.sealReport(ids[0], "too old"), { code: "unknown_message" });
  await r.inject(B, { t: "ended", reason: "ended_by_facilitator" });
  assert.equal(b.reportable.size, 0);
});

// ---- content warnings (docs/e2ee.md section 5) ----

test("a content warning travels inside the encrypted body, one's own echo included", async () => {
  const { r, F, A, B } = await room();
  const m = await r.say(A, "my father died last spring", { cw: "  loss and grief " });
  const chat = r.log.find((l) => l.frame.t === "msg" && l.frame.id === m).frame;
  assert.ok(!new TextDecoder().decode(chat.payload).includes("loss"), "the server never sees the warning");
  for (const pid of [F, A, B]) {
    const e = r.events(pid, "message").find((ev) => ev.id === m);
    assert.equal(e.text, "my father died last spring");
    assert.equal(e.cw, "loss and grief");
  }
  const plain = await r.say(A, "no warning");
  assert.ok(!("cw" in r.events(B, "message").find((ev) => ev.id === plain)));
  assert.ok(!("cw" in r.events(A, "message").find((ev) => ev.id === plain)));
});

test("a content warning over 80 characters is refused; nothing is sent and the chain does not move", async () => {
  const { r, A, B } = await room();
  const a = r.people.get(A).codec;
  const { index } = a.chain;
  await assert.rejects(a.sealRoom("words", {}, { cw: "w".repeat(81) }), { name: "CodecError", code: "cw_too_long" });
  assert.equal(a.chain.index, index);
  assert.equal(a.ownPending.size, 0);
  assert.deepEqual(a.takeOutgoing(), []);
  const m = await r.say(A, "words", { cw: "\u{1F499}".repeat(80) }); // 80 code points: fine
  assert.equal(r.events(B, "message").find((e) => e.id === m).cw, "\u{1F499}".repeat(80));
});

test("a body whose cw is not a string is refused and changes nothing", async () => {
  const { encode } = await import("../../clients/web/vendor/msgpack/index.mjs");
  const { r, A, B } = await room();
  const a = r.people.get(A).codec;
  const b = r.people.get(B).codec;
  // A sealed by hand: a genuine chain key and signature around a bad body.
  const { chainId, epoch, index, ck } = a.chain;
  const step = await e2ee.stepChain(ck);
  const header = e2ee.header({ ctx: a.ctx, sender: A, epoch, chainId, index });
  const body = encode({ text: "hi", cw: 7 });
  const payload = await e2ee.sealRoomPayload({ header, signer: a.keys.s, mk: step.mk, nonce: step.nonce, body });
  const before = structuredClone(b.chains.get(A).describe());
  await r.inject(B, { t: "msg", id: 500, from: A, payload, ts: 1 });
  const e = r.events(B, "message").find((ev) => ev.id === 500);
  assert.equal(e.text, null);
  assert.equal(e.reason, "malformed");
  assert.deepEqual(b.chains.get(A).describe(), before);
  assert.ok(!b.reportable.has(500));
});

test("a report carries the reported message's content warning, inside the proof", async () => {
  const { r, F, A, B } = await room();
  const m = await r.say(A, "something hurtful", { cw: "insults" });
  await r.report(B, m, "this hurt");
  const [rep] = r.events(F, "report");
  assert.equal(rep.verified, true);
  assert.deepEqual(rep.reported, { from: A, text: "something hurtful", cw: "insults" });
  // Another warning put on the same words breaks the proof.
  const b = r.people.get(B).codec;
  const seen = b.reportable.get(m);
  b.reportable.set(m, { ...seen, body: e2ee.textBody("something hurtful", "something else") });
  await r.report(B, m, "altered warning");
  const altered = r.events(F, "report").at(-1);
  assert.equal(altered.verified, false);
  assert.equal(altered.reported.cw, "something else");
});

test("a private message's body has no content warning; one there is ignored", async () => {
  const { encode } = await import("../../clients/web/vendor/msgpack/index.mjs");
  const { r, F, A } = await room();
  const a = r.people.get(A).codec;
  const payload = await e2ee.sealToFacilitators({
    kind: e2ee.KIND_PRIVATE, ctx: a.ctx, sender: A, mine: a.keys.x,
    recipients: [{ pid: F, xPub: r.people.get(F).codec.keys.x.pub }], body: encode({ text: "hi", cw: 7 }),
  });
  await r.inject(F, { t: "private", from: A, payload, ts: 1 });
  const [p] = r.events(F, "private");
  assert.equal(p.text, "hi");
  assert.ok(!("cw" in p));
});
