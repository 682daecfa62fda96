// The group's crisis resources, one quiet tap away on every screen a member
// can be on: the "Crisis numbers" button in the header opens them in a dialog
// and tells nobody (this page sends nothing for it). Phone-like runs in the
// group's text become tel: links; the text itself is put on the page as text
// nodes, never as HTML.

import { $, el } from "./room-view.js";

/**
 * Digit groups joined by one space, dot or hyphen, with a bracketed group
 * allowed inside ("+44 (0)20 7946 0958", "116 123", "988"). "24/7" is two
 * runs of too few digits, so it stays text.
 */
const PHONE = /\+?\d(?:[ .-]?(?:\d|\(\d{1,5}\)))*/g;
const MIN_DIGITS = 3;
const MAX_DIGITS = 15;

/** The resource's text as nodes: text, with a tel: link for each phone-like run. @param {string} text */
export function crisisNodes(text) {
  const s = String(text);
  const nodes = [];
  let last = 0;
  for (const m of s.matchAll(PHONE)) {
    const digits = m[0].replace(/\D/g, "");
    if (digits.length < MIN_DIGITS || digits.length > MAX_DIGITS) continue;
    if (m.index > last) nodes.push(document.createTextNode(s.slice(last, m.index)));
    const a = el("a", "tel", m[0]);
    a.href = `tel:${m[0].startsWith("+") ? "+" : ""}${digits}`;
    nodes.push(a);
    last = m.index + m[0].length;
  }
  if (last < s.length) nodes.push(document.createTextNode(s.slice(last)));
  return nodes;
}

/** One resource as a list item. @param {string} text */
export function crisisItem(text) {
  const li = el("li");
  li.append(...crisisNodes(text));
  return li;
}

/** @param {HTMLElement} list @param {string[]} resources */
export function fillCrisisList(list, resources) {
  list.replaceChildren(...(resources ?? []).map(crisisItem));
}

/** The group's resources as last told (null: no group known yet: the dialog says what is true then). */
let known = null;

/** The rules, a welcome or the end told this page the group's resources. @param {string[] | undefined} list */
export function knowCrisis(list) {
  known = Array.isArray(list) ? list.filter((r) => typeof r === "string") : [];
  if ($("crisis-dialog").open) render();
}

function render() {
  fillCrisisList($("crisis-list"), known ?? []);
  $("crisis-list").hidden = !known?.length;
  $("crisis-none").hidden = known === null || Boolean(known.length);
  $("crisis-unknown").hidden = known !== null;
}

export function setUpCrisis() {
  $("crisis-open").addEventListener("click", () => {
    render();
    const dialog = $("crisis-dialog");
    const before = document.activeElement;
    dialog.addEventListener("close", () => before?.isConnected && !before.disabled && before.focus?.(), { once: true });
    if (!dialog.open) dialog.showModal();
    $("crisis-close").focus();
  });
  $("crisis-close").addEventListener("click", () => $("crisis-dialog").close());
}

export function closeCrisis() {
  if ($("crisis-dialog").open) $("crisis-dialog").close();
}
