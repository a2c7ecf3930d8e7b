// Durations in a ServingSchedule have bounds, checked where the schedule is validated (the CLI's
// validate and the daemon share validateServingSchedule): a typo such as 5s or 999999h is refused
// with the range, not honoured.
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateServingSchedule } from "../../../src/api/validate.ts";

function problems(spec: Record<string, unknown>): string[] {
  const r = validateServingSchedule({
    apiVersion: "reclaimer.dev/v1alpha1",
    kind: "ServingSchedule",
    metadata: { name: "s", namespace: "ns" },
    spec,
  });
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

test("idle.after is between 10s and 168h", () => {
  for (const after of ["10s", "30m", "1h30m", "168h"]) assert.deepEqual(problems({ idle: { after } }), [], after);
  for (const after of ["0s", "0m", "5s", "9s", "168h1s", "169h", "999999h", "99999999999999999999h"]) {
    assert.deepEqual(problems({ idle: { after } }), ["spec.idle.after: must be between 10s and 168h"], after);
  }
});

test("warmup is at most 24h", () => {
  for (const warmup of ["0s", "15m", "24h"]) assert.deepEqual(problems({ warmup }), [], warmup);
  for (const warmup of ["24h1s", "48h", "99999999h"]) assert.deepEqual(problems({ warmup }), ["spec.warmup: must be at most 24h"], warmup);
});
