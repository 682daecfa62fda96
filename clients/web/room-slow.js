// Slow mode as the member sees it before anything is refused: the pace the
// facilitators set ("one message every 30 seconds"), and after each message a
// countdown until the next may go. The server stays the judge: a refusal's
// `retry_after` (slow_mode) sets the countdown too.

import { $, el } from "./room-view.js";
import { page } from "./room-page.js";

let until = 0; // Date.now() in ms when the next message may go
let timer = null;

function line() {
  let p = document.getElementById("compose-slow");
  if (!p) {
    p = el("p", "hint compose-slow");
    p.id = "compose-slow";
    p.dataset.testid = "compose-slow";
    p.setAttribute("aria-live", "polite");
    $("compose-note").after(p);
  }
  return p;
}

/** Seconds before the next message may go (0: now). */
export function slowLeft() {
  return Math.max(0, Math.ceil((until - Date.now()) / 1000));
}

/** The facilitators set (or lifted) slow mode: a welcome or a state frame. @param {number | undefined} seconds */
export function setSlowMode(seconds) {
  page.slowMode = Math.max(0, Number(seconds) || 0);
  if (!page.slowMode) until = 0;
  render();
}

/** A message of ours went: the next one waits. */
export function sentOne() {
  if (page.slowMode) startCountdown(page.slowMode);
}

/** The server refused a message for slow mode: its word on how long. @param {number} seconds */
export function refusedFor(seconds) {
  startCountdown(seconds);
}

function startCountdown(seconds) {
  until = Date.now() + seconds * 1000;
  render();
}

function render() {
  const p = line();
  const left = slowLeft();
  const pace = page.slowMode ? `Slow mode: one message every ${page.slowMode} seconds.` : "";
  p.textContent = left > 0 ? `${pace} You can send again in ${left} s.`.trim() : pace;
  p.hidden = !p.textContent;
  $("send").disabled = $("text").disabled || left > 0;
  clearTimeout(timer);
  timer = left > 0 ? setTimeout(render, 1000 - (Date.now() % 1000) + 5) : null;
}

export { render as renderSlow };
