// clients/web/e2ee.js and chains.js on their own: known answers for the
// primitives, round trips and rejections for every encoding of docs/e2ee.md.

import test from "node:test";
import assert from "node:assert/strict";

import * as e2ee from "../../clients/web/e2ee.js";
import { ChainHistory, SenderChains } from "../../clients/web/chains.js";
import { concat, fromHex, lp, toHex, fromB64u, toB64u, Reader, FormatError } from "../../clients/web/bytes.js";

const hex = toHex;
const ctx = e2ee.ctx("g_0123456789ab", "sess-1");

test("lp, u16 lengths and the 65,535-byte limit", () => {
  assert.equal(hex(lp("ab")), "00026162");
  assert.equal(hex(lp("é")), "0002c3a9"); // measured after UTF-8
  assert.equal(lp(new Uint8Array(65535)).length, 65537);
  assert.throws(() => lp(new Uint8Array(65536)), FormatError);
  assert.equal(hex(ctx), "000e675f303132333435363738396162" + "000673657373" + "2d31");
});

test("base64url without padding, both ways", () => {
  const b = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  assert.deepEqual(fromB64u(toB64u(b)), b);
  assert.ok(!toB64u(b).includes("="));
  assert.throws(() => fromB64u("a+b/"), FormatError);
});

test("X25519 and Ed25519 from raw private keys (RFC 7748, RFC 8032)", async () => {
  const a = await e2ee.x25519KeyPair(fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  const b = await e2ee.x25519KeyPair(fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  assert.equal(hex(a.pub), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  assert.equal(hex(await e2ee.x25519(a, b.pub)), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  assert.equal(hex(await e2ee.x25519(b, a.pub)), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  await assert.rejects(e2ee.x25519(a, new Uint8Array(32)), { reason: "decrypt" }); // low order

  const s = await e2ee.ed25519KeyPair(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  assert.equal(hex(s.pub), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const sig = await e2ee.ed25519Sign(s, new Uint8Array(0));
  assert.equal(
    hex(sig),
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  );
  assert.equal(await e2ee.ed25519Verify(s.pub, sig, new Uint8Array(0)), true);
  assert.equal(await e2ee.ed25519Verify(s.pub, sig, Uint8Array.of(0)), false);
  assert.equal(await e2ee.ed25519Verify(s.pub, sig.slice(1), new Uint8Array(0)), false);
});

test("HKDF-SHA256 uses 32 zero bytes of salt; HMAC and SHA-256 known answers", async () => {
  // RFC 5869 test 3 has an empty salt, which HKDF treats as HashLen zero bytes: the same thing.
  const okm = await e2ee.hkdf(fromHex("0b".repeat(22)), new Uint8Array(0), 42);
  assert.equal(hex(okm), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  assert.equal(hex(await e2ee.sha256(new TextEncoder().encode("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test 2
  const mac = await e2ee.hmacSha256(new TextEncoder().encode("Jefe"), new TextEncoder().encode("what do ya want for nothing?"));
  assert.equal(hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
});

test("AES-256-GCM appends the tag and rejects any change", async () => {
  const key = new Uint8Array(32).fill(1);
  const nonce = new Uint8Array(12).fill(2);
  const sealed = await e2ee.aesGcmSeal(key, nonce, Uint8Array.of(1, 2, 3), Uint8Array.of(9));
  assert.equal(sealed.length, 3 + 16);
  assert.deepEqual(await e2ee.aesGcmOpen(key, nonce, sealed, Uint8Array.of(9)), Uint8Array.of(1, 2, 3));
  await assert.rejects(e2ee.aesGcmOpen(key, nonce, sealed, Uint8Array.of(8)), { reason: "decrypt" });
  sealed[0] ^= 1;
  await assert.rejects(e2ee.aesGcmOpen(key, nonce, sealed, Uint8Array.of(9)), { reason: "decrypt" });
});

test("bundle: 65 bytes, version 1; anything else is unusable", async () => {
  const x = await e2ee.x25519KeyPair();
  const s = await e2ee.ed25519KeyPair();
  const b = e2ee.bundle(x.pub, s.pub);
  assert.equal(b.length, 65);
  assert.equal(b[0], 1);
  assert.deepEqual(e2ee.parseBundle(b), { xPub: x.pub, sPub: s.pub });
  assert.equal(e2ee.parseBundle(b.slice(1)), null);
  assert.equal(e2ee.parseBundle(concat(b, Uint8Array.of(0))), null);
  assert.equal(e2ee.parseBundle(concat(Uint8Array.of(2), b.slice(1))), null);
  assert.equal(e2ee.parseBundle(new Uint8Array(0)), null);
  assert.equal(e2ee.parseBundle(undefined), null);
});

test("vouch: binds ctx, anchor, pid, role and bundle", async () => {
  const id = await e2ee.ed25519KeyPair();
  const b = e2ee.bundle((await e2ee.x25519KeyPair()).pub, (await e2ee.ed25519KeyPair()).pub);
  const anchor = new Uint8Array(16).fill(0x5a);
  const stmt = e2ee.admitStatement(ctx, anchor, "p2", "member", b);
  assert.deepEqual(stmt, concat(lp("safespace/v2/admit"), ctx, lp(anchor), lp("p2"), lp("member"), lp(b)));
  const sig = await e2ee.signVouch(id, ctx, anchor, "p2", "member", b);
  assert.equal(await e2ee.verifyVouch(id.pub, sig, ctx, anchor, "p2", "member", b), true);
  assert.equal(await e2ee.verifyVouch(id.pub, sig, ctx, anchor, "p3", "member", b), false);
  assert.equal(await e2ee.verifyVouch(id.pub, sig, ctx, anchor, "p2", "facilitator", b), false);
  assert.equal(await e2ee.verifyVouch(id.pub, sig, e2ee.ctx("g_0123456789ab", "sess-2"), anchor, "p2", "member", b), false);
  const other = b.slice();
  other[64] ^= 1;
  assert.equal(await e2ee.verifyVouch(id.pub, sig, ctx, anchor, "p2", "member", other), false);
  // Another anchor (another session of the same ids, or the room before a removal): no.
  const older = anchor.slice();
  older[0] ^= 1;
  assert.equal(await e2ee.verifyVouch(id.pub, sig, ctx, older, "p2", "member", b), false);
  assert.equal(e2ee.newAnchor().length, e2ee.ANCHOR_BYTES);
  assert.notDeepEqual(e2ee.newAnchor(), e2ee.newAnchor());
});

test("signed removal: binds ctx, pid, bundle and for_good", async () => {
  const id = await e2ee.ed25519KeyPair();
  const b = e2ee.bundle((await e2ee.x25519KeyPair()).pub, (await e2ee.ed25519KeyPair()).pub);
  const stmt = e2ee.removeStatement(ctx, "p2", b, true);
  assert.deepEqual(stmt, concat(lp("safespace/v1/remove"), ctx, lp("p2"), lp(b), Uint8Array.of(1)));
  assert.deepEqual(e2ee.removeStatement(ctx, "p2", b, false).at(-1), 0);
  const proof = await e2ee.signRemoval(id, ctx, "p2", b, true);
  assert.equal(proof.length, 64);
  assert.equal(await e2ee.verifyRemoval(id.pub, proof, ctx, "p2", b, true), true);
  assert.equal(await e2ee.verifyRemoval(id.pub, proof, ctx, "p2", b, false), false);
  assert.equal(await e2ee.verifyRemoval(id.pub, proof, ctx, "p3", b, true), false);
  assert.equal(await e2ee.verifyRemoval(id.pub, proof, e2ee.ctx("g_0123456789ab", "sess-2"), "p2", b, true), false);
  assert.equal(await e2ee.verifyRemoval((await e2ee.ed25519KeyPair()).pub, proof, ctx, "p2", b, true), false);
  assert.equal(await e2ee.verifyRemoval(id.pub, proof, ctx, "p2", undefined, true), false);
});

test("chain step: seed, next ck, mk and nonce as section 4 says", async () => {
  const ck = new Uint8Array(32).fill(7);
  const step = await e2ee.stepChain(ck);
  assert.deepEqual(step.seed, await e2ee.hmacSha256(ck, Uint8Array.of(1)));
  assert.deepEqual(step.nextCk, await e2ee.hmacSha256(ck, Uint8Array.of(2)));
  const okm = await e2ee.hkdf(step.seed, new TextEncoder().encode("safespace/v1/message"), 44); // bare label
  assert.deepEqual(step.mk, okm.slice(0, 32));
  assert.deepEqual(step.nonce, okm.slice(32));
});

test("header: encodes and parses; trailing bytes are refused", () => {
  const chainId = new Uint8Array(16).fill(0xab);
  const h = e2ee.header({ ctx, sender: "p2", epoch: 3, chainId, index: 258 });
  assert.deepEqual(h, concat(Uint8Array.of(1, 1), ctx, lp("p2"), Uint8Array.of(0, 0, 0, 3), chainId, Uint8Array.of(0, 0, 1, 2)));
  assert.deepEqual(e2ee.parseHeader(h), { version: 1, kind: 1, ctx, sender: "p2", epoch: 3, chainId, index: 258 });
  assert.throws(() => e2ee.parseHeader(concat(h, Uint8Array.of(0))), FormatError);
  assert.throws(() => e2ee.parseHeader(h.slice(0, -1)), FormatError);
});

/** A sender with a chain, sealing room messages the way codec.js does. */
async function sender(pid = "p2") {
  const s = await e2ee.ed25519KeyPair();
  const chain = e2ee.newChain(0);
  const start = { ...chain };
  return {
    pid,
    s,
    start,
    chain,
    async seal(text, index = this.chain.index, body = e2ee.textBody(text)) {
      let ck = this.start.ck;
      for (let i = 0; i < index; i++) ck = (await e2ee.stepChain(ck)).nextCk;
      const step = await e2ee.stepChain(ck);
      const header = e2ee.header({ ctx, sender: pid, epoch: chain.epoch, chainId: chain.chainId, index });
      this.chain.index = index + 1;
      return { payload: await e2ee.sealRoomPayload({ header, signer: s, mk: step.mk, nonce: step.nonce, body }), mk: step.mk, nonce: step.nonce, body };
    },
  };
}

async function receive(chains, alice, payload, from = alice.pid) {
  const p = e2ee.parseRoomPayload(payload);
  e2ee.checkHeader(p.header, ctx, from);
  if (!(await e2ee.verifyRoomSignature(p, alice.s.pub))) throw new e2ee.RejectError("signature");
  const { body } = await chains.open(p);
  return e2ee.parseTextBody(body).text;
}

test("room payload: layout, signature, commitment; opened once", async () => {
  const alice = await sender();
  const { payload, mk, nonce, body } = await alice.seal("hello");
  const p = e2ee.parseRoomPayload(payload);
  const r = new Reader(payload);
  assert.deepEqual(r.lp(), p.headerBytes);
  assert.equal(p.signature.length, 64);
  assert.deepEqual(p.commitment, await e2ee.sha256(concat(lp("safespace/v1/commit"), mk, nonce, body)));
  assert.equal(p.ciphertext.length, body.length + 16);

  const chains = new SenderChains();
  chains.accept(alice.start);
  assert.equal(await receive(chains, alice, payload), "hello");
  await assert.rejects(receive(chains, alice, payload), { reason: "replay" });
});

test("room payload: every flipped bit is rejected and changes nothing", async () => {
  const alice = await sender();
  const { payload } = await alice.seal("do not touch");
  const chains = new SenderChains();
  chains.accept(alice.start);
  const before = JSON.stringify(chains.describe());
  for (let i = 0; i < payload.length; i += 3) {
    const bad = payload.slice();
    bad[i] ^= 0x10;
    await assert.rejects(receive(chains, alice, bad));
    assert.equal(JSON.stringify(chains.describe()), before);
  }
  await assert.rejects(receive(chains, alice, payload.slice(0, -1)));
  await assert.rejects(receive(chains, alice, concat(payload, Uint8Array.of(0))));
  assert.equal(await receive(chains, alice, payload), "do not touch");
});

test("room payload: wrong sender, ctx, kind or version is refused before any key is used", async () => {
  const alice = await sender();
  const { payload } = await alice.seal("x");
  const p = e2ee.parseRoomPayload(payload);
  assert.throws(() => e2ee.checkHeader(p.header, ctx, "p9"), { reason: "sender" });
  assert.throws(() => e2ee.checkHeader(p.header, e2ee.ctx("g_0123456789ab", "other"), "p2"), { reason: "context" });
  assert.throws(() => e2ee.checkHeader({ ...p.header, kind: 2 }, ctx, "p2"), { reason: "kind" });
  assert.throws(() => e2ee.checkHeader({ ...p.header, version: 2 }, ctx, "p2"), { reason: "version" });
});

test("chains: out of order within MAX_KEPT, keys used once, MAX_SKIP caps a jump", async () => {
  const alice = await sender();
  const m = [];
  for (let i = 0; i < 4; i++) m.push((await alice.seal(`m${i}`)).payload);
  const chains = new SenderChains();
  chains.accept(alice.start);
  assert.equal(await receive(chains, alice, m[3]), "m3");
  assert.deepEqual(chains.describe().current.kept, [0, 1, 2]);
  assert.equal(await receive(chains, alice, m[1]), "m1");
  assert.equal(await receive(chains, alice, m[0]), "m0");
  await assert.rejects(receive(chains, alice, m[1]), { reason: "replay" });
  assert.equal(await receive(chains, alice, m[2]), "m2");
  assert.deepEqual(chains.describe().current.kept, []);

  // A jump of exactly MAX_SKIP indexes is fine; one more is refused.
  const far = (await alice.seal("far", 4 + e2ee.MAX_SKIP)).payload;
  const tooFar = (await alice.seal("too far", 4 + e2ee.MAX_SKIP + 1 + e2ee.MAX_SKIP + 1)).payload;
  assert.equal(await receive(chains, alice, far), "far");
  assert.equal(chains.describe().current.kept.length, e2ee.MAX_KEPT);
  assert.equal(chains.describe().current.kept[0], 4 + e2ee.MAX_SKIP - e2ee.MAX_KEPT); // oldest dropped first
  await assert.rejects(receive(chains, alice, tooFar), { reason: "too_far" });
});

test("chains: a distribution never moves a chain back; two chains kept", async () => {
  const chains = new SenderChains();
  const c0 = e2ee.newChain(0);
  assert.equal(chains.accept(c0), "new");
  assert.throws(() => chains.accept(c0), { reason: "stale" }); // same index: not ahead
  assert.equal(chains.accept({ ...c0, index: 5, ck: new Uint8Array(32) }), "ahead");
  assert.throws(() => chains.accept({ ...c0, index: 4 }), { reason: "stale" });
  const c1 = e2ee.newChain(1);
  assert.equal(chains.accept(c1), "new");
  assert.ok(chains.find(c0.chainId, 0));
  assert.throws(() => chains.accept(c0), { reason: "stale" }); // the previous chain
  assert.throws(() => chains.accept(e2ee.newChain(0)), { reason: "stale" }); // an older epoch
  const c1b = e2ee.newChain(1); // same epoch, new chain id: taken
  assert.equal(chains.accept(c1b), "new");
  assert.equal(chains.find(c0.chainId, 0), null); // only two kept
  assert.ok(chains.find(c1.chainId, 1));
});

test("chains: a body that decrypts but has no text is refused before the chain moves", async () => {
  const { encode } = await import("../../clients/web/vendor/msgpack/index.mjs");
  const alice = await sender();
  const noText = (await alice.seal("", 1, encode({ txt: "x" }))).payload;
  const notAMapAt0 = (await alice.seal("", 0, encode(["x"]))).payload;
  const zero = (await alice.seal("zero", 0)).payload;
  const one = (await alice.seal("one", 1)).payload;
  const chains = new SenderChains();
  chains.accept(alice.start);
  const before = JSON.stringify(chains.describe());
  await assert.rejects(receive(chains, alice, noText), { reason: "malformed" });
  assert.equal(JSON.stringify(chains.describe()), before); // index 1 is not used up
  assert.equal(await receive(chains, alice, one), "one");
  assert.deepEqual(chains.describe().current.kept, [0]);
  await assert.rejects(receive(chains, alice, notAMapAt0), { reason: "malformed" });
  assert.deepEqual(chains.describe().current.kept, [0]); // nor is the key kept for index 0
  assert.equal(await receive(chains, alice, zero), "zero");
});

test("chains: a chain id taken up once is refused for the rest of the session, even by a new holder", () => {
  const history = new ChainHistory(4);
  const first = new SenderChains(history);
  const c0 = e2ee.newChain(0);
  assert.equal(first.accept(c0), "new");
  assert.equal(first.accept({ ...c0, index: 3 }), "ahead"); // the same current chain, further on: fine
  const again = new SenderChains(history); // the chains were dropped (the sender left), the memory was not
  assert.throws(() => again.accept(c0), { reason: "stale" });
  assert.throws(() => again.accept({ ...c0, index: 9 }), { reason: "stale" });
  assert.equal(again.current, null);
  for (let epoch = 1; epoch <= 5; epoch++) first.accept(e2ee.newChain(epoch));
  assert.equal(history.size, 4); // capped, oldest first: c0's id is forgotten ...
  assert.equal(history.has(c0.chainId), false);
  assert.throws(() => new SenderChains(history).accept(c0), { reason: "stale" }); // ... but epoch 0 is below epoch 5
  assert.equal(new SenderChains(history).accept(e2ee.newChain(5)), "new");
  assert.equal(e2ee.CHAIN_IDS_KEPT, 4096);
});

test("distribution: 86 bytes, opens only for its recipient and from its sender", async () => {
  const [s, r, o] = [await e2ee.x25519KeyPair(), await e2ee.x25519KeyPair(), await e2ee.x25519KeyPair()];
  const state = e2ee.newChain(2);
  state.index = 9;
  const payload = await e2ee.sealDistribution({ ctx, sender: "p1", recipient: "p2", mine: s, peerXPub: r.pub, state });
  assert.equal(payload.length, 1 + 12 + 57 + 16);
  assert.equal(payload[0], 0x10);
  const opened = await e2ee.openDistribution({ ctx, sender: "p1", recipient: "p2", mine: r, peerXPub: s.pub, payload });
  assert.deepEqual(opened, state);
  // forwarded to someone else, or claimed by another sender: fails to decrypt
  await assert.rejects(e2ee.openDistribution({ ctx, sender: "p1", recipient: "p3", mine: o, peerXPub: s.pub, payload }), { reason: "decrypt" });
  await assert.rejects(e2ee.openDistribution({ ctx, sender: "p3", recipient: "p2", mine: r, peerXPub: o.pub, payload }), { reason: "decrypt" });
  await assert.rejects(e2ee.openDistribution({ ctx, sender: "p1", recipient: "p2", mine: r, peerXPub: s.pub, payload: payload.slice(0, -1) }));
  const encoded = e2ee.encodeChainState(state);
  assert.equal(encoded.length, 57);
  assert.deepEqual(e2ee.parseChainState(encoded), state);
});

test("private and report payloads: per-facilitator entries; reports verify", async () => {
  const m = await e2ee.x25519KeyPair();
  const f1 = await e2ee.x25519KeyPair();
  const f2 = await e2ee.x25519KeyPair();
  const body = e2ee.textBody("I need a moment");
  const payload = await e2ee.sealToFacilitators({
    kind: e2ee.KIND_PRIVATE, ctx, sender: "p2", mine: m, body,
    recipients: [{ pid: "p1", xPub: f1.pub }, { pid: "p5", xPub: f2.pub }],
  });
  const parsed = e2ee.parseFacilitatorPayload(payload);
  assert.equal(parsed.kind, 0x20);
  assert.deepEqual(parsed.entries.map((e) => e.pid), ["p1", "p5"]);
  for (const [me, mine] of [["p1", f1], ["p5", f2]]) {
    const opened = await e2ee.openFacilitatorEntry({ payload, kind: 0x20, ctx, sender: "p2", me, mine, senderXPub: m.pub });
    assert.deepEqual(opened.body, body);
  }
  await assert.rejects(e2ee.openFacilitatorEntry({ payload, kind: 0x30, ctx, sender: "p2", me: "p1", mine: f1, senderXPub: m.pub }), { reason: "kind" });
  await assert.rejects(e2ee.openFacilitatorEntry({ payload, kind: 0x20, ctx, sender: "p2", me: "p9", mine: f1, senderXPub: m.pub }), { reason: "not_for_me" });
  await assert.rejects(e2ee.openFacilitatorEntry({ payload, kind: 0x20, ctx, sender: "p3", me: "p1", mine: f1, senderXPub: m.pub }), { reason: "decrypt" });
  assert.throws(() => e2ee.parseFacilitatorPayload(concat(payload, Uint8Array.of(0))), FormatError);
  const twice = concat(Uint8Array.of(0x20, 4), payload.slice(2), payload.slice(2));
  assert.throws(() => e2ee.parseFacilitatorPayload(twice), FormatError); // p1 and p5 named twice
  assert.throws(() => e2ee.parseFacilitatorPayload(Uint8Array.of(0x20, 0)), FormatError);
  assert.throws(() => e2ee.parseFacilitatorPayload(concat(Uint8Array.of(0x21), payload.slice(1))), { reason: "kind" });

  // A report carries what the reporter decrypted; the facilitator re-checks all of it.
  const alice = await sender("p3");
  const msg = await alice.seal("the reported words");
  const report = { msg: 7, from: "p3", payload: msg.payload, key: concat(msg.mk, msg.nonce), body: msg.body, note: "not ok" };
  assert.deepEqual(e2ee.parseReportBody(e2ee.reportBody(report)), report);
  assert.equal(await e2ee.verifyReport({ ctx, report, senderSPubs: [alice.s.pub] }), true);
  const stranger = await e2ee.ed25519KeyPair();
  assert.equal(await e2ee.verifyReport({ ctx, report, senderSPubs: [stranger.pub, alice.s.pub] }), true);
  assert.equal(await e2ee.verifyReport({ ctx, report, senderSPubs: [] }), false);
  const altered = { ...report, body: e2ee.textBody("other words") };
  assert.equal(await e2ee.verifyReport({ ctx, report: altered, senderSPubs: [alice.s.pub] }), false);
  const badKey = { ...report, key: report.key.slice() };
  badKey.key[0] ^= 1;
  assert.equal(await e2ee.verifyReport({ ctx, report: badKey, senderSPubs: [alice.s.pub] }), false);
  assert.equal(await e2ee.verifyReport({ ctx, report: { ...report, from: "p4" }, senderSPubs: [alice.s.pub] }), false);
  assert.equal(await e2ee.verifyReport({ ctx, report, senderSPubs: [stranger.pub] }), false);
});

test("text body: msgpack {text}; unknown keys ignored; no text refused", async () => {
  const { encode } = await import("../../clients/web/vendor/msgpack/index.mjs");
  assert.equal(hex(e2ee.textBody("hi")), "81a474657874a26869");
  assert.deepEqual(e2ee.parseTextBody(encode({ text: "hi", later: 1 })), { text: "hi" });
  assert.deepEqual(e2ee.parseTextBody(encode({ text: "hi", cw: "x" })), { text: "hi", cw: "x" });
  assert.throws(() => e2ee.parseTextBody(encode({ txt: "hi" })), { reason: "malformed" });
  assert.throws(() => e2ee.parseTextBody(encode(["hi"])), { reason: "malformed" });
  assert.throws(() => e2ee.parseTextBody(Uint8Array.of(0xc1)), { reason: "malformed" });
});

test("text body with a content warning: text then cw, trimmed, at most 80 code points", async () => {
  const { encode } = await import("../../clients/web/vendor/msgpack/index.mjs");
  assert.equal(hex(e2ee.textBody("hi", "loss")), "82a474657874a26869a26377a46c6f7373");
  assert.deepEqual(e2ee.parseTextBody(e2ee.textBody("hi", "loss")), { text: "hi", cw: "loss" });
  // Trimmed of Unicode's white space and U+FEFF (the same set as the Python core, not String.trim's).
  assert.equal(hex(e2ee.textBody("hi", " \t\u3000loss\ufeff\n\u0085")), hex(e2ee.textBody("hi", "loss")));
  assert.equal(hex(e2ee.textBody("hi", "  grief and loss ")), hex(e2ee.textBody("hi", "grief and loss")));
  for (const nothing of [undefined, null, "", "   ", "\u2028\ufeff"]) assert.equal(hex(e2ee.textBody("hi", nothing)), "81a474657874a26869");
  // A character is a code point: 80 emoji (160 UTF-16 units) is the most.
  const most = "\u{1F499}".repeat(e2ee.MAX_CW_CHARS);
  assert.deepEqual(e2ee.parseTextBody(e2ee.textBody("hi", ` ${most} `)), { text: "hi", cw: most });
  assert.throws(() => e2ee.textBody("hi", `${most}x`), { name: "RangeError", code: "cw_too_long" });
  assert.throws(() => e2ee.textBody("hi", 5), TypeError);
  // Opening: a cw that is not a string of 1 to 80 characters makes the body malformed...
  for (const cw of [5, null, Uint8Array.of(1), ["x"], "", "x".repeat(81)]) {
    const body = encode({ text: "hi", cw });
    assert.throws(() => e2ee.parseTextBody(body), { reason: "malformed" });
    // ...except in a private message's body, where cw is an unknown key.
    assert.deepEqual(e2ee.parseTextBody(body, { cw: false }), { text: "hi" });
  }
  assert.deepEqual(e2ee.parseTextBody(encode({ text: "hi", cw: " x " })), { text: "hi", cw: " x " }); // not trimmed on opening
});
