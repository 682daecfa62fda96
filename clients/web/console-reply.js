// Replying privately to one member: a facilitator's `private` with `to`
// (docs/protocol.md section 4), sealed to that member and the facilitators
// present (docs/e2ee.md section 8). Offered from the member's row, from an
// open alert and from the inbox, through one small composer (#reply-panel),
// so a roster change that redraws the rows never loses what is being typed.
//
// Only to a member who is connected (on a break is fine: they still read the
// thread); otherwise the page says so instead of offering it. The server may
// still refuse (`not_connected`, the member just left): said plainly.

import { $, announce, button, el, say, show } from "./console-dom.js";

export class PrivateReply {
  /**
   * @param {{nameOf: (pid: string) => string, client: () => import("./client.js").ChatClient | null,
   *   connected: (pid: string) => boolean}} options
   */
  constructor({ nameOf, client, connected }) {
    this.nameOf = nameOf;
    this.client = client;
    this.connected = connected;
    /** the member the composer writes to, or null */
    this.to = null;
    /** ref of each reply sent -> {pid, line} (line: its element in the thread, if shown) */
    this.sent = new Map();
    $("reply-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#send();
    });
    $("reply-cancel").addEventListener("click", () => this.close());
  }

  /** A place for the reply control of member `pid`, kept up to date by refresh(). */
  slot(pid) {
    const slot = el("span", { class: "reply-slot", dataset: { replyFor: pid } });
    this.#fill(slot);
    return slot;
  }

  /** The roster changed: who can be written to now. */
  refresh() {
    for (const slot of document.querySelectorAll("[data-reply-for]")) this.#fill(slot);
    if (this.to !== null) this.#state();
  }

  #fill(slot) {
    const pid = slot.dataset.replyFor;
    const name = this.nameOf(pid);
    slot.replaceChildren(
      this.connected(pid)
        ? button("Reply privately", () => this.open(pid), { kind: "small", label: `Reply privately to ${name}` })
        : el("span", { class: "hint not-connected", text: `${name} is not connected`, dataset: { testid: "not-connected" } }),
    );
  }

  open(pid) {
    this.to = pid;
    say("reply-error", "");
    show("reply-panel", true);
    this.#state();
    $("reply-text").focus();
  }

  close() {
    this.to = null;
    $("reply-text").value = "";
    say("reply-error", "");
    show("reply-panel", false);
  }

  #state() {
    const name = this.nameOf(this.to);
    $("reply-title").textContent = `Private reply to ${name}`;
    const can = this.connected(this.to);
    $("reply-send").disabled = !can;
    $("reply-hint").textContent = can
      ? `Only ${name} and the facilitators can read this.`
      : `${name} is not connected, so nothing can be sent to them now.`;
  }

  async #send() {
    const client = this.client();
    const to = this.to;
    const text = $("reply-text").value.trim();
    if (!text || to === null) return;
    say("reply-error", "");
    if (!client || client.closed) {
      say("reply-error", "The console is not connected to the room.", { error: true });
      return;
    }
    if (!this.connected(to)) {
      say("reply-error", `${this.nameOf(to)} is not connected, so nothing was sent to them.`, { error: true });
      return;
    }
    try {
      const ref = await client.private(text, to);
      if (!this.sent.has(ref)) this.sent.set(ref, { pid: to, line: null });
      $("reply-text").value = "";
      announce(`Sent privately to ${this.nameOf(to)}.`);
      this.close();
    } catch (err) {
      const why = err?.code === "no_recipient" ? `${this.nameOf(to)} cannot be verified, so nothing was sent.` : err?.message ?? String(err);
      say("reply-error", why, { error: true });
    }
  }

  /** The thread's line of a reply this page sent (so a refusal can be marked on it). */
  shown(ref, line, pid) {
    const entry = this.sent.get(ref);
    if (entry) entry.line = line;
    else this.sent.set(ref, { pid, line });
  }

  /**
   * An `error` frame: one for a reply of this page is said here.
   * @returns {boolean} whether it was one
   */
  error(e) {
    const entry = this.sent.get(e.ref);
    if (!entry) return false;
    this.sent.delete(e.ref);
    const name = entry.pid ? this.nameOf(entry.pid) : "That member";
    const text =
      e.code === "not_connected" ? `${name} is not connected right now, so nothing was sent to them.` : e.message ?? String(e.code);
    say("session-error", text, { error: true });
    announce(text, { assertive: true });
    if (entry.line) {
      entry.line.classList.add("is-failed");
      entry.line.append(el("span", { class: "hint", text: ` Not sent: ${text}` }));
    }
    return true;
  }

  wipe() {
    this.sent.clear();
    this.close();
  }
}
