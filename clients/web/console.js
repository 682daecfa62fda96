// The facilitator console (GET /console): log in, keep this browser's
// identity key, manage groups and seat links, run a session.
//
// What is kept where: the login token in memory and in this tab's
// sessionStorage, with the id of the group whose room the tab is in (so a
// reload comes back to where it was; nothing else is ever put there); the
// identity key in IndexedDB (a non-extractable private key and its public
// half, nothing else); every message, name and report in memory only, for
// the session, so none of them survives a reload.

import { Api } from "./console-api.js";
import { $, announce, say, show } from "./console-dom.js";
import { GroupsView } from "./console-groups.js";
import { accountsWithKey, fingerprint, keyText, loadOrCreateIdentity } from "./console-identity.js";
import { forgetKept, keepGroup, keepToken, keptGroup, keptToken } from "./console-keep.js";
import { SessionView } from "./console-session.js";

let identity = null; // {pub, key}


const api = new Api({ onExpired: () => expired() });

const groups = new GroupsView({
  api,
  ownKey: () => (identity ? keyText(identity.pub) : null),
  onRun: (group) => runSession(group),
  onError: (err) => problem(err),
  identity: () => identity,
});

const session = new SessionView({
  api,
  identity: () => identity,
  onBack: () => {
    keepGroup(null);
    showView("groups-view", () => groups.load());
  },
  onPlace: (gid) => keepGroup(gid),
});

function showView(id, then, { focus = true } = {}) {
  for (const view of ["login-view", "groups-view", "session-view"]) show(view, view === id);
  show("account", id !== "login-view");
  document.body.dataset.view = id;
  then?.();
  // Keyboard and screen-reader users land on the new view's heading.
  if (focus) $(id).querySelector("h1")?.focus();
}

function problem(err) {
  if (err?.code === "unauthenticated") return;
  say("page-error", err?.message ?? String(err), { error: true });
}

function expired() {
  forgetKept();
  session.wipe();
  groups.clear();
  identity = null;
  showView("login-view", null, { focus: false });
  say("login-error", "Your login has expired. Please log in again.", { error: true });
}

async function login(ev) {
  ev.preventDefault();
  say("login-error", "");
  const name = $("login-name").value.trim();
  const password = $("login-password").value;
  if (!name || !password) {
    say("login-error", "Please enter your name and password.", { error: true });
    return;
  }
  const submit = $("login-submit");
  submit.disabled = true;
  try {
    await api.login(name, password);
    $("login-password").value = "";
    identity = await loadOrCreateIdentity(api.account);
    await api.setIdentity(keyText(identity.pub));
    keepToken(api.token);
    await showAccount();
    showView("groups-view", () => groups.load());
    announce(
      identity.created
        ? `Logged in as ${api.account}. A new key was made for this browser; links you make from now on carry it.`
        : `Logged in as ${api.account}.`,
    );
  } catch (err) {
    if (api.loggedIn) await api.logout(); // e.g. the key could not be kept: do not stay half logged in
    forgetKept();
    identity = null;
    say("login-error", err.message ?? String(err), { error: true });
    $("login-password").focus();
  } finally {
    submit.disabled = false;
  }
}

async function showAccount() {
  $("account-name").textContent = api.account;
  $("fingerprint").textContent = await fingerprint(identity.pub);
  $("fingerprint").title = keyText(identity.pub);
}

/**
 * After a reload: the kept token, if the server still takes it, logs this tab
 * back in, to the groups page or into the room it was in. The account's name
 * is not kept: it is the one among the groups' facilitators whose key this
 * browser keeps (console-identity.js, as at login). Anything unclear: log in.
 */
async function resume() {
  const token = keptToken();
  if (!token) return false;
  api.resume(token);
  try {
    const list = await api.groups();
    const accounts = await accountsWithKey(list.flatMap((g) => (Array.isArray(g.facilitators) ? g.facilitators : [])));
    if (accounts.length !== 1) throw new Error("whose token this is cannot be told");
    api.account = accounts[0];
    identity = await loadOrCreateIdentity(api.account);
    await showAccount();
    const gid = keptGroup();
    const group = gid && list.find((g) => g.id === gid);
    if (group) {
      say("page-error", "");
      showView("session-view");
      session.open(group, { restored: true });
      announce(`Back in the room of ${group.title}.`); // what could not come back: session.open says
    } else {
      keepGroup(null);
      showView("groups-view", () => groups.load());
    }
    return true;
  } catch {
    if (!api.loggedIn) return false; // expired(): it says so itself
    api.resume(null);
    identity = null;
    forgetKept();
    return false;
  }
}

async function logout() {
  forgetKept();
  session.leave({ back: false });
  groups.clear();
  identity = null;
  await api.logout();
  say("page-error", "");
  showView("login-view", null, { focus: false });
  announce("You are logged out.");
}

function runSession(group) {
  say("page-error", "");
  showView("session-view");
  session.open(group);
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
if (!globalThis.crypto?.subtle || !globalThis.indexedDB) {
  say("login-error", "This page needs a secure connection (https) and a current browser to keep your key.", { error: true });
}
showView("login-view", null, { focus: false });
resume();
