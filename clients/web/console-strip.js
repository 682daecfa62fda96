// One compact strip for everything that needs the facilitator now: the open
// alerts the server holds (console-alerts.js) and this console's own content
// alerts (console-inbox.js). It sits in the page's flow at the top of the
// session, never over it (not sticky, not fixed), so it cannot cover the
// participants' controls; it counts what is open, lists it newest first, and
// folds what is past the first few behind "Show all" until asked.
//
// Support requests are never folded: a member asking for help is always on
// screen. A folded row is not on the screen, so console-alerts.js does not say
// it is (`alert_seen`) until it is shown: the strip fires `strip-shown` then.

import { $, announce } from "./console-dom.js";
import { titlePart } from "./console-title.js";

/** Rows shown before "Show all" (support requests are shown whatever their number): fewer on a phone. */
export const FOLD_AFTER = 2;
export const FOLD_AFTER_PHONE = 1;
const PHONE = typeof matchMedia === "function" ? matchMedia("(max-width: 40rem)") : null;
const foldAfter = () => (PHONE?.matches ? FOLD_AFTER_PHONE : FOLD_AFTER);

let expanded = false;
let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  PHONE?.addEventListener("change", () => refresh());
  $("alert-strip-toggle").addEventListener("click", () => {
    expanded = !expanded;
    refresh();
    announce(expanded ? "Showing every open alert." : "Showing the newest alerts.");
  });
}

/** Put `item` at the top (a new one, or one raised again). */
export function stripAdd(item) {
  wire();
  $("alerts").prepend(item);
  refresh();
}

/** Take `item` away; focus, if it was in it, goes to the next row, never far down the page. */
export function stripRemove(item) {
  const hadFocus = item.contains(document.activeElement);
  const next = item.nextElementSibling ?? item.previousElementSibling;
  item.remove();
  refresh();
  if (!hadFocus) return;
  const target = next?.querySelector("button") ?? (!$("alert-strip-toggle").hidden ? $("alert-strip-toggle") : null);
  (target ?? $("session-title")).focus();
}

/** Empty, folded again (the session is over, or a welcome lists them anew). */
export function stripClear() {
  $("alerts").replaceChildren();
  expanded = false;
  refresh();
}

export function refresh() {
  const rows = [...$("alerts").children];
  const n = rows.length;
  let kept = 0;
  let foldable = 0;
  for (const row of rows) {
    const fold = kept >= foldAfter() && !row.classList.contains("is-urgent");
    row.hidden = fold && !expanded;
    if (fold) foldable += 1;
    else kept += 1;
  }
  const folded = expanded ? 0 : foldable;
  $("alert-strip").hidden = n === 0;
  $("alert-strip-count").textContent = String(n);
  $("alert-strip-noun").textContent = n === 1 ? "open alert" : "open alerts";
  $("alert-strip-order").textContent = n > 1 ? "newest first" : "";
  const toggle = $("alert-strip-toggle");
  // Only when there is something folded, or folded back: never a button that does nothing.
  toggle.hidden = foldable === 0;
  toggle.textContent = expanded ? "Show fewer" : `Show all ${n}`;
  toggle.setAttribute("aria-expanded", String(expanded));
  if (foldable === 0) expanded = false;
  $("alert-strip").dataset.folded = String(folded);
  $("alert-strip").classList.toggle("is-expanded", expanded);
  titlePart("alerts", n ? `(${n}) ${n === 1 ? "alert" : "alerts"}` : null);
  $("alerts").dispatchEvent(new CustomEvent("strip-shown"));
}
