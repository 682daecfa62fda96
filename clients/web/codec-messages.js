// Sections 5 and 8 of the group codec: sealing our messages and opening the
// ones we get, room messages on the chains codec.js hands out and takes up,
// and private messages and reports to the facilitators. codec.js keeps the
// state (the chains, what we sealed, what can be reported) and runs these on
// its promise chain; `op` lends them its wipe-checked await and its outbox,
// so that nothing done here outlives a wipe either.

import { bytesEqual, toHex, fromUtf8 } from "./bytes.js";
import { NonceMemory } from "./chains.js";
import { CodecError, UNVERIFIED_WARNING, reasonOf, warning } from "./codec-events.js";
import * as e2ee from "./e2ee.js";

const { KIND_PRIVATE, KIND_REPORT, PRIVATE_NONCES_KEPT, RejectError } = e2ee;

/** How many opened room messages are kept (in memory, their keys included) so that they can be reported. */
export const REPORTABLE_KEPT = 200;
/** How many of our own sent messages wait for their echo from the server. */
const OWN_PENDING_KEPT = 256;

/**
 * What codec.js lends these functions: itself, its wipe-checked await and its outbox.
 * @typedef {{codec: import("./codec.js").GroupCodec, alive: <T>(promise: Promise<T>) => Promise<T>,
 *   emit: (frame: object) => void}} Op
 * @typedef {import("./codec-events.js").CodecEvent} CodecEvent
 * @typedef {import("./codec-events.js").Sealed} Sealed
 */

// ---- section 5: room messages ----

export async function sealRoom(op, text, extra, cw) {
  const { codec } = op;
  if (!codec.chain) throw new CodecError("not_ready", "Not in the room yet.");
  const warning = e2ee.trimContentWarning(cw);
  if (warning !== undefined && [...warning].length > e2ee.MAX_CW_CHARS) {
    throw new CodecError("cw_too_long", `A content warning is at most ${e2ee.MAX_CW_CHARS} characters. Nothing was sent.`);
  }
  const body = e2ee.textBody(text, warning);
  const { chainId, epoch, index, ck } = codec.chain;
  const step = await op.alive(e2ee.stepChain(ck));
  const header = e2ee.header({ ctx: codec.ctx, sender: codec.me, epoch, chainId, index });
  const payload = await op.alive(e2ee.sealRoomPayload({ header, signer: codec.keys.s, mk: step.mk, nonce: step.nonce, body }));
  codec.chain = { chainId, epoch, index: index + 1, ck: step.nextCk }; // the used key is gone
  // Its key and body, to check the server's echo by (ownEcho).
  const sent = { text, ...(warning === undefined ? {} : { cw: warning }), body, mk: step.mk, nonce: step.nonce };
  remember(codec.ownPending, ownKey(chainId, epoch, index), sent, OWN_PENDING_KEPT);
  const frame = { t: "chat", payload, ...extra };
  op.emit(frame);
  return { frame, warnings: sendWarnings(codec) };
}

/** @returns {Promise<CodecEvent>} */
export async function onMessage(op, frame) {
  const { codec } = op;
  const base = { type: "message", id: frame.id, from: frame.from, ts: frame.ts, own: frame.from === codec.me };
  try {
    if (!codec.ctx || !(frame.payload instanceof Uint8Array)) throw new RejectError("malformed");
    if (base.own) {
      const echo = await ownEcho(op, frame.payload);
      if (Number.isInteger(frame.id)) remember(codec.openedPayloads, frame.id, frame.payload.slice(), REPORTABLE_KEPT);
      return { ...base, ...echo };
    }
    const opened = await openRoom(op, frame.from, frame.payload);
    if (Number.isInteger(frame.id)) {
      const key = new Uint8Array([...opened.mk, ...opened.nonce]);
      remember(codec.reportable, frame.id, { from: frame.from, payload: frame.payload.slice(), key, body: opened.body }, REPORTABLE_KEPT);
      remember(codec.openedPayloads, frame.id, frame.payload.slice(), REPORTABLE_KEPT);
    }
    return { ...base, text: opened.text, ...(opened.cw === undefined ? {} : { cw: opened.cw }) };
  } catch (err) {
    if (codec.wiped) throw err;
    return { ...base, text: null, reason: reasonOf(err) };
  }
}

/** Steps 1 to 8, the body's text included; the chain moves only once everything checked out. */
async function openRoom(op, from, payload) {
  const { codec } = op;
  const p = e2ee.parseRoomPayload(payload);
  e2ee.checkHeader(p.header, codec.ctx, from);
  const peer = codec.roster.get(from);
  if (!peer?.trusted || !peer.keys) throw new RejectError("untrusted");
  if (!(await op.alive(e2ee.verifyRoomSignature(p, peer.keys.sPub)))) throw new RejectError("signature");
  const chains = codec.chains.get(from);
  if (!chains) throw new RejectError("unknown_chain");
  return op.alive(chains.open(p));
}

/**
 * Our own message back from the server, opened with what we remember sealing
 * (once): the header names us, our signature verifies, and the key we used
 * opens it to exactly the body we sealed. @returns {Promise<{text: string, cw?: string}>}
 */
async function ownEcho(op, payload) {
  const { codec } = op;
  const p = e2ee.parseRoomPayload(payload);
  e2ee.checkHeader(p.header, codec.ctx, codec.me);
  if (!(await op.alive(e2ee.verifyRoomSignature(p, codec.keys.s.pub)))) throw new RejectError("signature");
  const key = ownKey(p.header.chainId, p.header.epoch, p.header.index);
  const sent = codec.ownPending.get(key);
  if (sent === undefined) throw new RejectError("replay");
  const body = await op.alive(e2ee.openRoomCiphertext(p, sent.mk, sent.nonce));
  if (!bytesEqual(body, sent.body)) throw new RejectError("decrypt", "not the body we sealed");
  codec.ownPending.delete(key);
  return { text: sent.text, ...(sent.cw === undefined ? {} : { cw: sent.cw }) };
}

// ---- section 8: to the facilitators ----

/**
 * A private message to the trusted facilitators present and, for a facilitator's
 * reply into one member's thread, to member `to` (GroupCodec.sealPrivate).
 * @returns {Promise<Sealed>}
 */
export function sealPrivate(op, text, to, extra) {
  const fields = { t: "private", ...extra, ...(to === undefined || to === null ? {} : { to }) };
  return sealToFacilitators(op, KIND_PRIVATE, e2ee.textBody(text), fields, to ?? undefined);
}

/** A report of room message `msgId` (GroupCodec.sealReport). @returns {Promise<Sealed>} */
export async function sealReport(op, msgId, note, extra) {
  const { codec } = op;
  const seen = codec.reportable.get(msgId);
  if (!seen) throw new CodecError("unknown_message", "Only a message this page could read can be reported.");
  const body = e2ee.reportBody({ msg: msgId, ...seen, note });
  return sealToFacilitators(op, KIND_REPORT, body, { t: "report", msg: msgId, ...extra });
}

/**
 * Sealed pairwise to each trusted facilitator present, and first to member `to`:
 * a member this page trusts as a member (its role is the one a vouch signed),
 * present or on a break, and only when this page is a facilitator's.
 */
async function sealToFacilitators(op, kind, body, frameFields, to) {
  const { codec } = op;
  if (!codec.ctx) throw new CodecError("not_ready", "Not in the room yet.");
  const candidates = [];
  if (to !== undefined) {
    const member = codec.roster.get(to);
    if (codec.role !== "facilitator" || !member || member.role !== "member" || !member.trusted || !member.keys || to === codec.me) {
      throw new CodecError("no_recipient", "Only a facilitator can write to one member, and only to a member who is verified.");
    }
    candidates.push(member);
  }
  candidates.push(
    ...[...codec.roster.all()].filter((p) => p.role === "facilitator" && p.trusted && p.present && p.keys && p.pid !== codec.me),
  );
  // One facilitator whose keys fail must not keep the message from the others.
  const recipients = [];
  const skipped = [];
  for (const p of candidates) {
    if (await op.alive(e2ee.agreementWorks(codec.keys.x, p.keys.xPub))) recipients.push({ pid: p.pid, xPub: p.keys.xPub });
    else if (p.pid === to) throw new CodecError("no_recipient", "This member's keys cannot be used, so nothing can be sealed to them.");
    else skipped.push(warning("keys_unusable", `The keys of ${p.pid} could not be used; they cannot read this.`, p.pid));
  }
  if (recipients.length === 0) {
    throw new CodecError("no_recipient", "No facilitator who can be verified is in the room right now.");
  }
  const payload = await op.alive(e2ee.sealToFacilitators({ kind, ctx: codec.ctx, sender: codec.me, mine: codec.keys.x, recipients, body }));
  const frame = { ...frameFields, payload };
  op.emit(frame);
  return { frame, warnings: [...sendWarnings(codec), ...skipped] };
}

/** Decrypt our entry of a private or report payload; the nonce is remembered only once all is well. */
async function openForMe(op, frame, kind) {
  const { codec } = op;
  if (!codec.ctx || !(frame.payload instanceof Uint8Array)) throw new RejectError("malformed");
  const peer = codec.roster.get(frame.from);
  if (!peer?.keys || !peer.trusted) throw new RejectError("untrusted");
  const { nonce, body } = await op.alive(
    e2ee.openFacilitatorEntry({
      payload: frame.payload,
      kind,
      ctx: codec.ctx,
      sender: frame.from,
      me: codec.me,
      mine: codec.keys.x,
      senderXPub: peer.keys.xPub,
    }),
  );
  let memory = codec.nonces.get(frame.from);
  if (!memory) codec.nonces.set(frame.from, (memory = new NonceMemory(PRIVATE_NONCES_KEPT)));
  if (memory.has(nonce)) throw new RejectError("nonce_replay");
  return { body, remember: () => memory.add(nonce) };
}

export async function onPrivate(op, frame) {
  const { codec } = op;
  const base = { type: "private", from: frame.from, thread: typeof frame.thread === "string" ? frame.thread : null, ts: frame.ts };
  try {
    const { body, remember: keepNonce } = await openForMe(op, frame, KIND_PRIVATE);
    // A member's private thread is with the facilitators only: a member's page
    // opens a private only from a sender it trusts as a facilitator (the role
    // is the one a vouch signed, docs/e2ee.md section 3).
    if (codec.role !== "facilitator" && codec.roster.get(frame.from)?.role !== "facilitator") throw new RejectError("untrusted");
    const { text } = e2ee.parseTextBody(body, { cw: false }); // a private body has no cw
    keepNonce();
    return { ...base, text };
  } catch (err) {
    if (codec.wiped) throw err;
    return { ...base, text: null, reason: reasonOf(err) };
  }
}

export async function onReport(op, frame) {
  const { codec } = op;
  const base = { type: "report", from: frame.from, ts: frame.ts, msg: frame.msg };
  try {
    const { body, remember: keepNonce } = await openForMe(op, frame, KIND_REPORT);
    const report = e2ee.parseReportBody(body);
    keepNonce();
    const shown = { ...base, msg: report.msg, reported: { from: report.from, ...shownBody(report.body) }, note: report.note };
    // The server numbers messages: it could show the reporter a genuine message
    // under another one's id. What this page opened under that id settles it.
    const ours = codec.openedPayloads.get(report.msg);
    if (ours !== undefined && !bytesEqual(ours, report.payload)) return { ...shown, verified: false, reason: "id_mismatch" };
    // The server's `msg` must be the one the reporter sealed, or the
    // facilitator would be shown another message as the reported one.
    const verified =
      (frame.msg === undefined || frame.msg === report.msg) &&
      (await op.alive(e2ee.verifyReport({ ctx: codec.ctx, report, senderSPubs: codec.roster.signingKeys.get(report.from) ?? [] })));
    return { ...shown, verified };
  } catch (err) {
    if (codec.wiped) throw err;
    return { ...base, verified: false, reported: null, note: null, reason: reasonOf(err) };
  }
}

/** Said on every send: what the user should know about who may read along. */
function sendWarnings(codec) {
  const warnings = codec.unverified ? [{ type: "warning", ...UNVERIFIED_WARNING }] : [];
  for (const peer of codec.roster.all()) {
    if (peer.present && !peer.trusted && peer.pid !== codec.me) {
      warnings.push(warning("untrusted", "Someone in the room is not verified by a facilitator and cannot read this.", peer.pid));
    }
  }
  return warnings;
}

function ownKey(chainId, epoch, index) {
  return `${epoch}/${toHex(chainId)}/${index}`;
}

/** Keep `value` under `key`, dropping the oldest entries beyond `limit`. */
function remember(map, key, value, limit) {
  map.set(key, value);
  for (const old of map.keys()) {
    if (map.size <= limit) break;
    map.delete(old);
  }
}

/** The reported text (and content warning) as the facilitator is shown them (verified or not). */
function shownBody(body) {
  try {
    const { text, cw } = e2ee.parseTextBody(body);
    return { text, ...(cw === undefined ? {} : { cw }) };
  } catch {
    try {
      return { text: fromUtf8(body) };
    } catch {
      return { text: null };
    }
  }
}
