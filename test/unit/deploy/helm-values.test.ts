// The Helm chart's values: every setting has a `# --` comment in values.yaml and a row with its
// default in docs/install.md. (Rendering the chart needs the helm binary: test/integration/deploy.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDocument, isMap, isScalar, isSeq, type Node } from "yaml";
import { parseYamlFile, readText } from "./helpers.ts";

type Leaf = { path: string; value: unknown; comment: string | undefined };

function leaves(node: Node | null, prefix: string, out: Leaf[], comment?: string): void {
  if (isMap(node) && node.items.length > 0) {
    node.items.forEach((pair, i) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : "?";
      // the comment above a map's first key belongs to the map node in the yaml library
      const keyComment =
        (isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? (i === 0 ? node.commentBefore : undefined) ?? undefined;
      leaves(pair.value as Node, prefix ? `${prefix}.${key}` : key, out, keyComment);
    });
    return;
  }
  const value = isScalar(node) ? node.value : isSeq(node) || isMap(node) ? node.toJSON() : null;
  out.push({ path: prefix, value, comment });
}

const doc = parseDocument(readText("deploy/helm/kserve-reclaimer/values.yaml"));
const all: Leaf[] = [];
leaves(doc.contents as Node, "", all);
// maps with defaults inside (not a setting per key) are documented as a whole
const wholes = ["resources", "podSecurityContext", "securityContext", "grafanaDashboard.labels", "waker.resources"];
const keyComment = (path: string): string | undefined => {
  const parts = path.split(".");
  const parent = parts.length > 1 ? doc.getIn(parts.slice(0, -1), true) : doc.contents;
  const items = (parent as { items?: { key: { value: string; commentBefore?: string } }[] }).items ?? [];
  const i = items.findIndex((it) => it.key.value === parts.at(-1));
  return items[i]?.key.commentBefore ?? (i === 0 ? (parent as { commentBefore?: string }).commentBefore : undefined);
};
const settings: Leaf[] = [];
for (const l of all) {
  const whole = wholes.find((w) => l.path === w || l.path.startsWith(`${w}.`));
  if (!whole) settings.push(l);
  else if (!settings.some((s) => s.path === whole))
    settings.push({
      path: whole,
      value: (doc.getIn(whole.split("."), false) as { toJSON?: () => unknown })?.toJSON?.(),
      comment: keyComment(whole),
    });
}

test("values.yaml parses and has the usual settings", () => {
  const values = parseYamlFile("deploy/helm/kserve-reclaimer/values.yaml")[0] as Record<string, unknown>;
  for (const k of [
    "image",
    "replicaCount",
    "resources",
    "namespaces",
    "prometheus",
    "logLevel",
    "dryRun",
    "idleInterval",
    "leaderElection",
    "serviceMonitor",
    "prometheusRule",
    "podSecurityContext",
  ])
    assert.ok(k in values, k);
  assert.ok(settings.length >= 40, `${settings.length} settings`);
});

test("every setting in values.yaml has a `# --` comment", () => {
  const missing = settings.filter((s) => !s.comment || !/^\s*--\s+\S/m.test(s.comment)).map((s) => s.path);
  assert.deepEqual(missing, []);
});

test("every setting is in the values table of docs/install.md with its default", () => {
  const docs = readText("docs/install.md");
  const rows = new Map<string, string>();
  for (const m of docs.matchAll(/^\|\s*`([\w.]+)`\s*\|\s*(.*?)\s*\|/gm)) rows.set(m[1] as string, m[2] as string);
  const problems: string[] = [];
  for (const s of settings) {
    const row = rows.get(s.path);
    if (row === undefined) {
      problems.push(`${s.path}: no row`);
      continue;
    }
    const shown = typeof s.value === "object" && s.value !== null ? JSON.stringify(s.value) : s.value === "" ? '""' : String(s.value);
    if (!["resources", "podSecurityContext", "securityContext", "waker.resources"].includes(s.path) && row.replace(/`/g, "") !== shown)
      problems.push(`${s.path}: docs say ${row}, values.yaml ${shown}`);
  }
  assert.deepEqual(problems, []);
});
