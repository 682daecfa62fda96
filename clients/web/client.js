// A small websocket client for the browser room (docs/protocol.md): the
// handshake, msgpack frames, and the GroupCodec in between, so that the page
// only ever sees text and events.
//
// Message text lives in memory only (this object's `messages`): never in
// localStorage, sessionStorage, IndexedDB, cookies or the URL. `wipe()` drops it.

import { encode, decode } from "./vendor/msgpack/index.mjs";
import { GroupCodec, CodecError } from "./codec.js";
import { notAdmittedText } from "./codec-admission.js";
import { parseLink } from "./link.js";
import { textBody, parseTextBody } from "./e2ee.js";

export const SUBPROTOCOL = "safespace.v1";
/** Where an alert stands (docs/protocol.md section 5a). */
export const ALERT_STATUSES = new Set(["waiting", "sent", "seen", "handled"]);
export const PROTOCOL_VERSION = 1;

/** Warnings about one participant that change how the roster shows them. */
const ROSTER_WARNINGS = new Set(["not_admitted", "keys_barred"]);
/** The codec's frames remembered by ref until a refusal could name them. */
const KEY_FRAMES_REMEMBERED = 1024;
/** Refusals that say "not now": the codec's frames are sent again after `retry_after`. */
const RETRY_CODES = new Set(["flood", "rate_limited"]);
const KEY_RETRY_MAX_SECONDS = 10;

/** The codec's warnings about one participant, said with their name. @type {Record<string, (who: string, w: object) => string>} */
const WARNING_TEXT = {
  untrusted: (who) => `${who} is not verified by a facilitator and cannot read this.`,
  not_admitted: (who, w) => notAdmittedText(who, w.welcome === true),
  keys_barred: (who) => `The server shows ${who} with the keys of someone a facilitator removed: nothing is shared with them.`,
};

/** A content warning ("cw") travels inside the encrypted body: `{"text": str, "cw"?: str}`. */
export const MAX_CW_CHARS = 80;

/**
 * Can this page's codec put a content warning into a message body? True once
 * `textBody(text, cw)` and `parseTextBody` carry `cw` (see `send`).
 */
export const CONTENT_WARNINGS = (() => {
  try {
    return parseTextBody(textBody("", "x")).cw === "x";
  } catch {
    return false;
  }
})();

/**
 * Events (each a CustomEvent; the payload is `event.detail`):
 * - `rules`     the `rules` frame (ground rules, digest, crisis resources)
 * - `welcome`   the `welcome` frame; `knocking` `{}` while a facilitator decides
 * - `state`     the `state` frame
 * - `roster`    `{roster: Participant[]}` after any change (arrivals, presence, hands, mutes, trust)
 * - `msg`       `{id, from, name, ts, text, own, reason?, cw?}`; `text` is null when unreadable; `cw` is the
 *               sender's content warning (show it, and the text only when the reader asks)
 * - `deleted`   `{id, by}` (the message is gone from `messages` too)
 * - `private`   `{from, ts, text, own, reason?}` (facilitators; `own` for one's own, from memory)
 * - `report`    `{from, msg, ts, verified, reported: {from, text, cw?}, note, reason?}` (facilitators)
 * - `warning`   `{code, message, pid?}`, e.g. `unverified_link` at once and on every send
 * - `alert_status` `{id, kind, status}`: where one of this member's own alerts stands
 *               (docs/protocol.md section 5a); its open alerts on entry are in `welcome.alerts`
 * - `error`     `{t: "error", code, message, detail?, ref?}` from the server, or a local failure
 * - `ended`     `{reason}`; `close` `{code, reason}` when the socket closes
 * - `frame`     every decoded frame from the server, for anything else a page wants
 *
 * @typedef {{pid: string, name: string, role: string, present: boolean, hand: boolean,
 *   muted: boolean, until: number | null, trusted: boolean, barred: boolean, unadmitted: boolean}} Participant
 *   `barred`: shown with keys a facilitator's signed removal barred (never trusted on this page);
 *   `unadmitted` (a facilitator's page): let in by the server past this facilitator's locked door, and
 *   not verified (no vouch of ours, nor of a co-facilitator)
 */
export class ChatClient extends EventTarget {
  /**
   * @param {{
   *   name: string,
   *   link?: string,
   *   acceptRules?: (rules: object) => boolean | Promise<boolean>,
   *   url?: string,
   *   role?: "member" | "facilitator",
   *   group?: string, token?: string, user?: string, password?: string,
   *   identity?: import("./e2ee.js").KeyPair, coFacilitators?: Uint8Array[],
   *   anchorStore?: import("./codec-admission.js").AnchorStore,
   *   WebSocket?: typeof WebSocket,
   * }} options
   *   A member gives `link` (default: this page's `location.hash`) and decides on
   *   the ground rules in `acceptRules` (default: decline). A facilitator gives
   *   `role: "facilitator"`, `group`, `token` (or `user` and `password`) and its `identity`,
   *   and `anchorStore` to keep its anchor across a reload (docs/e2ee.md section 3.1).
   */
  constructor(options) {
    super();
    this.options = options;
    this.role = options.role ?? "member";
    const link = this.role === "member" ? parseLink(options.link ?? globalThis.location?.hash ?? "") : null;
    this.seat = link?.seat ?? null;
    this.identities = this.role === "member" ? link.identities : options.coFacilitators ?? [];
    /** @type {Array<{id: number, from: string, name: string, ts: number, text: string | null, own: boolean, reason?: string}>} */
    this.messages = [];
    /** @type {Map<string, Participant>} */
    this.roster = new Map();
    this.me = null;
    this.codec = null;
    this.ws = null;
    this.nextRef = 1;
    /** The codec's frames sent, by ref, until a refusal could name them. @type {Map<number, object>} */
    this.keyFrames = new Map();
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.retryTimer = null;
    this.inbound = Promise.resolve();
    this.waiters = new Set();
    this.closed = false;
  }

  /**
   * Open the socket and say hello; resolves once the socket is open.
   * @returns {Promise<void>}
   */
  async connect() {
    if (this.role === "member" && !this.seat) throw new CodecError("link_unknown", "This link has no seat in it.");
    this.codec = await GroupCodec.create({
      role: this.role,
      trustedIdentities: this.identities,
      identity: this.options.identity,
      anchorStore: this.options.anchorStore,
      send: (frame) => this.#sendKeyFrame(frame),
    });
    const Socket = this.options.WebSocket ?? globalThis.WebSocket;
    const ws = new Socket(this.options.url ?? defaultUrl(), SUBPROTOCOL);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.addEventListener("message", (ev) => this.#onMessage(ev));
    ws.addEventListener("close", (ev) => this.#onClose(ev));
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error("The connection could not be opened.")), { once: true });
    });
    this.#sendFrame(this.#hello());
  }

  #hello() {
    const o = this.options;
    const keys = this.codec.bundle;
    if (this.role === "member") {
      return { t: "hello", v: PROTOCOL_VERSION, role: "member", link: this.seat, name: o.name, keys };
    }
    const creds = o.token ? { token: o.token } : { user: o.user, password: o.password };
    return { t: "hello", v: PROTOCOL_VERSION, role: "facilitator", group: o.group, name: o.name, ...creds, keys };
  }

  // ---- what the page can do ----

  /**
   * Send a room message, with a content warning if `cw` is given.
   * @param {string} text @param {{cw?: string}} [options]
   * @returns {Promise<number>} the frame's `ref`; throws CodecError("cw_unsupported") rather than
   *   send without the warning the member asked for
   */
  async send(text, options = {}) {
    const cw = typeof options.cw === "string" ? options.cw.trim() : "";
    if (!cw) return this.#sealed((ref) => this.codec.sealRoom(text, { ref }));
    if (!CONTENT_WARNINGS) {
      throw new CodecError("cw_unsupported", "Content warnings cannot be sent from this page yet. Nothing was sent.");
    }
    if ([...cw].length > MAX_CW_CHARS) throw new CodecError("cw_too_long", `A content warning is at most ${MAX_CW_CHARS} characters.`);
    return this.#sealed((ref) => this.codec.sealRoom(text, { ref }, { cw }));
  }

  /**
   * A private message to the facilitators who are present; with `to` (a facilitator's
   * page only) a reply into member `to`'s private thread, which that member reads too.
   * @param {string} text @param {string} [to] a member's pid @returns {Promise<number>} the frame's ref
   */
  async private(text, to = undefined) {
    const ref = await this.#sealed((r) => this.codec.sealPrivate(text, to, { ref: r }));
    const thread = to ?? (this.role === "facilitator" ? null : this.me);
    this.#emit("private", { from: this.me, ts: Date.now() / 1000, text, own: true, thread, ref });
    return ref;
  }

  /** A private message to the facilitators who are present. @param {string} text @returns {Promise<number>} */
  privateToFacilitators(text) {
    return this.private(text);
  }

  /** Report a room message to the facilitators. @param {number} msgId @param {string} note @returns {Promise<number>} */
  async report(msgId, note = "") {
    return this.#sealed((ref) => this.codec.sealReport(msgId, note, { ref }));
  }

  /**
   * Tell the facilitators (never the room) that support is needed now, or what
   * kind of content came up. @param {"support" | "content"} [kind] @param {string} [category]
   * @returns {number} the frame's ref
   */
  alert(kind = "support", category) {
    return this.#command({ t: "alert", kind, ...(category ? { category } : {}) });
  }

  /**
   * A facilitator's page shows alert `id` on its screen: said by the page itself,
   * once it has put the alert there (the member is told `seen`).
   * @param {number} id @returns {number} the frame's ref
   */
  alertSeen(id) {
    return this.#command({ t: "alert_seen", id });
  }

  /**
   * A facilitator marks alert `id` handled (for every facilitator; the member is told).
   * @param {number} id @returns {number} the frame's ref (an `error` no_such_alert carries it)
   */
  handled(id) {
    return this.#command({ t: "handled", id });
  }

  /** @param {boolean} up @returns {number} the frame's ref */
  hand(up) {
    return this.#command({ t: "hand", up: Boolean(up) });
  }

  /**
   * Step out for a break: the seat is kept and the connection stays open (the
   * private thread, alerts and reports still work; `chat` and `hand` get
   * `stepped_out`) until `back`. Before entry (rules, knocking) the server closes.
   */
  stepOut() {
    return this.#command({ t: "step_out" });
  }

  /** Back in the room after `stepOut`, on the same connection. */
  back() {
    return this.#command({ t: "back" });
  }

  /**
   * A facilitator vouches by hand for member `pid`, whom the server let in past its
   * locked door (docs/e2ee.md section 3.2). @param {string} pid @returns {Promise<void>}
   *   throws CodecError("no_recipient") for anyone but a member whose keys can be used
   */
  async vouchFor(pid) {
    if (!this.codec) throw new CodecError("not_ready", "Not in the room yet.");
    const events = await this.codec.vouchFor(pid);
    for (const e of events) this.#onCodecEvent(e);
    this.#rosterChanged();
    this.#checkWaiters();
  }

  /** Close the connection, keeping what the page holds (a reconnect may follow). */
  disconnect() {
    if (this.ws && !this.closed) this.ws.close(1000);
  }

  /** Leave for this session: the seat is given up. */
  leave() {
    return this.#command({ t: "leave" });
  }

  /**
   * Resolves once this client holds chains for, and has sent its chain to,
   * each of `pids` (default: every trusted participant present, as it stands
   * at each check). Rejects after `timeoutMs`.
   * @param {string[]} [pids] @param {number} [timeoutMs]
   * @returns {Promise<void>}
   */
  keysReady(pids, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const waiter = { pids, resolve, reject, timer: null };
      waiter.timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(Object.assign(new Error("Keys were not exchanged in time."), { code: "timeout" }));
      }, timeoutMs);
      this.waiters.add(waiter);
      this.#checkWaiters();
    });
  }

  /** Forget every message, key and name this page holds. The client is done afterwards. */
  wipe() {
    this.messages.length = 0;
    this.roster.clear();
    this.codec?.wipe();
    if (this.ws && !this.closed) this.ws.close(1000);
  }

  /** @returns {Participant[]} */
  participants() {
    return [...this.roster.values()];
  }

  // ---- internals ----

  async #sealed(seal) {
    if (!this.codec?.chain) throw new CodecError("not_ready", "Not in the room yet.");
    const ref = this.nextRef++;
    // The codec hands its frames to #sendFrame in the order it made them, so
    // any distribution it queued before this message is already on the wire.
    const { warnings } = await seal(ref);
    for (const w of warnings) this.#emit("warning", w);
    this.#checkWaiters();
    return ref;
  }

  #command(frame) {
    const ref = this.nextRef++;
    this.#sendFrame({ ...frame, ref });
    return ref;
  }

  #sendFrame(frame) {
    if (!this.ws || this.closed) return;
    this.ws.send(encode(frame));
  }

  /** One of the codec's own frames (keys, vouches), numbered so that a refusal can name it. */
  #sendKeyFrame(frame) {
    const ref = this.nextRef++;
    this.keyFrames.set(ref, frame);
    while (this.keyFrames.size > KEY_FRAMES_REMEMBERED) this.keyFrames.delete(this.keyFrames.keys().next().value);
    this.#sendFrame({ ...frame, ref });
  }

  /**
   * The server refused a frame of the codec's (`flood`: a budget was spent): the
   * codec is told it reached nobody, and sends what is still wanted once the
   * server's `retry_after` has passed.
   */
  #keyFrameRefused(error) {
    const frame = this.keyFrames.get(error.ref);
    if (frame === undefined) return;
    this.keyFrames.delete(error.ref);
    this.codec?.refused(frame);
    if (!RETRY_CODES.has(error.code) || this.retryTimer !== null) return;
    const wait = Math.min(Math.max(Number(error.detail?.retry_after) || 1, 0.1), KEY_RETRY_MAX_SECONDS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) this.codec?.retry();
    }, wait * 1000);
  }

  #onMessage(ev) {
    let frame;
    try {
      frame = decode(new Uint8Array(ev.data));
    } catch {
      this.#emit("error", { t: "error", code: "bad_frame", message: "The server sent a frame this page cannot read." });
      return;
    }
    if (frame === null || typeof frame !== "object" || typeof frame.t !== "string") return;
    // One frame at a time, in arrival order, through the codec and to the page.
    this.inbound = this.inbound.then(() => this.#process(frame)).catch((err) => {
      this.#emit("error", { t: "error", code: err?.code ?? "client_error", message: String(err?.message ?? err) });
    });
  }

  async #process(frame) {
    this.#emit("frame", frame);
    if (frame.t === "rules") {
      this.#emit("rules", frame);
      const accept = this.options.acceptRules ? await this.options.acceptRules(frame) : false;
      this.#sendFrame(accept ? { t: "accept", rules: frame.digest, ref: this.nextRef++ } : { t: "leave" });
      return;
    }
    const events = this.codec ? await this.codec.handle(frame) : [];
    this.#follow(frame);
    for (const e of events) this.#onCodecEvent(e);
    // Who is barred or let in unvouched is shown with the roster.
    if (events.some((e) => e.type === "warning" && ROSTER_WARNINGS.has(e.code))) this.#rosterChanged();
    this.#checkWaiters();
  }

  /** The page's view of the room, from the frames that change it. */
  #follow(frame) {
    switch (frame.t) {
      case "welcome":
        this.me = frame.you;
        this.roster.clear();
        for (const p of frame.roster ?? []) this.#upsert(p);
        this.#emit("welcome", frame);
        this.#rosterChanged();
        break;
      case "knocking":
        this.#emit("knocking", {});
        break;
      case "joined":
        if (frame.p) this.#upsert(frame.p);
        this.#rosterChanged();
        break;
      case "presence":
        this.#patch(frame.pid, frame.present ? { present: true, ...(frame.name ? { name: frame.name } : {}) } : { present: false, hand: false });
        break;
      case "left":
      case "removed":
        this.roster.delete(frame.pid);
        this.#rosterChanged();
        break;
      case "hand":
        this.#patch(frame.pid, { hand: Boolean(frame.up) });
        break;
      case "muted":
        this.#patch(frame.pid, { muted: true, until: frame.until ?? null });
        break;
      case "unmuted":
        this.#patch(frame.pid, { muted: false, until: null });
        break;
      case "state":
        this.#emit("state", frame);
        break;
      case "alert_status":
        // Dropped whole when it does not fit docs/protocol.md: a page tells a member what it says.
        if (Number.isInteger(frame.id) && typeof frame.kind === "string" && ALERT_STATUSES.has(frame.status)) {
          this.#emit("alert_status", { id: frame.id, kind: frame.kind, status: frame.status });
        }
        break;
      case "deleted": {
        const at = this.messages.findIndex((m) => m.id === frame.id);
        if (at >= 0) this.messages.splice(at, 1);
        this.#emit("deleted", { id: frame.id, by: frame.by });
        break;
      }
      case "error":
        if (typeof frame.ref === "number") this.#keyFrameRefused(frame);
        this.#emit("error", frame);
        break;
      case "ended":
        this.#emit("ended", { reason: frame.reason });
        break;
      default:
        break;
    }
  }

  #onCodecEvent(e) {
    switch (e.type) {
      case "message": {
        const m = { id: e.id, from: e.from, name: this.roster.get(e.from)?.name ?? e.from, ts: e.ts, text: e.text, own: e.own };
        if (e.reason) m.reason = e.reason;
        const cw = e.text === null ? undefined : this.#contentWarning(e);
        if (cw) m.cw = cw;
        this.messages.push(m);
        this.#emit("msg", m);
        break;
      }
      case "private":
        this.#emit("private", { from: e.from, thread: e.thread ?? null, ts: e.ts, text: e.text, own: false, ...(e.reason ? { reason: e.reason } : {}) });
        break;
      case "report": {
        const { type, ...rest } = e;
        void type;
        this.#emit("report", rest);
        break;
      }
      case "trust":
        this.#patch(e.pid, { trusted: e.trusted });
        break;
      case "warning": {
        const { type, ...rest } = e;
        void type;
        const who = rest.pid && this.roster.get(rest.pid)?.name;
        if (who && rest.code in WARNING_TEXT) rest.message = WARNING_TEXT[rest.code](who, rest);
        this.#emit("warning", rest);
        break;
      }
      default:
        break;
    }
  }

  /**
   * The message's content warning, as the codec opened it from the body
   * (docs/e2ee.md section 5). Never longer than MAX_CW_CHARS on the page.
   */
  #contentWarning(e) {
    const cw = e.cw;
    if (typeof cw !== "string" || !cw.trim()) return undefined;
    return [...cw.trim()].slice(0, MAX_CW_CHARS).join("");
  }

  #upsert(p) {
    const old = this.roster.get(p.pid);
    this.roster.set(p.pid, {
      pid: p.pid,
      name: p.name ?? old?.name ?? p.pid,
      role: p.role,
      present: p.present !== false,
      hand: Boolean(p.hand),
      muted: Boolean(p.muted),
      until: p.until ?? null,
      trusted: false,
      barred: false,
      unadmitted: false,
    });
  }

  #patch(pid, fields) {
    const p = this.roster.get(pid);
    if (!p) return;
    Object.assign(p, fields);
    this.#rosterChanged();
  }

  #rosterChanged() {
    for (const p of this.roster.values()) {
      p.trusted = this.codec?.isTrusted(p.pid) ?? false;
      p.barred = this.codec?.isBarred(p.pid) ?? false;
      // Once a co-facilitator (or this page, by hand) vouched for them, there is nothing to let in.
      p.unadmitted = !p.trusted && (this.codec?.notAdmitted(p.pid) ?? false);
    }
    this.#emit("roster", { roster: this.participants() });
  }

  #checkWaiters() {
    const codec = this.codec;
    if (!codec?.chain) return;
    for (const w of this.waiters) {
      const pids = w.pids ?? codec.trustedPresent();
      if (pids.every((pid) => codec.readyWith(pid))) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  #onClose(ev) {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const { code, reason = "" } = ev;
    // After the frames that came before it (an `ended`, an `error`), so the
    // page hears why before it hears that the socket closed. Keys are per
    // connection: a new connection is a new page's worth of keys. The
    // transcript stays in memory until the page calls wipe().
    this.inbound = this.inbound.then(() => {
      this.codec?.wipe();
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(Object.assign(new Error("The connection closed."), { code: "closed" }));
      }
      this.waiters.clear();
      this.#emit("close", { code, reason });
    });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function defaultUrl() {
  const loc = globalThis.location;
  if (!loc) throw new Error("No page location: pass options.url.");
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/ws`;
}
