// Versioned content-rules tunings (docs/e2ee.md section 11) in the browser's
// engine (clients/web/content-policy.js) under Node: the shared vectors
// (tests/vectors/tuning.json, made by tests/vectors/make_tuning_vectors.py;
// tests/clients/test_tuning_vectors.py runs them in Python), a replay refused
// with the rules in force kept, and the console's checked links (withKey) and
// co-facilitator keys (console-cofacilitators.js).

import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { fromB64u, fromHex, toB64u, toHex } from "../../clients/web/bytes.js";
import { ed25519KeyPair } from "../../clients/web/e2ee-primitives.js";
import {
  RULES_LABEL,
  RULES_REPLAYED,
  RULES_UNVERIFIED,
  checkedRules,
  groupPolicy,
  newRulesMemory,
  nextVersion,
  rulesStatement,
  signTuning,
} from "../../clients/web/content-policy.js";

const read = (rel) => JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8"));
const V = read("../vectors/tuning.json");
const RULES = read("../../moderation/content/default_rules.json");
const TRUSTED = V.trusted.map(fromB64u);
const TUNINGS = Object.fromEntries(V.tunings.map((t) => [t.name, t]));
const REJECTS = Object.fromEntries(V.rejects.map((r) => [r.name, r]));
const GROUP = V.group_id;

// The shipped rules, as GET /content-rules.json would give them to a page.
globalThis.fetch = async () => ({ ok: true, json: async () => structuredClone(RULES) });

// What the console's pages keep in localStorage, for console-cofacilitators.js.
const stored = new Map();
globalThis.localStorage = {
  getItem: (k) => (stored.has(k) ? stored.get(k) : null),
  setItem: (k, v) => stored.set(k, String(v)),
  removeItem: (k) => stored.delete(k),
};

const shown = (name) => {
  if (name === null) return null;
  if (name.startsWith("reject:")) return REJECTS[name.slice("reject:".length)].content_rules;
  return TUNINGS[name].content_rules;
};

test("every tuning's statement and signature are the vectors' bytes, and verify", async () => {
  assert.equal(RULES_LABEL, V.label);
  const fac = await ed25519KeyPair(fromHex(V.signers.fac.seed));
  assert.equal(toB64u(fac.pub), V.signers.fac.pub);
  assert.ok(V.tunings.length >= 5);
  for (const t of V.tunings) {
    assert.equal(toHex(rulesStatement(t.group_id, t.tuning, t.version, t.signed_at)), t.statement, t.name);
    const signed = await signTuning(fac, t.group_id, t.tuning, { version: t.version, signedAt: t.signed_at });
    assert.deepEqual(signed, t.content_rules, t.name);
    assert.deepEqual(await checkedRules(t.content_rules, t.group_id, TRUSTED), {
      tuning: t.tuning,
      version: t.version,
      signedAt: t.signed_at,
    });
  }
});

test("every reject is refused as rules_unverified", async () => {
  assert.ok(V.rejects.length >= 15);
  for (const r of V.rejects) {
    await assert.rejects(checkedRules(r.content_rules, r.group_id, TRUSTED), (err) => err.code === RULES_UNVERIFIED, r.name);
  }
});

test("a page shown tunings in turn does what the vectors say", async () => {
  const words = { [RULES_UNVERIFIED]: "unverified", [RULES_REPLAYED]: "replayed" };
  for (const seq of V.sequences) {
    const memory = newRulesMemory();
    for (const [i, name] of seq.shown.entries()) {
      const r = await groupPolicy({ rules: shown(name), groupId: GROUP, trusted: TRUSTED, memory });
      const got = r.warning ? words[r.warning.code] : "applied";
      assert.equal(got, seq.expect[i], `${seq.name} #${i}`);
      const inForce = seq.in_force[i];
      assert.equal(r.tuning, inForce === null ? null : TUNINGS[inForce].tuning, `${seq.name} #${i}`);
    }
  }
});

test("an older tuning is refused: the rules in force stay, with rules_replayed", async () => {
  const memory = newRulesMemory();
  const newer = await groupPolicy({ rules: shown("third"), groupId: GROUP, trusted: TRUSTED, memory });
  assert.equal(newer.warning, null);
  const replayed = await groupPolicy({ rules: shown("first"), groupId: GROUP, trusted: TRUSTED, memory });
  assert.equal(replayed.warning.code, RULES_REPLAYED);
  assert.match(replayed.warning.message, /older version/);
  assert.equal(replayed.tuning, TUNINGS.third.tuning);
  assert.equal(replayed.policy, newer.policy);
  // A v1-signed tuning does not verify at all (the old label, no version).
  const old = REJECTS.v1_label_as_v1_had_it.content_rules;
  assert.deepEqual(Object.keys(old).sort(), ["by", "sig", "tuning"]);
  const v1 = await groupPolicy({ rules: old, groupId: GROUP, trusted: TRUSTED, memory: newRulesMemory() });
  assert.equal(v1.warning.code, RULES_UNVERIFIED);
  assert.equal(v1.tuning, null);
  // The page's own memory (no `memory` given) is per group, for the page's life.
  const g = "g_page_memory";
  const fac = await ed25519KeyPair(fromHex(V.signers.fac.seed));
  const two = await signTuning(fac, g, TUNINGS.second.tuning, { version: 2, signedAt: 5 });
  const one = await signTuning(fac, g, TUNINGS.first.tuning, { version: 1, signedAt: 9 });
  assert.equal((await groupPolicy({ rules: two, groupId: g, trusted: TRUSTED })).warning, null);
  assert.equal((await groupPolicy({ rules: one, groupId: g, trusted: TRUSTED })).warning.code, RULES_REPLAYED);
  // A signer on this page takes one more than any version it saw, even after a reset to none.
  assert.equal(nextVersion(g, null), 3);
  assert.equal(nextVersion("g_never_seen", null), 1);
  assert.equal(nextVersion("g_never_seen", { version: 41 }), 42);
});

test("signTuning refuses a version or time out of range, and stamps now by default", async () => {
  const fac = await ed25519KeyPair(fromHex(V.signers.fac.seed));
  for (const [version, signedAt] of [[0, 1], [2 ** 32, 1], [1.5, 1], [1, -1], [1, 2 ** 53 + 2]]) {
    await assert.rejects(signTuning(fac, GROUP, "{}", { version, signedAt }), RangeError);
  }
  const before = Date.now();
  const signed = await signTuning(fac, GROUP, TUNINGS.first.tuning, { version: 1 });
  assert.ok(signed.signed_at >= before && signed.signed_at <= Date.now());
  assert.equal((await checkedRules(signed, GROUP, TRUSTED)).version, 1);
});

// ---- the console's checked links -------------------------------------------------

const { withKey, foreignKeys, FOREIGN_KEY_NOTICE } = await import("../../clients/web/console-groups.js");
const { addCoFacilitator, coFacilitatorKeyTexts, removeCoFacilitator, trustedCoFacilitators } = await import(
  "../../clients/web/console-cofacilitators.js"
);

const key = (n) => toB64u(Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + n) & 0xff));

test("withKey replaces every key the server put in a link with this device's keys", () => {
  const [mine, co, planted] = [key(1), key(2), key(3)];
  const url = `https://chat.example/join#seat=TOKEN&f=${planted}`;
  assert.equal(withKey(url, [mine, co]), `https://chat.example/join#seat=TOKEN&f=${mine}&f=${co}`);
  assert.deepEqual(foreignKeys(url, [mine, co]), [planted]);
  // The server's copy of our own key is not foreign; twice is once.
  const ours = `https://chat.example/join#seat=TOKEN&f=${mine}&f=${planted}&f=${planted}`;
  assert.equal(withKey(ours, [mine, mine]), `https://chat.example/join#seat=TOKEN&f=${mine}`);
  assert.deepEqual(foreignKeys(ours, [mine]), [planted]);
  assert.deepEqual(foreignKeys(`https://chat.example/join#seat=TOKEN&f=${mine}`, [mine]), []);
  // No fragment keys at all: ours appended; a lone key argument still works.
  assert.equal(withKey("https://chat.example/join#seat=TOKEN", mine), `https://chat.example/join#seat=TOKEN&f=${mine}`);
  assert.equal(withKey("https://chat.example/join", [mine]), `https://chat.example/join#f=${mine}`);
  assert.match(FOREIGN_KEY_NOTICE, /does not know; it was replaced by yours/);
});

test("co-facilitator keys: added once when 32 bytes of base64url, removed, never one's own", () => {
  stored.clear();
  const [mine, a, b] = [key(4), key(5), key(6)];
  assert.deepEqual(addCoFacilitator(` f=${a} `, { own: mine }), [a]);
  assert.deepEqual(addCoFacilitator(a), [a]);
  assert.deepEqual(addCoFacilitator(b), [a, b]);
  for (const bad of ["", "short", `${a}=`, a.slice(0, -1), `${a}A`, a.replace(/./, "+")]) {
    assert.throws(() => addCoFacilitator(bad), (err) => err.code === "bad_key", bad);
  }
  assert.throws(() => addCoFacilitator(mine, { own: mine }), (err) => err.code === "own_key");
  assert.deepEqual(coFacilitatorKeyTexts(), [a, b]);
  assert.deepEqual(trustedCoFacilitators().map(toB64u), [a, b]);
  assert.deepEqual(removeCoFacilitator(a), [b]);
  assert.deepEqual(coFacilitatorKeyTexts(), [b]);
  // A link made now carries exactly the device's keys.
  const url = withKey(`https://chat.example/join#seat=T&f=${a}`, [mine, ...coFacilitatorKeyTexts()]);
  assert.equal(url, `https://chat.example/join#seat=T&f=${mine}&f=${b}`);
});
