// clients/web/content.js under Node's test runner: the shared vectors
// (tests/vectors/content.json), how categories combine, per-group tuning and
// clear errors for a bad rules file. The Python engine passes the same vectors
// (tests/moderation), and test_content_parity.py compares the two directly.

import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { runContentVectors } from "./content_vectors.mjs";
import { applyTuning, compilePolicy, evaluate, expand, RulesError, TUNING_FORMAT } from "../../clients/web/content.js";

const read = (rel) => JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8"));
const RULES = read("../../moderation/content/default_rules.json");
const VECTORS = read("../vectors/content.json");
const policy = compilePolicy(RULES);

test("the browser engine passes every shared vector", async () => {
  assert.ok(VECTORS.cases.length >= 300, "at least 300 labelled cases");
  const result = await runContentVectors(RULES, VECTORS);
  assert.deepEqual(result.failures, []);
  assert.equal(result.passed, VECTORS.cases.length + VECTORS.patterns.valid.length + VECTORS.patterns.invalid.length);
});

test("every category of the default rules has labelled cases, and innocent ones exist", () => {
  const labelled = new Set(VECTORS.cases.flatMap((c) => c.categories));
  for (const cat of policy.categories) assert.ok(labelled.has(cat.id), cat.id);
  assert.ok(VECTORS.cases.filter((c) => c.categories.length === 0).length >= 80);
});

test("several categories combine: the strongest action, every warn, cw labels and alerts", () => {
  const v = evaluate("call me on 07700 900123, I want to die", policy);
  assert.deepEqual(v.categories, ["self_harm", "personal_info"]);
  assert.equal(v.action, "cw");
  assert.deepEqual(v.warn, ["personal_info"]);
  assert.deepEqual(v.cw, ["Suicide or self-harm"]);
  assert.deepEqual(v.block, []);
  assert.deepEqual(v.alert, ["self_harm"]);
  const b = evaluate("how to kill myself without pain", policy);
  assert.equal(b.action, "block");
  assert.deepEqual(b.block, ["method_detail"]);
  assert.deepEqual(b.alert, ["self_harm", "method_detail"]);
  assert.deepEqual(evaluate("thank you all", policy), { categories: [], action: "none", warn: [], cw: [], block: [], alert: [], matches: [] });
});

test("a member can always say they feel like ending it: cw and alert, never block", () => {
  for (const text of ["I feel like ending it", "I feel suicidal", "I want to die", "I don't want to be here anymore"]) {
    const v = evaluate(text, policy);
    assert.equal(v.action, "cw", text);
    assert.deepEqual(v.alert, ["self_harm"], text);
  }
});

test("matches are UTF-16 offsets into the original text", () => {
  const text = "ok \u{1d424}\u{1d422}\u{1d425}\u{1d425} my\u200bself!";
  const [m] = evaluate(text, policy).matches;
  assert.equal(m.category, "self_harm");
  assert.equal(text.slice(m.start, m.end), "\u{1d424}\u{1d422}\u{1d425}\u{1d425} my\u200bself");
  const phone = "x \uff10\uff17\uff17\uff10\uff10 900123 y";
  const [p] = evaluate(phone, policy).matches;
  assert.equal(phone.slice(p.start, p.end), "\uff10\uff17\uff17\uff10\uff10 900123");
});

test("odd input never throws", () => {
  for (const text of ["", " ", "\ud800", "\udc00abc", "\u{1f600}".repeat(500), "a".repeat(5000), "k i l l ".repeat(100), "_".repeat(50), "$$$ @@@ !!!"]) {
    const v = evaluate(text, policy);
    assert.ok(["none", "warn", "cw", "block"].includes(v.action));
  }
});

test("tuning turns a category up or down, adds words and phrases, ignores some", () => {
  const tuned = compilePolicy(
    applyTuning(RULES, {
      format: TUNING_FORMAT,
      categories: {
        substances: { action: "off" },
        insults: { action: "block", alert: true, add_words: ["numpty"], add_phrases: ["you absolute {muppet,walnut}"] },
        violence: { ignore: ["violence"] },
      },
    }),
  );
  assert.deepEqual(evaluate("I got drunk", tuned).categories, []);
  const v = evaluate("you numpty", tuned);
  assert.deepEqual([v.categories, v.action, v.alert], [["insults"], "block", ["insults"]]);
  assert.equal(evaluate("you absolute walnut", tuned).action, "block");
  assert.deepEqual(evaluate("violence at home", tuned).categories, []);
  assert.deepEqual(evaluate("I was raped", tuned).categories, ["violence"]);
  // The untuned policy is unchanged: tuning returns a new document.
  assert.equal(evaluate("I got drunk", policy).action, "cw");
});

test("a bad rules or tuning document fails with a RulesError naming the place", () => {
  const broken = (mutate) => {
    const doc = structuredClone(RULES);
    mutate(doc);
    try {
      compilePolicy(doc);
    } catch (exc) {
      assert.ok(exc instanceof RulesError);
      assert.equal(exc.code, "bad_rules");
      return exc.where;
    }
    assert.fail("compiled");
  };
  assert.equal(broken((d) => (d.format = "nope")), "format");
  assert.equal(broken((d) => (d.categories[0].acton = "cw")), "categories.self_harm");
  assert.equal(broken((d) => (d.categories[2].action = "shout")), "categories.substances.action");
  assert.equal(broken((d) => d.categories[2].words.push("two words")), `categories.substances.words[${RULES.categories[2].words.length}]`);
  assert.equal(broken((d) => (d.categories[7].patterns[0].regex = "(a+)+")), "categories.personal_info.patterns[0].regex");
  assert.equal(broken((d) => (d.categories[1].id = d.categories[0].id)), "categories[1].id");
  assert.equal(broken((d) => (d.normalise.substitutions.x = "y")), "normalise.substitutions");
  assert.throws(() => applyTuning(RULES, { format: TUNING_FORMAT, categories: { nope: {} } }), (e) => e.where === "tuning.categories.nope");
  assert.throws(() => applyTuning(RULES, { format: TUNING_FORMAT, categories: { insults: { action: "louder" } } }), (e) => e.where === "tuning.categories.insults.action");
});

test("brace alternatives expand in order", () => {
  assert.deepEqual(expand("kill{,s} {you,u}"), ["kill you", "kill u", "kills you", "kills u"]);
  assert.throws(() => expand("a{b"), /unmatched/);
});
