// ChatClient over a fake WebSocket, in a FakeRoom with real codecs: the
// handshake, frame order, events, and that text stays in memory only.

import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { encode, decode } from "../../clients/web/vendor/msgpack/index.mjs";
import { ChatClient, CONTENT_WARNINGS } from "../../clients/web/client.js";
import { parseLink } from "../../clients/web/link.js";
import { toB64u } from "../../clients/web/bytes.js";
import { FakeRoom, facilitator, member } from "./harness.mjs";

/** Just enough of the browser's WebSocket for ChatClient. */
class FakeSocket extends EventTarget {
  static last = null;
  constructor(url, protocol) {
    super();
    this.url = url;
    this.protocol = protocol;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.last = this;
    queueMicrotask(() => this.dispatchEvent(new Event("open")));
  }
  send(data) {
    assert.ok(data instanceof Uint8Array, "frames are binary");
    this.sent.push(decode(data));
  }
  close(code = 1000) {
    this.closedWith = code;
    this.serverClose(code);
  }
  serverSend(frame) {
    const bytes = encode(frame);
    const ev = new Event("message");
    ev.data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    this.dispatchEvent(ev);
  }
  serverClose(code, reason = "") {
    const ev = new Event("close");
    ev.code = code;
    ev.reason = reason;
    this.dispatchEvent(ev);
  }
}

/** Wait until the client has processed everything delivered so far. */
async function settle(client) {
  let seen;
  do {
    seen = client.inbound;
    await seen;
  } while (seen !== client.inbound);
}

/** Puts a ChatClient into a FakeRoom, where codecs are expected. */
class SocketPeer {
  constructor(client) {
    this.client = client;
    this.role = client.role;
  }
  get bundle() {
    return this.client.codec.bundle;
  }
  async handle(frame) {
    FakeSocket.last = null;
    this.socket.serverSend(frame);
    await settle(this.client);
    return [];
  }
  takeOutgoing() {
    return this.socket.sent.splice(0);
  }
}

const RULES = { t: "rules", group: { id: "g_0123456789ab", title: "Tuesday group" }, rules: ["Be kind."], digest: "a8e4d80bd43bd726", crisis_resources: [] };

async function memberInRoom({ withKey = true } = {}) {
  const r = new FakeRoom();
  const fac = await facilitator();
  const F = await r.join(fac.codec, { name: "Alex" });
  const fragment = withKey ? `#seat=TOKEN123&f=${toB64u(fac.identity.pub)}` : "#seat=TOKEN123";
  const seenRules = [];
  const client = new ChatClient({
    name: "Robin",
    link: `https://chat.example/join${fragment}`,
    url: "ws://127.0.0.1:8000/ws",
    WebSocket: FakeSocket,
    acceptRules: (rules) => {
      seenRules.push(rules);
      return true;
    },
  });
  const events = [];
  for (const type of ["msg", "warning", "error", "roster", "close", "private", "welcome", "deleted", "ended"]) {
    client.addEventListener(type, (e) => events.push({ type, ...e.detail }));
  }
  await client.connect();
  const socket = FakeSocket.last;
  const [hello] = socket.sent.splice(0);
  socket.serverSend(RULES);
  await settle(client);
  const [accept] = socket.sent.splice(0);
  const peer = new SocketPeer(client);
  peer.socket = socket;
  const A = await r.join(peer, { name: "Robin" });
  return { r, fac, F, A, client, socket, hello, accept, seenRules, events };
}

test("the handshake sends the seat token only, the bundle, and the rules digest", async () => {
  const { client, socket, hello, accept, seenRules } = await memberInRoom();
  assert.equal(socket.url, "ws://127.0.0.1:8000/ws");
  assert.equal(socket.protocol, "safespace.v1");
  assert.equal(socket.binaryType, "arraybuffer");
  assert.equal(hello.t, "hello");
  assert.equal(hello.v, 1);
  assert.equal(hello.role, "member");
  assert.equal(hello.link, "TOKEN123"); // never the fragment's keys
  assert.equal(hello.name, "Robin");
  assert.equal(hello.keys.length, 65);
  assert.equal(seenRules[0].digest, RULES.digest);
  assert.equal(accept.t, "accept");
  assert.equal(accept.rules, RULES.digest);
  assert.equal(client.me, "p2");
});

test("declining the rules leaves", async () => {
  const client = new ChatClient({ name: "Sam", link: "#seat=T", url: "ws://x/ws", WebSocket: FakeSocket, acceptRules: () => false });
  await client.connect();
  const socket = FakeSocket.last;
  socket.sent.splice(0);
  socket.serverSend(RULES);
  await settle(client);
  assert.deepEqual(socket.sent, [{ t: "leave" }]);
});

test("keys are exchanged, messages go both ways, own messages read from memory", async () => {
  const { r, F, A, client, events } = await memberInRoom();
  await client.keysReady([F], 1000);
  await client.send("hello from the browser");
  await r.relay(A);
  const mine = events.find((e) => e.type === "msg");
  assert.equal(mine.text, "hello from the browser");
  assert.equal(mine.own, true);
  assert.equal(r.seen(F, mine.id), "hello from the browser");

  const id = await r.say(F, "welcome, Robin");
  const theirs = events.filter((e) => e.type === "msg").at(-1);
  assert.deepEqual([theirs.id, theirs.text, theirs.name, theirs.own], [id, "welcome, Robin", "Alex", false]);
  assert.deepEqual(client.messages.map((m) => m.text), ["hello from the browser", "welcome, Robin"]);
  assert.ok(client.participants().find((p) => p.pid === F).trusted);
  assert.equal(events.filter((e) => e.type === "warning").length, 0);

  await client.privateToFacilitators("can we talk after?");
  await r.relay(A);
  assert.equal(r.events(F, "private")[0].text, "can we talk after?");
  await client.report(id, "just testing reports");
  await r.relay(A);
  assert.equal(r.events(F, "report")[0].verified, true);
});

test("content warnings: detected, sealed in the body by send({cw}), and on both ends' msg events", async () => {
  const { r, F, A, client, events } = await memberInRoom();
  assert.equal(CONTENT_WARNINGS, true);
  await client.keysReady([F], 1000);
  await client.send("hard words", { cw: " self-harm " });
  await r.relay(A);
  const mine = events.filter((e) => e.type === "msg").at(-1);
  assert.deepEqual([mine.text, mine.cw, mine.own], ["hard words", "self-harm", true]);
  const theirs = r.events(F, "message").find((e) => e.id === mine.id);
  assert.deepEqual([theirs.text, theirs.cw], ["hard words", "self-harm"]);

  const id = await r.say(F, "about my loss", { cw: "grief" });
  const got = events.filter((e) => e.type === "msg").at(-1);
  assert.deepEqual([got.id, got.text, got.cw, got.own], [id, "about my loss", "grief", false]);
  // The warning comes from the codec's event, not from the body kept for reports.
  client.codec.reportable.clear();
  const again = await r.say(F, "more", { cw: "grief" });
  assert.equal(events.filter((e) => e.type === "msg").at(-1).cw, "grief");
  assert.equal(client.messages.find((m) => m.id === again).cw, "grief");

  await assert.rejects(client.send("too much", { cw: "w".repeat(81) }), { code: "cw_too_long" });
  const plain = await r.say(F, "plain");
  assert.ok(!("cw" in events.filter((e) => e.type === "msg").find((e) => e.id === plain)));
});

test("a distribution the codec queued goes out before the next message", async () => {
  const { r, F, A, client, socket } = await memberInRoom();
  const K = await r.join(await member([r.people.get(F).codec.identity.pub]), { name: "Kim" });
  await r.stepOut(K); // the client rekeys
  socket.sent.length = 0;
  await r.inject(A, { t: "presence", pid: F, present: false }); // another rekey, not relayed yet
  await client.send("after the rekey");
  const kinds = socket.sent.map((f) => f.t);
  assert.ok(kinds.indexOf("direct") < kinds.indexOf("chat"), kinds.join(","));
  assert.equal(socket.sent.find((f) => f.t === "chat").ref > 0, true);
});

test("server errors, deletions, ended and close reach the page", async () => {
  const { r, F, A, client, socket, events } = await memberInRoom();
  await client.keysReady(undefined, 1000);
  const ref = await client.send("one");
  await r.relay(A);
  await r.inject(A, { t: "error", code: "muted", message: "A facilitator has muted you; your messages are not being sent.", ref });
  assert.equal(events.find((e) => e.type === "error").ref, ref);
  const id = client.messages[0].id;
  await r.inject(A, { t: "deleted", id, by: F });
  assert.equal(client.messages.length, 0);
  await r.inject(A, { t: "ended", reason: "ended_by_facilitator" });
  socket.serverClose(4000);
  await settle(client);
  assert.deepEqual(events.filter((e) => e.type === "close").map((e) => e.code), [4000]);
  assert.ok(events.some((e) => e.type === "ended"));
  await assert.rejects(client.send("too late"));
});

test("hand, step out and leave are plain frames with refs", async () => {
  const { client, socket } = await memberInRoom();
  socket.sent.length = 0;
  client.hand(true);
  client.stepOut();
  client.leave();
  assert.deepEqual(socket.sent.map((f) => [f.t, f.up]), [["hand", true], ["step_out", undefined], ["leave", undefined]]);
  assert.ok(socket.sent.every((f) => Number.isInteger(f.ref)));
});

test("alerts: alert, alert_seen and handled are plain frames with refs; alert_status reaches the page only whole", async () => {
  const { client, socket } = await memberInRoom();
  const statuses = [];
  client.addEventListener("alert_status", (e) => statuses.push(e.detail));
  socket.sent.length = 0;
  const refs = [client.alert("support"), client.alert("content", "self_harm"), client.alertSeen(3), client.handled(3)];
  assert.deepEqual(
    socket.sent.map(({ ref, ...f }) => f),
    [
      { t: "alert", kind: "support" },
      { t: "alert", kind: "content", category: "self_harm" },
      { t: "alert_seen", id: 3 },
      { t: "handled", id: 3 },
    ],
  );
  assert.deepEqual(socket.sent.map((f) => f.ref), refs);
  socket.serverSend({ t: "alert_status", id: 1, kind: "support", status: "waiting" });
  socket.serverSend({ t: "alert_status", id: "1", kind: "support", status: "seen" }); // id not an int
  socket.serverSend({ t: "alert_status", id: 1, kind: "support", status: "on its way" }); // not a status
  socket.serverSend({ t: "alert_status", id: 1, kind: "support", status: "handled" });
  await settle(client);
  assert.deepEqual(statuses, [
    { id: 1, kind: "support", status: "waiting" },
    { id: 1, kind: "support", status: "handled" },
  ]);
});

test("a link without f keys warns at once and on every send", async () => {
  const { r, A, client, events } = await memberInRoom({ withKey: false });
  assert.equal(events.find((e) => e.type === "warning").code, "unverified_link");
  const before = events.filter((e) => e.type === "warning").length;
  await client.send("hi");
  await r.relay(A);
  assert.equal(events.filter((e) => e.type === "warning").length, before + 1);
});

test("keysReady times out when a participant never sends its chain", async () => {
  const { client } = await memberInRoom();
  await assert.rejects(client.keysReady(["p9"], 50), { code: "timeout" });
});

test("wipe forgets the transcript and the keys", async () => {
  const { r, A, client } = await memberInRoom();
  await client.keysReady(undefined, 1000);
  await client.send("forget this");
  await r.relay(A);
  assert.equal(client.messages.length, 1);
  client.wipe();
  await settle(client);
  assert.equal(client.messages.length, 0);
  assert.equal(client.participants().length, 0);
  assert.equal(client.codec.chain, null);
});

test("links: seat token and facilitator keys; a damaged key is refused", () => {
  const key = new Uint8Array(32).fill(3);
  const parsed = parseLink(`https://h/join#seat=abc_DEF-1&f=${toB64u(key)}&f=${toB64u(key)}`);
  assert.equal(parsed.seat, "abc_DEF-1");
  assert.deepEqual(parsed.identities, [key]);
  assert.deepEqual(parseLink("#seat=x"), { seat: "x", identities: [] });
  assert.deepEqual(parseLink(""), { seat: null, identities: [] });
  assert.throws(() => parseLink("#seat=x&f=AAAA"), { code: "bad_link" });
  assert.throws(() => parseLink("#seat=x&f=not*b64"), { code: "bad_link" });
  assert.throws(() => parseLink(`#seat=x&f=${toB64u(key)}=`), { code: "bad_link" });
});

test("no message text is ever put in browser storage, cookies or the URL", () => {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "../../clients/web");
  // (A bare `globalThis.indexedDB` feature check is no storage: opening it is.)
  const forbidden = /localStorage|sessionStorage|indexedDB\.open|document\.cookie|history\.(push|replace)State|location\.(hash|search)\s*=/;
  // One file may use IndexedDB, for one thing: the facilitator console's
  // identity key (a non-extractable CryptoKey), never text. It is checked
  // on its own below.
  const KEY_STORE = "console-identity.js";
  // And one file may use sessionStorage, for a reload of the console's tab:
  // the API token, a group id and the session's anchor memory (docs/e2ee.md
  // section 3.1: an anchor and pids), under three keys, and nothing else.
  const TAB_STORE = "console-keep.js";
  // And one may use localStorage: the co-facilitators' public identity keys this
  // device trusts (docs/e2ee.md section 3.2), under one key, nothing else.
  const COFAC_STORE = "console-cofacilitators.js";
  // And the room page's, for a reload of its tab: the chosen name and the
  // accepted rules' digest, under a digest of the link, under one key.
  const ROOM_STORE = "room-keep.js";
  const own = new Set([KEY_STORE, TAB_STORE, COFAC_STORE, ROOM_STORE]);
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".js") && !own.has(f))) {
    const code = readFileSync(join(dir, file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(code, forbidden, file);
  }
  const keyStore = readFileSync(join(dir, KEY_STORE), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  assert.doesNotMatch(keyStore, /localStorage|sessionStorage|document\.cookie|location\.(hash|search)\s*=/);
  // What it puts there: the record {key, pub}, and nothing else.
  const puts = [...keyStore.matchAll(/\.put\(([^)]*)\)/g)].map((m) => m[1].replace(/\s+/g, " "));
  assert.ok(puts.length >= 1, "the key store writes with put()");
  for (const put of puts) {
    assert.match(put, /^\{ ?(pub: [\w.]+, key: [\w.]+|key: [\w.]+, pub: [\w.]+) ?\}, \w+$/, put);
  }
  const cofacStore = readFileSync(join(dir, COFAC_STORE), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  assert.doesNotMatch(cofacStore, /sessionStorage|indexedDB|document\.cookie|location\.(hash|search)\s*=/);
  assert.deepEqual([...cofacStore.matchAll(/localStorage\.\w+\((\w+)/g)].map((m) => m[1]), ["STORAGE", "STORAGE"]);
  assert.match(cofacStore, /const STORAGE = "safespace\.cofacilitators";/);
  const tabStore = readFileSync(join(dir, TAB_STORE), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  assert.doesNotMatch(tabStore, /localStorage|indexedDB|document\.cookie|location\.(hash|search)\s*=/);
  // One setItem, whose key is one of the two names below, each put() by one export.
  assert.deepEqual([...tabStore.matchAll(/sessionStorage\.setItem\((\w+),/g)].map((m) => m[1]), ["key"]);
  assert.deepEqual([...tabStore.matchAll(/= \(\w+\) => put\((\w+), \w+\)/g)].map((m) => m[1]).sort(), ["GROUP", "TOKEN"]);
  // Its storage keys, the only names it declares.
  assert.deepEqual([...tabStore.matchAll(/const \w+ = "([^"]*)"/g)].map((m) => m[1]).sort(), [
    "safespace.console.anchor",
    "safespace.console.group",
    "safespace.console.token",
  ]);
  const roomStore = readFileSync(join(dir, ROOM_STORE), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  assert.doesNotMatch(roomStore, /localStorage|indexedDB|document\.cookie|location\.(hash|search)\s*=/);
  assert.deepEqual([...roomStore.matchAll(/sessionStorage\.setItem\(([^;]*)\);/g)].map((m) => m[1]), [
    "STORAGE, JSON.stringify({ link: await linkDigest(link), name, digest })",
  ]);
  assert.match(roomStore, /const STORAGE = "safespace\.room";/);
  // The anchor memory: its session, the anchor and the pids, nothing more.
  assert.deepEqual([...tabStore.matchAll(/put\(ANCHOR, ([^;]*)\);/g)].map((m) => m[1]), [
    "JSON.stringify({ group, session, anchor: toB64u(anchor), vouched })",
    "null",
  ]);
});

test("a facilitator's page: whom the server let past the closed door is shown unadmitted until let in; barred keys are marked", async () => {
  const { ed25519KeyPair } = await import("../../clients/web/e2ee-primitives.js");
  const r = new FakeRoom({ state: "live_locked" });
  const identity = await ed25519KeyPair();
  const client = new ChatClient({ role: "facilitator", group: r.group, token: "T", name: "Alex", identity, url: "ws://x/ws", WebSocket: FakeSocket });
  const warnings = [];
  client.addEventListener("warning", (e) => warnings.push(e.detail));
  await client.connect();
  const peer = new SocketPeer(client);
  peer.socket = FakeSocket.last;
  peer.socket.sent.splice(0);
  const F = await r.join(peer, { name: "Alex" });
  const K = await r.join(await member([identity.pub]), { name: "Kim" });
  const kim = () => client.participants().find((p) => p.pid === K);
  assert.equal(kim().unadmitted, true);
  assert.equal(kim().trusted, false);
  const said = warnings.find((w) => w.code === "not_admitted");
  assert.equal(said.pid, K);
  assert.match(said.message, /^Kim entered while your door was closed, without your admission\./);
  await client.vouchFor(K);
  await r.relay(F);
  assert.equal(kim().unadmitted, false);
  assert.equal(kim().trusted, true);
  // Removed with our signature, then shown again by the server: barred, never trusted.
  const entry = r.entry(r.people.get(K));
  await r.remove(K, { signed: client.codec });
  await r.inject(F, { t: "joined", p: { ...entry, pid: "p9", present: true } });
  await settle(client);
  const shown = client.participants().find((p) => p.pid === "p9");
  assert.equal(shown.barred, true);
  assert.equal(shown.trusted, false);
  assert.match(warnings.at(-1).message, /^The server shows Kim with the keys of someone a facilitator removed/);
});
