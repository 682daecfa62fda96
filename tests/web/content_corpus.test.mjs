// The browser content engine on the support-group corpus
// (moderation/content/corpus/lines.jsonl): its judged-split figures must not
// fall below moderation/content/corpus/floors.json, as the Python engine's must
// not (tests/moderation/test_content_corpus.py); test_content_parity.py checks
// that the two give the same verdict on every line.

import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { compilePolicy, evaluate } from "../../clients/web/content.js";

const text = (rel) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8");
const RULES = JSON.parse(text("../../moderation/content/default_rules.json"));
const FLOORS = JSON.parse(text("../../moderation/content/corpus/floors.json"));
const ROWS = text("../../moderation/content/corpus/lines.jsonl")
  .split("\n")
  .filter((line) => line)
  .map((line) => JSON.parse(line));

test("the corpus is there, both splits, at least 1,500 lines", () => {
  assert.ok(ROWS.length >= 1500);
  assert.ok(ROWS.some((r) => r.split === "tune") && ROWS.some((r) => r.split === "judged"));
});

test("the browser engine meets the judged split's floors", () => {
  const policy = compilePolicy(RULES);
  const rows = ROWS.filter((r) => r.split === FLOORS.split);
  const found = rows.map((r) => evaluate(r.text, policy).categories);
  const low = [];
  for (const [cat, want] of Object.entries(FLOORS.categories)) {
    let tp = 0, fp = 0, fn = 0;
    rows.forEach((r, i) => {
      const expected = r.categories.includes(cat);
      const got = found[i].includes(cat);
      if (expected && got) tp++;
      else if (got) fp++;
      else if (expected) fn++;
    });
    const figures = { precision: tp + fp ? tp / (tp + fp) : 1, recall: tp + fn ? tp / (tp + fn) : 1 };
    for (const [key, floor] of Object.entries(want)) if (figures[key] < floor) low.push([cat, key, figures[key], floor]);
  }
  assert.deepEqual(low, []);
  const ordinary = rows.map((r, i) => [r, found[i]]).filter(([r]) => r.categories.length === 0);
  const flagged = ordinary.filter(([, f]) => f.length > 0).length;
  assert.ok(flagged / ordinary.length <= FLOORS.max_false_flag_rate, `${flagged} of ${ordinary.length}`);
});

test("a words pattern's lead words only skip views it cannot match", async () => {
  const { leadWords, patternHits } = await import("../../clients/web/content-matcher.js");
  assert.deepEqual(leadWords(" (?:took|decided on) (?:a|the) x "), ["took", "decided"]);
  assert.deepEqual(leadWords(" how (?:many|much)"), ["how"]);
  for (const source of [" (?:a|b)? x", " (?:a|b) x|y", " (?:a|b)(?: c)", "(?<= i) cut $", " (?:[0-9]+|a few) pints "]) {
    assert.equal(leadWords(source), null, source);
  }
  const policy = compilePolicy(RULES);
  const n = policy.normaliser;
  for (const row of ROWS) {
    const words = n.tokens(n.view(row.text, true).text).texts;
    const view = ` ${words.join(" ")} `;
    assert.deepEqual(patternHits(policy.matcher.wordPatterns, view, words), patternHits(policy.matcher.wordPatterns, view), row.text);
  }
});
