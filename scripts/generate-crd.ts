// Writes deploy/crds/reclaimer.dev_servingschedules.yaml from the zod schema.
// `--check` writes nothing and exits 1 when the committed file differs (the unit test does the same).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CRD_FILE, renderCrd } from "../src/api/crd.ts";

const target = fileURLToPath(new URL(`../${CRD_FILE}`, import.meta.url));
const text = renderCrd();
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(target, "utf8");
  } catch {
    // missing counts as different
  }
  if (current !== text) {
    process.stderr.write(`${CRD_FILE} is out of date: run npm run generate:crd\n`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${CRD_FILE}\n`);
}
