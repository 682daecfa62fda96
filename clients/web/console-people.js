// The people of a session as the facilitator moderates them: the knock
// queue (let in, refuse) and the roster with each member's actions (lower
// hand, mute, unmute, time-out for N minutes, remove for this session or for
// good, and "Let them in" for a member the server let in past this
// facilitator's locked door, docs/e2ee.md section 3.2). Destructive actions,
// and a vouch by hand, ask first, in the page's own dialog.

import { $, ask, button, clockTime, el, say, show } from "./console-dom.js";

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
  }

  // ---- knocks ----

  renderKnocks(knocks) {
    const items = [...knocks.values()].map((p) =>
      el(
        "li",
        { class: "knock", dataset: { testid: "knock", pid: p.pid, name: p.name } },
        el("span", { class: "person-name", text: p.name }),
        el(
          "span",
          { class: "row-actions" },
          button("Let in", () => this.command("admit", { pid: p.pid }), { kind: "primary small", label: `Let ${p.name} in` }),
          button("Refuse", () => this.refuse(p), { kind: "small", label: `Refuse ${p.name}` }),
        ),
      ),
    );
    $("knocks").replaceChildren(...items);
    show("knocks-empty", items.length === 0);
    $("knock-count").textContent = String(items.length);
    $("knock-count").hidden = items.length === 0;
    $("knock-section").classList.toggle("has-knocks", items.length > 0);
    const badge = $("knock-badge");
    badge.hidden = items.length === 0;
    badge.textContent = items.length === 1 ? "1 waiting to come in" : `${items.length} waiting to come in`;
  }

  async refuse(p) {
    const { value } = await ask({
      title: `Refuse ${p.name}?`,
      text: "They cannot come in to this session, even if they try again.",
      actions: [{ label: "Refuse", value: "refuse", kind: "danger" }],
    });
    if (value === "refuse") this.command("refuse", { pid: p.pid });
  }

  // ---- people ----

  renderPeople(roster, me) {
    const sorted = [...roster].sort((a, b) => (a.role === b.role ? 0 : a.role === "facilitator" ? -1 : 1));
    const items = sorted.map((p) => {
      const tags = [];
      if (p.pid === me) tags.push(["you", ""]);
      if (p.role === "facilitator") tags.push(["facilitator", ""]);
      if (!p.present) tags.push(this.connected(p.pid) ? ["stepped out", "away"] : ["not connected", "away"]);
      if (p.hand) tags.push(["hand raised", "hand"]);
      if (p.muted) tags.push([p.until ? `timed out until ${clockTime(p.until)}` : "muted", "muted"]);
      if (p.barred) tags.push(["keys removed by a facilitator: barred", "warn"]);
      else if (p.unadmitted) tags.push(["entered without your admission", "warn"]);
      if (p.pid !== me && !p.trusted) tags.push(["not verified", "warn"]);
      const actions = [];
      if (p.role === "member" && p.unadmitted && !p.barred) {
        actions.push(button("Let them in", () => this.vouch(p), { kind: "primary small", label: `Let them in: ${p.name}` }));
      }
      if (p.role === "member") {
        if (p.hand) actions.push(button("Lower hand", () => this.command("hand", { up: false, pid: p.pid }), { kind: "small", label: `Lower ${p.name}'s hand` }));
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
      text: "For this session: they cannot come back until the next session. For good: their link is revoked as well.",
      actions: [
        { label: "Remove for this session", value: "session", kind: "danger-text" },
        { label: "Remove for good", value: "good", kind: "danger" },
      ],
    });
    if (value === "session" || value === "good") this.command("remove", { pid: p.pid, for_good: value === "good" });
  }
}
