// The member room's shared state and the small helpers that show it: which
// section is on screen, the status line, the banners. Everything here lives in
// memory only; room.js wipes it.

import { $ } from "./room-view.js";
import { fillCrisisList } from "./room-crisis.js";

const SECTIONS = ["loading", "landing", "name-step", "waiting", "room", "final"];
/** Waits between reconnection attempts (ms), then the last one over and over. */
export const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
export const NOT_OPEN_RETRY_MS = 15000;
export const BACK_BANNER_MS = 4000;

export const page = {
  link: "",
  /** the `rules` frame shown on the landing */
  rules: null,
  acceptedDigest: null,
  /** resolves the rules question of a connection whose rules changed meanwhile */
  rulesAnswer: null,
  name: "",
  group: null,
  /** the session id of the welcome: a different one means ours ended */
  session: null,
  me: null,
  client: null,
  /** Events of older clients are ignored: each connection attempt bumps this. */
  gen: 0,
  /** "start" | "ready" (rules read) | "joining" | "knocking" | "in" (welcomed at least once) */
  stage: "start",
  connected: false,
  /** on a break (stepped out): still connected, the conversation hidden */
  away: false,
  /** the group's slow mode, seconds between one member's messages (0: off) */
  slowMode: 0,
  /** `back` sent, the server's presence not yet here */
  comingBack: false,
  /** room messages that came while away (not shown: sealed for those in the room) */
  awayCount: 0,
  /** private messages written while no facilitator was here: {text, li}, memory only */
  privateQueue: [],
  /** why we are closing ourselves: "leave" */
  intent: null,
  retries: 0,
  timer: null,
  bannerTimer: null,
  state: null,
  paused: false,
  roster: [],
  lastId: 0,
  /** pids whose messages this page collapses (the reader's choice, this page only) */
  hidden: new Set(),
  /** message id -> what the page shows of it */
  entries: new Map(),
  /** room messages sent and not yet echoed: {ref, text, cw} */
  pending: [],
  warned: new Set(),
  /** the group's content rules: {rules, groupId} as last received, and the policy they give (a Promise) */
  rulesSpec: null,
  rulesGen: 0,
  content: null,
  /**
   * the member's support request as the server last told it (room-support.js):
   * {status, id, awaiting, ref, before}, or null before any
   */
  support: null,
  /** content alert id -> its status, as the server told it */
  contentAlerts: new Map(),
  /** a text the member chose to send despite a `warn` (with a warning of their own, or as it is) */
  confirmed: null,
  sending: false,
  /** opened messages are shown in order, each once the rules have looked at it */
  shown: Promise.resolve(),
  /** bumped when the page forgets everything: what was still queued is dropped */
  visit: 0,
};

// ---- sections and banners ----

export function show(section, { focus = true } = {}) {
  for (const s of SECTIONS) $(s).hidden = s !== section;
  if (focus) $(section).querySelector("h2")?.focus();
}

export function say(text) {
  $("status").textContent = text;
}

export function banner(id, text) {
  const b = $(id);
  if (text) {
    (id === "banner-connection" ? $("banner-connection-text") : b).textContent = text;
  }
  b.hidden = !text;
}

export function setTitle(title) {
  // The tab keeps its neutral title: it shows in history and on shared screens.
  $("title").textContent = title || "Your group";
}

export function showLoading(title, text, { retry = false } = {}) {
  $("loading-title").textContent = title;
  $("loading-text").textContent = text;
  $("loading-retry").hidden = !retry;
  show("loading", { focus: $("loading").hidden === false ? false : true });
  say(title);
}

export function fillCrisis(id, resources = []) {
  fillCrisisList($(id), resources ?? []);
  $(`${id}-box`).hidden = !(resources ?? []).length;
}
