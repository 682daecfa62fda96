// The session clock on the console: time used of the planned duration, on
// the server's clock (the least skew seen in its frames' `ts`), ticking once a
// second while the session runs, and stopped for good when it ends, saying so
// ("Ended after 1:02:03"), never a frozen "min left".

import { $, announce, duration, say } from "./console-dom.js";

export class SessionClock {
  /** @param {() => {startedAt: number | null, duration: number}} room the session's room as it is now */
  constructor(room) {
    this.room = room;
    this.skew = null; // local clock minus the server's, in seconds
    this.timer = null;
    /** what the clock says once the session ended */
    this.final = null;
  }

  observe(serverTs) {
    const skew = Date.now() / 1000 - serverTs;
    this.skew = this.skew === null ? skew : Math.min(this.skew, skew);
  }

  /** The room has a start time: tick every second (once). */
  run() {
    if (this.room().startedAt && !this.timer) this.timer = setInterval(() => this.tick(), 1000);
    this.tick();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  /** Forget the skew and stop (a new visit, or none). */
  reset() {
    this.stop();
    this.skew = null;
    this.final = null;
    say("reminder", "");
    $("clock").classList.remove("is-over", "is-ended");
  }

  #elapsed() {
    const now = Date.now() / 1000 - (this.skew ?? 0);
    return Math.max(0, now - this.room().startedAt);
  }

  tick() {
    const { startedAt, duration: planned } = this.room();
    const bar = $("clock-bar");
    bar.max = planned * 60;
    $("clock").classList.remove("is-ended");
    if (!startedAt) {
      $("clock-text").textContent = `Not started · planned ${planned} minutes`;
      bar.value = 0;
      return;
    }
    const elapsed = this.#elapsed();
    const left = planned * 60 - elapsed;
    bar.value = Math.min(elapsed, planned * 60);
    const over = left < 0;
    $("clock").classList.toggle("is-over", over);
    $("clock-text").textContent = over
      ? `${duration(elapsed)} · ${Math.ceil(-left / 60)} min over the planned ${planned}`
      : `${duration(elapsed)} · ${Math.ceil(left / 60)} min left of ${planned}`;
  }

  /** The session ended (now, or it was said before): the clock stops; showEnded() says how long it ran. */
  ended() {
    this.stop();
    if (this.final) return;
    const { startedAt, duration: planned } = this.room();
    this.final = startedAt
      ? `Ended after ${duration(this.#elapsed())} · planned ${planned} minutes`
      : "Ended before it was started";
  }

  showEnded(text = this.final) {
    this.stop();
    say("reminder", "");
    $("clock").classList.remove("is-over");
    $("clock").classList.add("is-ended");
    if (text) $("clock-text").textContent = text;
    this.final = text;
  }

  reminder(minutesLeft) {
    const text =
      minutesLeft > 0
        ? `${minutesLeft} minutes left of the planned time.`
        : "The planned time is up. End the session when the group is ready.";
    say("reminder", text);
    announce(text);
  }
}
