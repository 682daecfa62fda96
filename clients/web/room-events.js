// The member room once the member is in: what the welcome, the session's
// state, the roster, the frames and the messages do to the page (room.js runs
// the connection and the stages around them).

import * as view from "./room-view.js";
import { $ } from "./room-view.js";
import { refusedFor, setSlowMode } from "./room-slow.js";
import { awayText, muteText } from "./room-text.js";
import { BACK_BANNER_MS, banner, page, say, setTitle, show } from "./room-page.js";
import { composeError, note, updateControls } from "./room-compose.js";
import { incomingCw, setRules } from "./room-content.js";
import { onSupportRefused, restoreAlerts } from "./room-support.js";
import { knowCrisis } from "./room-crisis.js";

/** What room.js lends these: `finish` (the visit is over) and `openReport` (the report dialog). */
let room;

/** @param {{finish: (kind: string) => void, openReport: (entry: object) => void}} hooks */
export function setUpRoomEvents(hooks) {
  room = hooks;
}

export function onWelcome(w) {
  const returning = page.stage === "in";
  if (returning && w.session !== page.session) {
    // Another session than the one this page showed: ours ended meanwhile.
    room.finish("gone");
    return;
  }
  page.session = w.session;
  page.stage = "in";
  page.connected = true;
  page.retries = 0;
  page.me = w.you;
  page.group = w.group ?? page.group;
  knowCrisis(page.group?.crisis_resources ?? page.rules?.crisis_resources);
  setRules(page.group?.content_rules ?? null, page.group?.id);
  setTitle(page.group?.title ?? page.rules?.group?.title);
  onState(w, { quiet: true });
  if (returning) {
    // A new connection has new keys: what came before cannot be reported from it.
    for (const entry of page.entries.values()) entry.li.querySelector(".msg-report")?.remove();
    banner("banner-connection", page.away && !page.comingBack ? "Connected again." : "Back — you are connected again.");
    $("banner-connection").classList.add("is-back");
    page.bannerTimer = setTimeout(() => banner("banner-connection", null), BACK_BANNER_MS);
    if (page.away) {
      // The connection dropped during a break: the server kept the break (it
      // lasts until `back`), so the member is still away, unless they had
      // asked to come back; then the page asks again on the new connection.
      page.awayCount += Math.max(0, (w.last_msg ?? 0) - page.lastId);
      const me = w.roster?.find((p) => p.pid === w.you);
      if (!me?.present) {
        if (page.comingBack) page.client?.back();
      } else if (page.comingBack) returned();
      else page.client?.stepOut(); // it put us back in the room: the break goes on

    } else {
      view.notice(w.last_msg > page.lastId ? "You are back. Messages sent while you were away are not shown." : "You are back.");
      say("You are back in the room.");
    }
  } else {
    show("room");
    if (w.last_msg > 0) view.notice("You joined partway through: earlier messages are not shown.");
    say("You are in the room.");
  }
  page.lastId = Math.max(page.lastId, w.last_msg ?? 0);
  updateControls();
  restoreAlerts(w.alerts);
}

/** The server said we are back from the break (or a reconnect took us back while coming back). */
export function returned() {
  const n = page.awayCount;
  page.away = false;
  page.comingBack = false;
  page.awayCount = 0;
  $("away-status").textContent = "";
  onState({ state: page.state, paused: page.paused }, { quiet: true });
  onRoster(page.roster);
  view.notice(awayText(n));
  say(n ? awayText(n) : "You are back in the room.");
  if (!$("text").disabled) $("text").focus();
}

export function onState(s, { quiet = false } = {}) {
  const was = page.state;
  page.state = s.state;
  page.paused = Boolean(s.paused);
  setSlowMode(s.slow_mode_seconds);
  // "You can say hello" is not so on a break.
  banner("banner-lobby", s.state === "lobby" && !page.away ? $("banner-lobby").textContent : null);
  banner("banner-paused", page.paused ? $("banner-paused").textContent : null);
  if (!quiet && was === "lobby" && s.state.startsWith("live")) view.notice("The session has started.");
  updateControls();
}

export function onRoster(roster) {
  page.roster = roster;
  const me = roster.find((p) => p.pid === page.me);
  const up = Boolean(me?.hand);
  $("hand").setAttribute("aria-pressed", String(up));
  $("hand").textContent = up ? "Lower hand" : "Raise hand";
  const muted = me?.muted ? muteText(me.until, { away: page.away }) : null;
  if (muted !== ($("banner-muted").hidden ? null : $("banner-muted").textContent)) {
    banner("banner-muted", muted);
    say(muted ?? "A facilitator has unmuted you.");
  }
  // The "not verified" note lasts while someone it named is here and still not verified.
  const unverified = new Set(roster.filter((p) => p.present && !p.trusted).map((p) => p.pid));
  for (const pid of page.warned) if (!unverified.has(pid)) page.warned.delete(pid);
  if (!page.warned.size) note(null);
  view.people(roster, {
    me: page.me,
    hidden: page.hidden,
    verifiable: page.client ? !page.client.codec?.unverified : true,
    onToggleHide: toggleHidden,
  });
  updateControls();
}

/** Notices in the log about who comes and goes (names as the server gives them). */
export function onFrame(f) {
  const name = (pid) => page.client?.roster.get(pid)?.name;
  if (f.t === "presence" && f.pid === page.me && f.present && page.away && page.comingBack) {
    returned();
    return;
  }
  if (f.t === "content_rules" && page.stage === "in") {
    // A facilitator changed the group's content rules during the session.
    if (page.group) page.group = { ...page.group, content_rules: f.rules ?? null };
    setRules(f.rules ?? null, page.group?.id);
    view.notice("The group's content rules were updated.");
    return;
  }
  // On a break the conversation is hidden, and so is who comes and goes in it.
  if (page.away) return;
  if (f.t === "joined" && f.p && f.p.pid !== page.me && page.stage === "in") {
    view.notice(`${f.p.name} joined${f.p.role === "facilitator" ? " (facilitator)" : ""}.`);
  } else if (f.t === "presence" && f.pid !== page.me && name(f.pid)) {
    view.notice(f.present ? `${f.name ?? name(f.pid)} is back.` : `${name(f.pid)} stepped out.`);
  } else if ((f.t === "left" || f.t === "removed") && name(f.pid)) {
    view.notice(f.t === "left" ? `${name(f.pid)} left.` : `${name(f.pid)} is no longer in the session.`);
  }
}

export function onMsg(m) {
  page.lastId = Math.max(page.lastId, m.id);
  if (m.own) page.pending.shift();
  if (page.away) {
    // Sealed for those in the room (docs/e2ee.md section 7): counted, not shown.
    if (!m.own) page.awayCount += 1;
    return;
  }
  // Shown in order, each behind the body's warning and this page's own labels
  // for it (so a sender that left a label out cannot hide it from this reader).
  const visit = page.visit;
  page.shown = page.shown.then(async () => {
    const cw = await incomingCw(m);
    if (visit === page.visit) showMessage({ ...m, cw });
  });
}

function showMessage(m) {
  const sender = page.roster.find((p) => p.pid === m.from);
  const entry = {
    id: m.id,
    from: m.from,
    name: m.own ? "You" : m.name,
    ts: m.ts,
    text: m.text,
    reason: m.reason,
    cw: m.cw,
    own: m.own,
    role: sender?.role,
    reportable: !m.own && m.text !== null,
  };
  entry.li = view.message(entry, {
    hidden: page.hidden.has(m.from),
    onReport: (e) => room.openReport(e),
    onUnhide: (pid) => toggleHidden(pid, false),
  });
  page.entries.set(m.id, entry);
}

export function onWarning(w) {
  if (w.code === "unverified_link") {
    banner("banner-warning", w.message);
  } else if (w.code === "untrusted" && w.pid && !page.warned.has(w.pid)) {
    page.warned.add(w.pid);
    const who = page.roster.find((p) => p.pid === w.pid)?.name;
    note(who ? `${who} is not verified by a facilitator and cannot read this.` : w.message);
  } else if (w.code === "keys_barred" && w.pid) {
    // The server shows someone a facilitator removed: said while they are shown, as the note above.
    page.warned.add(w.pid);
    note(w.message);
  }
}

/** A refusal from the server while in the room (a send, a report, ...). */
export function onRoomError(e) {
  const at = page.pending.findIndex((p) => p.ref === e.ref);
  if (at >= 0) {
    const [sent] = page.pending.splice(at, 1);
    if (!$("text").value) $("text").value = sent.text;
  }
  if (e.code === "removed" || e.code === "refused") return; // the close says it
  onSupportRefused(e.ref);
  let text = e.message;
  if (e.code === "timed_out" && e.detail?.until) text = `${text} (until ${view.clock(e.detail.until)})`;
  if (e.code === "slow_mode" && e.detail?.retry_after) refusedFor(e.detail.retry_after);
  composeError(text);
}

/** A facilitator deleted a message. */
export function onDeleted({ id }) {
  // After the messages still being looked at by the content rules.
  const visit = page.visit;
  page.shown = page.shown.then(() => {
    if (visit !== page.visit) return;
    const entry = page.entries.get(id);
    if (!entry) return;
    entry.li.remove();
    page.entries.delete(id);
    view.notice("A facilitator removed a message.");
  });
}

export function toggleHidden(pid, hide = !page.hidden.has(pid)) {
  if (hide) page.hidden.add(pid);
  else page.hidden.delete(pid);
  view.setHidden(pid, hide);
  onRoster(page.roster);
  const who = page.roster.find((p) => p.pid === pid)?.name ?? "this person";
  say(hide ? `Messages from ${who} are hidden on this page.` : `Messages from ${who} are shown again.`);
}
