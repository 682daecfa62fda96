// Rendering for the member room: the message log and the participants.
// Every piece of text goes on the page with textContent, never as HTML, and
// lives only in this page's memory and DOM (room.js wipes both).

export const $ = (id) => document.getElementById(id);

/** Create an element with classes and text. @param {string} tag @param {string} [cls] @param {string} [text] */
export function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function button(text, cls = "button", attrs = {}) {
  const b = el("button", cls, text);
  b.type = "button";
  for (const [k, v] of Object.entries(attrs)) b.setAttribute(k, v);
  return b;
}

/** Local time as HH:MM. @param {number} ts epoch seconds */
export function clock(ts) {
  const d = new Date((Number(ts) || Date.now() / 1000) * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function fillList(list, items) {
  list.replaceChildren(...items.map((text) => el("li", "", text)));
}

// ---- the log ----

const log = () => $("messages");

/** True when the reader is at (or near) the end of the log, so new lines should follow. */
function atEnd() {
  const l = log();
  return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
}

// Whether the reader was following the end before the last change of size
// (a phone's keyboard opening, a rotated screen): then the log stays there.
let following = true;

/** Keep the log at its end across resizes while the reader follows it. */
export function followLog() {
  log().addEventListener("scroll", () => (following = atEnd()), { passive: true });
  new ResizeObserver(() => {
    if (following) log().scrollTop = log().scrollHeight;
  }).observe(log());
}

/**
 * Keep the room within the screen: the banners' height is published as the
 * CSS variable --banners, and the support line's as --support (on a phone it
 * stands above the log), which the log's height takes off (room.css).
 */
export function fitBanners() {
  const fit = (node, name) =>
    new ResizeObserver(() => {
      const h = node.offsetHeight;
      document.documentElement.style.setProperty(name, `${h ? h + 12 : 0}px`);
    }).observe(node);
  fit(document.querySelector(".banners"), "--banners");
  fit($("support-box"), "--support");
}

function append(li) {
  const follow = following || atEnd();
  log().append(li);
  if (follow) {
    log().scrollTop = log().scrollHeight;
    following = true;
  }
}

/** A line about the room (arrivals, the session starting, ...). */
export function notice(text, kind = "") {
  const li = el("li", `notice ${kind}`.trim(), text);
  li.dataset.testid = "notice";
  append(li);
  return li;
}

/**
 * A room message.
 * @param {{id: number, from: string, name: string, ts: number, text: string | null, cw?: string,
 *   own: boolean, role?: string, reportable: boolean}} m
 * @param {{hidden: boolean, onReport: (m: object) => void, onUnhide: (pid: string) => void}} opts
 */
export function message(m, opts) {
  const li = el("li", "msg");
  li.dataset.id = String(m.id);
  li.dataset.from = m.from;
  li.dataset.testid = "message";
  if (m.own) li.classList.add("msg-own");
  if (m.role === "facilitator") li.classList.add("msg-facilitator");

  const head = el("p", "msg-head");
  head.append(el("span", "who", m.own ? "You" : m.name));
  if (m.role === "facilitator") head.append(el("span", "tag tag-facilitator", "Facilitator"));
  const time = el("time", "time", clock(m.ts));
  time.dateTime = new Date(m.ts * 1000).toISOString();
  head.append(time);
  if (m.reportable) {
    const report = button("Report", "button-link msg-report", { "data-testid": "report" });
    report.setAttribute("aria-label", `Report this message from ${m.name}`);
    report.addEventListener("click", () => opts.onReport(m));
    head.append(report);
  }
  li.append(head);

  // Shown instead of the message while its sender is hidden on this page.
  const hiddenNote = el("p", "msg-hidden-note");
  hiddenNote.append(el("span", "", "You hid this person's messages. "));
  const unhide = button("Show their messages", "button-link", { "data-testid": "unhide" });
  unhide.addEventListener("click", () => opts.onUnhide(m.from));
  hiddenNote.append(unhide);
  li.append(hiddenNote);

  const body = el("div", "msg-body");
  if (m.text === null) {
    body.append(el("p", "msg-text msg-unreadable", unreadableText(m.reason)));
  } else {
    const text = el("p", "msg-text", m.text);
    if (m.cw && m.own) {
      // The writer knows what they wrote: the label only, nothing collapsed.
      const label = el("p", "cw cw-own");
      label.dataset.testid = "cw";
      label.append(el("span", "cw-tag", "Content warning"), el("span", "cw-words", m.cw));
      body.append(label);
    } else if (m.cw) {
      const box = el("div", "cw");
      box.dataset.testid = "cw";
      const label = el("p", "cw-label");
      label.append(el("span", "cw-tag", "Content warning"), el("span", "cw-words", m.cw));
      const reveal = button("Show message", "button button-small", { "aria-expanded": "false", "data-testid": "cw-reveal" });
      text.id = `msg-text-${m.id}`;
      reveal.setAttribute("aria-controls", text.id);
      text.hidden = true;
      reveal.addEventListener("click", () => {
        const open = text.hidden;
        text.hidden = !open;
        reveal.setAttribute("aria-expanded", String(open));
        reveal.textContent = open ? "Hide message" : "Show message";
      });
      box.append(label, reveal);
      body.append(box);
    }
    body.append(text);
  }
  li.append(body);

  if (opts.hidden) li.classList.add("is-hidden");
  append(li);
  return li;
}

/** Collapse or show every message of `pid`. */
export function setHidden(pid, hidden) {
  for (const li of log().querySelectorAll("li.msg")) {
    if (li.dataset.from === pid) li.classList.toggle("is-hidden", hidden);
  }
}

export function clearLog() {
  log().replaceChildren();
}

// ---- participants ----

/**
 * @param {Array<{pid: string, name: string, role: string, present: boolean, hand: boolean,
 *   muted: boolean, trusted: boolean, barred?: boolean}>} roster
 * @param {{me: string | null, hidden: Set<string>, verifiable: boolean, onToggleHide: (pid: string) => void}} opts
 */
export function people(roster, opts) {
  const list = $("people");
  // Keep the keyboard where it was across a re-render.
  const focusedPid = list.contains(document.activeElement) ? document.activeElement.closest("li")?.dataset.pid : null;
  const sorted = [...roster].sort((a, b) => rank(a, opts.me) - rank(b, opts.me));
  list.replaceChildren(
    ...sorted.map((p) => {
      const li = el("li", "person");
      li.dataset.pid = p.pid;
      li.dataset.testid = "person";
      if (!p.present) li.classList.add("person-away");
      const avatar = el("span", `avatar${p.role === "facilitator" ? " avatar-facilitator" : ""}`, initial(p.name));
      avatar.setAttribute("aria-hidden", "true");
      const main = el("span", "person-main");
      main.append(el("span", "person-name", p.name));
      const tags = el("span", "tags");
      if (p.pid === opts.me) tags.append(el("span", "tag tag-you", "You"));
      if (p.role === "facilitator") tags.append(el("span", "tag tag-facilitator", "Facilitator"));
      if (p.hand) {
        const hand = el("span", "tag tag-hand", "Hand raised");
        hand.dataset.testid = "hand-raised";
        tags.append(hand);
      }
      if (p.muted) tags.append(el("span", "tag tag-muted", "Muted"));
      if (!p.present) tags.append(el("span", "tag tag-away", "Stepped out"));
      if (opts.verifiable && !p.trusted && p.pid !== opts.me) {
        // Barred keys (a facilitator's signed removal) are never confirmed: no "yet" for them.
        const t = el("span", "tag tag-unverified", p.barred ? "Not verified: removed" : "Not verified");
        t.dataset.testid = "unverified";
        t.title = p.barred
          ? "A facilitator removed the person these keys belong to: nothing you write reaches them."
          : "No facilitator has confirmed this person's keys yet: they cannot read messages.";
        tags.append(t);
      }
      main.append(tags);
      li.append(avatar, main);
      if (p.pid !== opts.me && p.role !== "facilitator") {
        const hidden = opts.hidden.has(p.pid);
        const toggle = button(hidden ? "Show" : "Hide", "button button-quiet button-small", {
          "aria-pressed": String(hidden),
          "aria-label": `${hidden ? "Show" : "Hide"} messages from ${p.name}`,
          "data-testid": "hide-toggle",
        });
        toggle.addEventListener("click", () => opts.onToggleHide(p.pid));
        li.append(toggle);
      }
      return li;
    }),
  );
  $("people-count").textContent = `(${roster.filter((p) => p.present).length})`;
  if (focusedPid) list.querySelector(`li[data-pid="${CSS.escape(focusedPid)}"] button`)?.focus();
}

function rank(p, me) {
  if (p.role === "facilitator") return 0;
  if (p.pid === me) return 1;
  return p.present ? 2 : 3;
}

function initial(name) {
  const first = [...String(name).trim()][0] ?? "?";
  return first.toLocaleUpperCase();
}

/**
 * Why a message could not be read, as far as this page knows (the codec's `reason`):
 * each sentence is true of that reason only.
 * @param {string | undefined} reason
 */
function unreadableText(reason) {
  if (reason === "unknown_chain") return "This message could not be read on this page (it was sealed before you could receive its key).";
  if (reason === "untrusted") return "This message could not be read on this page: no facilitator has verified its sender.";
  return "This message could not be read on this page.";
}
