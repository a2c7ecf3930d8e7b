import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import {
  buildCrd,
  CLUSTER_CRD_FILE,
  CRD_FILE,
  durationRule,
  keyLengthRule,
  renderCrd,
  schemaBounds,
  structuralProblems,
  toStructural,
  type SchemaNode,
} from "../../../src/api/crd.ts";
import {
  DAYS_PATTERN,
  DURATION_BOUNDS_META,
  DURATION_PATTERN,
  IDLE_AFTER_BOUNDS,
  KEY_LENGTH_META,
  WAKE_TIMEOUT_BOUNDS,
  WARMUP_BOUNDS,
  FROM_TIME_PATTERN,
  LOCAL_DATE_TIME_PATTERN,
  TO_TIME_PATTERN,
  CRON_PATTERN,
} from "../../../src/api/servingSchedule.ts";

const root = new URL("../../../", import.meta.url);

type Version = {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: SchemaNode };
  subresources: unknown;
  additionalPrinterColumns: { name: string; jsonPath: string }[];
};
const crd = buildCrd() as { spec: { group: string; scope: string; names: Record<string, unknown>; versions: Version[] } };
const version = crd.spec.versions[0] as Version;
const schema = version.schema.openAPIV3Schema;

function walk(node: unknown, visit: (n: SchemaNode, where: string) => void, where = "$"): void {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return;
  const n = node as SchemaNode;
  visit(n, where);
  if (n.properties && typeof n.properties === "object") for (const [k, v] of Object.entries(n.properties)) walk(v, visit, `${where}.${k}`);
  if (n.items) walk(n.items, visit, `${where}[]`);
  if (n.additionalProperties && typeof n.additionalProperties === "object") walk(n.additionalProperties, visit, `${where}.*`);
}

test("the committed CRD is the generated one (run `npm run generate:crd` after changing the zod schema)", () => {
  const committed = readFileSync(new URL(CRD_FILE, root), "utf8");
  assert.equal(committed, renderCrd(), `${CRD_FILE} is out of date: run npm run generate:crd`);
});

test("the committed file parses back to the built object", () => {
  const committed = parse(readFileSync(new URL(CRD_FILE, root), "utf8"));
  assert.deepEqual(committed, JSON.parse(JSON.stringify(buildCrd())));
});

test("group, version, scope, names, status subresource and printer columns", () => {
  assert.equal(crd.spec.group, "reclaimer.dev");
  assert.equal(crd.spec.scope, "Namespaced");
  assert.deepEqual(crd.spec.names.shortNames, ["ssched"]);
  assert.deepEqual(crd.spec.names.categories, ["reclaimer"]);
  assert.equal(crd.spec.names.kind, "ServingSchedule");
  assert.equal(crd.spec.names.plural, "servingschedules");
  assert.equal(crd.spec.versions.length, 1);
  assert.equal(version.name, "v1alpha1");
  assert.equal(version.served, true);
  assert.equal(version.storage, true);
  assert.deepEqual(version.subresources, { status: {} });
  const columns = Object.fromEntries(version.additionalPrinterColumns.map((c) => [c.name, c.jsonPath]));
  assert.equal(columns["Zone"], ".spec.timeZone");
  assert.equal(columns["Running"], ".status.running");
  assert.equal(columns["Stopped"], ".status.stopped");
  assert.equal(columns["GPUs Reclaimed"], ".status.gpusReclaimed");
  assert.equal(columns["Next Transition"], ".status.nextTransition");
  assert.equal(columns["Ready"], '.status.conditions[?(@.type=="Ready")].status');
  assert.equal(columns["Age"], ".metadata.creationTimestamp");
});

test("the schema is structural: every node typed, no anyOf/oneOf/allOf/not/$ref/propertyNames, no additionalProperties beside properties", () => {
  assert.deepEqual(structuralProblems(schema), []);
  walk(schema, (n, where) => {
    assert.equal(typeof n.type, "string", `${where} has a type`);
    for (const k of ["anyOf", "oneOf", "allOf", "not", "$ref", "$schema", "propertyNames", "const"])
      assert.ok(!(k in n), `${where} has no ${k}`);
    assert.ok(!(n.additionalProperties !== undefined && n.properties !== undefined), `${where}: additionalProperties beside properties`);
    assert.notEqual(n.additionalProperties, false, `${where}: additionalProperties: false`);
  });
});

test("structuralProblems catches what is not structural", () => {
  assert.deepEqual(structuralProblems({ type: "object", properties: { a: { anyOf: [{ type: "string" }, { type: "number" }] } } }), [
    "$.a: has anyOf",
    "$.a: no type",
  ]);
  assert.deepEqual(
    structuralProblems({ type: "object", properties: { a: { type: "string" } }, additionalProperties: { type: "string" } }),
    ["$: additionalProperties together with properties"],
  );
  assert.deepEqual(structuralProblems({ type: "array" }), ["$: array without items"]);
  assert.deepEqual(structuralProblems({ type: "object", properties: { a: { type: "string", if: {} } } }), ["$.a: unknown keyword if"]);
  assert.deepEqual(structuralProblems({ type: "object", properties: { l: { type: "array" } } }), ["$.l: array without items"]);
});

test("the converter refuses what it cannot make structural", () => {
  assert.throws(
    () => toStructural({ type: "object", properties: { a: { anyOf: [{ type: "string" }, { type: "number" }] } } }),
    /only unions of objects/,
  );
  assert.throws(() => toStructural({ type: "object", properties: { a: { type: "string", if: {} } } }), /keyword "if"/);
});

test("the union of uptime forms is one object with all properties and CEL rules for which form is used", () => {
  const spec = (schema.properties as Record<string, SchemaNode>)["spec"] as SchemaNode;
  const uptime = ((spec.properties as Record<string, SchemaNode>)["uptime"] as SchemaNode).items as SchemaNode;
  assert.equal(uptime.type, "object");
  assert.deepEqual(Object.keys(uptime.properties as object).sort(), ["cron", "days", "from", "to"]);
  assert.equal(uptime.required, undefined);
  const rules = (uptime["x-kubernetes-validations"] as { rule: string }[]).map((r) => r.rule);
  assert.deepEqual(rules, [
    "has(self.cron) != (has(self.days) || has(self.from) || has(self.to))",
    "has(self.cron) || (has(self.days) && has(self.from) && has(self.to))",
    "!(has(self.days) && has(self.from) && has(self.to)) || (self.from != self.to)",
  ]);
});

test("every string a CEL rule reads has a maxLength and every list above one has a maxItems (CEL cost budget)", () => {
  walk(schema, (n, where) => {
    const rules = (n["x-kubernetes-validations"] as { rule: string }[] | undefined) ?? [];
    if (rules.length === 0) return;
    // a rule on a string or a map reads the node itself
    if (n.type === "string") assert.equal(typeof n.maxLength, "number", `${where} needs maxLength`);
    if (n.type === "object" && n.additionalProperties) assert.equal(typeof n.maxProperties, "number", `${where} needs maxProperties`);
    for (const r of rules) {
      // fields, not methods (self.matches(...), self.all(...))
      for (const m of r.rule.matchAll(/self\.([A-Za-z]+)\b(?!\()/g)) {
        const prop = (n.properties as Record<string, SchemaNode> | undefined)?.[m[1] as string];
        assert.ok(prop, `${where}: rule reads unknown field ${m[1]}`);
        if (prop.type === "string" && !Array.isArray(prop.enum))
          assert.equal(typeof prop.maxLength, "number", `${where}.${m[1]} needs maxLength`);
        if (prop.type === "array") assert.equal(typeof prop.maxItems, "number", `${where}.${m[1]} needs maxItems`);
      }
    }
  });
  // lists holding objects with rules are bounded
  walk(schema, (n, where) => {
    if (n.type === "array" && (n.items as SchemaNode)["x-kubernetes-validations"])
      assert.equal(typeof n.maxItems, "number", `${where} needs maxItems`);
  });
});

test("defaults are kept and valid for their types", () => {
  const spec = (schema.properties as Record<string, SchemaNode>)["spec"] as SchemaNode;
  const props = spec.properties as Record<string, SchemaNode>;
  assert.equal(props["timeZone"]?.default, "UTC");
  assert.deepEqual(props["selector"]?.default, {});
  assert.equal(props["suspend"]?.default, false);
  assert.equal(props["dryRun"]?.default, false);
  walk(schema, (n, where) => {
    if (!("default" in n)) return;
    const d = n.default;
    const t = Array.isArray(d) ? "array" : d === null ? "null" : typeof d;
    const expected = n.type === "integer" ? "number" : n.type;
    assert.equal(t, expected, `${where}: default ${JSON.stringify(d)} is not a ${String(n.type)}`);
    if (Array.isArray(n.enum)) assert.ok(n.enum.includes(d), `${where}: default not in enum`);
  });
});

test("patterns use only syntax that RE2 (Go regexp, the apiserver's) also accepts", () => {
  const patterns: string[] = [];
  walk(schema, (n) => {
    if (typeof n.pattern === "string") patterns.push(n.pattern);
  });
  assert.ok(patterns.length >= 6);
  for (const p of [DAYS_PATTERN, DURATION_PATTERN, FROM_TIME_PATTERN, TO_TIME_PATTERN, LOCAL_DATE_TIME_PATTERN, CRON_PATTERN])
    assert.ok(patterns.includes(p));
  for (const p of patterns) {
    // no lookaround, no backreferences, no possessive or atomic groups, no named groups in JS-only syntax
    assert.doesNotMatch(p, /\(\?[=!<]|\(\?>|\\[1-9]|\\k<|[*+?}]\+/, p);
    new RegExp(p, "u");
  }
});

test("the field table in docs/servingschedule-reference.md is the generated one (run `npm run generate:crd`)", async () => {
  const { REFERENCE_FILE, withFieldTable, fieldTable } = await import("../../../src/api/reference.ts");
  const doc = readFileSync(new URL(REFERENCE_FILE, root), "utf8");
  assert.equal(doc, withFieldTable(doc), `${REFERENCE_FILE} is out of date: run npm run generate:crd`);
  for (const field of [
    "selector.matchLabels",
    "timeZone",
    "uptime[].days",
    "uptime[].cron.start",
    "exceptions[].reason",
    "warmup",
    "idle.after",
    "suspend",
    "dryRun",
  ]) {
    assert.ok(fieldTable().includes(`| \`${field}\` |`), field);
  }
});

test("the ClusterServingSchedule CRD: generated from the same schema, cluster-scoped, namespaceSelector required, its own columns", () => {
  const committed = readFileSync(new URL(CLUSTER_CRD_FILE, root), "utf8");
  assert.equal(committed, renderCrd("cluster"), `${CLUSTER_CRD_FILE} is out of date: run npm run generate:crd`);
  const c = buildCrd("cluster") as { spec: { scope: string; names: Record<string, unknown>; versions: Version[] } };
  assert.equal(c.spec.scope, "Cluster");
  assert.equal(c.spec.names.kind, "ClusterServingSchedule");
  assert.deepEqual(c.spec.names.shortNames, ["cssched"]);
  const v = c.spec.versions[0] as Version;
  assert.deepEqual(v.subresources, { status: {} });
  assert.deepEqual(structuralProblems(v.schema.openAPIV3Schema), []);
  const spec = (v.schema.openAPIV3Schema.properties as Record<string, SchemaNode>)["spec"] as SchemaNode;
  assert.deepEqual(spec.required, ["namespaceSelector"]);
  const ns = (spec.properties as Record<string, SchemaNode>)["namespaceSelector"] as SchemaNode;
  assert.equal(((ns.properties as Record<string, SchemaNode>)["matchLabels"] as SchemaNode)["maxProperties"], 32);
  // everything else in spec is the ServingSchedule's, to the byte
  const namespacedSpec = (version.schema.openAPIV3Schema.properties as Record<string, SchemaNode>)["spec"] as SchemaNode;
  const { namespaceSelector: _ns, selector: _s, ...rest } = spec.properties as Record<string, SchemaNode>;
  const { selector: _s2, ...namespacedRest } = namespacedSpec.properties as Record<string, SchemaNode>;
  assert.deepEqual(rest, namespacedRest);
  const columns = v.additionalPrinterColumns.map((col) => col.name);
  assert.deepEqual(columns.slice(0, 2), ["Namespaces", "Zone"]);
  assert.ok(columns.includes("Overridden"));
});

/** The CRD's schema node of a schemaBounds() path under spec ("uptime[].days", "selector.matchLabels.*"). */
function crdNode(variant: "namespaced" | "cluster", path: string): SchemaNode | undefined {
  const c = buildCrd(variant) as { spec: { versions: Version[] } };
  let n = ((c.spec.versions[0] as Version).schema.openAPIV3Schema.properties as Record<string, SchemaNode>)["spec"];
  for (const seg of path.split(".").flatMap((p) => (p.endsWith("[]") ? [p.slice(0, -2), "[]"] : [p]))) {
    if (!n) return undefined;
    n =
      seg === "[]"
        ? (n.items as SchemaNode)
        : seg === "*"
          ? (n.additionalProperties as SchemaNode)
          : (n.properties as Record<string, SchemaNode>)?.[seg];
  }
  return n;
}

test("every bound the zod schema declares is in the CRD at the same field (both kinds)", () => {
  for (const variant of ["namespaced", "cluster"] as const) {
    const bounds = schemaBounds(variant);
    assert.ok(bounds.length > 50, `${variant}: ${bounds.length} bounds`);
    for (const b of bounds) {
      const n = crdNode(variant, b.path);
      assert.ok(n, `${variant} ${b.path}: not in the CRD`);
      const rules = (n["x-kubernetes-validations"] as { rule: string; message: string }[] | undefined) ?? [];
      if (b.keyword === DURATION_BOUNDS_META)
        assert.ok(
          rules.some((r) => r.rule === durationRule(b.limit as never).rule),
          `${variant} ${b.path}: no duration rule`,
        );
      else if (b.keyword === KEY_LENGTH_META)
        assert.ok(
          rules.some((r) => r.rule === keyLengthRule(b.limit as never).rule),
          `${variant} ${b.path}: no key rule`,
        );
      else if (b.keyword === "integer") assert.equal(n.type, "integer", `${variant} ${b.path}`);
      else assert.deepEqual(n[b.keyword], b.limit, `${variant} ${b.path} ${b.keyword}`);
    }
  }
});

test("the duration ranges of the schema are in the list of bounds, with the CEL rules that hold them", () => {
  const bounds = schemaBounds().filter((b) => b.keyword === DURATION_BOUNDS_META);
  assert.deepEqual(
    bounds.map((b) => [b.path, b.limit]),
    [
      ["warmup", WARMUP_BOUNDS],
      ["idle.after", IDLE_AFTER_BOUNDS],
      ["wake.timeout", WAKE_TIMEOUT_BOUNDS],
    ],
  );
  const idle = durationRule(IDLE_AFTER_BOUNDS);
  assert.equal(idle.message, "must be between 10s and 168h");
  assert.match(idle.rule, /duration\(self\) >= duration\('10s'\) && duration\(self\) <= duration\('168h'\)/);
  // 168h is 604800s, six digits: a number with seven significant digits is over it in any unit
  assert.match(idle.rule, /0\*\[1-9\]\[0-9\]\{6\}/);
  assert.equal(durationRule(WARMUP_BOUNDS).message, "must be at most 24h");
  assert.doesNotMatch(durationRule(WARMUP_BOUNDS).rule, />=/);
});

test("a duration range the CEL rule cannot hold exactly is refused when the CRD is generated", () => {
  assert.throws(() => durationRule({ min: 0, max: 1_000_000_000 }), /under 1,000,000s/); // 1,000,000s: duration() could overflow
  assert.throws(() => durationRule({ min: 1500, max: 60_000 }), /whole seconds/);
  assert.throws(() => durationRule({ min: 60_000, max: 1000 }), /whole seconds/);
});
