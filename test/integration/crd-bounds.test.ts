// Every bound the zod schema declares is held by the CRD too, against the real kube-apiserver: for each
// one that schemaBounds() lists (read from the zod schema, the source the CRD is generated from), an
// object just past it is refused (422, naming the field) and one just inside is accepted, for
// ServingSchedule and ClusterServingSchedule. A new bound in the schema is a new case here, and a
// bound with no way to make its values is a failure, not a skip. Then the duration ranges: for a list
// of awkward durations the apiserver and `validate` agree on each, both ways. Creates are dry runs,
// so nothing is stored and no daemon of another test sees them.
//   node test/integration/run.ts test/integration/crd-bounds.test.ts
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { type CrdVariant, keyLengthRule, type SchemaBound, schemaBounds } from "../../src/api/crd.ts";
import { formatDuration, type DurationBounds } from "../../src/schedule/index.ts";
import {
  COUNTRY_PATTERN,
  CRON_PATTERN,
  DAYS_PATTERN,
  DURATION_BOUNDS_META,
  DURATION_PATTERN,
  durationBoundsMessage,
  FROM_TIME_PATTERN,
  KEY_LENGTH_META,
  LOCAL_DATE_TIME_PATTERN,
  REGION_PATTERN,
  TO_TIME_PATTERN,
} from "../../src/api/servingSchedule.ts";
import { validateServingSchedule } from "../../src/api/validate.ts";
import { clusterFromEnv } from "../support/cluster.ts";
import { createNamespace, installCrd, kube } from "../support/daemon.ts";

const cluster = clusterFromEnv();
const { kc, objects } = kube(cluster.kubeconfigPath);
const ID = Date.now().toString(36).slice(-5);
const NS = `crd-bounds-${ID}`;

type Spec = Record<string, unknown>;

/** A spec that sets every field (and is valid for `validate` too), so each bounded field has a place. */
const BASE: Spec = {
  selector: { matchLabels: { app: "llm" }, matchExpressions: [{ key: "tier", operator: "In", values: ["gpu"] }] },
  kinds: ["InferenceService", "LLMInferenceService"],
  timeZone: "UTC",
  uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }, { cron: { start: "0 8 * * 6", stop: "0 12 * * 6" } }],
  exceptions: [{ from: "2026-12-24", to: "2026-12-27", state: "Stopped", reason: "Christmas" }],
  holidays: [{ country: "DE", region: "BY", types: ["public"], state: "Stopped" }],
  warmup: "5m",
  idle: {
    after: "30m",
    threshold: 0,
    metric: "custom",
    custom: { query: "rate(x[$window])", namespaceLabel: "namespace", serviceLabel: "svc", serviceLabelFormat: "{name}" },
    whenMetricsUnavailable: "KeepRunning",
  },
  wake: { onRequest: true, timeout: "5m", maxHeldRequests: 100 },
  suspend: false,
  dryRun: false,
};
const CLUSTER_BASE: Spec = {
  ...BASE,
  namespaceSelector: { matchLabels: { team: "ml" }, matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] },
};

/** For each pattern: a value of it as long as possible up to n characters, and one it refuses. */
const PATTERNS: Record<string, { sized: (n: number) => string; bad: string }> = {
  // zeros in front count for nothing: "000…10s" is 10s, inside every duration bound
  [DURATION_PATTERN]: { sized: (n) => `${"0".repeat(Math.max(0, n - 3))}10s`, bad: "1d" },
  // "Mon" and "Mon-Fri" with commas make lengths of 4k-1 only
  [DAYS_PATTERN]: { sized: (n) => Array.from({ length: Math.max(1, Math.floor((n + 1) / 4)) }, () => "Mon").join(","), bad: "Monday" },
  [FROM_TIME_PATTERN]: { sized: () => "08:00", bad: "24:00" },
  [TO_TIME_PATTERN]: { sized: () => "20:00", bad: "24:01" },
  [LOCAL_DATE_TIME_PATTERN]: { sized: (n) => (n >= 16 ? "2026-12-25T08:00" : n >= 10 ? "2026-12-25" : "--12-25"), bad: "2026-13-01" },
  [COUNTRY_PATTERN]: { sized: () => "DE", bad: "de" },
  [REGION_PATTERN]: { sized: (n) => "A".repeat(Math.min(n, 16)), bad: "B-Y" },
  [CRON_PATTERN]: { sized: (n) => `${"0".repeat(Math.max(1, n - 10))} 9 * * 1-5`, bad: "0 8 * *" },
};

type Case = { what: string; value: unknown; accepted: boolean; message?: string };

function patternOf(b: SchemaBound): (typeof PATTERNS)[string] | undefined {
  const p = b.schema.pattern;
  if (p === undefined) return undefined;
  const known = PATTERNS[String(p)];
  if (!known) throw new Error(`${b.path}: no example values for pattern ${String(p)}; add them to PATTERNS`);
  return known;
}

/** Just past the bound (refused) and just inside it (accepted), for one bound. */
function cases(b: SchemaBound, base: unknown): Case[] {
  const pattern = patternOf(b);
  const sized = (n: number) => pattern?.sized(n) ?? "x".repeat(n);
  switch (b.keyword) {
    case "maxLength": {
      const n = b.limit as number;
      const inside = sized(n);
      const over = [1, 2, 3, 4, 5, 6, 7, 8].map((d) => sized(n + d)).find((s) => s.length > n) ?? "x".repeat(n + 1);
      return [
        { what: `${inside.length} characters`, value: inside, accepted: true },
        { what: `${over.length} characters`, value: over, accepted: false },
      ];
    }
    case "minLength": {
      const n = b.limit as number;
      return [
        { what: `${n - 1} characters`, value: "x".repeat(n - 1), accepted: false },
        { what: "the base value", value: pattern ? base : "x".repeat(n), accepted: true },
      ];
    }
    case "pattern":
      return [
        { what: JSON.stringify((pattern as { bad: string }).bad), value: (pattern as { bad: string }).bad, accepted: false },
        { what: JSON.stringify(base), value: base, accepted: true },
      ];
    case "enum":
      return [
        { what: '"NotOneOfThem"', value: "NotOneOfThem", accepted: false },
        { what: JSON.stringify(base), value: base, accepted: true },
      ];
    case "minimum":
    case "maximum": {
      const m = b.limit as number;
      const step = b.schema.type === "integer" ? 1 : 0.001;
      const past = b.keyword === "minimum" ? m - step : m + step;
      return [
        { what: String(past), value: past, accepted: false },
        { what: String(m), value: m, accepted: true },
      ];
    }
    case "integer":
      return [
        { what: "1.5", value: 1.5, accepted: false },
        { what: String(base), value: base, accepted: true },
      ];
    case "minItems":
    case "maxItems": {
      const n = b.limit as number;
      const first = (base as unknown[])[0];
      const items = b.schema.items as { enum?: unknown[] } | undefined;
      // a set cannot repeat: its enum's values, and one again to go past
      const list = (k: number) =>
        b.schema["x-kubernetes-list-type"] === "set" && items?.enum
          ? Array.from({ length: k }, (_, i) => (items.enum as unknown[])[i % (items.enum as unknown[]).length])
          : Array.from({ length: k }, () => structuredClone(first));
      const [outside, inside] = b.keyword === "minItems" ? [n - 1, n] : [n + 1, n];
      return [
        { what: `${outside} entries`, value: list(outside), accepted: false },
        { what: `${inside} entries`, value: list(inside), accepted: true },
      ];
    }
    case "maxProperties": {
      const n = b.limit as number;
      const map = (k: number) => Object.fromEntries(Array.from({ length: k }, (_, i) => [`l${i}`, "v"]));
      return [
        { what: `${n + 1} entries`, value: map(n + 1), accepted: false },
        { what: `${n} entries`, value: map(n), accepted: true },
      ];
    }
    case DURATION_BOUNDS_META: {
      const d = b.limit as DurationBounds;
      const message = durationBoundsMessage(d);
      return [
        ...(d.min > 0
          ? [
              { what: "0s", value: "0s", accepted: false, message },
              { what: formatDuration(d.min - 1000), value: formatDuration(d.min - 1000), accepted: false, message },
              { what: formatDuration(d.min), value: formatDuration(d.min), accepted: true },
            ]
          : [{ what: "0s", value: "0s", accepted: true }]),
        { what: formatDuration(d.max), value: formatDuration(d.max), accepted: true },
        { what: formatDuration(d.max + 1000), value: formatDuration(d.max + 1000), accepted: false, message },
      ];
    }
    case KEY_LENGTH_META: {
      const k = b.limit as { min: number; max: number };
      const message = keyLengthRule(k).message;
      return [
        { what: `a key of ${k.min - 1}`, value: { ["a".repeat(k.min - 1)]: "v" }, accepted: false, message },
        { what: `a key of ${k.min}`, value: { ["a".repeat(k.min)]: "v" }, accepted: true },
        { what: `a key of ${k.max}`, value: { ["a".repeat(k.max)]: "v" }, accepted: true },
        { what: `a key of ${k.max + 1}`, value: { ["a".repeat(k.max + 1)]: "v" }, accepted: false, message },
      ];
    }
    default:
      throw new Error(`${b.path}: no cases for bound ${b.keyword}; add them to this test`);
  }
}

/** "uptime[].cron.start" as segments: uptime, [], cron, start. */
const segments = (path: string) => path.split(".").flatMap((s) => (s.endsWith("[]") ? [s.slice(0, -2), "[]"] : [s]));

/**
 * The base spec with the value at the bound's path (the first list entry that has the next field,
 * the first key of a map), the base value found there, and the path as the apiserver names it.
 */
function place(base: Spec, path: string, value: unknown): { spec: Spec; old: unknown; where: string } {
  const spec = structuredClone(base);
  const segs = segments(path);
  let node: Record<string, unknown> | unknown[] = spec;
  let where = "spec";
  const step = (seg: string, next: string | undefined): { key: string | number; label: string } => {
    if (seg === "[]") {
      const list = node as unknown[];
      const i =
        next === undefined
          ? 0
          : Math.max(
              0,
              list.findIndex((e) => typeof e === "object" && e !== null && next in e),
            );
      return { key: i, label: `[${i}]` };
    }
    if (seg === "*") {
      const key = Object.keys(node as object)[0] as string;
      return { key, label: `[${key}]` };
    }
    return { key: seg, label: `.${seg}` };
  };
  for (const [i, seg] of segs.entries()) {
    const { key, label } = step(seg, segs[i + 1]);
    where += label;
    const holder = node as Record<string | number, unknown>;
    if (i === segs.length - 1) {
      const old = holder[key];
      holder[key] = value;
      return { spec, old, where };
    }
    node = holder[key] as Record<string, unknown>;
  }
  throw new Error(`empty path ${path}`);
}

function object(variant: CrdVariant, name: string, spec: Spec): KubernetesObject {
  return variant === "cluster"
    ? ({ apiVersion: "reclaimer.dev/v1alpha1", kind: "ClusterServingSchedule", metadata: { name }, spec } as KubernetesObject)
    : ({ apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", metadata: { name, namespace: NS }, spec } as KubernetesObject);
}

type Answer = { status: number; message: string };

/** A dry-run create: 201, or the status code and message of the refusal. */
async function dryRunCreate(obj: KubernetesObject): Promise<Answer> {
  try {
    await objects.create(obj, undefined, "All");
    return { status: 201, message: "" };
  } catch (err) {
    const e = err as { code?: number; body?: unknown; message?: string };
    let message = typeof e.body === "string" ? e.body : JSON.stringify(e.body ?? e.message);
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    return { status: e.code ?? 0, message };
  }
}

let n = 0;
const nextName = () => `b-${ID}-${n++}`;

before(async () => {
  await installCrd(kc, "namespaced");
  await installCrd(kc, "cluster");
  await createNamespace(objects, NS);
});

after(async () => {
  await objects.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } } as KubernetesObject).catch(() => undefined);
});

for (const variant of ["namespaced", "cluster"] as const) {
  const base = variant === "cluster" ? CLUSTER_BASE : BASE;
  const kind = variant === "cluster" ? "ClusterServingSchedule" : "ServingSchedule";

  test(`${kind}: the base spec is valid for validate and accepted by the apiserver`, async () => {
    const r = validateServingSchedule(object(variant, "base", base));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(await dryRunCreate(object(variant, nextName(), base)), { status: 201, message: "" });
  });

  const bounds = schemaBounds(variant);
  test(`${kind}: the schema declares bounds (${bounds.length}), among them idle.after's range`, () => {
    assert.ok(bounds.some((b) => b.path === "idle.after" && b.keyword === DURATION_BOUNDS_META));
    if (variant === "cluster") assert.ok(bounds.some((b) => b.path === "namespaceSelector.matchLabels" && b.keyword === KEY_LENGTH_META));
  });

  for (const b of bounds) {
    test(`${kind} spec.${b.path} ${b.keyword} ${JSON.stringify(b.limit).slice(0, 60)}: past it refused, inside accepted`, async () => {
      const { old } = place(base, b.path, undefined);
      const wrong: string[] = [];
      for (const c of cases(b, old)) {
        const { spec, where } = place(base, b.path, c.value);
        const got = await dryRunCreate(object(variant, nextName(), spec));
        if (c.accepted) {
          if (got.status !== 201) wrong.push(`${c.what}: refused, ${got.status} ${got.message}`);
          continue;
        }
        // the field a map entry's bound is about is named with its key, "…matchLabels[app]" or "…matchLabels.app"
        const named = [where, where.replace(/\[([^\]\d][^\]]*)\]$/, ".$1")];
        if (got.status !== 422) wrong.push(`${c.what}: ${got.status}, not 422: ${got.message}`);
        else if (!named.some((w) => got.message.includes(w))) wrong.push(`${c.what}: the message does not name ${where}: ${got.message}`);
        else if (c.message && !got.message.includes(c.message))
          wrong.push(`${c.what}: the message does not say "${c.message}": ${got.message}`);
      }
      assert.deepEqual(wrong, []);
    });
  }
}

// Exactly the durations validate accepts: the CEL rule reads them with Go's ParseDuration, which must
// neither refuse what parseDuration reads nor fail on numbers too long for it.
const DURATIONS = [
  ...["0s", "9s", "10s", "0h0m10s", "00000000000000000000000000010s", "000000000000000000000000000010s"],
  ...["30m", "30m1s", "1800s", "1801s", "29m60s", "24h", "24h1s", "86400s", "86401s", "23h59m60s"],
  ...["167h59m60s", "168h", "168h1s", "10080m", "10081m", "604800s", "604801s", "999999h999999m999999s"],
  ...["9999999h", "2562047h", "2562048h", "9223372037s", "99999999999999999999999999999h", "0000001000000s"],
  ...["", "1h1h", "1.5h", "1d", "-1s", " 10s", "1H", "10"],
];

for (const field of ["idle.after", "warmup", "wake.timeout"]) {
  test(`spec.${field}: the apiserver accepts exactly the durations validate accepts`, async () => {
    const disagree: string[] = [];
    for (const d of DURATIONS) {
      const { spec } = place(BASE, field, d);
      const valid = validateServingSchedule(object("namespaced", "s", spec)).ok;
      const got = await dryRunCreate(object("namespaced", nextName(), spec));
      if (valid !== (got.status === 201))
        disagree.push(`${JSON.stringify(d)}: validate ${valid ? "accepts" : "refuses"}, apiserver ${got.status} ${got.message}`);
    }
    assert.deepEqual(disagree, []);
  });
}
