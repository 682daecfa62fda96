// What the facilitator console keeps for a reload of its tab, in that tab's
// sessionStorage: the API token and the id of the group whose room the tab is
// in. Nothing else, ever: no message, name, report or key (a reload cannot
// read again what was sealed to the page's previous keys anyway). Gone with
// the tab; cleared on logout and when the login expires.

const TOKEN = "safespace.console.token";
const GROUP = "safespace.console.group";

function put(key, value) {
  try {
    if (value === null || value === undefined) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, String(value));
  } catch {
    // Storage refused (private mode, quota): a reload logs out, as before.
  }
}

function get(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

/** @param {string | null} token */
export const keepToken = (token) => put(TOKEN, token);
/** @param {string | null} gid */
export const keepGroup = (gid) => put(GROUP, gid);
/** @returns {string | null} */
export const keptToken = () => get(TOKEN);
/** @returns {string | null} */
export const keptGroup = () => get(GROUP);

/** Logout, or a login that expired: nothing stays. */
export function forgetKept() {
  try {
    sessionStorage.clear();
  } catch {
    // nothing was kept
  }
}
