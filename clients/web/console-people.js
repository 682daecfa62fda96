// The people of a session as the facilitator moderates them: the roster with
// each member's actions (lower hand, mute, unmute, time-out for N minutes,
// remove for this session or for good, and "Let them in" for a member the
// server let in past this facilitator's locked door, docs/e2ee.md section
// 3.2), and the raised hands in the order they went up, with "Lower all
// hands". (The knock queue: console-knocks.js.) Destructive actions, and a
// vouch by hand, ask first, in the page's own dialog, the milder choice first.
//
// The server says whose hand is up, not since when: the order is the one this
// page saw them go up in. Hands already up when it came in come first, in the
// roster's order, and the page says that this order is not known.

import { $, announce, ask, button, clockTime, el, say, show } from "./console-dom.js";

export class PeopleView {
  /**
   * @param {{command: (t: string, fields?: object) => void, connected?: (pid: string) => boolean,
   *   reply?: import("./console-reply.js").PrivateReply, letIn?: (pid: string) => void}} options
   *   `letIn`: vouch by hand for a member who entered without this facilitator's admission
   */
  constructor({ command, connected = () => true, reply, letIn = () => {} }) {
    this.command = command;
    this.connected = connected;
    this.reply = reply;
    this.letIn = letIn;
    /** pid -> place in the order hands went up (1, 2, ...), this visit */
    this.hands = new Map();
    this.nextHand = 1;
    /** whether the roster was seen yet this visit, and whose hands were up then */
    this.seen = false;
    this.before = new Set();
    $("lower-all").addEventListener("click", () => this.lowerAll());
  }

  /** A new visit of the room: no order known yet. */
  reset() {
    this.hands.clear();
    this.nextHand = 1;
    this.seen = false;
    this.before.clear();
    this.#renderHands([]);
  }

  lowerAll() {
    for (const pid of [...this.hands.keys()]) if (this.command("hand", { up: false, pid }) === undefined) return;
    announce("Lowering every raised hand.");
  }

  /** Orders the members' raised hands; @returns {Map<string, number>} pid -> 1, 2, ... */
  #orderHands(roster) {
    const up = roster.filter((p) => p.role === "member" && p.hand);
    const upIds = new Set(up.map((p) => p.pid));
    for (const pid of [...this.hands.keys()]) if (!upIds.has(pid)) this.hands.delete(pid);
    for (const p of up) {
      if (this.hands.has(p.pid)) continue;
      if (!this.seen) this.before.add(p.pid);
      this.hands.set(p.pid, this.nextHand++);
    }
    for (const pid of [...this.before]) if (!upIds.has(pid)) this.before.delete(pid);
    this.seen = true;
    // Renumbered 1..n in the order they went up.
    const order = new Map();
    [...this.hands.entries()].sort((a, b) => a[1] - b[1]).forEach(([pid], i) => order.set(pid, i + 1));
    this.#renderHands(up.length ? [...order.keys()].map((pid) => up.find((p) => p.pid === pid)) : []);
    return order;
  }

  #renderHands(people) {
    show("hands", people.length > 0);
    $("hands-list").replaceChildren(
      ...people.map((p, i) => el("li", { class: "hand-item", dataset: { testid: "hand", pid: p.pid, order: String(i + 1) } }, el("span", { class: "hand-place", text: `${i + 1}.` }), " ", el("span", { text: p.name }))),
    );
    $("lower-all").textContent = people.length === 1 ? "Lower the hand" : `Lower all ${people.length} hands`;
    // Two or more up since before this page came in: their order among themselves is not known.
    show("hands-hint", people.filter((p) => this.before.has(p.pid)).length > 1);
  }

  // ---- people ----

  renderPeople(roster, me) {
    const order = this.#orderHands(roster);
    const sorted = [...roster].sort((a, b) => (a.role === b.role ? 0 : a.role === "facilitator" ? -1 : 1));
    const items = sorted.map((p) => {
      const tags = [];
      if (p.pid === me) tags.push(["you", ""]);
      if (p.role === "facilitator") tags.push(["facilitator", ""]);
      if (!p.present) tags.push(this.connected(p.pid) ? ["stepped out", "away"] : ["not connected", "away"]);
      if (p.hand) tags.push([order.has(p.pid) ? `hand raised · ${order.get(p.pid)} of ${order.size}` : "hand raised", "hand"]);
      if (p.muted) tags.push([p.until ? `timed out until ${clockTime(p.until)}` : "muted", "muted"]);
      if (p.barred) tags.push(["keys removed by a facilitator: barred", "warn"]);
      else if (p.unadmitted) tags.push(["entered without your admission", "warn"]);
      if (p.pid !== me && !p.trusted) tags.push(["not verified", "warn"]);
      const actions = [];
      if (p.role === "member" && p.unadmitted && !p.barred) {
        actions.push(button("Let them in", () => this.vouch(p), { kind: "primary small", label: `Let them in: ${p.name}` }));
      }
      if (p.role === "member") {
        if (p.hand) actions.push(button("Lower hand", () => this.command("hand", { up: false, pid: p.pid }), { kind: "small", label: `Lower hand: ${p.name}` }));
        actions.push(
          p.muted
            ? button("Unmute", () => this.command("unmute", { pid: p.pid }), { kind: "small", label: `Unmute ${p.name}` })
            : button("Mute", () => this.command("mute", { pid: p.pid }), { kind: "small", label: `Mute ${p.name}` }),
          button("Time-out…", () => this.timeout(p), { kind: "small", label: `Time-out… ${p.name}` }),
          button("Remove…", () => this.remove(p), { kind: "small danger-text", label: `Remove… ${p.name}` }),
        );
        if (this.reply && p.pid !== me) actions.push(this.reply.slot(p.pid));
      }
      return el(
        "li",
        {
          class: p.present ? "person" : "person is-away",
          dataset: {
            testid: "person",
            pid: p.pid,
            name: p.name,
            muted: String(Boolean(p.muted)),
            unadmitted: String(Boolean(p.unadmitted)),
            trusted: String(Boolean(p.trusted)),
          },
        },
        el(
          "div",
          { class: "person-main" },
          el("span", { class: "person-name", text: p.name }),
          el("span", { class: "tags" }, ...tags.map(([text, kind]) => el("span", { class: `tag ${kind ? `tag-${kind}` : ""}`, text }))),
        ),
        actions.length ? el("div", { class: "row-actions" }, ...actions) : null,
      );
    });
    $("people").replaceChildren(...items);
    const members = roster.filter((p) => p.role === "member" && p.present).length;
    $("people-count").textContent = `${members} member${members === 1 ? "" : "s"} here`;
  }

  async vouch(p) {
    const { value } = await ask({
      title: `Let ${p.name} in?`,
      text:
        "The server let them in while your door was closed, and you did not admit them. " +
        "Vouch for them only if you know who they are: the pages of members whose link carries your key then trust theirs.",
      actions: [{ label: "Let them in", value: "vouch", kind: "primary" }],
    });
    if (value === "vouch") this.letIn(p.pid);
  }

  async timeout(p) {
    const { value, input } = await ask({
      title: `Time-out for ${p.name}`,
      text: "They can read but not write to the room until the time is up (or you unmute them).",
      input: { label: "Minutes", type: "number", value: "5", min: 1, max: 1440 },
      actions: [{ label: "Start time-out", value: "timeout", kind: "primary" }],
    });
    if (value !== "timeout") return;
    const minutes = Number(input);
    if (!(minutes > 0 && minutes <= 1440)) {
      say("session-error", "A time-out lasts from 1 minute to 24 hours.", { error: true });
      return;
    }
    this.command("timeout", { pid: p.pid, seconds: Math.round(minutes * 60) });
  }

  async remove(p) {
    const { value } = await ask({
      title: `Remove ${p.name}?`,
      text:
        "For this session: they cannot come back until the next session. " +
        "For good: their link is revoked as well, so it will not let them in again.",
      actions: [
        { label: "Remove for this session", value: "session", kind: "primary", focus: true },
        { label: "Remove for good (revoke their link)", value: "good", kind: "danger-text" },
      ],
    });
    if (value === "session" || value === "good") this.command("remove", { pid: p.pid, for_good: value === "good" });
  }
}
