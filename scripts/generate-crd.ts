// Regenerates what is derived from the zod schema in src/api/servingSchedule.ts:
//  - deploy/crds/reclaimer.dev_servingschedules.yaml (the CRD)
//  - the field table in docs/servingschedule-reference.md (between its markers)
// `--check` writes nothing and exits 1 when a committed file differs (the unit tests check the same).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CRD_FILE, renderCrd } from "../src/api/crd.ts";
import { REFERENCE_FILE, withFieldTable } from "../src/api/reference.ts";

const path = (file: string) => fileURLToPath(new URL(`../${file}`, import.meta.url));
const read = (file: string) => {
  try {
    return readFileSync(path(file), "utf8");
  } catch {
    return "";
  }
};
const outputs: [string, string][] = [
  [CRD_FILE, renderCrd()],
  [REFERENCE_FILE, withFieldTable(read(REFERENCE_FILE))],
];
const check = process.argv.includes("--check");
let stale = 0;
for (const [file, text] of outputs) {
  if (read(file) === text) continue;
  if (check) {
    process.stderr.write(`${file} is out of date: run npm run generate:crd\n`);
    stale++;
  } else {
    writeFileSync(path(file), text);
    process.stdout.write(`wrote ${file}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
