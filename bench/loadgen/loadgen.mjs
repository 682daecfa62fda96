// The fan-out load generator: R rooms x M members against one relay.
//
// Every member sends a payload (200 bytes by default) and, in the closed loop,
// sends its next one as soon as its own copy comes back; after a warm-up it
// counts, for a fixed window, every frame every member receives (delivered
// frames) and the time from send to own-copy-back (latency). It prints JSON
// lines: progress events, then one `{"event":"result", ...}` line.
//
// Modes: `safespace` (our protocol, through seat links and the rules),
// `ws` (a raw websockets relay: a text frame naming the room, then binary
// payloads) and `socketio` (socket.io rooms, websocket transport).
//
// It must not be the bottleneck: it reports its own CPU use over the window.
// It targets one loopback address, and stops by itself (--deadline).

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import { Decoder, encode } from "@msgpack/msgpack";
import { io } from "socket.io-client";
import WebSocket from "ws";

import { Samples } from "./stats.mjs";

const SUBPROTOCOL = "safespace.v1";
const STEP_TIMEOUT_MS = 30_000;

const { values: opt } = parseArgs({
  options: {
    mode: { type: "string", default: "safespace" },
    url: { type: "string", default: "http://127.0.0.1:8000" },
    rooms: { type: "string", default: "100" },
    members: { type: "string", default: "8" },
    payload: { type: "string", default: "200" },
    warmup: { type: "string", default: "2" },
    duration: { type: "string", default: "6" },
    rate: { type: "string", default: "0" },
    slice: { type: "string", default: "0" },
    early: { type: "string", default: "0" },
    setup: { type: "string" },
    auth: { type: "string", default: "token" },
    "keep-facilitators": { type: "boolean", default: false },
    "quiet-rooms": { type: "string", default: "0" },
    stall: { type: "boolean", default: false },
    "stall-half": { type: "boolean", default: false },
    idle: { type: "boolean", default: false },
    hold: { type: "string", default: "120" },
    "pause-after-open": { type: "boolean", default: false },
    concurrency: { type: "string", default: "64" },
    deadline: { type: "string", default: "600" },
    "sio-client": { type: "string", default: "fast" },
  },
});

const mode = opt.mode;
const R = int(opt.rooms);
const M = int(opt.members);
const PAYLOAD = int(opt.payload);
const WARMUP_MS = Number(opt.warmup) * 1000;
const DURATION_MS = Number(opt.duration) * 1000;
const RATE = Number(opt.rate); // messages per second per member; 0 = closed loop
const SLICE_MS = Number(opt.slice) * 1000;
// The stall phase's measuring window: the first EARLY_MS of the run, while a
// member that stopped reading is still connected and its queue is filling
// (later, the server has closed it and its room has one recipient fewer).
const EARLY_MS = Number(opt.early) * 1000;
const QUIET_ROOMS = Math.min(int(opt["quiet-rooms"]), R);
// --stall: every quiet member stops reading. --stall-half: every other one
// does and the rest read, so that the others in a room with a stalled member
// compare with the others in a room like it, in the same run (bench/stall.py).
const STALL_HALF = Boolean(opt["stall-half"]);
const CONCURRENCY = Math.max(1, int(opt.concurrency));
const base = opt.url.replace(/\/$/, "");
const wsBase = base.replace(/^http/, "ws");

if (!["safespace", "ws", "socketio"].includes(mode)) fail(`unknown mode ${mode}`);
if (PAYLOAD < 8) fail("payload must be at least 8 bytes");
if (mode === "safespace" && !opt.setup) fail("mode safespace needs --setup FILE");

// Stop by ourselves whatever happens.
setTimeout(() => fail(`deadline of ${opt.deadline} s reached`), Number(opt.deadline) * 1000).unref();

function int(s) {
  const n = Number.parseInt(s, 10);
  if (!Number.isFinite(n) || n < 0) fail(`not a count: ${s}`);
  return n;
}

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function fail(message) {
  emit({ event: "error", message });
  process.exit(2);
}

function openFilesLimit() {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    return Number(line.split(/\s+/)[3]);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

// ---- stdin: the orchestrator says "go" ---------------------------------------

let stdinLines = null;
function nextStdinLine(timeoutMs) {
  if (stdinLines === null) {
    stdinLines = { waiters: [], closed: false };
    const rl = createInterface({ input: process.stdin });
    rl.on("line", () => stdinLines.waiters.shift()?.());
    rl.on("close", () => {
      stdinLines.closed = true;
      for (const w of stdinLines.waiters.splice(0)) w();
    });
  }
  return new Promise((resolve) => {
    if (stdinLines.closed) return resolve();
    const timer = setTimeout(resolve, timeoutMs);
    stdinLines.waiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// ---- helpers -------------------------------------------------------------------

async function pool(items, limit, job) {
  let next = 0;
  const failures = [];
  async function worker() {
    while (next < items.length) {
      const i = next++;
      try {
        await job(items[i], i);
      } catch (e) {
        failures.push(String(e?.message ?? e));
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return failures;
}

function readU32(u8, off) {
  return (u8[off] | (u8[off + 1] << 8) | (u8[off + 2] << 16) | (u8[off + 3] << 24)) >>> 0;
}

function writeU32(u8, off, v) {
  u8[off] = v & 0xff;
  u8[off + 1] = (v >>> 8) & 0xff;
  u8[off + 2] = (v >>> 16) & 0xff;
  u8[off + 3] = (v >>> 24) & 0xff;
}

function openWs(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, {
      perMessageDeflate: false,
      handshakeTimeout: STEP_TIMEOUT_MS,
      maxPayload: 1 << 20,
    });
    ws.binaryType = "nodebuffer";
    const onError = (e) => reject(e);
    ws.once("error", onError);
    ws.once("open", () => {
      ws.off("error", onError);
      ws.on("error", () => {}); // reported through "close"
      resolve(ws);
    });
  });
}

const decoder = new Decoder();

/** Handshake helper: decoded frames of one safespace socket, awaited by type. */
class Frames {
  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiter = null;
    this.closed = null;
    ws.on("message", (data) => {
      this.queue.push(decoder.decode(data));
      this.wake();
    });
    ws.on("close", (code) => {
      this.closed = code;
      this.wake();
    });
  }

  wake() {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  send(frame) {
    this.ws.send(encode(frame));
  }

  async until(type) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      while (this.queue.length) {
        const f = this.queue.shift();
        if (f?.t === type) return f;
        if (f?.t === "error") throw new Error(`${type}: error ${f.code}: ${f.message}`);
      }
      if (this.closed !== null) throw new Error(`${type}: closed ${this.closed}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${type}: timed out`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Hand the socket over to the fast path. */
  detach() {
    this.ws.removeAllListeners("message");
    this.ws.removeAllListeners("close");
  }
}

// ---- the measurement -----------------------------------------------------------

let running = false;
let inWindow = false;
let windowStart = 0;
let delivered = 0;
let sent = 0;
let errors = 0;
const closes = {};
const samples = new Samples();
const earlySamples = new Samples();
// The first seconds again, by the kind of room the receiving member is in.
const earlyByRoom = { stalled: new Samples(), control: new Samples(), plain: new Samples() };
const slices = [];

function currentSlice(now) {
  if (!SLICE_MS) return null;
  const i = Math.floor((now - windowStart) / SLICE_MS);
  if (i >= Math.floor(DURATION_MS / SLICE_MS)) return null;
  while (slices.length <= i) slices.push({ delivered: 0, samples: new Samples() });
  return slices[i];
}

class Member {
  constructor(g, room, quiet, roomKind) {
    this.g = g; // global index, written into every payload it sends
    this.room = room;
    this.quiet = quiet;
    this.roomKind = roomKind; // "stalled", "control" (its quiet member reads) or "plain"
    this.seq = 0;
    this.sentAt = 0;
    this.ring = RATE > 0 ? new Float64Array(1024) : null; // open loop: seq -> send time
    this.transport = null; // set by connect
    this.closed = false;
    this.timer = null;
    this.template = Buffer.alloc(PAYLOAD);
    for (let i = 8; i < PAYLOAD; i++) this.template[i] = (i * 131 + g) & 0xff;
    writeU32(this.template, 0, g);
  }

  sendNext() {
    if (this.closed) return;
    this.seq = (this.seq + 1) >>> 0;
    const now = performance.now();
    this.sentAt = now;
    if (this.ring !== null) this.ring[this.seq & 1023] = now;
    sent++;
    this.transport.send(this.seq);
  }

  /** A payload arrived at this member (its own or another's). */
  onPayload(u8) {
    delivered++;
    const now = performance.now();
    const slice = inWindow && SLICE_MS ? currentSlice(now) : null;
    if (slice !== null) slice.delivered++;
    if (readU32(u8, 0) !== this.g) return;
    const seq = readU32(u8, 4);
    let rtt;
    if (this.ring !== null) {
      if (this.seq - seq >= 1024) return;
      rtt = now - this.ring[seq & 1023];
    } else {
      if (seq !== this.seq) return;
      rtt = now - this.sentAt;
    }
    if (inWindow) {
      samples.add(rtt);
      if (EARLY_MS && now - windowStart < EARLY_MS) {
        earlySamples.add(rtt);
        earlyByRoom[this.roomKind].add(rtt);
      }
      slice?.samples.add(rtt);
    }
    if (running && this.ring === null) this.sendNext();
  }

  onClose(code) {
    this.closed = true;
    closes[code] = (closes[code] ?? 0) + 1;
  }
}

// ---- transports ------------------------------------------------------------------

// The envelope {t: "msg", id, from, payload, ts} as our server encodes it starts
// with these bytes; for those the payload is found without decoding the map
// (the generator must stay cheaper than the server). Anything else is decoded.
const MSG_PREFIX = Buffer.from([0x85, 0xa1, 0x74, 0xa3, 0x6d, 0x73, 0x67]);
const PAYLOAD_KEY = Buffer.from([0xa7, ...Buffer.from("payload")]);

function msgPayload(data) {
  if (data.length < 32 || data.compare(MSG_PREFIX, 0, 7, 0, 7) !== 0) return null;
  const k = data.indexOf(PAYLOAD_KEY, 7);
  if (k < 0) return null;
  const at = k + PAYLOAD_KEY.length;
  let len;
  let start;
  if (data[at] === 0xc4) {
    len = data[at + 1];
    start = at + 2;
  } else if (data[at] === 0xc5) {
    len = data.readUInt16BE(at + 1);
    start = at + 3;
  } else {
    return null;
  }
  return start + len <= data.length ? data.subarray(start, start + len) : null;
}

class SafespaceTransport {
  constructor(member, ws) {
    this.ws = ws;
    this.frame = Buffer.from(encode({ t: "chat", payload: member.template }));
    this.at = this.frame.length - PAYLOAD;
    if (readU32(this.frame, this.at) !== member.g) throw new Error("unexpected chat encoding");
    ws.on("message", (data) => {
      const payload = msgPayload(data);
      if (payload !== null) {
        member.onPayload(payload);
        return;
      }
      const f = decoder.decode(data);
      if (f.t === "msg") member.onPayload(f.payload);
      else if (f.t === "error") {
        errors++;
        // Refused (e.g. flood control): try again shortly, so the loop goes on.
        if (running && f.code !== "not_in_room") setTimeout(() => member.sendNext(), 50);
      }
    });
    ws.on("close", (code) => member.onClose(code));
  }

  send(seq) {
    writeU32(this.frame, this.at + 4, seq); // ws copies the frame when it masks it
    this.ws.send(this.frame);
  }

  pause() {
    this.ws.pause();
  }

  close() {
    this.ws.terminate();
  }
}

class RawWsTransport {
  constructor(member, ws) {
    this.ws = ws;
    this.buf = Buffer.from(member.template);
    ws.on("message", (data, isBinary) => {
      if (isBinary) member.onPayload(data);
    });
    ws.on("close", (code) => member.onClose(code));
  }

  send(seq) {
    writeU32(this.buf, 4, seq);
    this.ws.send(this.buf);
  }

  pause() {
    this.ws.pause();
  }

  close() {
    this.ws.terminate();
  }
}

// A binary `msg` event on the wire (Engine.IO 4, Socket.IO 5): a text frame
// `451-["msg",{"_placeholder":true,"num":0}]`, then the payload as a binary frame.
const SIO_MSG_HEADER = '451-["msg",{"_placeholder":true,"num":0}]';
const SIO_MSG_PREFIX = Buffer.from('451-["msg"');

class SocketIoTransport {
  // With --sio-client full, every message goes through socket.io-client's own
  // parser and emitter, which costs the generator more CPU than the Node server
  // spends relaying it. By default ("fast") socket.io-client makes the
  // connection and the join, and then the generator reads and writes the same
  // frames on the client's own websocket itself; everything else (pings,
  // disconnects) still goes to socket.io-client. The server sees the same bytes.
  constructor(member, sock, fast) {
    this.sock = sock;
    this.buf = Buffer.from(member.template);
    this.raw = null;
    sock.on("disconnect", (reason) => member.onClose(reason));
    const engineTransport = sock.io.engine?.transport;
    const raw = engineTransport?.ws;
    // The `ws` socket engine.io-client made (whichever copy of `ws` it uses).
    const usable = typeof raw?.on === "function" && typeof raw?.send === "function";
    if (!fast || !usable) {
      sock.on("msg", (data) => member.onPayload(data));
      return;
    }
    this.raw = raw;
    let attachmentIsMsg = false;
    raw.onmessage = null;
    raw.on("message", (data, isBinary) => {
      const bytes = data instanceof ArrayBuffer ? Buffer.from(data) : data;
      if (isBinary) {
        if (attachmentIsMsg) {
          attachmentIsMsg = false;
          member.onPayload(bytes);
        } else {
          engineTransport.onData(bytes);
        }
      } else if (bytes.length > SIO_MSG_PREFIX.length && bytes.compare(SIO_MSG_PREFIX, 0, SIO_MSG_PREFIX.length, 0, SIO_MSG_PREFIX.length) === 0) {
        attachmentIsMsg = true;
      } else {
        engineTransport.onData(bytes.toString());
      }
    });
  }

  send(seq) {
    if (this.raw !== null) {
      writeU32(this.buf, 4, seq); // ws copies the frame when it masks it
      this.raw.send(SIO_MSG_HEADER);
      this.raw.send(this.buf);
      return;
    }
    // A fresh buffer each time: socket.io may still hold the last one in its queue.
    const buf = Buffer.from(this.buf);
    writeU32(buf, 4, seq);
    this.sock.emit("msg", buf);
  }

  pause() {
    (this.raw ?? this.sock.io.engine?.transport?.ws)?.pause?.();
  }

  close() {
    this.sock.disconnect();
  }
}

// ---- connecting ---------------------------------------------------------------------

async function openSafespaceRooms(setup) {
  if (setup.rooms.length < R) fail(`setup has ${setup.rooms.length} rooms, ${R} asked`);
  const kept = [];
  const failures = await pool(setup.rooms.slice(0, R), CONCURRENCY, async (room) => {
    const ws = await openWs(`${wsBase}/ws`, SUBPROTOCOL);
    const frames = new Frames(ws);
    const hello = { t: "hello", v: 1, role: "facilitator", group: room.group, name: "facilitator" };
    if (opt.auth === "password") Object.assign(hello, { user: setup.user, password: setup.password });
    else hello.token = setup.token;
    frames.send(hello);
    const welcome = await frames.until("welcome");
    if (welcome.state === "scheduled") {
      frames.send({ t: "open" });
      await frames.until("state");
    }
    if (opt["keep-facilitators"]) {
      frames.detach();
      kept.push(ws);
    } else {
      ws.close(1000);
    }
  });
  return { failures, kept };
}

async function connectMember(member, setup) {
  if (mode === "safespace") {
    const link = setup.rooms[member.room].links[member.g % M];
    const ws = await openWs(`${wsBase}/ws`, SUBPROTOCOL);
    const frames = new Frames(ws);
    frames.send({ t: "hello", v: 1, role: "member", link, name: `m${member.g}` });
    const rules = await frames.until("rules");
    frames.send({ t: "accept", rules: rules.digest });
    await frames.until("welcome");
    frames.detach();
    member.transport = new SafespaceTransport(member, ws);
  } else if (mode === "ws") {
    const ws = await openWs(`${wsBase}/`);
    const ok = new Promise((resolve, reject) => {
      ws.once("message", (data, isBinary) =>
        !isBinary && String(data) === "ok" ? resolve() : reject(new Error("no join ack")),
      );
      ws.once("close", (code) => reject(new Error(`closed ${code}`)));
    });
    ws.send(`room-${member.room}`);
    await ok;
    ws.removeAllListeners("message");
    ws.removeAllListeners("close");
    member.transport = new RawWsTransport(member, ws);
  } else {
    const sock = io(base, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      timeout: STEP_TIMEOUT_MS,
      perMessageDeflate: false,
    });
    await new Promise((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("connect_error", reject);
    });
    const ack = await sock.timeout(STEP_TIMEOUT_MS).emitWithAck("join", `room-${member.room}`);
    if (ack !== "ok") throw new Error(`join refused: ${ack}`);
    member.transport = new SocketIoTransport(member, sock, opt["sio-client"] !== "full");
  }
}

function quietRoom(r) {
  if (QUIET_ROOMS === 0) return false;
  const step = Math.floor(R / QUIET_ROOMS);
  return r % step === 0 && r / step < QUIET_ROOMS;
}

function roomKind(r) {
  if (!quietRoom(r)) return "plain";
  if (opt.stall && !STALL_HALF) return "stalled";
  if (!STALL_HALF) return "control";
  return (r / Math.floor(R / QUIET_ROOMS)) % 2 === 0 ? "stalled" : "control";
}

// ---- main ---------------------------------------------------------------------------

async function main() {
  const setup = opt.setup ? JSON.parse(readFileSync(opt.setup, "utf8")) : null;
  const total = R * M;
  const limit = openFilesLimit();
  if (limit < total + R + 64) {
    process.stderr.write(`loadgen: open files limit ${limit} is low for ${total} connections\n`);
  }
  const members = [];
  for (let r = 0; r < R; r++) {
    const kind = roomKind(r);
    for (let m = 0; m < M; m++) members.push(new Member(r * M + m, r, m === 0 && quietRoom(r), kind));
  }

  const t0 = performance.now();
  let kept = [];
  if (mode === "safespace") {
    const opened = await openSafespaceRooms(setup);
    kept = opened.kept;
    if (opened.failures.length) fail(`opening rooms: ${opened.failures.length} failed: ${opened.failures[0]}`);
    emit({ event: "rooms_open", rooms: R, seconds: (performance.now() - t0) / 1000 });
    if (opt["pause-after-open"]) await nextStdinLine(Number(opt.hold) * 1000);
  }
  const t1 = performance.now();
  const failures = await pool(members, CONCURRENCY, (m) => connectMember(m, setup));
  const connected = members.filter((m) => m.transport !== null);
  const connectSeconds = (performance.now() - t1) / 1000;
  emit({ event: "connected", connected: connected.length, failed: failures.length, seconds: connectSeconds });
  if (failures.length) process.stderr.write(`loadgen: first connect failure: ${failures[0]}\n`);

  const summary = {
    event: "result",
    mode,
    rooms: R,
    members: M,
    connections: connected.length,
    connect_failures: failures.length,
    connect_seconds: round(connectSeconds, 2),
    sio_fast_path: mode === "socketio" ? connected.filter((m) => m.transport.raw !== null).length : null,
    setup_seconds: round((performance.now() - t0) / 1000, 2),
  };

  if (opt.idle) {
    emit({ event: "ready", connections: connected.length });
    await nextStdinLine(Number(opt.hold) * 1000);
    for (const m of connected) m.transport.close();
    for (const ws of kept) ws.terminate();
    emit(summary);
    process.exit(0);
  }

  // The loop: every member (but the quiet ones) starts sending.
  running = true;
  const quiet = connected.filter((m) => m.quiet);
  const stalled = quiet.filter((m) => m.roomKind === "stalled");
  for (const m of stalled) m.transport.pause();
  const senders = connected.filter((m) => !m.quiet);
  if (RATE > 0) {
    const period = 1000 / RATE;
    for (const m of senders) {
      setTimeout(() => {
        m.sendNext();
        m.timer = setInterval(() => m.sendNext(), period);
      }, Math.random() * period);
    }
  } else {
    for (const m of senders) m.sendNext();
  }

  await sleep(WARMUP_MS);
  const d0 = delivered;
  const s0 = sent;
  const e0 = errors;
  const cpu0 = process.cpuUsage();
  windowStart = performance.now();
  inWindow = true;
  emit({ event: "window_start" });
  await sleep(DURATION_MS);
  inWindow = false;
  const windowMs = performance.now() - windowStart;
  const cpu = process.cpuUsage(cpu0);
  const d1 = delivered;
  const s1 = sent;
  emit({ event: "window_end" });
  running = false;
  for (const m of senders) if (m.timer) clearInterval(m.timer);

  const seconds = windowMs / 1000;
  const result = {
    ...summary,
    payload_bytes: PAYLOAD,
    closed_loop: RATE === 0,
    rate_per_member: RATE,
    window_seconds: round(seconds, 3),
    delivered: d1 - d0,
    delivered_per_s: round((d1 - d0) / seconds, 1),
    sent_per_s: round((s1 - s0) / seconds, 1),
    samples: samples.count,
    p50_ms: round(samples.quantile(0.5), 3),
    p99_ms: round(samples.quantile(0.99), 3),
    max_ms: round(samples.quantile(1), 3),
    loadgen_cpu_pct: round(((cpu.user + cpu.system) / 1000 / windowMs) * 100, 1),
    errors: errors - e0,
    quiet_members: quiet.length,
    stalled_members: stalled.length,
    stalled: stalled.length > 0,
    closes_during_run: closes,
    closed_members: connected.filter((m) => m.closed && !m.quiet).length,
  };
  if (EARLY_MS) {
    result.early = {
      seconds: EARLY_MS / 1000,
      samples: earlySamples.count,
      p50_ms: round(earlySamples.quantile(0.5), 3),
      p99_ms: round(earlySamples.quantile(0.99), 3),
      by_room: Object.fromEntries(
        Object.entries(earlyByRoom).map(([kind, s]) => [
          kind,
          { samples: s.count, p50_ms: round(s.quantile(0.5), 3), p99_ms: round(s.quantile(0.99), 3) },
        ]),
      ),
    };
  }
  if (SLICE_MS) {
    result.slices = slices.map((s, i) => ({
      t: (i * SLICE_MS) / 1000,
      delivered_per_s: round(s.delivered / (SLICE_MS / 1000), 1),
      p99_ms: round(s.samples.quantile(0.99), 3),
    }));
  }
  for (const m of connected) m.transport.close();
  for (const ws of kept) ws.terminate();
  emit(result);
  process.exit(0);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round(x, digits) {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main().catch((e) => fail(String(e?.stack ?? e)));
