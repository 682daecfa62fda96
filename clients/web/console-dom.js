// Small DOM helpers for the facilitator console. Text reaches the page through
// textContent only (never innerHTML), so nothing anyone types can become markup.

export const $ = (id) => document.getElementById(id);

/**
 * A new element. `props`: `class`, `text`, `hidden`, `dataset` ({...}),
 * `attrs` ({name: value}), `on` ({event: handler}); anything else is set as a property.
 * @param {string} tag @param {Record<string, any>} [props] @param {...(Node | string | null | false)} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "attrs") for (const [a, v] of Object.entries(value)) node.setAttribute(a, String(v));
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === false || child === undefined) continue;
    node.append(child);
  }
  return node;
}

/** A button; `label` is its accessible name when it should say more than its visible text. */
export function button(text, onClick, { label, kind, ...props } = {}) {
  return el("button", {
    type: "button",
    text,
    class: kind ? `btn ${kind}` : "btn",
    attrs: label ? { "aria-label": label } : undefined,
    on: { click: onClick },
    ...props,
  });
}

export function show(node, visible = true) {
  (typeof node === "string" ? $(node) : node).hidden = !visible;
}

/** Say something to everyone: on screen, and to screen readers (politely, or at once). */
export function announce(text, { assertive = false } = {}) {
  const region = $(assertive ? "announce-now" : "announce");
  // Emptied first, so the same sentence twice is read twice.
  region.textContent = "";
  setTimeout(() => (region.textContent = text), 30);
}

/** A visible status line for a view, with a role=status/alert region already on the page. */
export function say(id, text, { error = false } = {}) {
  const node = $(id);
  node.textContent = text ?? "";
  node.classList.toggle("is-error", Boolean(error));
}

/** @param {number} epochSeconds @returns {string} a local clock time like 14:05 */
export function clockTime(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** @param {number} epochSeconds @returns {string} a local date and time */
export function dateTime(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleString([], {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** @param {number} epochSeconds @returns {string} a local date */
export function day(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleDateString([], { day: "numeric", month: "short", year: "numeric" });
}

/** @param {number} seconds @returns {string} m:ss, or h:mm:ss past an hour */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * Ask before doing something that cannot be undone, in the page's own dialog
 * (modal: focus stays in it; Escape cancels). Focus starts on Cancel, or on
 * the action marked `focus` (the milder choice of several).
 * @param {{title: string, text?: string,
 *   actions: Array<{label: string, value: string, kind?: string, focus?: boolean}>,
 *   input?: {label: string, type?: string, value?: string, min?: number, max?: number, hint?: string}}} spec
 * @returns {Promise<{value: string | null, input: string | null}>} value null when cancelled
 */
export function ask(spec) {
  const dialog = $("dialog");
  // One question at a time: a second one while the first is open is declined.
  if (dialog.open) return Promise.resolve({ value: null, input: null });
  const title = $("dialog-title");
  const text = $("dialog-text");
  const field = $("dialog-field");
  const actions = $("dialog-actions");
  title.textContent = spec.title;
  text.textContent = spec.text ?? "";
  text.hidden = !spec.text;
  field.replaceChildren();
  let input = null;
  if (spec.input) {
    input = el("input", {
      id: "dialog-input",
      type: spec.input.type ?? "text",
      value: spec.input.value ?? "",
      attrs: { ...(spec.input.min !== undefined ? { min: spec.input.min } : {}), ...(spec.input.max !== undefined ? { max: spec.input.max } : {}) },
    });
    field.append(el("label", { htmlFor: "dialog-input", text: spec.input.label }), input);
    if (spec.input.hint) field.append(el("p", { class: "hint", text: spec.input.hint }));
  }
  return new Promise((resolve) => {
    let answer = null;
    const buttons = spec.actions.map((a) =>
      button(a.label, () => {
        answer = a.value;
        dialog.close();
      }, { kind: a.kind, dataset: { value: a.value } }),
    );
    const cancel = button("Cancel", () => dialog.close(), { kind: "quiet" });
    // One action: Cancel, then the action at the end of the row. Several: stacked, Cancel last.
    const stacked = buttons.length > 1;
    actions.classList.toggle("is-stacked", stacked);
    actions.replaceChildren(...(stacked ? [...buttons, cancel] : [cancel, ...buttons]));
    const opener = document.activeElement;
    // Enter in the input means the one action there is (a time-out's minutes).
    dialog.querySelector("form").onsubmit = (ev) => {
      ev.preventDefault();
      if (spec.actions.length === 1) {
        answer = spec.actions[0].value;
        dialog.close();
      }
    };
    dialog.addEventListener(
      "close",
      () => {
        resolve({ value: answer, input: input ? input.value : null });
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      },
      { once: true },
    );
    dialog.showModal();
    const preferred = buttons[spec.actions.findIndex((a) => a.focus)];
    (input ?? preferred ?? cancel).focus();
    input?.select();
  });
}
