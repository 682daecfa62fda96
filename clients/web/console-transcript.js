// The conversation as the console shows it: each opened message once, behind
// its content warning if it has one, with "Delete" beside it. A delete is for
// everyone and cannot be taken back once sent, so it waits a few seconds first
// with "Undo" on the message ("Deleting for everyone in 4 s"); leaving the
// room sends what is waiting at once (the facilitator was told it would go),
// and a room that closes meanwhile takes it with it (nothing is left to delete).

import { $, button, clockTime, el } from "./console-dom.js";

/** Seconds a delete waits for an "Undo". */
export const UNDO_SECONDS = 4;

export class Transcript {
  /** @param {{command: (t: string, fields?: object) => unknown}} options */
  constructor({ command }) {
    this.command = command;
    /** message id -> {timer, tick, li, m} */
    this.pending = new Map();
  }

  show(m) {
    const text = m.text === null ? `This message could not be opened on this page (${m.reason ?? "unknown"}).` : m.text;
    const who = m.own ? `${m.name} (you)` : m.name;
    const li = el(
      "li",
      { class: m.own ? "message is-own" : "message", dataset: { testid: "message", id: String(m.id), from: m.from } },
      el(
        "p",
        { class: "message-head" },
        el("span", { class: "message-who", text: who }),
        el("span", { class: "message-time", text: Number.isFinite(m.ts) ? clockTime(m.ts) : "" }),
        this.#deleteButton(m),
      ),
      el("div", { class: "message-body" }, messageBody(m, text)),
    );
    const list = $("transcript");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(li);
    if (atBottom || m.own) list.scrollTop = list.scrollHeight;
  }

  #deleteButton(m) {
    return button("Delete", () => this.#ask(m), { kind: "quiet small", label: `Delete message ${m.id} from ${m.name} for everyone` });
  }

  #li(id) {
    return document.querySelector(`#transcript [data-id="${Number(id)}"]`);
  }

  /** "Delete": it goes in UNDO_SECONDS, unless undone. */
  #ask(m) {
    const li = this.#li(m.id);
    if (!li || this.pending.has(m.id)) return;
    let left = UNDO_SECONDS;
    const note = el("span", { class: "message-pending", dataset: { testid: "delete-pending" }, attrs: { role: "status" } });
    const undo = button("Undo", () => this.#undo(m.id), { kind: "small", label: `Undo: keep message ${m.id} from ${m.name}` });
    const say = () => (note.textContent = `Deleting for everyone in ${left} s`);
    say();
    const head = li.querySelector(".message-head");
    head.querySelector("button")?.replaceWith(note, undo);
    li.classList.add("is-pending");
    const entry = {
      li,
      m,
      tick: setInterval(() => {
        left = Math.max(1, left - 1);
        say();
      }, 1000),
      timer: setTimeout(() => this.#send(m.id), UNDO_SECONDS * 1000),
    };
    this.pending.set(m.id, entry);
    undo.focus();
  }

  #clear(id) {
    const entry = this.pending.get(id);
    if (!entry) return null;
    clearTimeout(entry.timer);
    clearInterval(entry.tick);
    this.pending.delete(id);
    return entry;
  }

  #undo(id) {
    const entry = this.#clear(id);
    if (!entry?.li.isConnected) return;
    const head = entry.li.querySelector(".message-head");
    head.querySelector(".message-pending")?.remove();
    const again = this.#deleteButton(entry.m);
    head.querySelector("button")?.replaceWith(again);
    entry.li.classList.remove("is-pending");
    again.focus();
  }

  #send(id) {
    const entry = this.#clear(id);
    if (!entry) return;
    const note = entry.li.querySelector(".message-pending");
    const sent = this.command("delete", { msg: id });
    entry.li.querySelector(".message-head button")?.remove();
    if (sent === undefined) {
      // Not sent (the error is said above the conversation): the message stays.
      note?.remove();
      entry.li.classList.remove("is-pending");
      entry.li.querySelector(".message-head").append(this.#deleteButton(entry.m));
    } else if (note) {
      note.textContent = "Deleting for everyone…";
    }
  }

  /** Leaving the room: every delete still waiting goes now. */
  flush() {
    for (const id of [...this.pending.keys()]) this.#send(id);
  }

  /** The server's `deleted`: gone for everyone. */
  deleted(id) {
    this.#clear(Number(id));
    const li = this.#li(id);
    if (!li) return;
    li.classList.remove("is-pending");
    li.classList.add("is-deleted");
    li.dataset.deleted = "true";
    li.querySelector(".message-head .message-pending")?.remove();
    li.querySelector(".message-head button")?.remove();
    li.querySelector(".message-body").replaceChildren(el("p", { class: "message-text unreadable", text: "Deleted for everyone." }));
  }

  wipe() {
    for (const id of [...this.pending.keys()]) this.#clear(id);
    $("transcript").replaceChildren();
  }
}

/** The text, or behind its content warning (`cw`, from the sender's body) until the facilitator opens it. */
function messageBody(m, text) {
  const p = el("p", { class: m.text === null ? "message-text unreadable" : "message-text", text });
  if (m.text === null || typeof m.cw !== "string" || !m.cw) return p;
  return el("details", { class: "message-cw" }, el("summary", { text: `Content warning: ${m.cw}` }), p);
}
