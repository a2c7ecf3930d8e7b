import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_GPUS_PER_SERVICE,
  gpuCount,
  gpusOf,
  parseGpuQuantity,
  parseInferenceService,
  parseQuantity,
} from "../../../src/sources/kube/inferenceService.ts";

const isvc = (gpu: unknown, extra: Record<string, unknown> = {}) =>
  parseInferenceService({
    metadata: { name: "m", namespace: "ml" },
    spec: { predictor: { model: { resources: { limits: { "nvidia.com/gpu": gpu } } }, ...extra } },
  });

test("GPU quantities: whole numbers of GPUs within bounds, everything else reported", () => {
  for (const [q, n] of [
    ["1", 1],
    [2, 2],
    ["0", 0],
    ["1k", 1000],
    ["8e0", 8],
    ["+4", 4],
  ] as const)
    assert.deepEqual(parseGpuQuantity(q), { ok: true, gpus: n }, String(q));
  const bad: [string | number, RegExp][] = [
    ["1e400", /is not a Kubernetes quantity/],
    [-1, /is negative/],
    ["-1", /is negative/],
    ["1.5", /not a whole number/],
    ["500m", /not a whole number/],
    ["abc", /is not a Kubernetes quantity/],
    ["1000000000", /more than 1024 GPUs/],
    ["1G", /more than 1024 GPUs/],
    ["9".repeat(300), /is not a Kubernetes quantity/],
  ];
  for (const [q, why] of bad) {
    const r = parseGpuQuantity(q);
    assert.equal(r.ok, false, String(q));
    if (!r.ok) assert.match(r.why, why);
  }
  assert.equal(parseQuantity("1.005k"), 1005, "decimal suffixes are exact");
});

test("gpusOf never returns a non-finite or unbounded count", () => {
  assert.equal(gpusOf(isvc("1e400")), 0);
  assert.equal(gpusOf(isvc("2")), 2);
  const c = gpuCount(isvc("1.5"));
  assert.equal(c.gpus, 0);
  assert.match(c.problems[0] ?? "", /predictor\.model: limits\.nvidia\.com\/gpu "1\.5" is not a whole number of GPUs/);
  const huge = gpuCount(isvc("8", { minReplicas: 1_000_000 }));
  assert.equal(huge.gpus, 0);
  assert.match(huge.problems.join(";"), new RegExp(`more than ${MAX_GPUS_PER_SERVICE}`));
});
