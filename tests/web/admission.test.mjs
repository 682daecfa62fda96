// Admission and removal that a hostile server cannot forge (docs/e2ee.md
// sections 3.1 to 3.3, 8 and 10): the facilitator's anchor, its door, signed
// removals, and reports checked against the facilitator's own copy of the id.
// GroupCodec against GroupCodec through the stand-in server (harness.mjs).

import test from "node:test";
import assert from "node:assert/strict";

import { FakeRoom, MemoryAnchorStore, facilitator, member } from "./harness.mjs";
import * as e2ee from "../../clients/web/e2ee.js";

/** A room with a facilitator and members `names`, everyone verified. */
async function room(names = ["Robin", "Sam"], options = {}) {
  const r = new FakeRoom(options);
  const fac = await facilitator({ store: options.store });
  const F = await r.join(fac.codec, { name: "Alex" });
  const pids = [];
  for (const name of names) pids.push(await r.join(await member([fac.identity.pub]), { name }));
  return { r, fac, F, pids };
}

const codesOf = (events, code) => events.filter((e) => e.type === "warning" && e.code === code);
const vouchesFrom = (r, from, pid) => r.log.filter((l) => l.frame.t === "vouch" && l.frame.pid === pid).map((l) => l.frame);

// ---- 3.1 and 3.2: only the current anchor counts ----

test("a vouch from before a removal names an old anchor: the member re-injected with it is not trusted", async () => {
  const { r, F, pids: [A, B] } = await room();
  const a = r.people.get(A).codec;
  const old = r.entry(r.people.get(B)); // B's pid, keys and the facilitator's vouch, as the server kept them
  const oldAnchor = old.vouches[0].anchor;
  await r.remove(B); // not even signed: the anchor alone shuts B out
  assert.ok(!a.isBarred(B));
  assert.notDeepEqual(r.people.get(F).codec.door.anchor, oldAnchor, "a new anchor once a vouched member went");
  // A is vouched again under the new anchor and still trusts the facilitator.
  assert.ok(a.isTrusted(F));
  await r.inject(A, { t: "joined", p: { ...old, present: true } });
  assert.equal(a.isTrusted(B), false);
  await r.inject(A, { t: "vouch", pid: B, ...old.vouches[0] }); // the old vouch replayed on its own
  assert.equal(a.isTrusted(B), false);
  assert.ok(!r.log.some((l) => l.frame.t === "direct" && l.frame.to === B && l.frame.from === A && r.log.indexOf(l) > r.log.findIndex((x) => x.frame.t === "removed")));
  // The facilitator's old vouch for A itself, replayed: the anchor never goes back.
  const oldForA = vouchesFrom(r, F, A).find((v) => e2ee.ANCHOR_BYTES === v.anchor.length && v.anchor.every((x, i) => x === oldAnchor[i]));
  await r.inject(A, { t: "vouch", ...oldForA });
  assert.equal(a.isTrusted(B), false);
  const m = await r.say(A, "after Sam was removed");
  assert.equal(r.seen(F, m), "after Sam was removed");
});

test("a vouch replayed from another session with the same ids does not make anyone trusted", async () => {
  // The server reuses the group and session ids: only the anchor tells the sessions apart.
  const first = await room(["Robin"]);
  const oldEntry = first.r.entry(first.r.people.get(first.pids[0]));
  const r = new FakeRoom();
  const fac = await facilitator({ identity: first.fac.identity });
  const F = await r.join(fac.codec, { name: "Alex" });
  const C = await r.join(await member([fac.identity.pub]), { name: "Kim" });
  const c = r.people.get(C).codec;
  assert.ok(c.isTrusted(F));
  await r.inject(C, { t: "joined", p: { ...oldEntry, pid: "p9", present: true } });
  await r.inject(C, { t: "joined", p: { ...oldEntry, present: true } });
  assert.equal(c.isTrusted("p9"), false);
  assert.equal(c.isTrusted(oldEntry.pid), false);
  assert.ok(!r.log.some((l) => l.frame.t === "direct" && (l.frame.to === "p9" || l.frame.to === oldEntry.pid)));
});

for (const order of ["own vouch first", "own vouch last"]) {
  test(`a new anchor re-trusts the remaining members in any arrival order (${order})`, async () => {
    const { r, F, pids: [A, B, C] } = await room(["Robin", "Sam", "Kim"]);
    const a = r.people.get(A).codec;
    r.holding = (pid, frame) => pid === A && frame.t === "vouch";
    await r.remove(B);
    const held = r.takeHeld();
    assert.deepEqual(held.map(([, f]) => f.pid).sort(), [A, C, F].sort(), "the facilitator vouched again for itself, Robin and Kim");
    const mine = held.filter(([, f]) => f.pid === A);
    const others = held.filter(([, f]) => f.pid !== A);
    for (const [pid, frame] of order === "own vouch first" ? [...mine, ...others.reverse()] : [...others.reverse(), ...mine]) {
      await r.inject(pid, frame);
    }
    assert.ok(a.isTrusted(F) && a.isTrusted(C));
    const m = await r.say(A, "still here");
    assert.equal(r.seen(C, m), "still here");
    assert.equal(r.seen(F, m), "still here");
    const n = await r.say(C, "me too");
    assert.equal(r.seen(A, n), "me too");
  });
}

test("a member the server leaves out of the new anchor's vouches stops being trusted: a new chain without it", async () => {
  const { r, F, pids: [A, B, C] } = await room(["Robin", "Sam", "Kim"]);
  const a = r.people.get(A).codec;
  r.holding = (pid, frame) => pid === A && frame.t === "vouch" && frame.pid === C; // the server drops Kim's
  await r.remove(B);
  r.takeHeld();
  assert.ok(a.isTrusted(F));
  assert.equal(a.isTrusted(C), false);
  const epoch = a.chain.epoch;
  const directs = r.log.filter((l) => l.frame.t === "direct" && l.frame.from === A && l.frame.to === C).length;
  const m = await r.say(A, "Kim cannot read this");
  assert.equal(a.chain.epoch, epoch);
  assert.equal(r.log.filter((l) => l.frame.t === "direct" && l.frame.from === A && l.frame.to === C).length, directs);
  assert.equal(r.seen(C, m), null);
  assert.equal(r.seen(F, m), "Kim cannot read this");
  assert.ok(r.events(A, "trust").some((e) => e.pid === C && e.trusted === false));
});

test("a reloaded console keeps its anchor and whom it vouched for; `ended` forgets them", async () => {
  const store = new MemoryAnchorStore();
  const { r, fac, F, pids: [A, B] } = await room(["Robin", "Sam"], { store });
  const anchor = fac.codec.door.anchor.slice();
  await r.setState("live_locked");
  const a = r.people.get(A).codec;
  const trustEvents = r.events(A, "trust").length;
  // The console's tab reloads: a new page (new keys), the same store.
  const again = await facilitator({ identity: fac.identity, store });
  await r.comeBack(F, again.codec);
  assert.deepEqual(again.codec.door.anchor, anchor);
  assert.equal(codesOf(r.people.get(F).events, "not_admitted").length, 0);
  assert.ok(again.codec.isTrusted(A) && again.codec.isTrusted(B));
  assert.ok(a.isTrusted(F) && a.isTrusted(B));
  assert.ok(!r.events(A, "trust").slice(trustEvents).some((e) => e.pid === B && !e.trusted), "Sam was never dropped");
  // Robin comes back from a new page behind the locked door: vouched again, for it was vouched before.
  await r.comeBack(A, await member([fac.identity.pub]));
  assert.ok(again.codec.isTrusted(A));
  const m = await r.say(B, "welcome back");
  assert.equal(r.seen(A, m), "welcome back");
  await r.inject(F, { t: "ended", reason: "ended_by_facilitator" });
  assert.equal(store.kept.size, 0);
});

// ---- 3.2: the door ----

test("behind a locked door the facilitator does not vouch for a member the server lets in; it may by hand", async () => {
  const { r, fac, F, pids: [A] } = await room(["Robin"], { state: "live_locked" });
  const f = fac.codec;
  const a = r.people.get(A).codec;
  assert.ok(f.notAdmitted(A), "the door was locked at the facilitator's arrival");
  assert.deepEqual(codesOf(r.people.get(F).events, "not_admitted").map((e) => e.pid), [A]);
  assert.equal(vouchesFrom(r, F, A).length, 0);
  assert.equal(a.isTrusted(F), false);
  await f.vouchFor(A);
  await r.relay(F);
  assert.ok(!f.notAdmitted(A));
  assert.ok(f.isTrusted(A) && a.isTrusted(F));
  const m = await r.say(F, "hello Robin");
  assert.equal(r.seen(A, m), "hello Robin");
  await assert.rejects(f.vouchFor(F), { code: "no_recipient" });
  await assert.rejects(f.vouchFor("p99"), { code: "no_recipient" });
});

test("the door opens only by the facilitator's own act; start, lock and the server's state close it", async () => {
  const { r, fac, F } = await room([], { state: "scheduled" });
  const f = fac.codec;
  const arrive = async (name) => {
    const pid = await r.join(await member([fac.identity.pub]), { name });
    return { pid, vouched: vouchesFrom(r, F, pid).length > 0, warned: f.notAdmitted(pid) };
  };
  // The server says the door is open; the facilitator never opened it.
  await r.setState("lobby");
  let p = await arrive("Kim");
  assert.deepEqual([p.vouched, p.warned], [false, true]);
  await f.setDoor(true); // its own `open`
  p = await arrive("Robin");
  assert.deepEqual([p.vouched, p.warned], [true, false]);
  await r.setState("live_locked"); // the server may close it
  p = await arrive("Sam");
  assert.deepEqual([p.vouched, p.warned], [false, true]);
  await f.setDoor(true); // `unlock`
  await f.setDoor(false); // `lock`
  p = await arrive("Jo");
  assert.deepEqual([p.vouched, p.warned], [false, true]);
  // A knocker this facilitator admits is vouched for behind the lock.
  await f.lettingIn(`p${r.nextPid}`);
  p = await arrive("Lee");
  assert.deepEqual([p.vouched, p.warned], [true, false]);
});

test("co-facilitators vouch for each other; a member the lock kept out stays out for both", async () => {
  const r = new FakeRoom({ state: "lobby" });
  const two = await e2ee.ed25519KeyPair();
  const one = await e2ee.ed25519KeyPair();
  const first = await facilitator({ identity: one, co: [two.pub] });
  const second = await facilitator({ identity: two, co: [one.pub] });
  const F1 = await r.join(first.codec, { name: "Alex" });
  const F2 = await r.join(second.codec, { name: "Jo" });
  assert.ok(vouchesFrom(r, F1, F2).some((v) => v.by.every((x, i) => x === one.pub[i])), "Alex vouched for Jo's page");
  assert.ok(first.codec.isTrusted(F2) && second.codec.isTrusted(F1));
  await first.codec.setDoor(false);
  await second.codec.setDoor(false);
  const K = await r.join(await member([one.pub, two.pub]), { name: "Kim" });
  assert.ok(first.codec.notAdmitted(K) && second.codec.notAdmitted(K));
  assert.equal(r.people.get(K).codec.isTrusted(F1), false);
});

// ---- 3.3: signed removals ----

test("a bundle a facilitator's signed removal barred is never trusted again, not even with a fresh vouch", async () => {
  const { r, fac, F, pids: [A, B] } = await room();
  const a = r.people.get(A).codec;
  const f = fac.codec;
  const old = r.entry(r.people.get(B));
  await r.remove(B, { forGood: true, signed: f });
  const removed = r.log.find((l) => l.frame.t === "removed").frame;
  assert.equal(removed.by.length, 32);
  assert.equal(removed.proof.length, 64);
  assert.ok(a.isBarred(B) === false, "gone from the roster");
  // The server shows the same keys again, under the old pid and under a new one, to everyone.
  for (const pid of [B, "p9"]) {
    for (const to of [A, F]) await r.inject(to, { t: "joined", p: { ...old, pid, present: true } });
    assert.ok(a.isBarred(pid) && f.isBarred(pid));
    assert.deepEqual(codesOf(r.people.get(A).events, "keys_barred").map((e) => e.pid).slice(-1), [pid]);
    assert.equal(a.isTrusted(pid), false);
    assert.equal(f.isTrusted(pid), false);
  }
  assert.equal(vouchesFrom(r, F, "p9").length, 0, "the facilitator never vouches for barred keys, door open or not");
  await assert.rejects(f.vouchFor("p9"), { code: "no_recipient" });
  // A fresh vouch under the facilitator's current anchor (signed elsewhere): still barred.
  const sig = await e2ee.signVouch(fac.identity, a.ctx, f.door.anchor, "p9", "member", old.keys);
  await r.inject(A, { t: "vouch", pid: "p9", by: fac.identity.pub, anchor: f.door.anchor, sig });
  assert.equal(a.isTrusted("p9"), false);
  assert.ok(!r.log.some((l) => l.frame.t === "direct" && l.frame.to === "p9"));
  const m = await r.say(A, "not for Sam");
  assert.equal(r.seen(F, m), "not for Sam");
});

test("a removal without a valid proof, or by someone the page does not trust, bars nothing", async () => {
  const { r, fac, pids: [A, B, C] } = await room(["Robin", "Sam", "Kim"]);
  const a = r.people.get(A).codec;
  const sam = r.entry(r.people.get(B));
  const kim = r.entry(r.people.get(C));
  const stranger = await e2ee.ed25519KeyPair();
  const proof = await e2ee.signRemoval(stranger, a.ctx, B, sam.keys, false);
  await r.inject(A, { t: "removed", pid: B, for_good: false, by: stranger.pub, proof });
  // The facilitator's proof for another removal (for good, not this one) does not fit either.
  const wrong = await e2ee.signRemoval(fac.identity, a.ctx, C, kim.keys, true);
  await r.inject(A, { t: "removed", pid: C, for_good: false, by: fac.identity.pub, proof: wrong });
  await r.inject(A, { t: "joined", p: { ...sam, pid: "p8", vouches: [], present: true } });
  await r.inject(A, { t: "joined", p: { ...kim, pid: "p9", vouches: [], present: true } });
  assert.ok(!a.isBarred("p8") && !a.isBarred("p9"));
});

// ---- 8 and 10: a report checked against the facilitator's own copy of the id ----

test("a report of a genuine message under another message's id is not verified: the ids disagree", async () => {
  const { r, F, pids: [A, B] } = await room();
  const m1 = await r.say(A, "see you next week");
  const m2 = await r.say(A, "something hurtful");
  // The server showed Sam the second message under the first one's id.
  const b = r.people.get(B).codec;
  b.reportable.set(m1, b.reportable.get(m2));
  await r.report(B, m1, "this hurt");
  const [rep] = r.events(F, "report");
  assert.equal(rep.msg, m1);
  assert.equal(rep.verified, false);
  assert.equal(rep.reason, "id_mismatch");
  // The same message under its own id is verified.
  await r.report(B, m2, "this hurt");
  assert.equal(r.events(F, "report").at(-1).verified, true);
  // Under an id the facilitator never opened, the message itself is all there is to check.
  b.reportable.set(900, b.reportable.get(m2));
  await r.report(B, 900, "this hurt");
  const last = r.events(F, "report").at(-1);
  assert.equal(last.verified, true);
  assert.equal(last.reason, undefined);
});

test("a report under the id of the facilitator's own message is compared with it too", async () => {
  const { r, F, pids: [A, B] } = await room();
  const own = await r.say(F, "welcome everyone");
  const m = await r.say(A, "something hurtful");
  const b = r.people.get(B).codec;
  b.reportable.set(own, b.reportable.get(m));
  await r.report(B, own, "this hurt");
  assert.equal(r.events(F, "report").at(-1).reason, "id_mismatch");
});

test("an anchor replaced never comes back, however many anchors later the server replays it", async () => {
  const { r, F, pids: [A, B, ...others] } = await room(["Robin", "Sam", "K1", "K2", "K3", "K4"]);
  const a = r.people.get(A).codec;
  const sam = r.entry(r.people.get(B));
  const first = sam.vouches[0].anchor;
  const oldForA = vouchesFrom(r, F, A).find((v) => v.anchor.every((x, i) => x === first[i]));
  for (const pid of [B, ...others]) await r.remove(pid); // five new anchors: the first is no longer held
  await r.inject(A, { t: "vouch", ...oldForA });
  await r.inject(A, { t: "joined", p: { ...sam, present: true } });
  assert.equal(a.isTrusted(B), false);
  assert.ok(a.isTrusted(F));
});

test("two renewals delivered out of order: the later anchor stays current", async () => {
  const { r, pids: [A, B, C, D] } = await room(["Robin", "Sam", "Kim", "Lee"]);
  const a = r.people.get(A).codec;
  // The server holds back everything for Robin while two members leave.
  r.holding = (pid) => pid === A;
  await r.leave(B);
  const kim = r.entry(r.people.get(C)); // Kim's vouch names the first new anchor
  await r.leave(C);
  const held = r.takeHeld();
  const forA = held.filter(([, f]) => f.t === "vouch" && f.pid === A).map(([, f]) => f);
  assert.equal(forA.length, 2, "one vouch for Robin per renewal");
  assert.ok(e2ee.anchorGeneration(forA[1].anchor) > e2ee.anchorGeneration(forA[0].anchor));
  for (const [, f] of held.filter(([, f]) => f.t === "left")) await r.inject(A, f);
  await r.inject(A, forA[1]); // the later renewal first
  await r.inject(A, forA[0]);
  for (const [, f] of held.filter(([, f]) => f.t === "vouch" && f.pid !== A)) await r.inject(A, f);
  await r.inject(A, { t: "joined", p: { ...kim, present: true } });
  assert.equal(a.isTrusted(C), false, "Kim's vouch names the earlier anchor: not current");
  assert.ok(a.isTrusted(D), "Lee, vouched again under the later anchor, still is");
});

test("an anchor's generation is the clock, or one past the previous one", () => {
  const first = e2ee.newAnchor(null, 1000);
  assert.equal(e2ee.anchorGeneration(first), 1000n);
  assert.equal(e2ee.anchorGeneration(e2ee.newAnchor(first, 999)), 1001n, "a clock that went back");
  assert.equal(e2ee.anchorGeneration(e2ee.newAnchor(first, 5000)), 5000n);
  assert.equal(e2ee.anchorGeneration(new Uint8Array(3)), -1n);
});
