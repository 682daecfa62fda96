// The tab's title while the console is open: what waits for the facilitator
// comes first, so a tab in the background still says it ("(1) knocking · ...").
// Each part is set by the view that knows it (knocks, open alerts, the inbox)
// and cleared by it; the rest of the title is the page's own.

const BASE = typeof document === "undefined" ? "" : document.title;
/** The order the parts are read in: someone at the door first. */
const ORDER = ["knocking", "alerts", "inbox"];
const parts = new Map();

/**
 * @param {"knocking" | "alerts" | "inbox"} key
 * @param {string | null} text e.g. "(1) knocking"; null or "" removes the part
 */
export function titlePart(key, text) {
  if (text) parts.set(key, text);
  else parts.delete(key);
  const shown = ORDER.filter((k) => parts.has(k)).map((k) => parts.get(k));
  document.title = [...shown, BASE].join(" · ");
}
