// Regenerates what the Helm chart derives from files elsewhere:
//  - deploy/helm/kserve-reclaimer/values.schema.json, from the zod schema in scripts/helm-values.ts
//  - deploy/helm/kserve-reclaimer/dashboards/, a copy of deploy/grafana/ (a chart can only read its own files)
// `--check` writes nothing and exits 1 when a committed file differs (the unit tests check the same).
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { renderValuesSchema } from "./helm-values.ts";

const path = (file: string) => fileURLToPath(new URL(`../${file}`, import.meta.url));
const read = (file: string) => {
  try {
    return readFileSync(path(file), "utf8");
  } catch {
    return "";
  }
};
const CHART = "deploy/helm/kserve-reclaimer";
export const DASHBOARD = "deploy/grafana/kserve-reclaimer-dashboard.json";
export const CHART_DASHBOARD = `${CHART}/dashboards/kserve-reclaimer-dashboard.json`;
export const VALUES_SCHEMA = `${CHART}/values.schema.json`;

const outputs: [string, string][] = [
  [VALUES_SCHEMA, renderValuesSchema()],
  [CHART_DASHBOARD, read(DASHBOARD)],
];

if (import.meta.main) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [file, text] of outputs) {
    if (read(file) === text) continue;
    if (check) {
      process.stderr.write(`${file} is out of date: run npm run generate:chart\n`);
      stale++;
    } else {
      mkdirSync(dirname(path(file)), { recursive: true });
      writeFileSync(path(file), text);
      process.stdout.write(`wrote ${file}\n`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}
