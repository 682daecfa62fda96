// The member's room page: landing (ground rules, confidentiality) → a name →
// the room, over ChatClient. What people write is put on the page with
// textContent only and lives in this page's memory and DOM only: nothing in
// localStorage, sessionStorage, IndexedDB, cookies or the URL. Leaving, the
// end of the session, a removal or a refusal wipe it.
//
// The server sends the ground rules only in answer to a hello, which must
// carry a name; so the page first says hello with a placeholder name just to
// read the rules, declines them (the server then closes, nothing is entered),
// shows them, and says hello again with the chosen name once the member
// agreed, accepting exactly the rules that were shown.

import { ChatClient } from "./client.js";
import { parseLink } from "./link.js";
import { forget, keep, keptFor } from "./room-keep.js";
import { suggestName } from "./room-names.js";
import * as view from "./room-view.js";
import { $ } from "./room-view.js";
import { setUpDialogs } from "./room-dialogs.js";
import { FINAL, KNOCKING } from "./room-text.js";
import { BACKOFF_MS, NOT_OPEN_RETRY_MS, banner, fillCrisis, page, say, setTitle, show, showLoading } from "./room-page.js";
import { composeError, note, setUpComposer, toggleCw, updateControls } from "./room-compose.js";
import { prefetchRules, showCheck } from "./room-content.js";
import { askForSupport, cancelSupport, onAlertStatus, resetSupport, sendSupport, setUpSupport } from "./room-support.js";
import { clearPrivate, flushPrivate, onPrivate, onPrivateFrame, writePrivate } from "./room-private.js";
import { closeCrisis, knowCrisis, setUpCrisis } from "./room-crisis.js";
import {
  onDeleted,
  onFrame,
  onMsg,
  onRoomError,
  onRoster,
  onState,
  onWarning,
  onWelcome,
  setUpRoomEvents,
} from "./room-events.js";

/** The dialogs (room-dialogs.js), set up once the page is wired. */
let dialogs;

// ---- start: read the rules without entering ----

function start() {
  let link;
  try {
    link = parseLink(location.hash);
  } catch {
    finish("damaged");
    return;
  }
  if (!link.seat) {
    // Nothing after "#": no link was opened. Something without a seat: one cut short.
    finish(location.hash.length > 1 ? "incomplete" : "no_link");
    return;
  }
  page.link = location.hash;
  prefetchRules();
  keptFor(page.link).then((kept) => {
    if (!kept) {
      preview();
      return;
    }
    // A reload of this tab: the name and the rules the member accepted here.
    // If the rules changed meanwhile, the server's new digest brings the
    // landing back (answerRules); a name taken meanwhile, the name step.
    page.name = kept.name;
    page.acceptedDigest = kept.digest;
    page.stage = "joining";
    showLoading("Coming back into the room…", "");
    connect();
  });
}

/** Say hello only to read the ground rules, then decline them: nothing is entered. */
function preview() {
  clearTimer();
  page.stage = "start";
  if ($("loading").hidden) showLoading("Opening your private link…", "This takes a moment.");
  page.client?.wipe(); // a closed connection's leftovers
  const gen = ++page.gen;
  let lastError = null;
  let gotRules = false;
  const client = new ChatClient({ name: suggestName(), link: page.link, acceptRules: () => false });
  page.client = client;
  client.addEventListener("rules", ({ detail }) => {
    if (gen !== page.gen) return;
    gotRules = true;
    page.retries = 0;
    showLanding(detail);
  });
  client.addEventListener("error", ({ detail }) => (lastError = detail));
  client.addEventListener("close", ({ detail }) => {
    if (gen !== page.gen || gotRules) return;
    onClose(detail.code, lastError);
  });
  client.connect().catch((err) => {
    if (gen === page.gen && !client.ws) finish("error", err.message);
  });
}

function showLanding(rules, { changed = false } = {}) {
  page.rules = rules;
  if (page.stage === "start") page.stage = "ready";
  const title = rules.group?.title ?? "";
  setTitle(title);
  $("landing-group").textContent = title || "the group";
  $("landing-changed").hidden = !changed;
  view.fillList($("rules-list"), rules.rules ?? []);
  $("rules-none").hidden = (rules.rules ?? []).length > 0;
  fillCrisis("landing-crisis", rules.crisis_resources);
  knowCrisis(rules.crisis_resources);
  show("landing");
  say("Please read the group's ground rules.");
}

function onAccept() {
  page.acceptedDigest = page.rules?.digest ?? null;
  if (page.rulesAnswer) {
    const answer = page.rulesAnswer;
    page.rulesAnswer = null;
    showLoading("Entering the room…", "");
    answer(true);
    return;
  }
  showName();
}

function onDecline() {
  if (page.rulesAnswer) {
    page.rulesAnswer(false);
    page.rulesAnswer = null;
  }
  finish("declined");
}

// ---- the name ----

function showName(error) {
  const input = $("name");
  if (!input.value) input.value = page.name || suggestName();
  $("name-error").textContent = error ?? "";
  $("name-error").hidden = !error;
  input.setAttribute("aria-invalid", String(Boolean(error)));
  // One field on this step: the keyboard goes straight to it.
  show("name-step", { focus: false });
  input.focus();
  if (error) input.select();
}

function onNameSubmit(ev) {
  ev.preventDefault();
  const name = $("name").value.trim();
  if (!name || [...name].length > 40) {
    showName("Please choose a name of 1 to 40 characters.");
    return;
  }
  page.name = name;
  page.stage = "joining";
  if (page.acceptedDigest) keep(page.link, name, page.acceptedDigest);
  showLoading("Entering the room…", "");
  connect();
}

// ---- the connection ----

function connect() {
  clearTimer();
  page.client?.wipe(); // the previous connection's keys and messages (the page keeps its own transcript)
  const gen = ++page.gen;
  let lastError = null;
  let welcomed = false;
  const client = new ChatClient({
    name: page.name,
    link: page.link,
    acceptRules: (rules) => answerRules(rules),
  });
  page.client = client;
  const on = (type, fn) => client.addEventListener(type, (ev) => gen === page.gen && fn(ev.detail));
  on("rules", (rules) => (page.rules = rules));
  on("knocking", onKnocking);
  on("welcome", (w) => {
    welcomed = true;
    onWelcome(w);
  });
  on("state", onState);
  on("roster", ({ roster }) => {
    onRoster(roster);
    flushPrivate(); // a facilitator may have arrived (joined, presence), or become verified
  });
  on("frame", (f) => {
    onPrivateFrame(f);
    onFrame(f);
  });
  on("msg", onMsg);
  on("deleted", onDeleted);
  on("private", onPrivate);
  on("warning", onWarning);
  on("alert_status", onAlertStatus);
  on("error", (e) => {
    lastError = e;
    if (welcomed) onRoomError(e);
  });
  on("ended", () => finish("ended"));
  on("close", ({ code }) => onClose(code, lastError));
  client.connect().catch((err) => {
    if (gen === page.gen && !client.ws) finish("error", err.message);
  });
}

/** The rules come with every hello: accept the ones the member read, or ask again. */
function answerRules(rules) {
  if (rules.digest === page.acceptedDigest) return true;
  return new Promise((resolve) => {
    page.rulesAnswer = resolve;
    showLanding(rules, { changed: true });
  });
}

function onKnocking() {
  page.stage = "knocking";
  page.retries = 0;
  show("waiting");
  say(KNOCKING);
}

function onClose(code, err) {
  page.connected = false;
  const intent = page.intent;
  page.intent = null;
  if (intent === "leave") return finish("left");
  switch (code) {
    case 4000:
      return finish("ended");
    case 4001:
      return finish(err?.detail?.for_good ? "removed_for_good" : "removed");
    case 4002:
      return finish("refused");
    case 4003:
      return finish("replaced");
    case 4401:
      return refusedAtDoor(err);
    case 4400:
    case 1003:
    case 1009:
      return finish("error", err?.message);
    default:
      return connectionLost();
  }
}

function refusedAtDoor(err) {
  switch (err?.code) {
    case "name_taken":
    case "name_invalid":
      page.stage = page.stage === "in" ? "in" : "ready";
      return showName(err.message);
    case "room_not_open":
      // For a member who was in, the session is gone (ended while away, or a restart).
      if (page.stage === "in") return finish("gone");
      return waitForOpen();
    case "session_ended":
      return finish("ended");
    case "rules_not_accepted":
      return preview();
    case "rate_limited":
      return connectionLost(Math.max(1000, (err.detail?.retry_after ?? 10) * 1000));
    case "refused":
    case "removed":
      return finish(err.code);
    default:
      return finish("door", err?.message);
  }
}

function waitForOpen() {
  showLoading(
    "The room is not open yet",
    "Your facilitator opens it shortly before the meeting. This page checks again every few seconds; you can leave it open.",
    { retry: true },
  );
  schedule(preview, NOT_OPEN_RETRY_MS);
}

/** The connection dropped while the session lasts: try again, with growing waits. */
function connectionLost(delay) {
  page.connected = false;
  const wait = delay ?? BACKOFF_MS[Math.min(page.retries, BACKOFF_MS.length - 1)] * (0.8 + Math.random() * 0.4);
  page.retries += 1;
  if (page.stage === "in") {
    clearTimeout(page.bannerTimer);
    $("banner-connection").classList.remove("is-back");
    banner("banner-connection", "Connection lost. Reconnecting…");
    say("Connection lost. Reconnecting…");
    updateControls();
    schedule(connect, wait);
  } else if (page.stage === "knocking" || page.stage === "joining") {
    showLoading("Reconnecting…", "The connection was lost. This page is trying again.", { retry: true });
    schedule(connect, wait);
  } else {
    showLoading("We cannot reach the server right now", "This page is trying again.", { retry: true });
    schedule(preview, wait);
  }
}

function schedule(fn, ms) {
  clearTimer();
  page.timer = setTimeout(() => {
    page.timer = null;
    fn();
  }, ms);
  page.retryNow = fn;
}

function clearTimer() {
  clearTimeout(page.timer);
  page.timer = null;
}

function retryNow() {
  if (!page.timer) return;
  clearTimer();
  page.retryNow?.();
}

// ---- stepping out, leaving, the end ----

/**
 * A break, not a goodbye (docs/protocol.md, step_out): the connection stays
 * open, the room's conversation is hidden, and the private thread, support and
 * the crisis numbers keep working. Closing the tab on a break is stepping out
 * too; the server sees to that.
 */
function stepOut() {
  if (!page.connected || page.stage !== "in" || page.away) return;
  page.client.stepOut();
  page.away = true;
  page.comingBack = false;
  page.awayCount = 0;
  view.notice("You stepped out.");
  $("away-status").textContent = "";
  onState({ state: page.state, paused: page.paused }, { quiet: true });
  onRoster(page.roster); // the banners and controls of a break
  $("away-title").focus();
  say("You have stepped out. Your place is kept.");
}

/** `back` on the same connection; the room shows again on the server's presence (room-events.js returned). */
function comeBack() {
  if (!page.connected || !page.away || page.comingBack) return;
  page.comingBack = true;
  $("away-status").textContent = "Coming back…";
  page.client.back();
  updateControls();
}

function leave() {
  // In the room (on a break too) or knocking: say so on the connection.
  if (page.client && !page.client.closed) {
    page.intent = "leave";
    page.client.leave();
  }
  finish("left");
}

/** The visit is over: wipe the conversation from memory and the page, say why. */
function finish(kind, message) {
  clearTimer();
  clearTimeout(page.bannerTimer);
  page.gen += 1; // whatever the old connection still says is ignored
  const crisis = page.group?.crisis_resources ?? page.rules?.crisis_resources ?? null;
  wipe();
  const f = FINAL[kind] ?? FINAL.error;
  $("final-title").textContent = f.title;
  $("final-text").textContent = f.useMessage && message ? message : f.text;
  fillCrisis("final-crisis", crisis ?? []);
  if (crisis) knowCrisis(crisis);
  $("final-again").hidden = !f.again;
  show("final");
  say(f.title);
}

/** Forget every message, name and key this page holds (and what the tab kept for a reload). */
function wipe() {
  forget();
  const client = page.client;
  page.client = null;
  client?.wipe();
  page.entries.clear();
  page.pending.length = 0;
  page.hidden.clear();
  page.warned.clear();
  page.roster = [];
  page.name = "";
  page.me = null;
  page.session = null;
  page.stage = "start";
  page.connected = false;
  page.away = false;
  page.comingBack = false;
  page.awayCount = 0;
  page.lastId = 0;
  page.visit += 1;
  page.shown = Promise.resolve();
  page.confirmed = null;
  page.rulesSpec = null;
  page.content = null;
  page.rulesGen += 1;
  resetSupport();
  clearPrivate();
  closeCrisis();
  showCheck(null);
  view.clearLog();
  $("people").replaceChildren();
  $("people-count").textContent = "";
  for (const id of ["text", "cw", "name"]) $(id).value = "";
  toggleCw(false);
  dialogs.closeAll();
  for (const id of ["banner-connection", "banner-lobby", "banner-paused", "banner-muted", "banner-warning", "banner-rules"]) $(id).hidden = true;
  note(null);
  composeError(null);
}

function again() {
  page.acceptedDigest = null;
  page.rules = null;
  page.group = null;
  page.retries = 0;
  showLoading("Opening your private link…", "This takes a moment.");
  preview();
}

// ---- the composer and the actions ----

function wire() {
  view.followLog();
  view.fitBanners();
  dialogs = setUpDialogs({
    report: async (m, noteText) => {
      if (!page.connected) throw new Error("You are not connected right now.");
      await page.client.report(m.id, noteText);
      view.notice("Your report went to the facilitators. Thank you for telling them.");
    },
    writePrivate,
    sendSupport,
    cancelSupport,
    leave,
  });
  setUpSupport(dialogs);
  setUpCrisis();
  setUpRoomEvents({ finish, openReport: (e) => dialogs.openReport(e) });
  $("accept").addEventListener("click", onAccept);
  $("decline").addEventListener("click", onDecline);
  $("name-form").addEventListener("submit", onNameSubmit);
  $("suggest").addEventListener("click", () => {
    $("name").value = suggestName($("name").value);
    $("name").focus();
  });
  setUpComposer();
  $("hand").addEventListener("click", () => {
    const me = page.roster.find((p) => p.pid === page.me);
    if (page.connected) page.client.hand(!me?.hand);
  });
  $("private").addEventListener("click", () => dialogs.openPrivate());
  $("support").addEventListener("click", askForSupport);
  $("step-out").addEventListener("click", stepOut);
  $("come-back").addEventListener("click", comeBack);
  $("leave").addEventListener("click", () => dialogs.openLeave());
  $("waiting-leave").addEventListener("click", leave);
  $("loading-retry").addEventListener("click", retryNow);
  $("final-again").addEventListener("click", again);
  window.addEventListener("online", retryNow);
}

wire();
start();
