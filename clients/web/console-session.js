// The live session, as the facilitator runs it: clients/web/client.js in
// facilitator mode over the websocket (docs/protocol.md sections 3 to 5),
// with the controls of the room's lifecycle, the knock queue, per-member
// moderation, the decrypted conversation, the session clock and the inbox.
//
// The conversation lives in this page's memory only and is wiped when the
// session ends, when the facilitator leaves the console, and on logout; so a
// reload, which cannot bring it back, asks first (`beforeunload`).

import { bytesEqual } from "./bytes.js";
import { FacilitatorClient } from "./console-client.js";
import { trustedCoFacilitators } from "./console-cofacilitators.js";
import { $, announce, ask, clockTime, el, say, show } from "./console-dom.js";
import { SessionClock } from "./console-clock.js";
import { KnockView } from "./console-knocks.js";
import { stripClear } from "./console-strip.js";
import { Transcript } from "./console-transcript.js";
import { keyText } from "./console-identity.js";
import { anchorStore } from "./console-keep.js";
import { Inbox } from "./console-inbox.js";
import { OpenAlerts } from "./console-alerts.js";
import { PeopleView } from "./console-people.js";
import { PrivateReply } from "./console-reply.js";
import { evaluate, groupPolicy, labelOf, unionCw } from "./content-policy.js";

const STATE = {
  scheduled: ["Not open yet", "Members cannot come in until you open the room."],
  lobby: ["Open", "Members with a link come in after accepting the ground rules."],
  live_locked: ["Started · door locked", "Latecomers knock; you decide who comes in."],
  live_unlocked: ["Started · door open", "Members with a link come straight in."],
  ended: ["Ended", "Nothing of this session is kept."],
};

const CLOSED = {
  1000: "You left the session. The room stays as it is for the others.",
  4000: "The session has ended for everyone. Nothing of it is kept: the conversation is gone from this page too.",
  4001: "You are no longer a facilitator of this group, so the console left the room.",
  4003: "This session was opened in another tab or on another device, so this console closed.",
  4401: "The console could not enter the room.",
};
const RECONNECTABLE = new Set([1001, 1006, 1011, 1012, 4008]);
/** A member's alert frame and this console's own alert for the same category and sender, this close: one. */
const ALERT_PAIR_SECONDS = 60;
const ALSO_HERE = "This console's own check of the message found it too.";

export class SessionView {
  /**
   * @param {{api: import("./console-api.js").Api, identity: () => {pub: Uint8Array, key: CryptoKey} | null,
   *   onBack: () => void, onPlace?: (groupId: string | null) => void}} options
   *   `onPlace`: the group whose room this page is in now (null: none, the session is over for it)
   */
  constructor({ api, identity, onBack, onPlace }) {
    this.api = api;
    this.identity = identity;
    this.onBack = onBack;
    this.onPlace = onPlace;
    /** pid -> whether it has a connection now (docs/protocol.md section 6, `connected`) */
    this.connected = new Map();
    this.client = null;
    this.group = null;
    /** pid -> name, for everyone seen this session (reports may name someone who left) */
    this.names = new Map();
    this.knocks = new Map();
    this.room = { state: null, paused: false, startedAt: null, duration: 70, slow: 0 };
    this.clock = new SessionClock(() => this.room);
    /** "connecting" (until welcome), "in" (in the room), "over" (the room closed for this page) */
    this.phase = "over";
    /** "Open the next session" was chosen: open the new session's room once in it */
    this.openNext = false;
    this.lastError = null;
    /** the group's content rules in force: a Promise of {policy, warning} */
    this.content = null;
    this.trusted = [];
    /** opened messages are shown in order, each once the rules have looked at it */
    this.shown = Promise.resolve();
    this.visit = 0;
    /** this console's own content alerts of the last minute: {from, category, at, item, paired} */
    this.recentAlerts = [];
    const connected = (pid) => this.connected.get(pid) ?? this.client?.roster.get(pid)?.present ?? false;
    this.reply = new PrivateReply({ nameOf: (pid) => this.nameOf(pid), client: () => this.client, connected });
    this.inbox = new Inbox({ nameOf: (pid) => this.nameOf(pid), reply: this.reply });
    this.alerts = new OpenAlerts({
      nameOf: (pid) => this.names.get(pid) ?? this.client?.roster.get(pid)?.name ?? null,
      me: () => this.client?.me ?? null,
      client: () => this.client,
      reply: this.reply,
    });
    this.transcript = new Transcript({ command: (t, fields) => this.#command(t, fields) });
    this.knockView = new KnockView({ command: (t, fields) => this.#command(t, fields) });
    this.people = new PeopleView({
      command: (t, fields) => this.#command(t, fields),
      connected,
      reply: this.reply,
      letIn: (pid) => this.#letIn(pid),
    });

    const on = (id, fn) => $(id).addEventListener("click", fn);
    on("open-room", () => this.#command("open"));
    on("start-session", () => this.#command("start"));
    on("lock-door", () => this.#command("lock"));
    on("unlock-door", () => this.#command("unlock"));
    on("pause-all", () => this.#command("pause"));
    on("resume-all", () => this.#command("resume"));
    on("end-session", () => this.#end());
    on("leave-session", () => this.leave());
    $("slow-select").addEventListener("change", (ev) => this.#command("slow", { seconds: Number(ev.target.value) }));
    on("over-back", () => this.#back());
    on("over-again", () => this.group && this.open(this.group));
    on("over-next", () => this.group && this.open(this.group, { openNext: true }));
    on("knock-badge", () => {
      $("knock-section").scrollIntoView({ block: "center" });
      $("knocks").querySelector("button")?.focus();
    });
    $("compose").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#send();
    });
    $("compose-text").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.#send();
      }
    });
    // Closing the tab or navigating away: nothing of the session stays behind.
    // (A delete the facilitator was told would go, goes first, as it does on leaving.)
    addEventListener("pagehide", () => {
      this.transcript.flush();
      this.wipe();
    });
    // ... and it cannot come back: ask before leaving or reloading a live session.
    addEventListener("beforeunload", (ev) => {
      if (!this.active) return;
      ev.preventDefault();
      ev.returnValue = "";
    });
  }

  get active() {
    return this.client !== null;
  }

  nameOf(pid) {
    return this.names.get(pid) ?? this.client?.roster.get(pid)?.name ?? pid;
  }

  // ---- entering and leaving ----

  /**
   * Enter the room of `group` (creating a `scheduled` session if there is none).
   * `restored`: after a reload, whose earlier private messages and reports are gone.
   */
  async open(group, { restored = false, openNext = false } = {}) {
    this.wipe();
    this.group = group;
    this.phase = "connecting";
    this.openNext = openNext;
    this.onPlace?.(group.id);
    say("restore-note", restored ? "Earlier private messages and reports were sealed to this page's previous keys and cannot be shown again." : "");
    this.lastError = null;
    $("session-title").textContent = group.title;
    show("session-over", false);
    show("session-live", true);
    show("clock", true);
    this.room = { state: null, paused: false, startedAt: null, duration: group.duration_minutes ?? 70, slow: 0 };
    this.#renderState();
    this.clock.tick();
    say("session-error", "");
    say("session-note", "Connecting…");
    const identity = this.identity();
    let full;
    try {
      full = await this.api.group(group.id);
    } catch (err) {
      this.#over(err.message, false);
      return;
    }
    const mine = keyText(identity.pub);
    const keys = full.facilitator_keys ?? {};
    // Only keys this device's facilitator entered or confirmed: never one the server offers.
    const coFacilitators = trustedCoFacilitators().filter((key) => !bytesEqual(key, identity.pub));
    this.trusted = [identity.pub, ...coFacilitators];
    const client = new FacilitatorClient({
      role: "facilitator",
      group: group.id,
      token: this.api.token,
      identity: { pub: identity.pub, key: identity.key },
      coFacilitators,
      anchorStore,
      name: this.api.account,
    });
    this.client = client;
    this.#wire(client);
    try {
      await client.connect();
    } catch (err) {
      if (this.client === client) this.#over(err.message, true);
      return;
    }
    if (keys[this.api.account] && keys[this.api.account] !== mine) {
      say(
        "session-note",
        "Your account's registered key is another browser's: members whose links carry only that key cannot verify this console.",
      );
    }
  }

  /** Step out of the room (the session goes on for the others) and go back to the groups. */
  leave({ back = true } = {}) {
    this.transcript.flush(); // deletes the facilitator was told would go
    if (this.client && !this.client.closed) {
      try {
        this.client.stepOut();
      } catch {
        // closing anyway
      }
    }
    this.wipe();
    if (back) this.onBack();
  }

  /** Forget every message, name, knock and key of the session; close the socket. */
  wipe() {
    const client = this.client;
    this.client = null;
    client?.wipe();
    this.clock.reset();
    this.names.clear();
    this.connected.clear();
    this.reply.wipe();
    this.knocks.clear();
    this.content = null;
    this.visit += 1;
    this.shown = Promise.resolve();
    this.recentAlerts = [];
    this.transcript.wipe();
    $("people").replaceChildren();
    this.people.reset();
    this.knockView.render(this.knocks);
    this.alerts.wipe();
    this.inbox.wipe();
    stripClear();
    $("compose-text").value = "";
  }

  #back() {
    this.wipe();
    this.onBack();
  }

  /** The room closed for this page; `ended`: the session ended for everyone (the next one can be opened). */
  #over(text, reconnectable, ended = false) {
    if (ended) this.clock.ended(); // before wipe() forgets the clock's skew (once: from `ended` on)
    const final = this.clock.final;
    this.wipe();
    if (ended) this.clock.showEnded(final);
    this.phase = "over";
    say("restore-note", "");
    say("session-note", "");
    this.onPlace?.(null);
    show("session-live", false);
    show("session-over", true);
    $("over-text").textContent = text;
    show("over-again", reconnectable && !ended);
    show("over-next", ended);
    this.room.state = ended ? "ended" : null;
    // Out of a session that may go on: no clock here would be true, so none is shown.
    show("clock", ended);
    this.#renderState();
    $("over-back").focus();
  }

  // ---- the client's events ----

  #wire(client) {
    const on = (type, fn) =>
      client.addEventListener(type, (ev) => {
        if (this.client === client) fn(ev.detail);
      });
    on("frame", (f) => this.#frame(f));
    on("welcome", (w) => {
      this.phase = "in";
      this.room.duration = w.group?.duration_minutes ?? this.room.duration;
      $("session-title").textContent = w.group?.title ?? this.group.title;
      this.#setState(w);
      say("session-note", "");
      this.#setRules(w.group?.content_rules ?? null, w.group?.id ?? this.group.id);
      announce("You are in the room.");
      if (this.openNext && w.state === "scheduled") this.#command("open");
      this.openNext = false;
    });
    on("state", (s) => this.#setState(s, true));
    on("roster", ({ roster }) => {
      for (const p of roster) this.names.set(p.pid, p.name);
      this.people.renderPeople(roster, client.me);
      this.reply.refresh();
    });
    on("msg", (m) => this.#addMessage(m));
    on("deleted", ({ id }) => this.#markDeleted(id));
    on("private", (d) => this.inbox.addPrivate(d));
    on("report", (d) => this.inbox.addReport(d));
    on("warning", (w) => say("session-note", w.message));
    on("error", (e) => {
      if (this.reply.error(e)) return; // a private reply refused (e.g. not_connected)
      if (e.code === "no_such_alert") {
        this.alerts.gone(e.ref);
        return;
      }
      this.lastError = e;
      say("session-error", e.message, { error: true });
    });
    on("ended", () => {
      this.room.state = "ended";
      this.clock.ended();
      this.clock.showEnded();
      this.#renderState();
    });
    on("close", ({ code }) => {
      let text;
      const ended = code === 4000 || this.room.state === "ended";
      if (ended) text = CLOSED[4000];
      else if (this.lastError && (code === 4400 || code === 4401 || !CLOSED[code])) text = this.lastError.message;
      else text = CLOSED[code] ?? "The connection to the room was lost.";
      this.#over(text, RECONNECTABLE.has(code), ended);
      // Not of the facilitator's doing (lost, replaced, taken off the group): said at once.
      announce(text, { assertive: code !== 4000 && code !== 1000 });
    });
  }

  #frame(f) {
    if (typeof f.ts === "number") this.clock.observe(f.ts);
    switch (f.t) {
      case "welcome":
        for (const p of f.roster ?? []) this.names.set(p.pid, p.name);
        this.connected.clear();
        for (const p of f.roster ?? []) this.connected.set(p.pid, p.connected ?? p.present !== false);
        this.knocks.clear();
        for (const p of f.knocks ?? []) this.knocks.set(p.pid, p);
        this.knockView.render(this.knocks);
        this.alerts.load(f.session, f.alerts);
        break;
      case "joined":
        if (f.p) this.names.set(f.p.pid, f.p.name);
        if (f.p) this.connected.set(f.p.pid, f.p.connected ?? true);
        break;
      case "presence":
        if (f.present && f.name) this.names.set(f.pid, f.name);
        this.connected.set(f.pid, typeof f.connected === "boolean" ? f.connected : Boolean(f.present));
        break;
      case "left":
      case "removed":
        this.connected.set(f.pid, false);
        break;
      case "knock":
        this.knocks.set(f.p.pid, f.p);
        this.knockView.render(this.knocks, { fresh: true });
        announce(`${f.p.name} is knocking and waits to come in.`);
        break;
      case "knock_gone":
        this.knocks.delete(f.pid);
        this.knockView.render(this.knocks);
        break;
      case "state":
        // The start seen live: the server's started_at is "now" on its clock.
        if (f.started_at && !this.room.startedAt) this.clock.observe(f.started_at);
        break;
      case "reminder":
        this.clock.reminder(f.minutes_left);
        break;
      case "alert":
        this.#serverAlert(f);
        break;
      case "handled":
        if (Number.isInteger(f.id)) this.alerts.handled(f.id, f.by);
        break;
      case "content_rules":
        this.#setRules(f.rules ?? null, this.group?.id);
        announce("The group's content rules were changed.");
        break;
      case "muted":
        announce(`${this.nameOf(f.pid)} is ${f.until ? `timed out until ${clockTime(f.until)}` : "muted"}.`);
        break;
      case "unmuted":
        announce(`${this.nameOf(f.pid)} can write again.`);
        break;
      default:
        break;
    }
  }

  // ---- lifecycle ----

  #command(t, fields) {
    say("session-error", "");
    const fail = (err) => say("session-error", err.message, { error: true });
    try {
      const ref = this.client?.command(t, fields);
      if (ref instanceof Promise) ref.catch(fail); // a removal, sent once signed
      return ref;
    } catch (err) {
      fail(err);
      return undefined;
    }
  }

  /** "Let them in": vouch by hand for a member the server let in past the locked door. */
  async #letIn(pid) {
    say("session-error", "");
    try {
      await this.client?.vouchFor(pid);
      announce(`You vouched for ${this.nameOf(pid)}: their keys are confirmed by you now.`);
    } catch (err) {
      say("session-error", err.message, { error: true });
    }
  }

  #setState(s, live = false) {
    const before = this.room.state;
    this.room.state = s.state;
    this.room.paused = Boolean(s.paused);
    this.room.startedAt = s.started_at ?? null;
    this.room.slow = s.slow_mode_seconds ?? 0;
    this.#renderState();
    if (live && before !== s.state) announce(`The room is now: ${STATE[s.state]?.[0] ?? s.state}.`);
    this.clock.run();
  }

  #renderState() {
    const { state, paused } = this.room;
    const running = state === "lobby" || state === "live_locked" || state === "live_unlocked";
    const [label, hint] =
      STATE[state] ?? (this.phase === "connecting" ? ["Connecting…", ""] : ["Not in the room", "The console is not connected to this session."]);
    $("session-state").textContent = paused ? `${label} · paused` : label;
    $("session-state").dataset.state = state ?? "";
    $("session-state-hint").textContent = paused ? "Members cannot write to the room until you resume." : hint;
    show("open-room", state === "scheduled");
    show("start-session", state === "lobby");
    show("unlock-door", state === "live_locked");
    show("lock-door", state === "live_unlocked");
    show("pause-all", running && !paused);
    show("resume-all", running && paused);
    show("end-session", Boolean(state) && state !== "ended");
    show("slow-control", running);
    const select = $("slow-select");
    const value = String(this.room.slow);
    // A value set elsewhere (the group's settings, another facilitator) gets its own option.
    if (![...select.options].some((o) => o.value === value)) select.append(el("option", { value, text: `${value} seconds` }));
    select.value = value;
  }

  async #end() {
    const { value } = await ask({
      title: "End the session for everyone?",
      text: "Everyone is disconnected and the conversation is gone for good: nothing of it is kept, on this page or anywhere.",
      actions: [{ label: "End for everyone", value: "end", kind: "danger" }],
    });
    if (value !== "end") return;
    this.transcript.flush();
    this.#command("end");
  }

  // ---- the conversation ----

  async #send() {
    const text = $("compose-text").value.trim();
    if (!text || !this.client) return;
    try {
      await this.client.send(text);
      $("compose-text").value = "";
    } catch (err) {
      say("session-error", err.message, { error: true });
    }
  }

  // ---- the content rules ----

  #setRules(rules, groupId) {
    const loading = groupPolicy({ rules, groupId: groupId ?? "", trusted: this.trusted });
    this.content = loading;
    loading.then(
      (r) => {
        if (this.content === loading && r.warning) say("session-note", r.warning.message);
      },
      () => {
        if (this.content === loading) this.content = null;
      },
    );
  }

  /** The rules' verdict on an opened message, or null if the rules cannot be had. */
  async #verdict(m) {
    if (m.text === null) return null;
    try {
      if (!this.content) this.#setRules(null, this.group?.id);
      const { policy } = await this.content;
      return { v: evaluate(m.text, policy), policy };
    } catch {
      return null;
    }
  }

  /**
   * An alert the server holds (a member's page raised it): shown until handled.
   * A content alert this console's own check of the same message raised within
   * a minute is the same event: one item, noted, not two.
   */
  #serverAlert(f) {
    const shown = this.alerts.upsert(f);
    if (!shown || f.kind !== "content") return;
    const now = Date.now() / 1000;
    this.recentAlerts = this.recentAlerts.filter((r) => now - r.at < ALERT_PAIR_SECONDS);
    const twin = this.recentAlerts.find((r) => !r.paired && r.from === f.from && r.category === f.category);
    if (!twin) return;
    twin.paired = true;
    this.inbox.remove(twin.item);
    this.alerts.note(shown, ALSO_HERE);
  }

  /** A content alert of this console's own check of a message it opened (no server alert: nothing to mark handled). */
  #localAlert(a) {
    const twin = this.alerts.twin(a.from, a.category, ALERT_PAIR_SECONDS);
    if (twin) {
      this.alerts.note(twin, ALSO_HERE);
      return;
    }
    const item = this.inbox.addAlert(a);
    this.recentAlerts.push({ from: a.from, category: a.category, at: Date.now() / 1000, item, paired: false });
  }

  #addMessage(m) {
    const visit = this.visit;
    this.shown = this.shown.then(async () => {
      const checked = await this.#verdict(m);
      if (visit !== this.visit || !this.client) return;
      const cw = checked ? unionCw(m.cw, checked.v.cw) : m.cw;
      this.transcript.show({ ...m, cw });
      if (checked && !m.own) {
        for (const category of checked.v.alert) {
          this.#localAlert({
            from: m.from,
            category,
            label: labelOf(checked.policy, category),
            ts: m.ts,
            msg: m.id,
          });
        }
      }
    });
  }

  #markDeleted(id) {
    const visit = this.visit;
    this.shown = this.shown.then(() => visit === this.visit && this.transcript.deleted(id));
  }
}
