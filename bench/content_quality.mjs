// The browser content engine's half of bench/content_quality.py: its answers
// on the labelled cases, and how long it takes per message.
//
//   node bench/content_quality.mjs RULES.json INPUT.json
//
// INPUT: {"cases": [texts], "corpus": [texts], "timed": {name: text}, "runs": n}.
// Output (JSON): {"answers": [[categories, action]], "corpus": [{categories,
// action, alert, matches: [[category, matched text]]}], "timings": {name:
// {median_us, p90_us}}}.

import { readFileSync } from "node:fs";

import { compilePolicy, evaluate } from "../clients/web/content.js";

const [rulesPath, inputPath] = process.argv.slice(2);
const policy = compilePolicy(JSON.parse(readFileSync(rulesPath, "utf8")));
const input = JSON.parse(readFileSync(inputPath, "utf8"));

const answers = input.cases.map((text) => {
  const v = evaluate(text, policy);
  return [v.categories, v.action];
});

const corpus = (input.corpus ?? []).map((text) => {
  const v = evaluate(text, policy);
  return {
    categories: v.categories,
    action: v.action,
    alert: v.alert,
    matches: v.matches.map((m) => [m.category, text.slice(m.start, m.end)]),
  };
});

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const timings = {};
for (const [name, text] of Object.entries(input.timed)) {
  for (let i = 0; i < Math.min(2000, input.runs); i++) evaluate(text, policy); // warm the JIT
  const runs = [];
  for (let i = 0; i < input.runs; i++) {
    const start = process.hrtime.bigint();
    evaluate(text, policy);
    runs.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  runs.sort((a, b) => a - b);
  timings[name] = { median_us: quantile(runs, 0.5), p90_us: quantile(runs, 0.9) };
}

process.stdout.write(JSON.stringify({ answers, corpus, timings }));
