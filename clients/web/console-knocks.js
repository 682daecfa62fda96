// The knock queue as the facilitator answers it: each knocker with "Let in"
// and "Refuse", "Let all in" when more than one waits, a knock the tab's title
// says ("(2) knocking · ..."), and, if the facilitator turned it on, a short
// beep for each new knock (WebAudio; off until turned on, and the button says
// which it is). The choice is kept for this tab in the page's memory, across
// sessions and groups, until the tab reloads (what the console may keep in
// the tab's storage is fixed: console-keep.js).

import { $, announce, ask, button, el, show } from "./console-dom.js";
import { titlePart } from "./console-title.js";

let soundOn = false;
let audio = null;

/** A short, soft two-note beep; nothing if the browser has no WebAudio. */
export function beep() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const now = audio.currentTime;
    for (const [i, freq] of [660, 880].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const start = now + i * 0.16;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.14);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.15);
    }
  } catch {
    // no sound to be had: the title and the badge still say it
  }
}

export class KnockView {
  /** @param {{command: (t: string, fields?: object) => unknown}} options */
  constructor({ command }) {
    this.command = command;
    /** pids of the knocks on screen, to tell a new knock from a redraw */
    this.shown = new Set();
    $("admit-all").addEventListener("click", () => this.admitAll());
    $("knock-sound").addEventListener("click", () => {
      soundOn = !soundOn;
      this.#soundButton();
      // Turned on by a click: the browser lets the page make sound from now on.
      if (soundOn) beep();
      announce(soundOn ? "A beep will sound when someone knocks." : "No sound when someone knocks.");
    });
    this.#soundButton();
    this.knocks = new Map();
  }

  #soundButton() {
    const b = $("knock-sound");
    b.textContent = soundOn ? "Sound for a knock: on" : "Sound for a knock: off";
    b.setAttribute("aria-pressed", String(soundOn));
  }

  /** @param {Map<string, {pid: string, name: string}>} knocks @param {{fresh?: boolean}} [opts] fresh: a knock frame just came */
  render(knocks, { fresh = false } = {}) {
    this.knocks = knocks;
    const list = [...knocks.values()];
    const isNew = list.some((p) => !this.shown.has(p.pid));
    this.shown = new Set(list.map((p) => p.pid));
    if (fresh && isNew && soundOn) beep();
    const items = list.map((p) =>
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
    const n = items.length;
    show("knocks-empty", n === 0);
    $("knock-count").textContent = String(n);
    $("knock-count").hidden = n === 0;
    $("knock-section").classList.toggle("has-knocks", n > 0);
    // One knocker has "Let in" beside them: "Let all in" only for two or more.
    const all = $("admit-all");
    all.hidden = n < 2;
    all.textContent = `Let all ${n} in`;
    const badge = $("knock-badge");
    badge.hidden = n === 0;
    badge.textContent = n === 1 ? "1 waiting to come in" : `${n} waiting to come in`;
    titlePart("knocking", n ? `(${n}) knocking` : null);
  }

  admitAll() {
    const list = [...this.knocks.values()];
    for (const p of list) {
      if (this.command("admit", { pid: p.pid }) === undefined) return; // not connected: said by the command
    }
    announce(list.length === 1 ? `Letting ${list[0].name} in.` : `Letting ${list.length} people in.`);
  }

  async refuse(p) {
    const { value } = await ask({
      title: `Refuse ${p.name}?`,
      text: "They cannot come in to this session, even if they try again.",
      actions: [{ label: "Refuse", value: "refuse", kind: "danger" }],
    });
    if (value === "refuse") this.command("refuse", { pid: p.pid });
  }
}
