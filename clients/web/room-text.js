// What the member room says when a visit ends, and about being muted.

import { clock } from "./room-view.js";

/**
 * The final screens. `useMessage`: show the server's sentence (it never
 * echoes input) rather than ours; `again`: offer to open the link again.
 */
export const FINAL = {
  ended: {
    title: "The session has ended",
    text: "Thank you for being here today. The conversation has been cleared from this page.",
  },
  left: {
    title: "You have left the session",
    text: "Take care of yourself. The conversation has been cleared from this page. You can open your link again if you want to come back to this session.",
    again: true,
  },
  declined: {
    title: "You have not entered",
    text: "Nothing has been shared. You can open your link again whenever you are ready.",
    again: true,
  },
  gone: {
    title: "The session is not running any more",
    text: "It may have ended while you were away, or the server restarted. The conversation has been cleared from this page. If your facilitator opens the room again, you can come back with your link.",
    again: true,
  },
  removed: {
    title: "You are no longer in this session",
    text: "A facilitator removed you from this session. The conversation has been cleared from this page. If you want to talk about it, please contact your facilitator after the session.",
  },
  removed_for_good: {
    title: "You are no longer in this group",
    text: "A facilitator removed you from this group, and your link no longer works. The conversation has been cleared from this page. If you want to talk about it, please contact your facilitator.",
  },
  refused: {
    title: "You could not be let in this time",
    text: "The facilitator could not let you in to this session. You are welcome to contact them about the next one.",
  },
  replaced: {
    title: "This session continues on another page",
    text: "Your place was opened on another page or device, so this page stepped aside. The conversation has been cleared from this page.",
    again: true,
  },
  no_link: {
    title: "This page needs your private link",
    text: "Please open the private link your facilitator gave you.",
  },
  // A link was opened, but the part after "#" has no seat in it: cut short when copied.
  incomplete: {
    title: "This link is incomplete",
    text: "Part of the link seems to be missing (the part after “#”). Please open the whole link again, exactly as you received it, or ask your facilitator for a new one.",
  },
  // The part after "#" is there, but a facilitator key in it is not a key.
  damaged: {
    title: "This link is damaged",
    text: "Part of the link has been changed or cut. Please open the whole link again, exactly as you received it, or ask your facilitator for a new one.",
  },
  door: {
    title: "This link cannot be used right now",
    text: "The server refused this link. Please ask your facilitator for a new one.",
    useMessage: true,
  },
  error: {
    title: "Something went wrong",
    text: "This page could not continue. The conversation has been cleared from this page.",
    useMessage: true,
    again: true,
  },
};

/** At a locked door: a facilitator decides, and may refuse, so nothing is promised. */
export const KNOCKING = "The session has started, so you are knocking. Please wait for a facilitator to answer.";

/** What the room says on return from a break about the room messages that came meanwhile. @param {number} n */
export function awayText(n) {
  if (n <= 0) return "You are back. No messages came while you were away.";
  if (n === 1) return "1 message came while you were away; it was sealed for those in the room and cannot be shown here.";
  return `${n} messages came while you were away; they were sealed for those in the room and cannot be shown here.`;
}

/** The banner for a member who is muted (`until` null) or timed out (until an epoch time). */
export function muteText(until, { away = false } = {}) {
  // On a break the hand cannot be raised (docs/protocol.md, step_out): not promised then.
  const still = away
    ? "You can still message the facilitators or ask for support."
    : "You can still message the facilitators, raise your hand or ask for support.";
  if (until) {
    return `A facilitator has given you a short time-out, until ${clock(until)}. Your messages are not being sent until then. ${still}`;
  }
  return `A facilitator has muted you. Your messages are not being sent. ${still}`;
}
