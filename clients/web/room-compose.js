// The composer (Enter sends, Shift+Enter adds a line, an optional content
// warning) and which of the room's controls can be used right now.

import { CONTENT_WARNINGS } from "./client.js";
import { $ } from "./room-view.js";
import { page } from "./room-page.js";

export function updateControls() {
  const me = page.roster.find((p) => p.pid === page.me);
  const live = page.connected && page.stage === "in";
  const muted = Boolean(me?.muted);
  const blocked = !live || muted || page.paused;
  for (const id of ["text", "send", "cw", "cw-toggle"]) $(id).disabled = blocked;
  for (const id of ["hand", "private", "step-out"]) $(id).disabled = !live;
  $("room").classList.toggle("is-offline", !live);
  // Short: the placeholder must fit the box on a phone (the banners say more).
  let reason = null;
  if (page.away) reason = "You have stepped out";
  else if (!live) reason = "Reconnecting…";
  else if (muted) reason = "You are muted for now";
  else if (page.paused) reason = "Paused for a moment";
  $("text").placeholder = reason ?? "Write a message…";
}

export function note(text) {
  $("compose-note").textContent = text ?? "";
  $("compose-note").hidden = !text;
}

export function composeError(text) {
  $("compose-error").textContent = text ?? "";
  $("compose-error").hidden = !text;
}

async function sendMessage() {
  const text = $("text").value.trim();
  if (!text || $("text").disabled || !page.client) return;
  const cw = $("cw-row").hidden ? "" : $("cw").value.trim();
  composeError(null);
  $("text").value = "";
  try {
    const ref = await page.client.send(text, cw ? { cw } : {});
    page.pending.push({ ref, text, cw });
    if (cw) toggleCw(false);
  } catch (err) {
    if (!$("text").value) $("text").value = text;
    composeError(err.message);
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
  // Shown only where the codec can carry the warning (client.js CONTENT_WARNINGS).
  $("cw-toggle").hidden = !CONTENT_WARNINGS;
  $("cw-toggle").addEventListener("click", () => {
    toggleCw();
    if (!$("cw-row").hidden) $("cw").focus();
  });
}
