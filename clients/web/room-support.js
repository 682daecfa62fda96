// "I need support now" in the member room, and what the page says about the
// member's own alerts. The server holds every support request and content
// alert until a facilitator marks it handled, and tells the member where it
// stands (`alert_status`, docs/protocol.md section 5a). This page says exactly
// that, and no more: in the support dialog, and in a line beside the button
// that stays after the dialog is closed. Nothing here promises what nobody has
// said (that someone "will reach out"): only a facilitator's own words can.

import * as view from "./room-view.js";
import { $ } from "./room-view.js";
import { fillCrisisList } from "./room-crisis.js";
import { page } from "./room-page.js";

/** What the member reads about their support request, in each state it can be in. */
export const SUPPORT_TEXT = {
  sending: "Sending your request to the facilitators…",
  waiting: "No facilitator is in the room right now. Your request will reach the first facilitator who comes back.",
  sent: "Your request is on its way to the facilitators in the room.",
  seen: "A facilitator has your request on their screen.",
  handled: "A facilitator has seen your request and marked it as handled.",
  // `seen` stays `seen` when the facilitators go (docs/protocol.md 5a): then it is no longer on a screen here.
  seenAway: "A facilitator has seen your request. No facilitator is in the room right now.",
  // The request is open but this page cannot hear about it now.
  offline: "You are not connected right now, so this page cannot show what happens to your request.",
  // Sent just before the connection dropped, and not among the open ones after it.
  lost: "Your request may not have reached the facilitators: the connection dropped. If you still need support, please ask again.",
  refused: "Your request could not be sent. Please try again in a moment.",
  notConnected: "You are not connected right now, so the facilitators could not be told. If you need help now, please use one of these:",
  cancelled: "No alert was sent.",
};

export const CONTENT_WAITING =
  "No facilitator is in the room right now; the alert will reach the first facilitator who comes back.";

const OPEN = new Set(["sending", "waiting", "sent", "seen"]);
/** States in which the crisis resources stay beside the line: nobody may have the request now. */
const WITH_RESOURCES = new Set(["waiting", "seenAway", "lost", "refused", "offline"]);

/** The support dialog (room-dialogs.js), lent by room.js. */
let dialogs;

/** @param {{openSupport: Function, supportStatus: Function, supportOpen: () => boolean}} d the dialogs */
export function setUpSupport(d) {
  dialogs = d;
}

function resources() {
  return page.group?.crisis_resources ?? page.rules?.crisis_resources ?? [];
}

function live() {
  return page.connected && page.stage === "in" && Boolean(page.client);
}

function facilitatorHere() {
  // The connection's own roster: up to date already when the welcome is handled.
  const roster = page.client?.participants() ?? page.roster;
  return roster.some((p) => p.role === "facilitator" && p.present);
}

/**
 * Writing privately is offered whenever connected: with no facilitator here the
 * message waits on the page until one comes (the private panel says so plainly).
 */
function canWrite() {
  return live();
}

/** The button: crisis resources at once; while connected, one question before the alert goes. */
export function askForSupport() {
  const current = page.support ? lineText() : null;
  if (live()) {
    dialogs.openSupport(resources(), { confirm: true, status: current, canWrite: canWrite() });
  } else {
    dialogs.openSupport(resources(), { confirm: false, status: SUPPORT_TEXT.notConnected, canWrite: false });
  }
}

/** The member said yes: the alert goes, and the page waits for the server's word on it. */
export function sendSupport() {
  if (!live()) {
    dialogs.supportStatus(SUPPORT_TEXT.notConnected, { canWrite: false, canSend: false });
    return;
  }
  const before = page.support;
  const ref = page.client.alert("support");
  // The first `alert_status` of kind support after this is about this request.
  page.support = { status: "sending", id: before?.id ?? null, awaiting: true, ref, before };
  renderSupport();
}

export function cancelSupport() {
  dialogs.supportStatus(page.support ? lineText() : SUPPORT_TEXT.cancelled, { canWrite: canWrite(), canSend: live() });
}

/** The server's word on one of this member's alerts. */
export function onAlertStatus({ id, kind, status }) {
  if (kind === "support") {
    const s = page.support;
    if (!s) return;
    // Raising makes a request `waiting` or `sent`, and the server says so at once:
    // while the page waits for that, a `seen` or `handled` is news of one from before.
    const ours = s.awaiting ? status === "waiting" || status === "sent" : s.id === id;
    if (!ours) return;
    page.support = { status, id, awaiting: false, ref: null, before: null };
    renderSupport();
    return;
  }
  if (kind === "content") {
    const was = page.contentAlerts.get(id);
    if (status === "waiting" && was !== "waiting") view.notice(CONTENT_WAITING, "notice-alert");
    if (status === "handled") page.contentAlerts.delete(id);
    else page.contentAlerts.set(id, status);
  }
}

/** The server refused a frame: if it was the support request, say so instead of "sending". */
export function onSupportRefused(ref) {
  const s = page.support;
  if (!s?.awaiting || s.ref !== ref) return false;
  const before = s.before;
  // An earlier request of theirs that is still open stays as it was.
  page.support =
    before && before.id !== null && OPEN.has(before.status) && before.status !== "sending"
      ? { ...before, awaiting: false, ref: null, before: null }
      : { status: "refused", id: null, awaiting: false, ref: null, before: null };
  renderSupport();
  return true;
}

/**
 * On entry and on every return: the member's open alerts as the server holds
 * them (`welcome.alerts`). One no longer there was closed meanwhile, which
 * only a facilitator marking it handled does.
 */
export function restoreAlerts(alerts) {
  const mine = (Array.isArray(alerts) ? alerts : []).filter(
    (a) => a && Number.isInteger(a.id) && typeof a.kind === "string" && OPEN.has(a.status),
  );
  const support = mine.find((a) => a.kind === "support");
  const s = page.support;
  if (support) {
    page.support = { status: support.status, id: support.id, awaiting: false, ref: null, before: null };
  } else if (s?.awaiting) {
    page.support = { status: "lost", id: null, awaiting: false, ref: null, before: null };
  } else if (s && s.id !== null && OPEN.has(s.status)) {
    page.support = { status: "handled", id: s.id, awaiting: false, ref: null, before: null };
  }
  page.contentAlerts = new Map(mine.filter((a) => a.kind === "content").map((a) => [a.id, a.status]));
  renderSupport();
}

/** Forget the member's alerts (the visit is over). */
export function resetSupport() {
  page.support = null;
  page.contentAlerts = new Map();
  renderSupport();
}

function lineStatus() {
  const s = page.support;
  if (!s) return null;
  if (!live() && OPEN.has(s.status)) return "offline";
  if (s.status === "seen" && !facilitatorHere()) return "seenAway";
  return s.status;
}

function lineText() {
  const status = lineStatus();
  return status ? SUPPORT_TEXT[status] : null;
}

/** The line beside the button, and the dialog's status while it is open. */
export function renderSupport() {
  const status = lineStatus();
  $("support-box").hidden = !status;
  if (status) {
    $("support-box").dataset.status = status;
    const text = SUPPORT_TEXT[status];
    if ($("support-line").textContent !== text) $("support-line").textContent = text;
    const list = resources();
    const withResources = WITH_RESOURCES.has(status);
    $("support-line-crisis-box").hidden = !withResources;
    if (withResources) {
      fillCrisisList($("support-line-crisis"), list);
      $("support-line-crisis").hidden = list.length === 0;
      $("support-line-none").hidden = list.length > 0;
    }
  }
  if (!dialogs?.supportOpen()) return;
  // Not connected: no Send (it could not work), and the dialog says why.
  const connected = live();
  const text = status ? SUPPORT_TEXT[status] : connected ? undefined : SUPPORT_TEXT.notConnected;
  dialogs.supportStatus(text, { canWrite: canWrite(), canSend: connected });
}
