// What the group codec (codec.js) tells the page: its events, the warnings
// among them, and CodecError, its refusals. Shared by codec.js (the roster and
// the chains) and codec-messages.js (sealing and opening).

import { FormatError, RejectError } from "./e2ee.js";

export const UNVERIFIED_WARNING = Object.freeze({
  code: "unverified_link",
  message:
    "This link carries no facilitator key, so nobody in the room can be verified: " +
    "the server could add someone who reads along. Ask your facilitator for a new link.",
});

/** A local refusal (nothing was sent); `code` says why: not_ready, no_recipient, unknown_message, wiped, ... */
export class CodecError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "CodecError";
    this.code = code;
  }
}

export function wipedError() {
  return new CodecError("wiped", "This conversation was wiped.");
}

/**
 * @typedef {{type: "message", id: number, from: string, ts?: number, own: boolean, text: string | null, cw?: string, reason?: string}
 *   | {type: "private", from: string, ts?: number, text: string | null, reason?: string}
 *   | {type: "report", from: string, ts?: number, msg: number, verified: boolean,
 *      reported: {from: string, text: string | null, cw?: string} | null, note: string | null, reason?: string}
 *   | {type: "trust", pid: string, trusted: boolean}
 *   | {type: "warning", code: string, message: string, pid?: string, welcome?: boolean}} CodecEvent
 *   `reason`, when a payload could not be opened, is RejectError's word (untrusted, replay,
 *   id_mismatch for a report of a message this page opened under that id as another, ...).
 *   `cw`, present only when the sender gave one, is the content warning in the message's body.
 *   Warning codes: unverified_link, untrusted, key_rejected (a chain state refused),
 *   keys_unusable (a participant's keys cannot be used: never trusted), keys_mismatch
 *   (the server lists other keys than this page's under its own pid), keys_barred (keys a
 *   facilitator's signed removal barred, shown again), and for a facilitator not_admitted
 *   (a member the server let in past its closed door; `welcome`: already there at arrival).
 *
 * @typedef {{frame: object, warnings: CodecEvent[]}} Sealed
 */

export function warning(code, message, pid) {
  return { type: "warning", code, message, ...(pid === undefined ? {} : { pid }) };
}

export function reasonOf(err) {
  if (err instanceof RejectError) return err.reason;
  if (err instanceof FormatError) return "malformed";
  return "error";
}
