// The member's private thread with the facilitators, in its own panel beside
// the room and never in the room's conversation: what the member wrote to the
// facilitators, and the facilitators' replies into this member's thread
// (`private` with `thread` = the member's pid, from a facilitator;
// docs/protocol.md section 5). A message written while no facilitator is in
// the room is kept in this page's memory only (never sent, never stored) and
// goes when one arrives; the member is told both.

import { $, clock, el } from "./room-view.js";
import { page, say } from "./room-page.js";

export const PRIVATE_TEXT = {
  // True only while this page stays open: the message waits in its memory, nowhere else.
  queued: "No facilitator is in the room right now. Your message waits on this page and is sent when one arrives; if you close the page first, it is not sent.",
  sent: "Sent.",
  unreadable: "A private message from a facilitator came, but it could not be read on this page.",
};

/** The `thread` of the `private` frame being handled now (for a client whose event does not carry it). */
let thread;
let flushing = false;

function facilitatorPresent() {
  const roster = page.client?.participants() ?? page.roster;
  return roster.some((p) => p.role === "facilitator" && p.present);
}

function entry({ own, name, ts, text, state }) {
  const li = el("li", `private-entry ${own ? "private-own" : "private-reply"}`);
  li.dataset.testid = own ? "private-sent" : "private-reply";
  const head = el("p", "msg-head");
  head.append(el("span", "who", own ? "You" : name));
  head.append(el("span", "tag tag-private", own ? "To the facilitators only" : "Facilitator"));
  const time = el("time", "time", clock(ts));
  time.dateTime = new Date(ts * 1000).toISOString();
  head.append(time);
  li.append(head, el("p", `msg-text${text === null ? " msg-unreadable" : ""}`, text ?? PRIVATE_TEXT.unreadable));
  if (state) {
    const line = el("p", "private-state", state);
    line.dataset.testid = "private-state";
    li.append(line);
  }
  const log = $("private-log");
  log.append(li);
  log.scrollTop = log.scrollHeight;
  return li;
}

function setState(li, text) {
  li.querySelector(".private-state").textContent = text;
}

/**
 * The member wrote to the facilitators (the dialog). Sent now if a facilitator
 * is here; otherwise kept until one arrives. Throws what the dialog should say.
 * @param {string} text
 */
export async function writePrivate(text) {
  const client = page.client;
  if (!page.connected || !client || page.stage !== "in") throw new Error("You are not connected right now.");
  if (!facilitatorPresent() || page.privateQueue.length) {
    // Kept in order behind any still waiting.
    const li = entry({ own: true, ts: Date.now() / 1000, text, state: PRIVATE_TEXT.queued });
    page.privateQueue.push({ text, li });
    say(PRIVATE_TEXT.queued);
    return;
  }
  await client.privateToFacilitators(text);
  if (client.closed) throw new Error("The connection dropped: your message was not sent.");
  entry({ own: true, ts: Date.now() / 1000, text, state: PRIVATE_TEXT.sent });
}

/** A facilitator may have arrived: send what was kept, in order. */
export async function flushPrivate() {
  if (flushing || !page.privateQueue.length) return;
  const client = page.client;
  if (!page.connected || !client || page.stage !== "in" || !facilitatorPresent()) return;
  flushing = true;
  try {
    while (page.privateQueue.length && client === page.client && facilitatorPresent()) {
      const kept = page.privateQueue[0];
      try {
        await client.privateToFacilitators(kept.text);
      } catch {
        break; // e.g. the facilitator's keys are not verified yet: kept, tried on the next change
      }
      if (client.closed || client !== page.client) break; // not on the wire: kept for the next connection
      page.privateQueue.shift();
      setState(kept.li, PRIVATE_TEXT.sent);
      say("Your private message was sent to the facilitators.");
    }
  } finally {
    flushing = false;
  }
}

/** Every frame, before its events: remember a `private` frame's thread. */
export function onPrivateFrame(f) {
  if (f.t === "private") thread = f.thread ?? null;
}

/** The client opened (or failed to open) a `private`: show it if it is a facilitator's word to this member. */
export function onPrivate(p) {
  // The client's event carries the thread where its codec gives it; else the frame's, seen just before.
  const t = p.thread !== undefined ? p.thread : thread;
  thread = undefined;
  if (p.own) return; // this page shows its own when it sends them
  const sender = page.client?.roster.get(p.from);
  if (t !== page.me || sender?.role !== "facilitator") return;
  entry({ own: false, name: sender.name, ts: p.ts ?? Date.now() / 1000, text: p.text });
  say(`${sender.name} wrote to you privately.`);
}

/** Forget the thread (the visit is over). */
export function clearPrivate() {
  page.privateQueue.length = 0;
  $("private-log").replaceChildren();
  thread = undefined;
}
