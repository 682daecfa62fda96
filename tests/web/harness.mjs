// A stand-in for the server, enough to run several GroupCodecs against each
// other: it relays exactly the frames docs/protocol.md describes, in order,
// and lets a test play the part of a dishonest server too.

import { GroupCodec } from "../../clients/web/codec.js";
import { ed25519KeyPair } from "../../clients/web/e2ee-primitives.js";

export class FakeRoom {
  /** `state`: the session state a `welcome` names (docs/protocol.md section 7); "lobby": the door is open. */
  constructor({ group = "g_0123456789ab", session = "sess-1", state = "lobby" } = {}) {
    this.group = group;
    this.session = session;
    this.state = state;
    this.people = new Map();
    this.nextPid = 1;
    this.nextMsg = 0;
    this.deliveries = [];
    /** every frame the server relayed, for tests that play a dishonest server */
    this.log = [];
    /** `(pid, frame) => boolean`: frames to hold back (a server that delays or drops them); see `takeHeld` */
    this.holding = null;
    this.held = [];
  }

  entry(p) {
    return { pid: p.pid, name: p.name, role: p.role, present: p.present, keys: p.codec.bundle, vouches: [...p.vouches] };
  }

  /** Admit a codec: `welcome` to it, `joined` to the room (itself included). */
  async join(codec, { name, role = codec.role } = {}) {
    const pid = `p${this.nextPid++}`;
    const p = { pid, name: name ?? pid, role, present: true, codec, vouches: [], events: [] };
    this.people.set(pid, p);
    this.#to(pid, this.#welcome(p));
    this.#toRoom({ t: "joined", p: this.entry(p) });
    await this.pump();
    return pid;
  }

  #welcome(p) {
    return {
      t: "welcome",
      you: p.pid,
      role: p.role,
      session: this.session,
      state: this.state,
      group: { id: this.group, title: "Tuesday group" },
      roster: [...this.people.values()].map((q) => this.entry(q)),
    };
  }

  async stepOut(pid) {
    this.people.get(pid).present = false;
    this.#toRoom({ t: "presence", pid, present: false });
    await this.pump();
  }

  /** Back from a new page: a new codec (new keys) under the same pid. */
  async comeBack(pid, codec) {
    const p = this.people.get(pid);
    p.codec = codec;
    p.present = true;
    p.events = [];
    this.#to(pid, this.#welcome(p));
    this.#toRoom({ t: "presence", pid, present: true, name: p.name, keys: codec.bundle }, pid);
    await this.pump();
  }

  async leave(pid) {
    this.people.get(pid).present = false;
    this.people.delete(pid);
    this.#toRoom({ t: "left", pid });
    await this.pump();
  }

  /**
   * The server removes `pid`; `by` and `proof` as the remover's page signed them
   * (`signed`: the facilitator's codec that removes, as the console does).
   */
  async remove(pid, { forGood = false, signed } = {}) {
    const proof = signed ? await signed.signRemoval(pid, forGood) : null;
    this.people.get(pid).present = false;
    this.people.delete(pid);
    this.#toRoom({ t: "removed", pid, for_good: forGood, ...(proof ?? {}) });
    await this.pump();
  }

  /** A session state frame from the server to everyone (open, start, lock, unlock). */
  async setState(state) {
    this.state = state;
    this.#toRoom({ t: "state", state, paused: false, started_at: null, slow_mode_seconds: 0 });
    await this.pump();
  }

  /** Relay what `pid` has queued (e.g. after a page action) and deliver the consequences. */
  async relay(pid) {
    const p = this.people.get(pid);
    for (const out of p.codec.takeOutgoing()) this.relayFrom(pid, out);
    await this.pump();
  }

  /** What one participant has sent, handled as the server would. */
  relayFrom(pid, frame) {
    const ts = 1767985200 + this.nextMsg;
    switch (frame.t) {
      case "chat":
        this.#toRoom({ t: "msg", id: ++this.nextMsg, from: pid, payload: frame.payload, ts });
        break;
      case "direct":
        if (this.people.get(frame.to)?.present) this.#to(frame.to, { t: "direct", from: pid, payload: frame.payload });
        break;
      case "vouch": {
        // The latest vouch per signer, as the server keeps it.
        const target = this.people.get(frame.pid);
        const v = { by: frame.by, anchor: frame.anchor, sig: frame.sig };
        if (target) target.vouches = [...target.vouches.filter((o) => !sameBytes(o.by, v.by)), v];
        this.#toRoom({ t: "vouch", pid: frame.pid, ...v });
        break;
      }
      case "private": {
        // A facilitator's reply into a member's thread reaches that member too (docs/protocol.md section 4).
        const sender = this.people.get(pid);
        const thread = frame.to ?? (sender?.role === "facilitator" ? null : pid);
        const out = { t: "private", from: pid, thread, payload: frame.payload, ts };
        this.#toFacilitators(out);
        if (frame.to && this.people.get(frame.to)?.role === "member") this.#to(frame.to, out);
        break;
      }
      case "report":
        this.#toFacilitators({ t: "report", from: pid, msg: frame.msg, payload: frame.payload, ts });
        break;
      default:
        break; // hand, step_out and the rest: not the encryption's business
    }
  }

  #to(pid, frame) {
    this.deliveries.push([pid, frame]);
  }

  #toRoom(frame, except) {
    for (const p of this.people.values()) if (p.present && p.pid !== except) this.#to(p.pid, frame);
  }

  #toFacilitators(frame) {
    for (const p of this.people.values()) if (p.present && p.role === "facilitator") this.#to(p.pid, frame);
  }

  /** The frames held back so far, [pid, frame] in order; holding stops. */
  takeHeld() {
    this.holding = null;
    return this.held.splice(0);
  }

  /** Inject a frame as if the server sent it (a dishonest server, or a replay). */
  async inject(pid, frame) {
    this.#to(pid, frame);
    await this.pump();
  }

  /** Deliver everything queued, in order, and relay what the codecs send back. */
  async pump() {
    while (this.deliveries.length) {
      const [pid, frame] = this.deliveries.shift();
      const p = this.people.get(pid);
      if (!p || !p.present) continue;
      if (this.holding?.(pid, frame)) {
        this.held.push([pid, frame]);
        continue;
      }
      this.log.push({ to: pid, frame });
      const events = await p.codec.handle(frame);
      p.events.push(...events);
      for (const out of p.codec.takeOutgoing()) this.relayFrom(pid, out);
    }
  }

  /** Seal and send a room message from `pid`; `options.cw`: its content warning. */
  async say(pid, text, options = {}) {
    const p = this.people.get(pid);
    await p.codec.sealRoom(text, {}, options);
    for (const out of p.codec.takeOutgoing()) this.relayFrom(pid, out);
    await this.pump();
    return this.nextMsg;
  }

  async privately(pid, text, to = undefined) {
    const p = this.people.get(pid);
    await p.codec.sealPrivate(text, to);
    for (const out of p.codec.takeOutgoing()) this.relayFrom(pid, out);
    await this.pump();
  }

  async report(pid, msgId, note) {
    const p = this.people.get(pid);
    await p.codec.sealReport(msgId, note);
    for (const out of p.codec.takeOutgoing()) this.relayFrom(pid, out);
    await this.pump();
  }

  /** What `pid` saw of message `id`: its text, or null if unreadable. */
  seen(pid, id) {
    const e = this.people.get(pid).events.find((ev) => ev.type === "message" && ev.id === id);
    if (!e) throw new Error(`${pid} never got message ${id}`);
    return e.text;
  }

  events(pid, type) {
    return this.people.get(pid).events.filter((e) => e.type === type);
  }
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** An anchor store in memory, as the console's sessionStorage would keep it across a reload. */
export class MemoryAnchorStore {
  constructor() {
    this.kept = new Map();
  }

  load(group, session) {
    return this.kept.get(`${group}/${session}`) ?? null;
  }

  save(group, session, memory) {
    this.kept.clear();
    this.kept.set(`${group}/${session}`, structuredClone(memory));
  }

  drop() {
    this.kept.clear();
  }
}

/** A facilitator's codec and its identity; `store`: its memory across a reload. */
export async function facilitator(options = {}) {
  const identity = options.identity ?? (await ed25519KeyPair());
  const codec = await GroupCodec.create({
    role: "facilitator",
    identity,
    trustedIdentities: options.co ?? [],
    anchorStore: options.store,
  });
  return { codec, identity };
}

/** A member's codec trusting `identities` (the link's `f` keys). */
export function member(identities) {
  return GroupCodec.create({ role: "member", trustedIdentities: identities });
}

