// The flag tables: parsing that collects every problem, suggestions for typos, and docs/cli.md's
// flag tables kept equal to what the code accepts (as the CRD reference test does for the schema).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { closest, editDistance, parseFlags } from "../../../src/config/flags.ts";
import { COMMANDS } from "../../../src/cli/main.ts";
import { flagBlocks, renderFlagBlocks } from "../../../src/cli/docs.ts";

test("docs/cli.md's flag tables are generated from the commands' tables", () => {
  const doc = readFileSync(new URL("../../../docs/cli.md", import.meta.url), "utf8");
  assert.equal(renderFlagBlocks(doc, COMMANDS), doc, "docs/cli.md drifted: run node scripts/generate-cli-docs.ts");
  for (const c of COMMANDS) if (Object.keys(c.flags).length > 0) assert.ok(flagBlocks(doc).includes(c.name), `no flag table for ${c.name}`);
});

test("edit distance counts a swap of neighbours as one", () => {
  assert.equal(editDistance("valdiate", "validate"), 1);
  assert.equal(editDistance("--form", "--from"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(closest("valdiate", ["validate", "plan"]), "validate");
  assert.equal(closest("xyz", ["validate", "plan"]), undefined);
});

test("parseFlags collects every problem and keeps the rest", () => {
  const table = {
    days: { type: "string", description: "d" },
    cluster: { type: "boolean", default: false, description: "c" },
    file: { type: "string", short: "f", multiple: true, description: "f" },
  } as const;
  const r = parseFlags(["--dayz", "3", "--cluster=0", "-f", "a", "-f", "-", "--days", "--bogus", "pos"], table);
  assert.deepEqual(r.problems, ["unknown flag --dayz: did you mean --days?", "--days needs a value"]);
  assert.deepEqual(r.values, { cluster: false, file: ["a", "-"] });
  assert.deepEqual(r.positionals, ["pos"]);
  assert.deepEqual(parseFlags(["--cluster=maybe"], table).problems, ['--cluster is true or false (or bare), not "maybe"']);
  assert.equal(parseFlags(["--days=-3"], table).values.days, "-3");
});
