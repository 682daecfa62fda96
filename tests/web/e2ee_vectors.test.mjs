// Node's side of the shared vectors: read tests/vectors/e2ee.json and run the
// same checks a headless Chromium runs (e2ee_vectors.mjs).

import test from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { runVectors } from "./e2ee_vectors.mjs";

const VECTORS = fileURLToPath(new URL("../vectors/e2ee.json", import.meta.url));
const present = existsSync(VECTORS);

test("the browser module produces and accepts exactly the shared vectors", { skip: !present && "tests/vectors/e2ee.json is not there yet" }, async () => {
  const vectors = JSON.parse(readFileSync(VECTORS, "utf8"));
  assert.equal(vectors.spec, "docs/e2ee.md");
  assert.equal(vectors.version, 1);
  const result = await runVectors(vectors);
  assert.deepEqual(result.failures, []);
  assert.equal(result.failed, 0);
  // Every section is exercised: a file that lost one would pass vacuously.
  for (const section of ["chain_steps", "vouches", "messages", "distributions", "privates", "reports", "rejects", "bodies"]) {
    assert.ok(vectors[section]?.length > 0, `the vectors have ${section}`);
  }
  assert.ok(result.passed > 0);
  // Content warnings (docs/e2ee.md section 5): messages with one, bodies whose cw is refused.
  assert.ok(vectors.messages.filter((m) => m.cw !== undefined).length >= 2);
  assert.ok(vectors.rejects.some((r) => r.case === "cw_not_a_string"));
  // Vouches name the signer's anchor, and removals are signed (docs/e2ee.md sections 3.2 and 3.3).
  assert.ok(vectors.vouches.every((v) => typeof v.anchor === "string"), "every vouch vector has its anchor");
  assert.ok(vectors.removals?.length > 0, "the vectors have removals");
});
