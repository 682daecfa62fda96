// Groups and their seat links: the list, the settings form (create and edit),
// the links (create with expiry and label, copy, list, revoke), the signed
// content rules, and the co-facilitators' keys this device puts in links.

import { $, announce, ask, button, dateTime, day, el, say, show } from "./console-dom.js";
import { RulesError, applyTuning } from "./content.js";
import { addCoFacilitator, coFacilitatorKeyText, coFacilitatorKeyTexts, removeCoFacilitator } from "./console-cofacilitators.js";
import { TUNING_FORMAT, isOneWord, nextVersion, noteRules, shippedPolicyOnce, shippedRules, signTuning } from "./content-policy.js";

/** Said when a link from the server carried a key this device does not trust. */
export const FOREIGN_KEY_NOTICE = "This link came with a key this device does not know; it was replaced by yours.";

/** What a category can do, on the ladder members' pages apply (moderation/content/README.md). */
const ACTION_TEXT = {
  off: "Off",
  warn: "Ask the sender first (warn)",
  cw: "Behind a content warning (cw)",
  block: "Not sent (block)",
};

/** API field -> the form's input for it. */
const FIELDS = {
  title: "group-title-input",
  capacity: "group-capacity",
  ground_rules: "group-rules",
  crisis_resources: "group-crisis",
  duration_minutes: "group-duration",
  slow_mode_seconds: "group-slow",
};

const STATUS_TEXT = { active: "Active", expired: "Expired", revoked: "Revoked" };

export function summary(g) {
  const slow = g.slow_mode_seconds > 0 ? `slow mode ${g.slow_mode_seconds} s` : "slow mode off";
  return `Up to ${g.capacity} members · ${g.duration_minutes} minutes · ${slow}`;
}

export class GroupsView {
  /**
   * @param {{api: import("./console-api.js").Api, ownKey: () => string | null,
   *   onRun: (group: object) => void, onError: (err: Error) => void,
   *   identity: () => {pub: Uint8Array, key: CryptoKey} | null}} options
   */
  constructor({ api, ownKey, onRun, onError, identity }) {
    this.api = api;
    this.ownKey = ownKey;
    this.identity = identity;
    this.onRun = onRun;
    this.onError = onError;
    /** @type {object[]} */
    this.groups = [];
    this.selected = null; // a group id, or "new"
    $("new-group").addEventListener("click", () => this.select("new"));
    $("group-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#save();
    });
    $("group-cancel").addEventListener("click", () => this.select(this.groups[0]?.id ?? null));
    $("link-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#createLink();
    });
    $("link-hours").addEventListener("input", () => this.#hoursHint());
    $("rules-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#saveRules();
    });
    $("rules-reset").addEventListener("click", () => this.#saveRules({ reset: true }));
    $("copy-link").addEventListener("click", () => this.#copy());
    $("cofac-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#addCoFacilitator();
    });
    $("run-session").addEventListener("click", () => {
      const g = this.#group();
      if (g) this.onRun(g);
    });
    this.#hoursHint();
    this.#renderCoFacilitators();
  }

  /** Load the list (after login, and when coming back from a session). */
  async load() {
    try {
      this.groups = await this.api.groups();
    } catch (err) {
      this.onError(err);
      return;
    }
    const keep = this.selected === "new" || this.groups.some((g) => g.id === this.selected);
    this.select(keep ? this.selected : this.groups[0]?.id ?? "new");
  }

  /** Forget everything shown (logout). */
  clear() {
    this.groups = [];
    this.selected = null;
    $("group-list").replaceChildren();
    $("links-list").replaceChildren();
    this.#hideNewLink();
  }

  #group() {
    return this.groups.find((g) => g.id === this.selected) ?? null;
  }

  select(gid) {
    const changed = gid !== this.selected;
    this.selected = gid;
    this.#renderList();
    const g = this.#group();
    const isNew = gid === "new";
    show("group-empty", !g && !isNew);
    show("group-head", Boolean(g));
    show("links-section", Boolean(g));
    show("rules-section", Boolean(g));
    show("group-editor", Boolean(g) || isNew);
    $("group-form-title").textContent = isNew ? "New group" : "Group settings";
    $("group-save").textContent = isNew ? "Create group" : "Save changes";
    show("group-cancel", isNew && this.groups.length > 0);
    this.#fillForm(isNew ? null : g);
    if (changed) this.#hideNewLink();
    if (g) {
      $("group-name").textContent = g.title;
      $("group-summary").textContent = summary(g);
      this.#loadLinks(g.id);
      // Refilled for another group, or when the group's rules changed meanwhile (another facilitator).
      const shown = `${g.id}:${JSON.stringify(g.content_rules ?? null)}`;
      if (changed || shown !== this.rulesShown) this.#fillRules(g);
      this.rulesShown = shown;
    }
    if (isNew && changed) $("group-title-input").focus();
  }

  #renderList() {
    const items = this.groups.map((g) =>
      el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: "group-item",
            attrs: g.id === this.selected ? { "aria-current": "true" } : {},
            dataset: { testid: "group", gid: g.id },
            on: { click: () => this.select(g.id) },
          },
          el("span", { class: "group-item-title", text: g.title }),
          el("span", { class: "group-item-meta", text: summary(g) }),
        ),
      ),
    );
    $("group-list").replaceChildren(...items);
    show("groups-none", this.groups.length === 0);
  }

  // ---- settings ----

  #fillForm(g) {
    $("group-title-input").value = g?.title ?? "";
    $("group-capacity").value = String(g?.capacity ?? 8);
    $("group-rules").value = (g?.ground_rules ?? []).join("\n");
    $("group-crisis").value = (g?.crisis_resources ?? []).join("\n");
    $("group-duration").value = String(g?.duration_minutes ?? 70);
    $("group-slow").value = String(g?.slow_mode_seconds ?? 0);
    this.#clearErrors();
  }

  #clearErrors() {
    say("group-form-error", "");
    for (const id of Object.values(FIELDS)) {
      $(id).removeAttribute("aria-invalid");
      $(`${id}-error`).textContent = "";
    }
  }

  #settings() {
    const lines = (id) =>
      $(id)
        .value.split("\n")
        .map((s) => s.trim())
        .filter(Boolean);
    const number = (id) => {
      const v = $(id).value.trim();
      return v === "" ? NaN : Number(v);
    };
    return {
      title: $("group-title-input").value.trim(),
      capacity: number("group-capacity"),
      ground_rules: lines("group-rules"),
      crisis_resources: lines("group-crisis"),
      duration_minutes: number("group-duration"),
      slow_mode_seconds: number("group-slow"),
    };
  }

  async #save() {
    this.#clearErrors();
    const settings = this.#settings();
    // A number field left empty or unreadable: said here, in the API's words' place.
    for (const key of ["capacity", "duration_minutes", "slow_mode_seconds"]) {
      if (Number.isNaN(settings[key])) return this.#fieldError(key, "Please enter a number.");
    }
    const isNew = this.selected === "new";
    const saveButton = $("group-save");
    saveButton.disabled = true;
    try {
      const group = isNew ? await this.api.createGroup(settings) : await this.api.editGroup(this.selected, settings);
      const at = this.groups.findIndex((g) => g.id === group.id);
      if (at >= 0) this.groups[at] = group;
      else this.groups.push(group);
      this.select(group.id);
      announce(isNew ? `The group “${group.title}” was created.` : "The group's settings were saved.");
      say("group-form-error", "");
      if (isNew) $("link-label").focus();
    } catch (err) {
      if (err.field && FIELDS[err.field]) this.#fieldError(err.field, err.message);
      else if (err.code === "unauthenticated") this.onError(err);
      else say("group-form-error", err.message, { error: true });
    } finally {
      saveButton.disabled = false;
    }
  }

  #fieldError(field, message) {
    const id = FIELDS[field];
    $(id).setAttribute("aria-invalid", "true");
    $(`${id}-error`).textContent = message;
    say("group-form-error", `Please check: ${message}`, { error: true });
    $(id).focus();
  }

  // ---- content rules ----

  /** The categories of the shipped rules, set as the group's signed tuning has them. */
  async #fillRules(g) {
    say("rules-form-error", "");
    let doc;
    try {
      doc = await shippedRules();
    } catch (err) {
      say("rules-form-error", err.message, { error: true });
      return;
    }
    if (this.selected !== g.id) return;
    let tuning = null;
    try {
      tuning = g.content_rules ? JSON.parse(g.content_rules.tuning) : null;
    } catch {
      tuning = null;
    }
    this.tuning = tuning;
    noteRules(g.id, g.content_rules);
    const changes = tuning?.categories ?? {};
    const mine = this.ownKey();
    $("rules-state").textContent = !g.content_rules
      ? "This group uses the standard content rules."
      : g.content_rules.by === mine
        ? "This group uses its own content rules, signed by you."
        : "This group uses its own content rules, signed by another facilitator's key.";
    const fields = doc.categories.map((cat) => {
      const change = changes[cat.id] ?? {};
      const id = `rule-${cat.id}`;
      const select = el(
        "select",
        { id: `${id}-action`, attrs: { "aria-label": `What happens: ${cat.label}` } },
        ...["off", "warn", "cw", "block"].map((a) => el("option", { value: a, text: a === cat.action ? `${ACTION_TEXT[a]} · standard` : ACTION_TEXT[a] })),
      );
      select.value = change.action ?? cat.action;
      const alert = el("input", {
        type: "checkbox",
        id: `${id}-alert`,
        checked: change.alert ?? Boolean(cat.alert),
        attrs: { "aria-label": `Alert the facilitators: ${cat.label}` },
      });
      const added = el("textarea", {
        id: `${id}-add`,
        rows: 2,
        spellcheck: false,
        attrs: { "aria-label": `Add words or phrases: ${cat.label}` },
      });
      added.value = [...(change.add_words ?? []), ...(change.add_phrases ?? [])].join("\n");
      return el(
        "fieldset",
        { class: "rule-category", dataset: { testid: "rule-category", category: cat.id } },
        el("legend", { text: cat.label }),
        el(
          "div",
          { class: "field-row align-end" },
          el("div", { class: "field" }, el("label", { htmlFor: select.id, text: "What happens", attrs: { "aria-hidden": "true" } }), select),
          el("label", { class: "check", htmlFor: alert.id }, alert, el("span", { text: "Alert the facilitators", attrs: { "aria-hidden": "true" } })),
        ),
        el(
          "div",
          { class: "field" },
          el("label", { htmlFor: added.id, text: "Add words or phrases (one per line)", attrs: { "aria-hidden": "true" } }),
          added,
        ),
      );
    });
    $("rules-categories").replaceChildren(...fields);
  }

  /** The tuning the form says: only what differs from the shipped rules (null: none). */
  async #tuningFromForm() {
    const doc = await shippedRules();
    const policy = await shippedPolicyOnce();
    const categories = {};
    for (const cat of doc.categories) {
      const id = `rule-${cat.id}`;
      const change = {};
      const action = $(`${id}-action`).value;
      if (action !== cat.action) change.action = action;
      const alert = $(`${id}-alert`).checked;
      if (alert !== Boolean(cat.alert)) change.alert = alert;
      const lines = [...new Set($(`${id}-add`).value.split("\n").map((l) => l.trim()).filter(Boolean))];
      const words = lines.filter((l) => isOneWord(policy, l));
      const phrases = lines.filter((l) => !words.includes(l));
      if (words.length) change.add_words = words;
      if (phrases.length) change.add_phrases = phrases;
      // Exceptions set elsewhere (the API) are kept: this form does not show them.
      const ignore = this.tuning?.categories?.[cat.id]?.ignore;
      if (Array.isArray(ignore) && ignore.length) change.ignore = ignore;
      if (Object.keys(change).length) categories[cat.id] = change;
    }
    if (!Object.keys(categories).length) return null;
    const tuning = { format: TUNING_FORMAT, categories };
    applyTuning(doc, tuning); // throws RulesError naming the field, before anything is signed
    return tuning;
  }

  async #saveRules({ reset = false } = {}) {
    const gid = this.selected;
    const g = this.#group();
    if (!g) return;
    say("rules-form-error", "");
    const saveButton = $("rules-save");
    saveButton.disabled = true;
    try {
      const tuning = reset ? null : await this.#tuningFromForm();
      let rules = null;
      if (tuning) {
        const identity = this.identity();
        if (!identity) throw new Error("This browser has no key to sign the rules with. Please log in again.");
        // One more than any version this page saw for the group, signed now (docs/e2ee.md section 11).
        rules = await signTuning(identity, gid, JSON.stringify(tuning), { version: nextVersion(gid, g.content_rules) });
      }
      const group = await this.api.editGroup(gid, { content_rules: rules });
      const at = this.groups.findIndex((x) => x.id === group.id);
      if (at >= 0) this.groups[at] = group;
      if (this.selected === gid) await this.#fillRules(group);
      announce(rules ? "The content rules were signed and saved." : "The group uses the standard content rules again.");
      say("rules-form-error", "");
    } catch (err) {
      if (err.code === "unauthenticated") this.onError(err);
      else if (err instanceof RulesError) say("rules-form-error", `${err.message} Please check that category's words.`, { error: true });
      else say("rules-form-error", err.message, { error: true });
    } finally {
      saveButton.disabled = false;
    }
  }

  // ---- links ----

  #hoursHint() {
    const hours = Number($("link-hours").value);
    let text = "";
    if (hours > 0) {
      const days = hours / 24;
      text = days >= 14 ? `About ${Math.round(days / 7)} weeks.` : days >= 1 ? `About ${Math.round(days)} days.` : "Less than a day.";
    }
    $("link-hours-hint").textContent = text;
  }

  async #loadLinks(gid) {
    let links;
    try {
      links = await this.api.links(gid);
    } catch (err) {
      this.onError(err);
      return;
    }
    if (this.selected !== gid) return;
    this.#renderLinks(gid, links);
  }

  #renderLinks(gid, links) {
    const rows = [...links].reverse().map((link) => {
      const label = link.label || "(no label)";
      const status = el("span", { class: `chip chip-${link.status}`, text: STATUS_TEXT[link.status] ?? link.status });
      const action =
        link.status === "active"
          ? button("Revoke", () => this.#revoke(gid, link), { kind: "quiet danger-text", label: `Revoke link ${label}` })
          : el("span");
      return el(
        "li",
        { class: "link-row", dataset: { testid: "link", lid: link.id, status: link.status } },
        el(
          "div",
          { class: "link-main" },
          el("span", { class: "link-label", text: label }),
          el("span", { class: "link-meta", text: `Made ${day(link.created_at)} · expires ${dateTime(link.expires_at)}` }),
        ),
        status,
        action,
      );
    });
    $("links-list").replaceChildren(...rows);
    show("links-none", links.length === 0);
  }

  async #createLink() {
    const gid = this.selected;
    say("link-form-error", "");
    const hours = Number($("link-hours").value);
    const spec = { label: $("link-label").value.trim() };
    if ($("link-hours").value.trim() !== "") spec.expires_in_hours = hours;
    let link;
    try {
      link = await this.api.createLink(gid, spec);
    } catch (err) {
      if (err.code === "unauthenticated") this.onError(err);
      else say("link-form-error", err.message, { error: true });
      return;
    }
    const keys = this.#linkKeys();
    const url = withKey(link.url, keys);
    $("new-link-url").value = url;
    say("new-link-keys", foreignKeys(link.url, keys).length ? FOREIGN_KEY_NOTICE : "", { error: true });
    $("new-link-for").textContent = link.label ? `For “${link.label}”.` : "";
    show("new-link");
    $("link-label").value = "";
    announce("A new link was made. Copy it now: it is shown only once.");
    $("copy-link").focus();
    this.#loadLinks(gid);
  }

  #hideNewLink() {
    $("new-link-url").value = "";
    show("new-link", false);
    say("copy-status", "");
    say("new-link-keys", "");
  }

  /** The keys a checked link carries: this console's own, then the co-facilitators' on this device. */
  #linkKeys() {
    const own = this.ownKey();
    return [...new Set([...(own ? [own] : []), ...coFacilitatorKeyTexts().filter((k) => coFacilitatorKeyText(k) === k)])];
  }

  // ---- co-facilitators' keys on this device ----

  #renderCoFacilitators() {
    const keys = coFacilitatorKeyTexts();
    const rows = keys.map((key) =>
      el(
        "li",
        { class: "cofac-row", dataset: { testid: "cofac", key } },
        el("code", { class: "cofac-key", text: key }),
        button("Remove", () => this.#removeCoFacilitator(key), { kind: "quiet danger-text", label: `Remove the key ${key.slice(0, 8)}…` }),
      ),
    );
    $("cofac-list").replaceChildren(...rows);
    show("cofac-none", keys.length === 0);
  }

  #addCoFacilitator() {
    const input = $("cofac-key");
    say("cofac-error", "");
    input.removeAttribute("aria-invalid");
    try {
      addCoFacilitator(input.value, { own: this.ownKey() });
    } catch (err) {
      input.setAttribute("aria-invalid", "true");
      say("cofac-error", err.message, { error: true });
      input.focus();
      return;
    }
    input.value = "";
    this.#renderCoFacilitators();
    announce("The key was added: links made here from now on carry it.");
  }

  #removeCoFacilitator(key) {
    removeCoFacilitator(key);
    this.#renderCoFacilitators();
    announce("The key was removed: links made here from now on leave it out.");
    $("cofac-key").focus();
  }

  async #copy() {
    const input = $("new-link-url");
    try {
      await navigator.clipboard.writeText(input.value);
      say("copy-status", "Copied. Send it to the member privately.");
    } catch {
      // No clipboard here (permissions, an older browser): select it for the keyboard.
      input.focus();
      input.select();
      say("copy-status", "The link is selected: press Ctrl+C (or ⌘C) to copy it.");
    }
  }

  async #revoke(gid, link) {
    const label = link.label || "this link";
    const { value } = await ask({
      title: `Revoke ${label}?`,
      text: "Whoever holds it can no longer come in with it. Someone in the room now stays in the room.",
      actions: [{ label: "Revoke link", value: "revoke", kind: "danger" }],
    });
    if (value !== "revoke") return;
    try {
      await this.api.revokeLink(gid, link.id);
      announce(`The link “${label}” was revoked.`);
    } catch (err) {
      this.onError(err);
    }
    this.#loadLinks(gid);
  }
}

/** The `f=` values of a link's fragment, as written. @param {string} url @returns {string[]} */
function fragmentKeys(url) {
  const hash = url.indexOf("#");
  if (hash < 0) return [];
  return url
    .slice(hash + 1)
    .split("&")
    .filter((part) => part.startsWith("f="))
    .map((part) => part.slice(2));
}

/**
 * The link as the API made it with exactly `keys` as its `f=` parameters:
 * every `f=` the server put in is dropped (a key a hostile server slipped in
 * never reaches the member), then this device's keys are appended, each once.
 * The address and the rest of the fragment (the seat) are kept as they are.
 * As rooms/links.py `link_trusting` on the Python side.
 * @param {string} url @param {string | string[] | null} keys this console's own key first, then its co-facilitators'
 */
export function withKey(url, keys) {
  const list = [...new Set((Array.isArray(keys) ? keys : [keys]).filter(Boolean))];
  const hash = url.indexOf("#");
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const kept = hash >= 0 ? url.slice(hash + 1).split("&").filter((part) => part && !part.startsWith("f=")) : [];
  const fragment = [...kept, ...list.map((k) => `f=${k}`)].join("&");
  return fragment ? `${base}#${fragment}` : base;
}

/**
 * The `f=` values in the server's link that are not among `keys`: what
 * `withKey` dropped, and the facilitator should hear of (FOREIGN_KEY_NOTICE).
 * @param {string} url @param {string | string[] | null} keys
 */
export function foreignKeys(url, keys) {
  const known = new Set((Array.isArray(keys) ? keys : [keys]).filter(Boolean));
  return [...new Set(fragmentKeys(url).filter((k) => !known.has(k)))];
}
