// The composer (Enter sends, Shift+Enter adds a line, an optional content
// warning) and which of the room's controls can be used right now.

import { CONTENT_WARNINGS } from "./client.js";
import { fillCrisisList } from "./room-crisis.js";
import { $, el } from "./room-view.js";
import { page } from "./room-page.js";
import { checkOutgoing, showCheck } from "./room-content.js";
import { renderSlow, sentOne, slowLeft } from "./room-slow.js";
import { renderSupport } from "./room-support.js";

export function updateControls() {
  const me = page.roster.find((p) => p.pid === page.me);
  const live = page.connected && page.stage === "in";
  const muted = Boolean(me?.muted);
  const blocked = !live || muted || page.paused || page.away;
  for (const id of ["text", "send", "cw", "cw-toggle", "check-send", "check-cw"]) $(id).disabled = blocked;
  for (const id of ["hand", "private", "step-out"]) $(id).disabled = !live;
  // On a break: the conversation and what only works in it are not offered;
  // the private thread, support and the crisis numbers stay.
  $("conversation").hidden = page.away;
  $("away").hidden = !page.away;
  $("hand").hidden = page.away;
  $("step-out").hidden = page.away;
  $("come-back").disabled = !live || page.comingBack;
  $("room").classList.toggle("is-away", page.away);
  $("room").classList.toggle("is-offline", !live);
  // Short: the placeholder must fit the box on a phone (the banners say more).
  let reason = null;
  if (page.away) reason = "You have stepped out";
  else if (!live) reason = "Reconnecting…";
  else if (muted) reason = "You are muted for now";
  else if (page.paused) reason = "Paused for a moment";
  $("text").placeholder = reason ?? "Write a message…";
  renderSlow(); // the send button also waits out slow mode
  // Connected or not, and who is here, change what the support line can truly say.
  renderSupport();
}

/** Categories that are about the writer's own risk: a block of one shows care, not only a refusal. */
const OWN_RISK = new Set(["self_harm", "method_detail"]);

function showCare(client) {
  const here = client.participants().some((p) => p.role === "facilitator" && p.present);
  const told = here
    ? "An alert is on its way to the facilitators in the room: what kind of message it was, never your words."
    : "No facilitator is in the room right now: the alert (never your words) will reach the first facilitator who comes back.";
  const care = el("div", "content-care");
  care.dataset.testid = "content-care";
  care.append(el("p", "", told));
  const resources = page.group?.crisis_resources ?? page.rules?.crisis_resources ?? [];
  if (resources.length) {
    care.append(el("p", "", "If you need help right now:"));
    const list = el("ul", "content-care-crisis");
    fillCrisisList(list, resources);
    care.append(list);
  } else {
    care.append(el("p", "", "If you are in danger now, call your local emergency number."));
  }
  $("content-check-messages").after(care);
}

export function note(text) {
  $("compose-note").textContent = text ?? "";
  $("compose-note").hidden = !text;
}

export function composeError(text) {
  $("compose-error").textContent = text ?? "";
  $("compose-error").hidden = !text;
}

/**
 * Send what the composer holds, once the group's content rules have looked at
 * it (room-content.js): `block` keeps it here and says why (the facilitators
 * are told the category, never the text); `warn` asks first; `cw` labels go
 * into the body's warning; alert categories are told after the message.
 */
async function sendMessage({ confirmed = false } = {}) {
  const text = $("text").value.trim();
  if (!text || $("text").disabled || !page.client || page.sending) return;
  if (slowLeft() > 0) return; // the countdown under the box says how long
  const own = $("cw-row").hidden ? "" : $("cw").value.trim();
  composeError(null);
  page.sending = true;
  let check;
  try {
    check = await checkOutgoing(text, own, confirmed || page.confirmed === text);
  } catch (err) {
    composeError(err.message);
    return;
  } finally {
    page.sending = false;
  }
  const client = page.client;
  if (!client || !page.connected) return;
  if (!check.send && check.ask) {
    showCheck("warn", { title: "Before you send this:", messages: check.messages });
    $("check-cw").focus();
    return;
  }
  if (!check.send) {
    // Blocked: nothing leaves this page but one alert per alert category.
    for (const category of check.alerts) client.alert("content", category);
    showCheck("block", { title: "This message was not sent.", messages: check.messages });
    // About the writer's own safety: never held back without care (issue 18):
    // the crisis numbers at once, and the truth about who is told.
    if (check.alerts.some((c) => OWN_RISK.has(c))) showCare(client);
    $("text").focus();
    return;
  }
  page.confirmed = null;
  showCheck(null);
  if ($("text").value.trim() === text) $("text").value = "";
  try {
    const ref = await client.send(text, check.cw ? { cw: check.cw } : {});
    page.pending.push({ ref, text, cw: check.cw });
    sentOne();
    if (own) toggleCw(false);
  } catch (err) {
    if (!$("text").value) $("text").value = text;
    composeError(err.message);
    return;
  }
  for (const category of check.alerts) client.alert("content", category);
  if (check.labels.length) {
    showCheck("cw", {
      title: `Sent behind a content warning: ${check.labels.join(", ")}.`,
      messages: check.messages,
    });
  }
}

export function toggleCw(open = $("cw-row").hidden) {
  $("cw-row").hidden = !open;
  $("cw-toggle").setAttribute("aria-expanded", String(open));
  $("cw-toggle").textContent = open ? "Remove content warning" : "Add content warning";
  if (!open) $("cw").value = "";
}

export function setUpComposer() {
  $("compose").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sendMessage();
  });
  $("text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      sendMessage();
    }
  });
  // The rules' questions: send as it is, add a warning of one's own, or rephrase.
  $("text").addEventListener("input", () => {
    if ($("content-check").dataset.kind !== "") showCheck(null);
    if (page.confirmed !== null && $("text").value.trim() !== page.confirmed) page.confirmed = null;
  });
  $("check-send").addEventListener("click", () => sendMessage({ confirmed: true }));
  $("check-cw").addEventListener("click", () => {
    page.confirmed = $("text").value.trim();
    toggleCw(true);
    $("content-check-actions").hidden = true;
    $("content-check-hint").hidden = false;
    $("cw").focus();
  });
  $("check-edit").addEventListener("click", rephrase);
  $("content-check").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && $("content-check").dataset.kind === "warn") {
      ev.preventDefault();
      rephrase();
    }
  });
  // Shown only where the codec can carry the warning (client.js CONTENT_WARNINGS).
  $("cw-toggle").hidden = !CONTENT_WARNINGS;
  $("cw-toggle").addEventListener("click", () => {
    toggleCw();
    if (!$("cw-row").hidden) $("cw").focus();
  });
}

function rephrase() {
  page.confirmed = null;
  showCheck(null);
  $("text").focus();
}
