// spec.wake: defaults, bounds, hostile values, and the rule that wake.onRequest needs idle, in zod
// (validate, the daemon) and as CEL in both CRDs (kubectl apply).
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateServingSchedule } from "../../../src/api/validate.ts";
import { buildCrd } from "../../../src/api/crd.ts";

const ns = (spec: Record<string, unknown>) => ({
  apiVersion: "reclaimer.dev/v1alpha1",
  kind: "ServingSchedule",
  metadata: { name: "s" },
  spec,
});
const cluster = (spec: Record<string, unknown>) => ({
  apiVersion: "reclaimer.dev/v1alpha1",
  kind: "ClusterServingSchedule",
  metadata: { name: "s" },
  spec: { namespaceSelector: {}, ...spec },
});
const IDLE = { after: "30m" };
const problems = (obj: unknown) => {
  const r = validateServingSchedule(obj);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};

test("defaults: onRequest false, timeout 5m, 100 held requests", () => {
  const r = validateServingSchedule(ns({ idle: IDLE, wake: {} }));
  assert.ok(r.ok);
  assert.deepEqual(r.schedule.spec.wake, { onRequest: false, timeout: "5m", maxHeldRequests: 100 });
});

test("wake.onRequest needs idle, in both kinds; without onRequest it does not", () => {
  const message = "spec.wake.onRequest: wake.onRequest needs an idle policy: a woken service stops again after idle.after of idleness";
  assert.deepEqual(problems(ns({ wake: { onRequest: true } })), [message]);
  assert.deepEqual(problems(cluster({ wake: { onRequest: true } })), [message]);
  assert.deepEqual(problems(ns({ wake: { onRequest: false } })), []);
  assert.deepEqual(problems(ns({ wake: { onRequest: true }, idle: IDLE })), []);
});

test("bounds and hostile values: a clear line each, no crash", () => {
  const cases: [unknown, RegExp][] = [
    [{ timeout: "9s" }, /spec\.wake\.timeout: must be between 10s and 30m/],
    [{ timeout: "31m" }, /between 10s and 30m/],
    [{ timeout: "99999999999999999999999999h" }, /between 10s and 30m/],
    [{ timeout: "" }, /spec\.wake\.timeout: must be a duration/],
    [{ timeout: "\u001b[31m5m" }, /must be a duration/],
    [{ timeout: 300 }, /spec\.wake\.timeout/],
    [{ maxHeldRequests: 0 }, /spec\.wake\.maxHeldRequests/],
    [{ maxHeldRequests: 10_001 }, /spec\.wake\.maxHeldRequests/],
    [{ maxHeldRequests: -1 }, /spec\.wake\.maxHeldRequests/],
    [{ maxHeldRequests: 1.5 }, /spec\.wake\.maxHeldRequests/],
    [{ maxHeldRequests: Number.NaN }, /spec\.wake\.maxHeldRequests/],
    [{ maxHeldRequests: "100" }, /spec\.wake\.maxHeldRequests/],
    [{ onRequest: "true" }, /spec\.wake\.onRequest/],
    [{ onRequest: true, extra: 1 }, /spec\.wake\.extra: unknown field/],
  ];
  for (const [wake, expected] of cases) {
    const got = problems(ns({ idle: IDLE, wake }));
    assert.ok(
      got.some((p) => expected.test(p)),
      `${JSON.stringify(wake)}: ${got.join(" | ")}`,
    );
  }
  assert.ok(problems(ns({ idle: IDLE, wake: "yes" })).length > 0);
  assert.ok(problems(ns({ idle: IDLE, wake: null })).length > 0);
});

test("the CRDs carry the bounds and the CEL rule", () => {
  for (const crd of [buildCrd("namespaced"), buildCrd("cluster")]) {
    const text = JSON.stringify(crd);
    assert.ok(text.includes("!has(self.wake) || !has(self.wake.onRequest) || !self.wake.onRequest || has(self.idle)"));
    assert.ok(text.includes('"maximum":10000'));
  }
});
