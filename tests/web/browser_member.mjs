// A browser member for the Python-driven tests: clients/web/client.js in a
// page, with what it saw kept on `globalThis.member` for the test to read.
// Served to the page by the test itself (tests/web/chromium.py), never by
// the server.

export async function join(link, name) {
  const { ChatClient } = await import("/web/client.js");
  const client = new ChatClient({ name, link, acceptRules: () => true });
  const seen = { msgs: [], warnings: [], errors: [], closes: [], welcome: null };
  client.addEventListener("msg", (e) => seen.msgs.push(e.detail));
  client.addEventListener("warning", (e) => seen.warnings.push(e.detail));
  client.addEventListener("error", (e) => seen.errors.push(e.detail));
  client.addEventListener("close", (e) => seen.closes.push(e.detail));
  const welcomed = new Promise((resolve, reject) => {
    client.addEventListener("welcome", (e) => resolve(e.detail), { once: true });
    client.addEventListener("close", (e) => reject(new Error(`closed ${e.detail.code}`)), { once: true });
  });
  await client.connect();
  seen.welcome = await welcomed;
  globalThis.member = { client, seen };
  return { pid: seen.welcome.you, session: seen.welcome.session };
}

/** Wait until `pred(seen)` holds (polling), or fail after `ms`. */
export async function until(pred, ms = 10000) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (pred(globalThis.member.seen)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("timed out waiting in the page");
}
