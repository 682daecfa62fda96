// The facilitator's inbox: private messages, reports and alerts, newest first.
// In memory (the page) only; wiped with the session.
//
// Alerts must be impossible to miss: each one also goes to the banner at the
// top of the session (an assertive live region, role=alert), stays there until
// acknowledged, and counts on the unread badge and in the page title.

import { $, button, clockTime, el, show } from "./console-dom.js";

export class Inbox {
  /** @param {{nameOf: (pid: string) => string}} options */
  constructor({ nameOf }) {
    this.nameOf = nameOf;
    this.unread = 0;
    this.baseTitle = document.title;
    $("inbox-read").addEventListener("click", () => this.markRead());
    $("inbox-badge").addEventListener("click", () => {
      $("inbox").focus();
      this.markRead();
    });
  }

  /** `private` event of ChatClient: {from, ts, text, reason?} */
  addPrivate(d) {
    const text =
      d.text === null ? "This message could not be opened on this page." : d.text;
    this.#add("private", `Private message from ${this.nameOf(d.from)}`, d.ts, [
      el("p", { class: d.text === null ? "item-text unreadable" : "item-text", text }),
    ]);
  }

  /** `report` event: {from, msg, ts, verified, reported: {from, text} | null, note, reason?} */
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
            : " This report could not be checked: the text or its sender may not be what it claims.",
        }),
      ),
    ];
    if (d.reported) {
      body.push(
        el("p", { class: "item-label", text: `Reported message${Number.isInteger(d.msg) ? ` #${d.msg}` : ""} by ${this.nameOf(d.reported.from)}:` }),
        el("blockquote", { class: "item-quote", text: d.reported.text ?? "(the text could not be read)" }),
      );
    }
    if (d.note) body.push(el("p", { class: "item-label", text: "Their note:" }), el("p", { class: "item-text", text: d.note }));
    this.#add("report", `Report from ${this.nameOf(d.from)}`, d.ts, body, { verified: String(Boolean(d.verified)) });
  }

  /**
   * `alert` frame: {from, kind, category, ts}, or one this console raised itself
   * (`local`: its own check of an opened message, `msg` its id; `label` the
   * category's label). A content alert names the category only, never text.
   * @returns {HTMLElement} the inbox item
   */
  addAlert(f) {
    const who = this.nameOf(f.from);
    const support = f.kind === "support";
    const title = support ? `${who} needs support now` : `Content alert: ${who}`;
    const category = f.category ?? "unknown";
    const named = f.label && f.label !== category ? `“${f.label}” (${category})` : `“${category}”`;
    const detail = support
      ? "They pressed “I need support now”. Consider a private message, a pause, or the crisis resources."
      : f.local
        ? `A message of theirs matched the category ${named}; it is shown behind a warning. The text itself is not shown here.`
        : `A message matched the category ${named}. The text itself is not shown here.`;
    const data = { alert: f.kind, category };
    if (f.local) {
      data.local = "true";
      if (Number.isInteger(f.msg)) data.msg = String(f.msg);
    }
    const item = this.#add("alert", title, f.ts, [el("p", { class: "item-text", text: detail })], data);
    this.#banner(title, detail, support);
    return item;
  }

  /** An alert that came both ways (the member's page and this console's check): said once, noted. */
  alsoFrom(item, text) {
    if (!item?.isConnected || item.querySelector(".item-also")) return;
    item.append(el("p", { class: "hint item-also", text }));
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

  #banner(title, detail, urgent) {
    const region = $("alerts");
    const item = el("div", { class: urgent ? "alert-item is-urgent" : "alert-item", dataset: { testid: "alert-banner" } });
    item.append(
      el("p", { class: "alert-title", text: title }),
      el("p", { class: "alert-detail", text: detail }),
      button("Seen", () => {
        item.remove();
        $("inbox").focus();
      }, { kind: "quiet", label: `Seen: ${title}` }),
    );
    region.append(item);
  }

  markRead() {
    this.unread = 0;
    for (const item of document.querySelectorAll("#inbox-list .is-unread")) item.classList.remove("is-unread");
    this.#count();
  }

  #count() {
    $("inbox-count").textContent = String(this.unread);
    $("inbox-count").hidden = this.unread === 0;
    const badge = $("inbox-badge");
    badge.textContent = this.unread === 1 ? "1 new in the inbox" : `${this.unread} new in the inbox`;
    badge.hidden = this.unread === 0;
    document.title = this.unread > 0 ? `(${this.unread}) ${this.baseTitle}` : this.baseTitle;
  }

  /** Forget everything (the session ended, or the facilitator left the console). */
  wipe() {
    $("inbox-list").replaceChildren();
    $("alerts").replaceChildren();
    show("inbox-empty", true);
    this.markRead();
  }
}
