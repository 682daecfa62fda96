// What the browser's content engine answers, as JSON, for the Python side to
// compare with its own (tests/moderation/test_content_parity.py):
//
//   node tests/web/content_answers.mjs RULES.json INPUT.json
//
// INPUT: {"texts": [...], "patterns": [...], "documents": [...]}. Output:
// {"answers": [verdict with each match as [category, matched text]],
//  "patterns": [accepted?], "documents": [the RulesError's `where`, or null]}.

import { readFileSync } from "node:fs";

import { checkPattern, compilePolicy, evaluate, RulesError } from "../../clients/web/content.js";

const [rulesPath, inputPath] = process.argv.slice(2);
const policy = compilePolicy(JSON.parse(readFileSync(rulesPath, "utf8")));
const input = JSON.parse(readFileSync(inputPath, "utf8"));

const answers = (input.texts ?? []).map((text) => {
  const v = evaluate(text, policy);
  return { ...v, matches: v.matches.map((m) => [m.category, text.slice(m.start, m.end)]) };
});

const patterns = (input.patterns ?? []).map((source) => {
  try {
    checkPattern(source);
    new RegExp(source, "u");
    return true;
  } catch {
    return false;
  }
});

const documents = (input.documents ?? []).map((doc) => {
  try {
    compilePolicy(doc);
    return null;
  } catch (exc) {
    if (exc instanceof RulesError) return exc.where;
    throw exc;
  }
});

process.stdout.write(JSON.stringify({ answers, patterns, documents }));
