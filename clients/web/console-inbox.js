// The facilitator's inbox: private messages, reports and this console's own
// content alerts, newest first. In memory (the page) only; wiped with the session.
//
// Alerts must be impossible to miss: this console's own alerts also go to the
// alert strip at the top of the session (console-strip.js), beside the open
// alerts the server holds (console-alerts.js), and stay there while unread:
// "Dismiss" there marks the inbox item read, and "Mark all read" takes every
// one of them off the strip, as it says. They count on the unread badge and in
// the page title.

import { $, announce, button, clockTime, el, show } from "./console-dom.js";
import { stripAdd, stripRemove } from "./console-strip.js";
import { titlePart } from "./console-title.js";

export class Inbox {
  /**
   * @param {{nameOf: (pid: string) => string, reply?: import("./console-reply.js").PrivateReply}} options
   *   `reply`: the private composer, offered on each member's thread and report
   */
  constructor({ nameOf, reply }) {
    this.nameOf = nameOf;
    this.reply = reply;
    /** member pid -> the inbox item of their private thread with the facilitators */
    this.threads = new Map();
    this.unread = 0;
    /** inbox item -> its banner at the top of the session */
    this.banners = new Map();
    $("inbox-read").addEventListener("click", () => this.markRead());
    $("inbox-badge").addEventListener("click", () => {
      $("inbox").focus();
      this.markRead();
    });
  }

  /**
   * `private` event of ChatClient: {from, thread, ts, text, own, ref?, reason?}. One
   * item per member's thread (`thread`: the member's pid), labelled "Private with
   * NAME", with the member's messages and every facilitator's replies in order;
   * one without a thread (among the facilitators only) stands alone.
   */
  addPrivate(d) {
    const text = d.text === null ? "This message could not be opened on this page." : d.text;
    const line = el(
      "li",
      { class: d.text === null ? "thread-line unreadable" : "thread-line", dataset: { testid: "private-line", from: d.from } },
      el("span", { class: "thread-who", text: `${d.own ? "You" : this.nameOf(d.from)}: ` }),
      el("span", { class: "thread-text", text }),
      el("span", { class: "item-time", text: Number.isFinite(d.ts) ? ` ${clockTime(d.ts)}` : "" }),
    );
    if (d.own && d.ref !== undefined) this.reply?.shown(d.ref, line, d.thread);
    if (typeof d.thread !== "string") {
      this.#add("private", `Private message from ${this.nameOf(d.from)}`, d.ts, [el("ol", { class: "thread-lines" }, line)]);
      return;
    }
    let item = this.threads.get(d.thread);
    if (!item?.isConnected) {
      const body = [el("ol", { class: "thread-lines" })];
      if (this.reply) body.push(el("p", { class: "item-actions" }, this.reply.slot(d.thread)));
      item = this.#add("private", `Private with ${this.nameOf(d.thread)}`, d.ts, body, { thread: d.thread });
      this.threads.set(d.thread, item);
      if (d.own) {
        // This console began the thread: nothing new to read in it.
        item.classList.remove("is-unread");
        this.unread -= 1;
        this.#count();
      }
    } else if (!d.own) {
      this.#touch(item, d.ts);
    }
    item.querySelector(".thread-lines").append(line);
  }

  /**
   * `report` event: {from, msg, ts, verified, reported: {from, text} | null, note, reason?}.
   * `reason` "id_mismatch": the reported message is genuine but is not the one this console
   * opened under that id (the server numbers messages, docs/e2ee.md section 10).
   */
  addReport(d) {
    const verdict = d.verified
      ? el("span", { class: "chip chip-verified", text: "Verified", dataset: { testid: "report-verdict" } })
      : el("span", { class: "chip chip-unverified", text: "NOT verified", dataset: { testid: "report-verdict" } });
    const body = [
      el(
        "p",
        { class: "verdict-line" },
        verdict,
        el("span", {
          class: "hint",
          text: d.verified
            ? " The named member really sent this text."
            : d.reason === "id_mismatch"
              ? " The ids disagree: this console received another message under that number, so this text is not shown as that message."
              : " This report could not be checked: the text or its sender may not be what it claims.",
        }),
      ),
    ];
    if (d.reported) {
      body.push(
        el("p", {
          class: "item-label",
          text:
            d.reason === "id_mismatch"
              ? `What they reported, which is not message${Number.isInteger(d.msg) ? ` #${d.msg}` : ""} as this console received it:`
              : `Reported message${Number.isInteger(d.msg) ? ` #${d.msg}` : ""} by ${this.nameOf(d.reported.from)}:`,
        }),
        el("blockquote", { class: "item-quote", text: d.reported.text ?? "(the text could not be read)" }),
      );
    }
    if (d.note) body.push(el("p", { class: "item-label", text: "Their note:" }), el("p", { class: "item-text", text: d.note }));
    if (this.reply) body.push(el("p", { class: "item-actions" }, this.reply.slot(d.from)));
    this.#add("report", `Report from ${this.nameOf(d.from)}`, d.ts, body, { verified: String(Boolean(d.verified)), reason: d.reason ?? "" });
  }

  /**
   * A content alert this console raised itself, from its own check of a
   * message it opened (`msg` its id, `label` the category's label): the
   * member's page raised none (yet) for it, so there is nothing the server
   * holds and nothing to mark handled. The alerts the server holds are in
   * console-alerts.js. Names the category only, never text.
   * @param {{from: string, category: string, label?: string, ts: number, msg?: number}} f
   * @returns {HTMLElement} the inbox item
   */
  addAlert(f) {
    const who = this.nameOf(f.from);
    const title = `Content alert: ${who}`;
    const category = f.category ?? "unknown";
    const named = f.label && f.label !== category ? `“${f.label}” (${category})` : `“${category}”`;
    const detail = `A message of theirs matched the category ${named}; it is shown behind a warning. The text itself is not shown here.`;
    const data = { alert: "content", category, local: "true" };
    if (Number.isInteger(f.msg)) data.msg = String(f.msg);
    const item = this.#add("alert", title, f.ts, [el("p", { class: "item-text", text: detail })], data);
    this.banners.set(item, this.#banner(item, title, detail));
    announce(`${title}.`, { assertive: true });
    return item;
  }

  /** Take an item (and its banner) away: the same event is shown elsewhere. */
  remove(item) {
    if (!item?.isConnected) return;
    if (item.classList.contains("is-unread")) this.unread = Math.max(0, this.unread - 1);
    item.remove();
    this.#unbanner(item);
    show("inbox-empty", $("inbox-list").children.length === 0);
    this.#count();
  }

  #add(kind, title, ts, body, data = {}) {
    const when = Number.isFinite(ts) ? clockTime(ts) : "";
    const item = el(
      "li",
      { class: `inbox-item inbox-${kind} is-unread`, dataset: { testid: "inbox-item", kind, ...data } },
      el("p", { class: "item-head" }, el("strong", { text: title }), el("span", { class: "item-time", text: when })),
      ...body,
    );
    $("inbox-list").prepend(item);
    show("inbox-empty", false);
    this.unread += 1;
    this.#count();
    return item;
  }

  /** A thread's new message: to the top, unread again. */
  #touch(item, ts) {
    $("inbox-list").prepend(item);
    if (Number.isFinite(ts)) item.querySelector(".item-time").textContent = clockTime(ts);
    if (!item.classList.contains("is-unread")) {
      item.classList.add("is-unread");
      this.unread += 1;
      this.#count();
    }
  }

  /** The strip's row for inbox item `of`: there while the item is unread. */
  #banner(of, title, detail) {
    const row = el("div", { class: "alert-item", dataset: { testid: "alert-banner" } });
    row.append(
      el("p", { class: "alert-title", text: title }),
      el("p", { class: "alert-detail", text: detail }),
      el(
        "p",
        { class: "alert-actions" },
        button("Dismiss", () => this.#read(of), { kind: "quiet", label: `Dismiss: ${title} (marks it read in the inbox)` }),
      ),
    );
    stripAdd(row);
    return row;
  }

  #unbanner(item) {
    const row = this.banners.get(item);
    this.banners.delete(item);
    if (row) stripRemove(row);
  }

  /** One item read: its row leaves the strip; the item stays in the inbox. */
  #read(item) {
    if (item.classList.contains("is-unread")) {
      item.classList.remove("is-unread");
      this.unread = Math.max(0, this.unread - 1);
    }
    this.#unbanner(item);
    this.#count();
  }

  /** Every item read, and so none of this console's own alerts left on the strip. */
  markRead() {
    this.unread = 0;
    for (const item of document.querySelectorAll("#inbox-list .is-unread")) item.classList.remove("is-unread");
    for (const item of [...this.banners.keys()]) this.#unbanner(item);
    this.#count();
  }

  #count() {
    $("inbox-count").textContent = String(this.unread);
    $("inbox-count").hidden = this.unread === 0;
    const badge = $("inbox-badge");
    badge.textContent = this.unread === 1 ? "1 new in the inbox" : `${this.unread} new in the inbox`;
    badge.hidden = this.unread === 0;
    // Nothing unread: nothing for "Mark all read" to do, so it is not offered.
    show("inbox-read", this.unread > 0);
    titlePart("inbox", this.unread > 0 ? `(${this.unread}) new` : null);
  }

  /** Forget everything (the session ended, or the facilitator left the console). */
  wipe() {
    $("inbox-list").replaceChildren();
    this.threads.clear();
    for (const row of this.banners.values()) stripRemove(row);
    this.banners.clear();
    show("inbox-empty", true);
    this.markRead();
  }
}
