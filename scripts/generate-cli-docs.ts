// Regenerates the flag tables in docs/cli.md from the commands' flag tables; --check only compares
// (exit 1 on a difference), as test/unit/cli/docs.test.ts does.
import { readFileSync, writeFileSync } from "node:fs";
import { COMMANDS } from "../src/cli/main.ts";
import { renderFlagBlocks } from "../src/cli/docs.ts";

const path = new URL("../docs/cli.md", import.meta.url);
const doc = readFileSync(path, "utf8");
const next = renderFlagBlocks(doc, COMMANDS);
if (process.argv.includes("--check")) {
  if (next !== doc) {
    process.stderr.write("docs/cli.md: flag tables differ from the code; run node scripts/generate-cli-docs.ts\n");
    process.exitCode = 1;
  }
} else if (next !== doc) writeFileSync(path, next);
