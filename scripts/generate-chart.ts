// Regenerates what the Helm chart derives from files elsewhere:
//  - deploy/helm/kserve-reclaimer/values.schema.json, from the zod schema in scripts/helm-values.ts
//  - deploy/helm/kserve-reclaimer/dashboards/, a copy of deploy/grafana/ (a chart can only read its own files)
// `--check` writes nothing and exits 1 when a committed file differs (the unit tests check the same).
import { readRepoFile as read, writeOrCheck } from "./generated-files.ts";
import { renderValuesSchema } from "./helm-values.ts";

const CHART = "deploy/helm/kserve-reclaimer";
export const DASHBOARD = "deploy/grafana/kserve-reclaimer-dashboard.json";
export const CHART_DASHBOARD = `${CHART}/dashboards/kserve-reclaimer-dashboard.json`;
export const VALUES_SCHEMA = `${CHART}/values.schema.json`;

const outputs: [string, string][] = [
  [VALUES_SCHEMA, renderValuesSchema()],
  [CHART_DASHBOARD, read(DASHBOARD)],
];

if (import.meta.main) writeOrCheck(outputs, "npm run generate:chart", process.argv);
