// The member room's dialogs: report a message, write to the facilitators,
// support, and the confirmation before leaving. Native <dialog> elements
// opened with showModal(): the keyboard stays inside, Escape closes, and the
// focus goes back to the button that opened them.

import { $ } from "./room-view.js";
import { fillCrisisList } from "./room-crisis.js";

const openers = new WeakMap();

function open(dialog) {
  openers.set(dialog, document.activeElement);
  if (!dialog.open) dialog.showModal();
}

function close(dialog) {
  if (dialog.open) dialog.close();
}

function showError(id, text) {
  $(id).textContent = text ?? "";
  $(id).hidden = !text;
}

/** Put the focus back where it was when a dialog opened (if that is still on the page). */
function restoreFocus(dialog) {
  const before = openers.get(dialog);
  openers.delete(dialog);
  if (before && before.isConnected && typeof before.focus === "function" && !before.disabled) before.focus();
}

/** The support dialog asks first (Send / Cancel), or shows where things stand. */
function supportConfirm(asking) {
  $("support-confirm").hidden = !asking;
  $("support-actions").hidden = asking;
}

/**
 * Wire the dialogs to the page's actions.
 * @param {{
 *   report: (m: object, note: string) => Promise<void>,
 *   writePrivate: (text: string) => Promise<void>,
 *   sendSupport: () => void,
 *   cancelSupport: () => void,
 *   leave: () => void,
 * }} actions each may throw an Error whose message is shown in the dialog
 */
export function setUpDialogs(actions) {
  for (const id of ["report-dialog", "private-dialog", "support-dialog", "leave-dialog"]) {
    $(id).addEventListener("close", () => restoreFocus($(id)));
  }

  // Report: a short note, then the codec seals the proof for the facilitators.
  let reporting = null;
  $("report-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!reporting) return;
    const send = $("report-send");
    send.disabled = true;
    try {
      await actions.report(reporting, $("report-note").value.trim());
      close($("report-dialog"));
    } catch (err) {
      showError("report-error", err.message);
    } finally {
      send.disabled = false;
    }
  });
  $("report-cancel").addEventListener("click", () => close($("report-dialog")));
  $("report-dialog").addEventListener("close", () => {
    reporting = null;
    $("report-note").value = "";
    $("report-who").textContent = "";
    $("report-text").textContent = "";
    showError("report-error", null);
  });

  // A private message to the facilitators.
  $("private-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("private-text").value.trim();
    if (!text) {
      showError("private-error", "Write your message first.");
      return;
    }
    const send = $("private-send");
    send.disabled = true;
    try {
      await actions.writePrivate(text);
      $("private-text").value = "";
      close($("private-dialog"));
    } catch (err) {
      showError("private-error", err.message);
    } finally {
      send.disabled = false;
    }
  });
  $("private-cancel").addEventListener("click", () => close($("private-dialog")));
  $("private-dialog").addEventListener("close", () => showError("private-error", null));

  // Support: one question before the alert goes; Cancel keeps the crisis resources in view.
  $("support-send").addEventListener("click", () => {
    supportConfirm(false);
    actions.sendSupport();
    $("support-close").focus();
  });
  $("support-cancel").addEventListener("click", () => {
    supportConfirm(false);
    actions.cancelSupport();
    $("support-close").focus();
  });
  $("support-close").addEventListener("click", () => close($("support-dialog")));
  $("support-write").addEventListener("click", () => {
    close($("support-dialog"));
    openPrivate();
  });

  $("leave-cancel").addEventListener("click", () => close($("leave-dialog")));
  $("leave-confirm").addEventListener("click", () => {
    close($("leave-dialog"));
    actions.leave();
  });

  return {
    /** @param {{id: number, name: string, text: string}} m */
    openReport(m) {
      reporting = m;
      $("report-who").textContent = m.name;
      $("report-text").textContent = m.text;
      open($("report-dialog"));
      $("report-note").focus();
    },
    openPrivate,
    /**
     * @param {string[]} resources
     * @param {{confirm: boolean, status: string | null, canWrite: boolean}} how `confirm`: ask
     *   before sending; `status`: where the member's request stands (null: none)
     */
    openSupport(resources, { confirm, status, canWrite }) {
      fillCrisisList($("support-crisis"), resources);
      $("support-none").hidden = resources.length > 0;
      supportConfirm(confirm);
      this.supportStatus(status, { canWrite, canSend: confirm });
      open($("support-dialog"));
      $(confirm ? "support-send" : "support-close").focus();
    },
    /**
     * @param {string | null | undefined} status the sentence to show (null: none; undefined: keep)
     * @param {{canWrite: boolean, canSend: boolean}} how `canSend` false takes the question away
     */
    supportStatus(status, { canWrite, canSend }) {
      if (status !== undefined) {
        if ($("support-status").textContent !== (status ?? "")) $("support-status").textContent = status ?? "";
        $("support-status").hidden = !status;
      }
      $("support-write").hidden = !canWrite;
      if (!canSend && !$("support-confirm").hidden) {
        const focused = $("support-confirm").contains(document.activeElement);
        supportConfirm(false);
        if (focused) $("support-close").focus();
      }
    },
    supportOpen() {
      return $("support-dialog").open;
    },
    openLeave() {
      open($("leave-dialog"));
      $("leave-cancel").focus();
    },
    /** Close every dialog and forget what they showed (on wipe). */
    closeAll() {
      for (const id of ["report-dialog", "private-dialog", "support-dialog", "leave-dialog"]) close($(id));
      $("private-text").value = "";
      $("report-note").value = "";
      $("report-who").textContent = "";
      $("report-text").textContent = "";
    },
  };

  function openPrivate() {
    open($("private-dialog"));
    $("private-text").focus();
  }
}
