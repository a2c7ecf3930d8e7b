// Which schedule governs when ClusterServingSchedules and a namespace's own ServingSchedules both
// select a service: the namespace's own first, then the oldest cluster schedule whose
// namespaceSelector matches the namespace's labels.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileEntry, governingOf } from "../../../src/decide/schedules.ts";
import { buildStatus, OVERRIDDEN_NAMED } from "../../../src/decide/status.ts";
import { validateServingSchedule } from "../../../src/api/validate.ts";
import { MAX_NAMESPACE_LABELS } from "../../../src/api/servingSchedule.ts";
import { parseClusterScheduleObject, parseScheduleObject } from "../../../src/sources/kube/servingSchedule.ts";

const UPTIME = [{ days: "Mon-Fri", from: "08:00", to: "18:00" }];

function own(namespace: string, name: string, spec: Record<string, unknown>, created = "2026-01-01T00:00:00Z") {
  return compileEntry(parseScheduleObject({ metadata: { namespace, name, creationTimestamp: created }, spec }));
}
function wide(name: string, spec: Record<string, unknown>, created = "2026-01-01T00:00:00Z") {
  return compileEntry(parseClusterScheduleObject({ metadata: { name, creationTimestamp: created }, spec: { uptime: UPTIME, ...spec } }));
}
const svc = (namespace: string, labels: Record<string, string> = {}) => ({ metadata: { namespace, labels } });
const keys = (r: ReturnType<typeof governingOf>) => ({
  governing: r.governing?.key,
  overruled: r.overruled.map((e) => e.key),
  overridden: r.overridden.map((e) => e.key),
});

test("a ClusterServingSchedule is cached without a namespace and keyed /name, apart from any ServingSchedule", () => {
  const c = wide("nights", { namespaceSelector: {} });
  assert.equal(c.key, "/nights");
  assert.ok(c.ok);
  assert.deepEqual(c.namespaceSelector, {});
  const n = own("team", "nights", { uptime: UPTIME });
  assert.ok(n.ok);
  assert.equal(n.namespaceSelector, undefined);
  assert.equal(parseClusterScheduleObject({ metadata: { name: "x", namespace: "ignored" } }).metadata.namespace, "");
});

test("the cluster schedule governs the services of the namespaces its namespaceSelector matches", () => {
  const c = wide("nights", { namespaceSelector: { matchLabels: { env: "dev" } } });
  assert.deepEqual(keys(governingOf([c], svc("team-a"), { env: "dev" })), { governing: "/nights", overruled: [], overridden: [] });
  assert.deepEqual(keys(governingOf([c], svc("prod"), { env: "prod" })), { governing: undefined, overruled: [], overridden: [] });
  assert.equal(governingOf([c], svc("team-a"), undefined).governing, undefined, "a namespace not known yet is reached by none");
  const all = wide("all", { namespaceSelector: {} });
  assert.equal(governingOf([all], svc("kube-system"), {}).governing?.key, "/all", "{} means every namespace");
  const expr = wide("expr", { namespaceSelector: { matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] } });
  assert.equal(governingOf([expr], svc("x"), {}).governing?.key, "/expr");
  assert.equal(governingOf([expr], svc("x"), { env: "prod" }).governing, undefined);
});

test("its selector picks services inside those namespaces", () => {
  const c = wide("gpu-nights", { namespaceSelector: {}, selector: { matchLabels: { tier: "batch" } } });
  assert.equal(governingOf([c], svc("a", { tier: "batch" }), {}).governing?.key, "/gpu-nights");
  assert.equal(governingOf([c], svc("a", { tier: "online" }), {}).governing, undefined);
});

test("a namespace's own ServingSchedule that selects the service overrides every cluster schedule, even an older one", () => {
  const c = wide("nights", { namespaceSelector: {} }, "2020-01-01T00:00:00Z");
  const c2 = wide("weekends", { namespaceSelector: {} }, "2021-01-01T00:00:00Z");
  const mine = own("team-a", "always", {}, "2026-06-01T00:00:00Z");
  assert.deepEqual(keys(governingOf([c, c2, mine], svc("team-a"), {})), {
    governing: "team-a/always",
    overruled: [],
    overridden: ["/nights", "/weekends"],
  });
  // in another namespace the same ServingSchedule is nothing, and the cluster schedules decide as among themselves
  assert.deepEqual(keys(governingOf([c, c2, mine], svc("team-b"), {})), {
    governing: "/nights",
    overruled: ["/weekends"],
    overridden: [],
  });
});

test("a ServingSchedule that does not select the service, or is invalid, does not override", () => {
  const c = wide("nights", { namespaceSelector: {} });
  const narrow = own("team-a", "gpu-only", { selector: { matchLabels: { gpu: "yes" } } });
  assert.equal(governingOf([c, narrow], svc("team-a", { gpu: "no" }), {}).governing?.key, "/nights");
  const broken = own("team-a", "broken", { timeZone: "Mars/Olympus" });
  assert.equal(broken.ok, false);
  assert.equal(governingOf([c, broken], svc("team-a"), {}).governing?.key, "/nights");
});

test("among cluster schedules the oldest governs, ties by name; an invalid one governs nothing", () => {
  const late = wide("b", { namespaceSelector: {} }, "2026-02-01T00:00:00Z");
  const tieA = wide("a", { namespaceSelector: {} }, "2026-01-01T00:00:00Z");
  const tieC = wide("c", { namespaceSelector: {} }, "2026-01-01T00:00:00Z");
  const invalid = wide("0-invalid", { namespaceSelector: {}, timeZone: "Nowhere" }, "2000-01-01T00:00:00Z");
  assert.deepEqual(keys(governingOf([late, tieC, invalid, tieA], svc("x"), {})), {
    governing: "/a",
    overruled: ["/c", "/b"],
    overridden: [],
  });
});

test("validate: a ClusterServingSchedule needs a namespaceSelector, and a bounded one", () => {
  const doc = (spec: Record<string, unknown>) => ({
    apiVersion: "reclaimer.dev/v1alpha1",
    kind: "ClusterServingSchedule",
    metadata: { name: "x" },
    spec,
  });
  const missing = validateServingSchedule(doc({ uptime: UPTIME }));
  assert.equal(missing.ok, false);
  assert.deepEqual(!missing.ok && missing.problems.map((p) => `${p.path}: ${p.message}`), [
    "spec.namespaceSelector: is required: the namespaces by label, or {} for every namespace",
  ]);
  assert.equal(validateServingSchedule(doc({ namespaceSelector: {}, uptime: UPTIME })).ok, true);
  const labels = Object.fromEntries(Array.from({ length: MAX_NAMESPACE_LABELS + 1 }, (_, i) => [`k${i}`, "v"]));
  const big = validateServingSchedule(doc({ namespaceSelector: { matchLabels: labels } }));
  assert.equal(big.ok, false);
  assert.match(!big.ok ? (big.problems[0]?.message ?? "") : "", /at most 32 labels/);
  const typo = validateServingSchedule(doc({ namespaceSelector: { matchLabel: {} } }));
  assert.deepEqual(!typo.ok && typo.problems.map((p) => p.path), ["spec.namespaceSelector.matchLabel"]);
  // a ServingSchedule has no namespaceSelector: it only ever reaches its own namespace
  const namespaced = validateServingSchedule({ ...doc({ namespaceSelector: {} }), kind: "ServingSchedule" });
  assert.deepEqual(!namespaced.ok && namespaced.problems.map((p) => `${p.path}: ${p.message}`), ["spec.namespaceSelector: unknown field"]);
});

test("a cluster schedule's status counts the services it gave way on and names a bounded few", () => {
  const overridden = Array.from({ length: OVERRIDDEN_NAMED + 5 }, (_, i) => `ns-${String(i).padStart(2, "0")}/model`);
  const status = buildStatus({
    generation: 1,
    valid: { ok: true },
    metrics: undefined,
    services: [],
    next: undefined,
    gpuHoursReclaimed: 0,
    previous: undefined,
    now: 0,
    overridden,
  });
  assert.equal(status.overridden, OVERRIDDEN_NAMED + 5);
  const ready = status.conditions?.find((c) => c.type === "Ready")?.message ?? "";
  assert.match(ready, /15 overridden by their namespace's ServingSchedule: ns-00\/model, .* ns-09\/model and 5 more$/);
  const plain = buildStatus({
    generation: 1,
    valid: { ok: true },
    metrics: undefined,
    services: [],
    next: undefined,
    gpuHoursReclaimed: 0,
    previous: undefined,
    now: 0,
  });
  assert.equal(plain.overridden, undefined, "a ServingSchedule's status has no such field");
});
