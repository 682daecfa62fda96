// The shared test vectors (tests/vectors/e2ee.json) checked against
// clients/web/e2ee.js: the browser side must produce exactly the vectors'
// bytes and accept or reject each payload as the file says.
//
// Importable in Node and in a browser page alike: no node: imports here (the
// Node test reads the file and passes the parsed JSON in). In a browser whose
// server does not mirror the repository's layout, pass `base`, the URL of the
// folder that holds e2ee.js, e.g. `runVectors(json, {base: "/web/"})`.

const DEFAULT_BASE = new URL("../../clients/web/", import.meta.url).href;

function hex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

function unhex(text) {
  if (typeof text !== "string" || text.length % 2) throw new Error(`not hex: ${String(text).slice(0, 20)}`);
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * @param {object} vectors the parsed JSON of tests/vectors/e2ee.json
 * @param {{base?: string}} [options] where clients/web's modules are served
 * @returns {Promise<{passed: number, failed: number, failures: string[]}>}
 */
export async function runVectors(vectors, { base = DEFAULT_BASE } = {}) {
  const folder = base.endsWith("/") ? base : `${base}/`;
  const e2ee = await import(new URL("e2ee.js", new URL(folder, globalThis.location?.href ?? import.meta.url)).href);
  const { SenderChains, NonceMemory } = await import(new URL("chains.js", new URL(folder, globalThis.location?.href ?? import.meta.url)).href);

  const result = { passed: 0, failed: 0, failures: [] };
  const check = async (name, fn) => {
    try {
      const ok = await fn();
      if (ok === false) throw new Error("mismatch");
      result.passed += 1;
    } catch (err) {
      result.failed += 1;
      result.failures.push(`${name}: ${err?.message ?? err}`);
    }
  };
  const same = (what, actual, expectedHex) => {
    if (hex(actual) !== expectedHex) throw new Error(`${what}: got ${hex(actual)}, want ${expectedHex}`);
  };
  const rejected = async (what, fn) => {
    try {
      await fn();
    } catch (err) {
      return err?.reason ?? (err?.name === "FormatError" ? "malformed" : "error");
    }
    throw new Error(`${what}: accepted, but the vectors say it must be rejected`);
  };

  // ---- context and participants ----
  const ctx = e2ee.ctx(vectors.ctx.group, vectors.ctx.session);
  await check("ctx", () => same("ctx", ctx, vectors.ctx.bytes));

  /** name -> {pid, role, x, s, identity?, bundle} */
  const people = {};
  for (const [name, p] of Object.entries(vectors.participants ?? {})) {
    await check(`participant ${name}`, async () => {
      const x = await e2ee.x25519KeyPair(unhex(p.x_priv));
      const s = await e2ee.ed25519KeyPair(unhex(p.s_priv));
      same("x_pub", x.pub, p.x_pub);
      same("s_pub", s.pub, p.s_pub);
      const bundle = e2ee.bundle(x.pub, s.pub);
      same("bundle", bundle, p.bundle);
      const person = { name, pid: p.pid, role: p.role, x, s, bundle };
      if (p.identity_priv) {
        person.identity = await e2ee.ed25519KeyPair(unhex(p.identity_priv));
        same("identity_pub", person.identity.pub, p.identity_pub);
      }
      people[name] = person;
    });
  }
  const person = (name) => {
    const p = people[name];
    if (!p) throw new Error(`unknown participant ${name}`);
    return p;
  };
  const byPid = (pid) => Object.values(people).find((p) => p.pid === pid);

  // ---- section 4: chain steps ----
  for (const [i, v] of (vectors.chain_steps ?? []).entries()) {
    await check(`chain_steps[${i}]`, async () => {
      const step = await e2ee.stepChain(unhex(v.ck));
      same("seed", step.seed, v.seed);
      same("next_ck", step.nextCk, v.next_ck);
      same("mk", step.mk, v.mk);
      same("nonce", step.nonce, v.nonce);
    });
  }

  // ---- section 3.2: vouches, under the signer's anchor ----
  const anchorOf = (v) => {
    if (typeof v.anchor !== "string") throw new Error("no anchor: these vectors predate the v2 vouch (docs/e2ee.md section 3.2)");
    return unhex(v.anchor);
  };
  for (const [i, v] of (vectors.vouches ?? []).entries()) {
    await check(`vouches[${i}]`, async () => {
      const signer = person(v.signer);
      const bundle = unhex(v.bundle);
      const anchor = anchorOf(v);
      if (anchor.length !== e2ee.ANCHOR_BYTES) throw new Error(`an anchor of ${anchor.length} bytes`);
      same("statement", e2ee.admitStatement(ctx, anchor, v.pid, v.role, bundle), v.statement);
      same("sig", await e2ee.signVouch(signer.identity, ctx, anchor, v.pid, v.role, bundle), v.sig);
      if (!(await e2ee.verifyVouch(signer.identity.pub, unhex(v.sig), ctx, anchor, v.pid, v.role, bundle))) throw new Error("does not verify");
    });
  }

  // ---- section 3.3: signed removals ----
  for (const [i, v] of (vectors.removals ?? []).entries()) {
    await check(`removals[${i}]`, async () => {
      const signer = person(v.signer);
      const bundle = unhex(v.bundle);
      const forGood = v.for_good === true;
      same("statement", e2ee.removeStatement(ctx, v.pid, bundle, forGood), v.statement);
      same("proof", await e2ee.signRemoval(signer.identity, ctx, v.pid, bundle, forGood), v.proof);
      if (!(await e2ee.verifyRemoval(signer.identity.pub, unhex(v.proof), ctx, v.pid, bundle, forGood))) throw new Error("does not verify");
      if (await e2ee.verifyRemoval(signer.identity.pub, unhex(v.proof), ctx, v.pid, bundle, !forGood)) throw new Error("verifies with for_good flipped");
    });
  }

  // ---- section 5: room messages, sealed and opened ----
  for (const [i, v] of (vectors.messages ?? []).entries()) {
    await check(`messages[${i}]`, async () => {
      const sender = person(v.sender);
      const step = await e2ee.stepChain(unhex(v.ck));
      same("mk", step.mk, v.mk);
      same("nonce", step.nonce, v.nonce);
      const header = e2ee.header({ ctx, sender: sender.pid, epoch: v.epoch, chainId: unhex(v.chain_id), index: v.index });
      same("header", header, v.header);
      same("commitment", await e2ee.commitment(step.mk, step.nonce, unhex(v.body)), v.commitment);
      const payload = await e2ee.sealRoomPayload({ header, signer: sender.s, mk: step.mk, nonce: step.nonce, body: unhex(v.body) });
      same("payload", payload, v.payload);
      same("signature", e2ee.parseRoomPayload(payload).signature, v.signature);
      if (v.text !== undefined) {
        // The body as this module builds it (`cw` where the vectors give one), and as it reads it.
        same("body", e2ee.textBody(v.text, v.cw), v.body);
        const parsed = e2ee.parseTextBody(unhex(v.body));
        if (parsed.text !== v.text) throw new Error("text");
        if (parsed.cw !== v.cw) throw new Error(`cw: got ${parsed.cw}, want ${v.cw}`);
      }
      // And the receiving side, from the chain state at this message.
      const chains = new SenderChains();
      chains.accept({ chainId: unhex(v.chain_id), epoch: v.epoch, index: v.index, ck: unhex(v.ck) });
      const body = await openRoom(e2ee, ctx, sender, chains, unhex(v.payload));
      same("opened body", body, v.body);
    });
  }

  // ---- section 6: distributions ----
  for (const [i, v] of (vectors.distributions ?? []).entries()) {
    await check(`distributions[${i}]`, async () => {
      const s = person(v.sender);
      const r = person(v.recipient);
      const state = { chainId: unhex(v.chain_id), epoch: v.epoch, index: v.index, ck: unhex(v.ck) };
      same("state", e2ee.encodeChainState(state), v.state);
      const info = e2ee.distributionInfo(ctx, s.pid, r.pid);
      same("info", info, v.info);
      same("key", await e2ee.pairwiseKey(s.x, r.x.pub, info), v.key);
      same("key (recipient's side)", await e2ee.pairwiseKey(r.x, s.x.pub, info), v.key);
      const payload = await e2ee.sealDistribution({ ctx, sender: s.pid, recipient: r.pid, mine: s.x, peerXPub: r.x.pub, state, nonce: unhex(v.nonce) });
      same("payload", payload, v.payload);
      const opened = await e2ee.openDistribution({ ctx, sender: s.pid, recipient: r.pid, mine: r.x, peerXPub: s.x.pub, payload: unhex(v.payload) });
      same("opened state", e2ee.encodeChainState(opened), v.state);
    });
  }

  // ---- section 8: private messages and reports ----
  const sealedToFacilitators = async (v, kind, body) => {
    const s = person(v.sender);
    const recipients = v.recipients.map((name) => ({ pid: person(name).pid, xPub: person(name).x.pub }));
    const payload = await e2ee.sealToFacilitators({ kind, ctx, sender: s.pid, mine: s.x, recipients, body, nonces: v.nonces.map(unhex) });
    same("payload", payload, v.payload);
    for (const name of v.recipients) {
      const f = person(name);
      const opened = await e2ee.openFacilitatorEntry({ payload: unhex(v.payload), kind, ctx, sender: s.pid, me: f.pid, mine: f.x, senderXPub: s.x.pub });
      same(`body as ${name} opens it`, opened.body, hex(body));
    }
  };
  for (const [i, v] of (vectors.privates ?? []).entries()) {
    await check(`privates[${i}]`, async () => {
      if (v.kind !== e2ee.KIND_PRIVATE) throw new Error(`kind ${v.kind}`);
      if (v.text !== undefined) same("body", e2ee.textBody(v.text), v.body);
      // `info` for one recipient, or one per recipient
      const infos = v.info === undefined ? [] : Array.isArray(v.info) ? v.info : [v.info];
      for (const [k, info] of infos.entries()) same("info", e2ee.privateInfo(ctx, person(v.sender).pid, person(v.recipients[k]).pid), info);
      await sealedToFacilitators(v, e2ee.KIND_PRIVATE, unhex(v.body));
    });
  }
  for (const [i, v] of (vectors.reports ?? []).entries()) {
    await check(`reports[${i}]`, async () => {
      if (v.kind !== e2ee.KIND_REPORT) throw new Error(`kind ${v.kind}`);
      const rep = v.reported;
      const report = { msg: rep.msg, from: rep.from, payload: unhex(rep.payload), key: unhex(rep.key), body: unhex(rep.body), note: v.note };
      same("body", e2ee.reportBody(report), v.body);
      await sealedToFacilitators(v, e2ee.KIND_REPORT, unhex(v.body));
      const parsed = e2ee.parseReportBody(unhex(v.body));
      const author = byPid(parsed.from);
      const verified = await e2ee.verifyReport({ ctx, report: parsed, senderSPubs: author ? [author.s.pub] : [] });
      if (verified !== v.verified) throw new Error(`verified ${verified}, want ${v.verified}`);
    });
  }

  // ---- section 5: content warnings as a sender typed them, trimmed or refused ----
  for (const [i, v] of (vectors.bodies ?? []).entries()) {
    await check(`bodies[${i}]`, () => {
      if (v.refused !== undefined) {
        let code;
        try {
          e2ee.textBody(v.text, v.cw);
        } catch (err) {
          code = err?.code;
        }
        if (code !== v.refused) throw new Error(`sealing gave ${code ?? "a body"}, want ${v.refused}`);
        return;
      }
      same("body", e2ee.textBody(v.text, v.cw), v.body);
      const parsed = e2ee.parseTextBody(unhex(v.body));
      if (parsed.text !== v.text || (parsed.cw ?? null) !== v.cw_in_body) throw new Error(`opened to ${JSON.stringify(parsed)}`);
    });
  }

  // ---- a receiver's whole stream: its distributions, then every message in order ----
  const receiver = (name) => new Receiver(e2ee, { SenderChains, NonceMemory }, ctx, person(name), { byPid, person });
  for (const name of Object.keys(people)) {
    const given = (vectors.distributions ?? []).filter((d) => d.recipient === name);
    const ids = new Set(given.map((d) => d.chain_id));
    const msgs = vectors.messages ?? [];
    if (msgs.length === 0 || !msgs.every((m) => ids.has(m.chain_id) && given.some((d) => d.sender === m.sender))) continue;
    await check(`${name} opens every message in order`, async () => {
      const r = receiver(name);
      await r.applyDistributions(vectors.distributions);
      for (const [i, m] of msgs.entries()) same(`message ${i}`, await r.openMessage(person(m.sender).pid, unhex(m.payload)), m.body);
    });
  }

  // ---- what must be rejected, leaving the receiver as it was ----
  for (const [i, v] of (vectors.rejects ?? []).entries()) {
    await check(`rejects[${i}] ${v.what} ${v.case}`, async () => {
      if (v.what === "vouch") {
        const signer = person(v.signer);
        if (await e2ee.verifyVouch(signer.identity.pub, unhex(v.sig), ctx, anchorOf(v), v.pid, v.role, unhex(v.bundle))) {
          throw new Error("the vouch verifies, but the vectors say it must not");
        }
        return;
      }
      if (v.what === "removal") {
        const signer = person(v.signer);
        if (await e2ee.verifyRemoval(signer.identity.pub, unhex(v.proof), ctx, v.pid, unhex(v.bundle), v.for_good === true)) {
          throw new Error("the removal verifies, but the vectors say it must not");
        }
        return;
      }
      const r = receiver(v.recipient);
      await r.applyDistributions(vectors.distributions);
      for (const at of v.after ?? []) {
        if (v.what === "private") {
          const pv = vectors.privates[at];
          await r.openPrivate(person(pv.sender).pid, unhex(pv.payload));
        } else {
          const m = vectors.messages[at];
          await r.openMessage(person(m.sender).pid, unhex(m.payload));
        }
      }
      const before = r.snapshot();
      const open = { message: "openMessage", distribution: "takeDistribution", private: "openPrivate" }[v.what];
      if (!open) throw new Error(`unknown reject kind ${v.what}`);
      const why = await rejected(v.what, () => r[open](v.from, unhex(v.payload)));
      if (v.why !== undefined && why !== v.why) throw new Error(`refused as ${why}, want ${v.why}`);
      if (r.snapshot() !== before) throw new Error("refusing it changed the receiver's state");
    });
  }
  return result;
}

/** Section 5 steps 1 to 8 for a trusted sender whose chains we hold. */
async function openRoom(e2ee, ctx, sender, chains, payload, from = sender.pid) {
  const p = e2ee.parseRoomPayload(payload);
  e2ee.checkHeader(p.header, ctx, from);
  if (!(await e2ee.verifyRoomSignature(p, sender.s.pub))) throw new e2ee.RejectError("signature");
  const { body } = await chains.open(p);
  return body;
}

/**
 * One participant receiving, as the vectors' notes describe: everyone is
 * vouched for, and a frame's keys are those of the pid in its `from`.
 */
class Receiver {
  constructor(e2ee, { SenderChains, NonceMemory }, ctx, me, { byPid, person }) {
    Object.assign(this, { e2ee, SenderChains, NonceMemory, ctx, me, byPid, person });
    this.chains = new Map();
    this.nonces = new Map();
  }

  peer(pid) {
    const p = this.byPid(pid);
    if (!p) throw new this.e2ee.RejectError("untrusted", `no participant ${pid}`);
    return p;
  }

  async applyDistributions(distributions = []) {
    for (const d of distributions) {
      if (d.recipient === this.me.name) await this.takeDistribution(this.person(d.sender).pid, unhex(d.payload));
    }
  }

  async takeDistribution(from, payload) {
    const sender = this.peer(from);
    const state = await this.e2ee.openDistribution({ ctx: this.ctx, sender: from, recipient: this.me.pid, mine: this.me.x, peerXPub: sender.x.pub, payload });
    if (!this.chains.has(from)) this.chains.set(from, new this.SenderChains());
    this.chains.get(from).accept(state);
  }

  async openMessage(from, payload) {
    const sender = this.peer(from);
    const chains = this.chains.get(from) ?? new this.SenderChains();
    return openRoom(this.e2ee, this.ctx, sender, chains, payload, from);
  }

  async openPrivate(from, payload) {
    const sender = this.peer(from);
    const { nonce, body } = await this.e2ee.openFacilitatorEntry({
      payload, kind: this.e2ee.KIND_PRIVATE, ctx: this.ctx, sender: from, me: this.me.pid, mine: this.me.x, senderXPub: sender.x.pub,
    });
    if (!this.nonces.has(from)) this.nonces.set(from, new this.NonceMemory(this.e2ee.PRIVATE_NONCES_KEPT));
    const memory = this.nonces.get(from);
    if (memory.has(nonce)) throw new this.e2ee.RejectError("nonce_replay");
    memory.add(nonce);
    return body;
  }

  /** Everything the receiver keeps, as text, to compare before and after a refusal. */
  snapshot() {
    const chains = [...this.chains].map(([pid, c]) => [pid, c.describe(), [c.current, c.previous].map((x) => x && hex(x.ck))]);
    const nonces = [...this.nonces].map(([pid, m]) => [pid, [...m.seen]]);
    return JSON.stringify({ chains, nonces });
  }
}
