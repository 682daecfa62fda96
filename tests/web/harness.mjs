// A stand-in for the server, enough to run several GroupCodecs against each
// other: it relays exactly the frames docs/protocol.md describes, in order,
// and lets a test play the part of a dishonest server too.

import { GroupCodec } from "../../clients/web/codec.js";
import { ed25519KeyPair } from "../../clients/web/e2ee-primitives.js";

export class FakeRoom {
  constructor({ group = "g_0123456789ab", session = "sess-1" } = {}) {
    this.group = group;
    this.session = session;
    this.people = new Map();
    this.nextPid = 1;
    this.nextMsg = 0;
    this.deliveries = [];
    /** every frame the server relayed, for tests that play a dishonest server */
    this.log = [];
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

  async remove(pid) {
    this.people.get(pid).present = false;
    this.people.delete(pid);
    this.#toRoom({ t: "removed", pid, for_good: false });
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
        const target = this.people.get(frame.pid);
        if (target) target.vouches.push({ by: frame.by, sig: frame.sig });
        this.#toRoom({ t: "vouch", pid: frame.pid, by: frame.by, sig: frame.sig });
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

/** A facilitator's codec and its identity. */
export async function facilitator(options = {}) {
  const identity = options.identity ?? (await ed25519KeyPair());
  const codec = await GroupCodec.create({ role: "facilitator", identity, trustedIdentities: options.co ?? [] });
  return { codec, identity };
}

/** A member's codec trusting `identities` (the link's `f` keys). */
export function member(identities) {
  return GroupCodec.create({ role: "member", trustedIdentities: identities });
}

