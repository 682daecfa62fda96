// The session's open support requests and content alerts, as the server holds
// them (docs/protocol.md section 5a): from `alert` frames and, on entry and on
// every return, from `welcome.alerts`; one item per alert id, so a repeat
// updates its item; each stays until a facilitator marks it handled, which
// takes it off every facilitator's screen (`handled`).
//
// Once this page has an alert on screen it says so by itself (`alert_seen`):
// the member is then told that a facilitator has it on their screen, so the
// page says it only when that is so (shown, and the tab in view). A repeat of
// an alert must be seen again (the server makes it `sent`), so it is said
// once per alert id and raising, never more.
//
// Metadata only, as the server sends it: who, which kind and category, when,
// how often, the status. Never any text of the member's.

import { $, announce, button, clockTime, el, say } from "./console-dom.js";
import { refresh, stripAdd, stripRemove } from "./console-strip.js";

/** Content categories about the writer's own risk: a priority alert, like a support request (issue 18). */
const OWN_RISK = new Set(["self_harm", "method_detail"]);

/** What each status means, said on the console. */
const STATUS = {
  waiting: "waiting: no facilitator was in the room",
  sent: "sent: not yet on a facilitator's screen",
  seen: "seen: on a facilitator's screen",
};

/** After `no_such_alert`: the alert closed before this console's "Mark handled" arrived. */
export const TAKEN = "Another facilitator already marked this handled.";

function valid(a) {
  return (
    a !== null &&
    typeof a === "object" &&
    Number.isInteger(a.id) &&
    typeof a.from === "string" &&
    (a.kind === "support" || a.kind === "content") &&
    (a.category === null || a.category === undefined || typeof a.category === "string") &&
    typeof a.ts === "number" &&
    Number.isInteger(a.count) &&
    Object.hasOwn(STATUS, a.status)
  );
}

export class OpenAlerts {
  /**
   * @param {{nameOf: (pid: string) => string | null, me: () => string | null,
   *   client: () => import("./client.js").ChatClient | null,
   *   reply?: import("./console-reply.js").PrivateReply}} options
   *   `reply`: the private composer, offered for the member who raised each alert
   */
  constructor({ nameOf, me, client, reply }) {
    this.reply = reply;
    this.nameOf = nameOf;
    this.me = me;
    this.client = client;
    this.session = null;
    /**
     * `at`: when this page last heard it raised; `locals`: how many of this
     * console's own alerts for the same message it stands for.
     * @type {Map<number, {alert: object, item: HTMLElement, at: number, locals: number}>}
     */
    this.open = new Map();
    /** the ref of each `handled` this page sent -> the alert's id */
    this.handling = new Map();
    /** `session:id:count` this page has said it shows; kept for the page's life */
    this.told = new Set();
    const tellAll = () => {
      for (const id of this.open.keys()) this.#tell(id);
    };
    document.addEventListener("visibilitychange", tellAll);
    // A row the strip unfolded is on the screen now.
    $("alerts").addEventListener("strip-shown", () => requestAnimationFrame(tellAll));
  }

  /** `welcome`: every open alert of the session, as it stands now. */
  load(session, alerts) {
    this.wipe();
    this.session = typeof session === "string" ? session : null;
    // Oldest raised first, so that each one put on top leaves the newest on top.
    const list = (Array.isArray(alerts) ? alerts : []).filter(valid).sort((x, y) => x.ts - y.ts);
    for (const a of list) this.upsert(a, { quiet: true });
    const n = this.open.size;
    if (n) announce(n === 1 ? "One alert is open." : `${n} alerts are open.`, { assertive: true });
  }

  /**
   * An `alert` frame (a new alert, or a repeat of an open one) or one of `welcome.alerts`.
   * @returns {object | null} its entry (null: a frame that does not fit docs/protocol.md, dropped)
   */
  upsert(a, { quiet = false } = {}) {
    if (!valid(a)) return null;
    let entry = this.open.get(a.id);
    if (!entry) {
      entry = { alert: { ...a }, item: el("div", { class: "alert-item" }), at: 0, locals: 0 };
      this.open.set(a.id, entry);
    } else {
      entry.alert = { ...a };
    }
    entry.at = Date.now() / 1000;
    this.#fill(entry);
    // New, or raised again: to the top of the strip (newest first).
    stripAdd(entry.item);
    if (!quiet) announce(`${this.#title(entry.alert)}.`, { assertive: true });
    requestAnimationFrame(() => this.#tell(a.id));
    return entry;
  }

  /** `handled {id, by}`: closed for every facilitator. */
  handled(id, by) {
    const entry = this.open.get(id);
    if (!entry) return;
    this.#remove(id);
    const who = by === this.me() ? "You" : this.nameOf(by) ?? "A facilitator";
    announce(`${who} marked “${this.#title(entry.alert)}” handled.`);
  }

  /** `error no_such_alert` for a `handled` of this page (by its ref): the alert is gone. */
  gone(ref) {
    const id = this.handling.get(ref);
    this.handling.delete(ref);
    if (id !== undefined) this.#remove(id);
    say("session-note", TAKEN);
    announce(TAKEN);
  }

  /**
   * The open content alert of this sender and category last raised within
   * `seconds`, with a raising that no alert of this console's own stands beside yet.
   */
  twin(from, category, seconds) {
    const now = Date.now() / 1000;
    for (const entry of this.open.values()) {
      const a = entry.alert;
      const same = a.kind === "content" && a.from === from && a.category === category;
      if (same && entry.locals < a.count && now - entry.at < seconds) return entry;
    }
    return null;
  }

  /** This console's own check found the same: one more of its alerts stands for this one, noted once. */
  note(entry, text) {
    entry.locals += 1;
    if (!entry.item.isConnected || entry.item.querySelector(".alert-also")) return;
    entry.item.append(el("p", { class: "alert-also hint", text }));
  }

  /** Forget them all (the console left the room, or a new welcome lists them again). */
  wipe() {
    for (const { item } of this.open.values()) item.remove();
    this.open.clear();
    this.handling.clear();
    refresh();
  }

  #title(a) {
    // Not in the session's roster any more: they left, or were removed.
    const who = this.nameOf(a.from) ?? "A member who is no longer in the session";
    if (a.kind === "support") return `${who} needs support now`;
    // The category is all the console knows: a safety category, not a diagnosis.
    if (OWN_RISK.has(a.category)) return `Urgent: ${who} · ${a.category}, a safety category`;
    return `Content alert: ${who} · ${a.category ?? "unknown"}`;
  }

  #fill(entry) {
    const a = entry.alert;
    const support = a.kind === "support";
    const category = a.category ?? "unknown";
    const title = this.#title(a);
    const urgent = support || OWN_RISK.has(a.category);
    const detail = support
      ? "They asked for support now. Check in with them."
      : OWN_RISK.has(a.category)
        ? `Something they wrote matched “${category}”, a category about safety. The text itself is not shown here. Check in with them privately.`
        : `Something they wrote matched the category “${category}”. The text itself is not shown here.`;
    const when = clockTime(a.ts);
    const raised = a.count === 1 ? `raised at ${when}` : `raised ${a.count} times, last at ${when}`;
    const meta = `${support ? "Support request" : "Content alert"} · ${raised} · status: ${STATUS[a.status]}`;
    const item = entry.item;
    // Urgent ones (support, and the writer's own risk) are never folded away (console-strip.js).
    item.className = urgent ? "alert-item is-urgent" : "alert-item";
    Object.assign(item.dataset, { testid: "open-alert", id: String(a.id), kind: a.kind, status: a.status, count: String(a.count) });
    if (a.category) item.dataset.category = a.category;
    else delete item.dataset.category;
    const also = item.querySelector(".alert-also");
    const focused = item.contains(document.activeElement);
    const mark = button("Mark handled", () => this.#markHandled(a.id, mark), { kind: "quiet", label: `Mark handled: ${title}` });
    mark.disabled = [...this.handling.values()].includes(a.id);
    item.replaceChildren(
      el("p", { class: "alert-title", text: title }),
      el("p", { class: "alert-detail", text: detail }),
      el("p", { class: "alert-meta", text: meta, dataset: { testid: "alert-meta" } }),
      el("p", { class: "alert-actions" }, mark, ...(this.reply ? [" ", this.reply.slot(a.from)] : [])),
      ...(also ? [also] : []),
    );
    if (focused) mark.focus();
  }

  #markHandled(id, mark) {
    const client = this.client();
    if (!client || client.closed) {
      say("session-error", "The console is not connected to the room.", { error: true });
      return;
    }
    mark.disabled = true;
    this.handling.set(client.handled(id), id);
  }

  /** The alert is on this screen now: tell the server (once per raising), which tells the member. */
  #tell(id) {
    const entry = this.open.get(id);
    if (!entry || document.visibilityState !== "visible") return;
    const item = entry.item;
    if (!item.isConnected || !(item.checkVisibility?.() ?? true)) return;
    const a = entry.alert;
    if (a.status === "seen") return;
    const key = `${this.session}:${a.id}:${a.count}`;
    const client = this.client();
    if (this.told.has(key) || !client || client.closed) return;
    this.told.add(key);
    client.alertSeen(a.id);
    entry.alert = { ...a, status: "seen" };
    this.#fill(entry);
  }

  #remove(id) {
    const entry = this.open.get(id);
    if (!entry) return;
    this.open.delete(id);
    for (const [ref, other] of this.handling) if (other === id) this.handling.delete(ref);
    stripRemove(entry.item);
  }
}
