// The ServingSchedule CRD, generated from the zod schema (the single source of truth).
// z.toJSONSchema gives JSON Schema; a CRD needs a *structural* OpenAPI v3 schema:
//  - every node has a type; no $schema, no propertyNames, no `additionalProperties: false`
//    (unknown fields are pruned, or rejected under strict field validation, instead);
//  - no anyOf of alternatives: the union of uptime forms becomes one object holding all
//    properties, and CEL rules (declared on the union in the zod schema) say which combinations
//    are allowed; each member's own CEL rules are kept, guarded by that member's required fields.
// Bounds JSON Schema has no keyword for (a duration's range, the length of a map's keys) are metadata on
// the zod schema (DURATION_BOUNDS_META, KEY_LENGTH_META) and become CEL rules here; schemaBounds() lists
// every bound the zod schema declares, which the tests hold the CRD and the apiserver to.
// Anything the converter does not know is an error, so a new zod construct cannot slip into
// the CRD unnoticed.
import { z } from "zod";
import { stringify } from "yaml";
import {
  CLUSTER_KIND,
  CLUSTER_PLURAL,
  ClusterServingScheduleSpec,
  DURATION_BOUNDS_META,
  DURATION_PATTERN,
  durationBoundsMessage,
  GROUP,
  KEY_LENGTH_META,
  KIND,
  PLURAL,
  VERSION,
  ServingScheduleSpec,
  ServingScheduleStatus,
} from "./servingSchedule.ts";
import { type DurationBounds, formatDuration } from "../schedule/index.ts";

export type SchemaNode = { [key: string]: unknown };

export const CRD_FILE = `deploy/crds/${GROUP}_${PLURAL}.yaml`;
export const CLUSTER_CRD_FILE = `deploy/crds/${GROUP}_${CLUSTER_PLURAL}.yaml`;

/** The two kinds share everything but scope, the namespace selector, names and the columns that show them. */
export type CrdVariant = "namespaced" | "cluster";

const KEPT_KEYWORDS = new Set([
  "type",
  "format",
  "description",
  "properties",
  "required",
  "items",
  "additionalProperties",
  "enum",
  "default",
  "pattern",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "nullable",
  "x-kubernetes-validations",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-int-or-string",
]);

type Rule = { rule: string; message?: string; messageExpression?: string; fieldPath?: string; reason?: string };

function isNode(v: unknown): v is SchemaNode {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Converts one JSON Schema node (from z.toJSONSchema, target openapi-3.0) into a structural schema node. */
export function toStructural(input: SchemaNode, where = "$"): SchemaNode {
  const node: SchemaNode = { ...input };
  delete node.$schema;
  delete node.propertyNames;
  if (node.additionalProperties === false) delete node.additionalProperties;
  if ("const" in node) {
    node.enum = [node.const];
    delete node.const;
  }
  if (Array.isArray(node.anyOf)) return mergeUnion(node, where);
  const rules: Rule[] = [];
  if (DURATION_BOUNDS_META in node) {
    rules.push(durationRule(node[DURATION_BOUNDS_META] as DurationBounds, where));
    delete node[DURATION_BOUNDS_META];
  }
  if (KEY_LENGTH_META in node) {
    rules.push(keyLengthRule(node[KEY_LENGTH_META] as KeyLength));
    delete node[KEY_LENGTH_META];
  }
  if (rules.length > 0) node["x-kubernetes-validations"] = [...((node["x-kubernetes-validations"] as Rule[] | undefined) ?? []), ...rules];
  if (node.type === "integer") {
    if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
    if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
    node.format ??= "int64";
  }
  for (const key of Object.keys(node)) {
    if (!KEPT_KEYWORDS.has(key)) throw new Error(`${where}: JSON Schema keyword "${key}" has no structural equivalent here`);
  }
  if (typeof node.type !== "string") throw new Error(`${where}: node without a type`);
  if (isNode(node.properties)) {
    const props: SchemaNode = {};
    for (const [name, child] of Object.entries(node.properties)) {
      if (!isNode(child)) throw new Error(`${where}.${name}: not a schema`);
      props[name] = toStructural(child, `${where}.${name}`);
    }
    node.properties = props;
  }
  if (isNode(node.items)) node.items = toStructural(node.items, `${where}[]`);
  if (isNode(node.additionalProperties)) node.additionalProperties = toStructural(node.additionalProperties, `${where}.*`);
  if (Array.isArray(node.required) && node.required.length === 0) delete node.required;
  return ordered(node);
}

type KeyLength = { min: number; max: number };

/**
 * The CEL rule holding a duration string (DURATION_PATTERN) within bounds, exactly as the zod check
 * does. CEL's duration() is Go's time.ParseDuration, which reads every string of the pattern the same
 * way parseDuration does, but fails on one past about 2,562,047h; the rule first refuses any number
 * with more significant digits than the maximum has in seconds (such a number is over the maximum in
 * any unit), so duration() only sees values it can read. A string off the pattern (or empty) passes
 * this rule: the pattern and minLength refuse it, with their own message, as zod does.
 */
export function durationRule(b: DurationBounds, where = "$"): Rule {
  const maxSeconds = b.max / 1000;
  const digits = String(maxSeconds).length;
  // With at most that many digits per number, "999999h999999m999999s" is the longest duration() reads.
  if (!Number.isInteger(maxSeconds) || digits > 6 || b.min % 1000 !== 0 || b.min < 0 || b.min > b.max)
    throw new Error(`${where}: duration bounds ${JSON.stringify(b)} need whole seconds, and a maximum under 1,000,000s`);
  const tooManyDigits = `self.matches('(?:^|[hms])0*[1-9][0-9]{${digits}}')`;
  const within = [
    ...(b.min > 0 ? [`duration(self) >= duration('${formatDuration(b.min)}')`] : []),
    `duration(self) <= duration('${formatDuration(b.max)}')`,
  ];
  return {
    rule: `size(self) == 0 || !self.matches('${DURATION_PATTERN}') || (!${tooManyDigits} && ${within.join(" && ")})`,
    message: durationBoundsMessage(b),
  };
}

/** The CEL rule on a map holding the length of every key within bounds. */
export function keyLengthRule(k: KeyLength): Rule {
  return {
    rule: `self.all(k, size(k) >= ${k.min} && size(k) <= ${k.max})`,
    message: `keys must be ${k.min} to ${k.max} characters long`,
  };
}

/** One bound the zod schema declares on a field: its path under spec ("uptime[].days", "selector.matchLabels.*"), the keyword, its value. */
export type SchemaBound = { path: string; keyword: string; limit: unknown; schema: SchemaNode };

/** The JSON Schema keywords that bound a value, and the metadata keys for bounds JSON Schema cannot state. */
export const BOUND_KEYWORDS = [
  "minLength",
  "maxLength",
  "pattern",
  "enum",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  DURATION_BOUNDS_META,
  KEY_LENGTH_META,
] as const;

/**
 * Every bound the zod schema of spec declares (ServingSchedule's, or with "cluster" ClusterServingSchedule's),
 * read from the same JSON Schema the CRD is made from, before it is made structural. An integer is a
 * bound too (keyword "integer"): 1.5 is refused.
 */
export function schemaBounds(variant: CrdVariant = "namespaced"): SchemaBound[] {
  const out: SchemaBound[] = [];
  const visit = (n: SchemaNode, path: string) => {
    if (Array.isArray(n.anyOf)) {
      for (const m of n.anyOf) if (isNode(m)) visit(m, path);
      return;
    }
    for (const keyword of BOUND_KEYWORDS) {
      const limit = n[keyword];
      if (limit === undefined || (keyword === "minLength" && limit === 0)) continue;
      // zod's own marks of an unbounded integer, which toStructural drops
      if (n.type === "integer" && (limit === Number.MIN_SAFE_INTEGER || limit === Number.MAX_SAFE_INTEGER)) continue;
      out.push({ path, keyword, limit, schema: n });
    }
    if (n.type === "integer") out.push({ path, keyword: "integer", limit: true, schema: n });
    if (isNode(n.properties)) for (const [k, v] of Object.entries(n.properties)) if (isNode(v)) visit(v, path ? `${path}.${k}` : k);
    if (isNode(n.items)) visit(n.items, `${path}[]`);
    if (isNode(n.additionalProperties)) visit(n.additionalProperties, `${path}.*`);
  };
  visit(jsonSchema(variant === "cluster" ? ClusterServingScheduleSpec : ServingScheduleSpec), "");
  // a union's members may share a property: one bound once
  const seen = new Set<string>();
  return out.filter((b) => {
    const key = `${b.path} ${b.keyword} ${JSON.stringify(b.limit)}`;
    return !seen.has(key) && seen.add(key) !== undefined;
  });
}

const ORDER = ["description", "type", "format"];

/** Keys in a fixed, readable order (description and type first), so the YAML reads well and diffs stay small. */
function ordered(node: SchemaNode): SchemaNode {
  const keys = Object.keys(node).sort((a, b) => rank(a) - rank(b) || 0);
  return Object.fromEntries(keys.map((k) => [k, node[k]]));
}

function rank(key: string): number {
  const i = ORDER.indexOf(key);
  if (i >= 0) return i;
  if (key.startsWith("x-kubernetes")) return 100;
  return 10;
}

function mergeUnion(node: SchemaNode, where: string): SchemaNode {
  const members = (node.anyOf as unknown[]).map((m, i) => {
    if (!isNode(m)) throw new Error(`${where}: anyOf member ${i} is not a schema`);
    return toStructural(m, `${where}|${i}`);
  });
  const properties: SchemaNode = {};
  const rules: Rule[] = [...((node["x-kubernetes-validations"] as Rule[] | undefined) ?? [])];
  for (const [i, member] of members.entries()) {
    if (member.type !== "object" || !isNode(member.properties)) {
      throw new Error(`${where}: only unions of objects can be made structural (member ${i} is ${String(member.type)})`);
    }
    for (const [name, schema] of Object.entries(member.properties)) {
      if (name in properties && JSON.stringify(properties[name]) !== JSON.stringify(schema)) {
        throw new Error(`${where}: union members disagree about property "${name}"`);
      }
      properties[name] = schema;
    }
    const required = (member.required as string[] | undefined) ?? [];
    const guard = required.map((r) => `has(self.${r})`).join(" && ");
    for (const r of (member["x-kubernetes-validations"] as Rule[] | undefined) ?? []) {
      rules.push({ ...r, rule: guard ? `!(${guard}) || (${r.rule})` : r.rule });
    }
  }
  if (!node["x-kubernetes-validations"]) throw new Error(`${where}: a union needs CEL rules saying which of its forms is used`);
  const merged: SchemaNode = { type: "object" };
  if (typeof node.description === "string") merged.description = node.description;
  merged.properties = properties;
  merged["x-kubernetes-validations"] = rules;
  return ordered(merged);
}

function jsonSchema(schema: z.ZodType): SchemaNode {
  return z.toJSONSchema(schema, { io: "input", target: "openapi-3.0", unrepresentable: "throw" }) as SchemaNode;
}

/** The complete CustomResourceDefinition object of ServingSchedule, or of ClusterServingSchedule. */
export function buildCrd(variant: CrdVariant = "namespaced"): SchemaNode {
  const cluster = variant === "cluster";
  const kind = cluster ? CLUSTER_KIND : KIND;
  const plural = cluster ? CLUSTER_PLURAL : PLURAL;
  const spec = toStructural(jsonSchema(cluster ? ClusterServingScheduleSpec : ServingScheduleSpec), "spec");
  const status = toStructural(jsonSchema(ServingScheduleStatus), "status");
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${plural}.${GROUP}`,
      labels: { "app.kubernetes.io/name": "kserve-reclaimer", "app.kubernetes.io/component": "crd" },
    },
    spec: {
      group: GROUP,
      scope: cluster ? "Cluster" : "Namespaced",
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames: [cluster ? "cssched" : "ssched"],
        categories: ["reclaimer"],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            ...(cluster ? [{ name: "Namespaces", type: "string", jsonPath: ".spec.namespaceSelector" }] : []),
            { name: "Zone", type: "string", jsonPath: ".spec.timeZone" },
            { name: "Running", type: "integer", jsonPath: ".status.running" },
            { name: "Stopped", type: "integer", jsonPath: ".status.stopped" },
            { name: "GPUs Reclaimed", type: "integer", jsonPath: ".status.gpusReclaimed" },
            { name: "Next Transition", type: "string", jsonPath: ".status.nextTransition" },
            { name: "Next State", type: "string", jsonPath: ".status.nextState", priority: 1 },
            { name: "Suspended", type: "boolean", jsonPath: ".spec.suspend", priority: 1 },
            ...(cluster ? [{ name: "Overridden", type: "integer", jsonPath: ".status.overridden", priority: 1 }] : []),
            { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: cluster
                ? "ClusterServingSchedule stops and starts the selected KServe InferenceServices of the selected namespaces on a schedule, unless a ServingSchedule of the namespace selects them."
                : "ServingSchedule stops and starts the selected KServe InferenceServices of its namespace on a schedule.",
              properties: {
                apiVersion: { type: "string", description: "APIVersion of this object: reclaimer.dev/v1alpha1." },
                kind: { type: "string", description: `Kind of this object: ${kind}.` },
                metadata: { type: "object" },
                spec: spec,
                status: status,
              },
              required: ["spec"],
            },
          },
        },
      ],
    },
  };
}

const HEADER = "# Generated by scripts/generate-crd.ts from src/api/servingSchedule.ts. Do not edit; run `npm run generate:crd`.\n";

/** The CRD as the YAML text committed in deploy/crds/. */
export function renderCrd(variant: CrdVariant = "namespaced"): string {
  return HEADER + stringify(buildCrd(variant), { lineWidth: 0, aliasDuplicateObjects: false });
}

/** Problems that make a schema non-structural (empty when it is structural). */
export function structuralProblems(node: unknown, where = "$", root = true): string[] {
  if (!isNode(node)) return [`${where}: not a schema object`];
  const out: string[] = [];
  const forbidden = ["anyOf", "oneOf", "allOf", "not", "$ref", "$schema", "propertyNames", "const", "definitions", "$defs"];
  for (const key of forbidden) if (key in node) out.push(`${where}: has ${key}`);
  for (const key of Object.keys(node))
    if (!KEPT_KEYWORDS.has(key) && !forbidden.includes(key)) out.push(`${where}: unknown keyword ${key}`);
  const preserve = node["x-kubernetes-preserve-unknown-fields"] === true || node["x-kubernetes-int-or-string"] === true;
  if (typeof node.type !== "string" && !preserve) out.push(`${where}: no type`);
  if (node.additionalProperties !== undefined && node.properties !== undefined)
    out.push(`${where}: additionalProperties together with properties`);
  if (typeof node.additionalProperties === "boolean") out.push(`${where}: boolean additionalProperties`);
  if (node.type === "object" && node.properties === undefined && node.additionalProperties === undefined && !preserve && !root) {
    // an object without properties is allowed only for metadata at the root
    if (!where.endsWith(".metadata")) out.push(`${where}: object without properties or additionalProperties`);
  }
  if (isNode(node.properties)) {
    for (const [name, child] of Object.entries(node.properties)) out.push(...structuralProblems(child, `${where}.${name}`, false));
  }
  if (node.type === "array") {
    if (!isNode(node.items)) out.push(`${where}: array without items`);
    else out.push(...structuralProblems(node.items, `${where}[]`, false));
  }
  if (isNode(node.additionalProperties)) out.push(...structuralProblems(node.additionalProperties, `${where}.*`, false));
  if (Array.isArray(node.required) && isNode(node.properties)) {
    for (const r of node.required) if (!(String(r) in node.properties)) out.push(`${where}: required ${String(r)} is not a property`);
  }
  return out;
}
