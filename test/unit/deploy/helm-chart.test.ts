// The Helm chart's generated files and the promises around them: values.schema.json is the zod
// schema of scripts/helm-values.ts and knows exactly the keys of values.yaml; the dashboard copy is
// deploy/grafana's; the Kubernetes minimum is the same in Chart.yaml, the docs and what the CRD
// needs; NOTES.txt's commands can be run as printed. (Rendering: test/integration/deploy.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { HelmValues, renderValuesSchema } from "../../../scripts/helm-values.ts";
import { CHART_DASHBOARD, DASHBOARD, VALUES_SCHEMA } from "../../../scripts/generate-chart.ts";
import { parseYamlFile, readText } from "./helpers.ts";

const values = parseYamlFile("deploy/helm/kserve-reclaimer/values.yaml")[0] as Record<string, unknown>;
const clone = () => structuredClone(values) as Record<string, Record<string, unknown>>;

test("values.schema.json and the chart's dashboard are up to date (npm run generate:chart)", () => {
  assert.equal(readText(VALUES_SCHEMA), renderValuesSchema(), "run npm run generate:chart");
  assert.equal(readText(CHART_DASHBOARD), readText(DASHBOARD), "run npm run generate:chart");
  JSON.parse(readText(CHART_DASHBOARD));
});

test("the schema accepts values.yaml as it is", () => {
  const r = HelmValues.safeParse(values);
  assert.ok(r.success, r.success ? "" : z.prettifyError(r.error));
});

/** Dotted paths of the object keys the schema spells out (pass-through Kubernetes objects and maps are leaves). */
function schemaKeys(schema: z.ZodType, prefix = ""): string[] {
  if (schema instanceof z.ZodObject && Object.keys(schema.shape).length > 0)
    return Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([k, v]) => schemaKeys(v, prefix ? `${prefix}.${k}` : k));
  return [prefix];
}
function valueKeys(v: unknown, schema: z.ZodType, prefix = ""): string[] {
  if (schema instanceof z.ZodObject && Object.keys(schema.shape).length > 0 && typeof v === "object" && v !== null)
    return Object.entries(v).flatMap(([k, x]) =>
      valueKeys(x, (schema.shape as Record<string, z.ZodType>)[k] ?? z.never(), prefix ? `${prefix}.${k}` : k),
    );
  return [prefix];
}

test("values.yaml and the schema have the same keys (a setting without a schema entry, or the reverse, is a mistake)", () => {
  const fromSchema = schemaKeys(HelmValues)
    .filter((k) => k !== "global")
    .sort();
  assert.deepEqual(valueKeys(values, HelmValues).sort(), fromSchema);
});

test("the schema refuses what a careless user or a hostile values file would set", () => {
  const cases: [string, (v: Record<string, Record<string, unknown>>) => void][] = [
    ["a misspelt key", (v) => Object.assign(v["prometheus"] as object, { ulr: "http://x" })],
    ["a misspelt top-level key", (v) => Object.assign(v, { replicas: 3 })],
    ["a numeric image tag (1.10 would render as 1.1)", (v) => Object.assign(v["image"] as object, { tag: 1.1 })],
    ["a Prometheus URL without a scheme", (v) => Object.assign(v["prometheus"] as object, { url: "prometheus:9090" })],
    ["a log level the daemon refuses", (v) => Object.assign(v, { logLevel: "verbose" })],
    ["a duration the daemon refuses", (v) => Object.assign(v, { idleInterval: "15 seconds" })],
    ["a namespace that is no DNS label", (v) => Object.assign(v, { namespaces: ["ML-Team"] })],
    [
      "no DNS ports (a NetworkPolicy rule without ports allows every port)",
      (v) => Object.assign(v["networkPolicy"] as object, { dnsPorts: [] }),
    ],
    ["no API server ports", (v) => Object.assign((v["networkPolicy"] as Record<string, object>)["apiServer"] as object, { ports: [] })],
    ["a label value that is not a string", (v) => Object.assign(v["serviceMonitor"] as object, { labels: { release: 1 } })],
    ["a webhook failurePolicy the API server does not know", (v) => Object.assign(v["webhook"] as object, { failurePolicy: "Never" })],
    ["a webhook timeout above the API server's 30 s cap", (v) => Object.assign(v["webhook"] as object, { timeoutSeconds: 31 })],
    ["a webhook timeout of 0", (v) => Object.assign(v["webhook"] as object, { timeoutSeconds: 0 })],
    ["a webhook port out of range", (v) => Object.assign(v["webhook"] as object, { port: 65536 })],
    [
      "an issuerRef without a name",
      (v) => Object.assign((v["webhook"] as Record<string, object>)["certManager"] as object, { issuerRef: { kind: "ClusterIssuer" } }),
    ],
    ["an extra object without a kind", (v) => Object.assign(v, { extraObjects: [{ apiVersion: "v1", metadata: { name: "x" } }] })],
  ];
  for (const [what, change] of cases) {
    const v = clone();
    change(v);
    assert.equal(HelmValues.safeParse(v).success, false, what);
  }
  const ok = clone();
  Object.assign(ok, {
    global: { imageRegistry: "x" },
    extraObjects: ["apiVersion: v1\nkind: ConfigMap", { apiVersion: "v1", kind: "Secret" }],
  });
  Object.assign(ok["podSecurityContext"] as object, { runAsUser: null, fsGroup: null });
  Object.assign((ok["webhook"] as Record<string, object>)["certManager"] as object, {
    enabled: true,
    issuerRef: { kind: "ClusterIssuer", name: "my-ca", group: "cert-manager.io" },
  });
  assert.ok(HelmValues.safeParse(ok).success, "a parent chart's global, extra objects, OpenShift's null uid");
});

test("one Kubernetes minimum: Chart.yaml's kubeVersion, docs/install.md, and the CRD's needs (fieldPath and reason need 1.28)", () => {
  const chart = parseYamlFile("deploy/helm/kserve-reclaimer/Chart.yaml")[0] as { kubeVersion: string };
  assert.equal(chart.kubeVersion, ">=1.28.0-0");
  const install = readText("docs/install.md");
  assert.match(install, /Kubernetes 1\.28 or newer/);
  assert.doesNotMatch(install, /1\.27 or newer/);
  const crd = readText("deploy/crds/reclaimer.dev_servingschedules.yaml");
  assert.match(crd, /fieldPath:/, "if the CRD no longer uses fieldPath, the minimum may go down: check and update");
});

test("NOTES.txt: port-forward blocks, so no command is chained after it, and the reader is told to use a second terminal", () => {
  const notes = readText("deploy/helm/kserve-reclaimer/templates/NOTES.txt");
  const lines = notes.split("\n").filter((l) => /kubectl .*port-forward /.test(l));
  assert.equal(lines.length, 1);
  assert.doesNotMatch(lines[0] as string, /&&|;|\|/);
  assert.match(notes, /second terminal/);
  assert.match(notes, /^\s+curl -s localhost:8080\/metrics/m);
});

test("chart templates: the NetworkPolicy refuses port-less rules, extraObjects templates strings only", () => {
  const np = readText("deploy/helm/kserve-reclaimer/templates/networkpolicy.yaml");
  assert.match(np, /empty \$np\.dnsPorts\) \(empty \$np\.apiServer\.ports\)\s*}}\s*{{- fail/);
  const extra = readText("deploy/helm/kserve-reclaimer/templates/extra-objects.yaml");
  assert.match(extra, /kindIs "string" \.[\s\S]*tpl \. \$[\s\S]*else[\s\S]*toYaml \./);
});
