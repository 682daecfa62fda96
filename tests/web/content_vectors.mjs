// The shared content vectors (tests/vectors/content.json) checked against
// clients/web/content.js: every case's categories and overall action, and the
// patterns the engines must accept or refuse at load time.
//
// Importable in Node and in a browser page alike: no node: imports here (the
// caller reads the files and passes the parsed JSON in). In a browser whose
// server does not mirror the repository's layout, pass `base`, the URL of the
// folder that holds content.js, e.g. `runContentVectors(rules, vectors, {base: "/web/"})`.

const DEFAULT_BASE = new URL("../../clients/web/", import.meta.url).href;

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * @param {object} rules the parsed default rules (moderation/content/default_rules.json)
 * @param {object} vectors the parsed tests/vectors/content.json
 * @param {{base?: string}} [options] where clients/web's modules are served
 * @returns {Promise<{passed: number, failed: number, failures: string[]}>}
 */
export async function runContentVectors(rules, vectors, { base = DEFAULT_BASE } = {}) {
  const { compilePolicy, evaluate, checkPattern } = await import(new URL("content.js", base).href);
  const policy = compilePolicy(rules);
  const failures = [];
  let passed = 0;
  for (const c of vectors.cases) {
    const got = evaluate(c.text, policy);
    const alerts = got.categories.filter((id) => policy.category(id).alert);
    const ok =
      same(got.categories, c.categories) &&
      got.action === c.action &&
      same(got.alert, alerts) &&
      got.matches.every((m) => c.categories.includes(m.category) && m.end > m.start);
    if (ok) passed++;
    else failures.push(`${JSON.stringify(c.text)}: expected ${same(c.categories, []) ? "nothing" : c.categories} ${c.action}, got ${got.categories} ${got.action}`);
  }
  for (const [kind, list] of Object.entries(vectors.patterns)) {
    for (const source of list) {
      let accepted = true;
      try {
        checkPattern(source);
        new RegExp(source, "u");
      } catch {
        accepted = false;
      }
      if (accepted === (kind === "valid")) passed++;
      else failures.push(`pattern ${JSON.stringify(source)} should be ${kind}`);
    }
  }
  return { passed, failed: failures.length, failures };
}
