// The informer's transform of an InferenceService: what the cache keeps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toService } from "../../../src/sources/kube/service.ts";

test("keeps the annotations decisions read and drops kubectl's last-applied copy of the object", () => {
  const raw = {
    metadata: {
      name: "llama",
      namespace: "ml",
      resourceVersion: "7",
      managedFields: [{ manager: "kubectl" }],
      annotations: {
        "serving.kserve.io/stop": "true",
        team: "a",
        "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({ spec: { predictor: { model: "x".repeat(4000) } } }),
      },
    },
    spec: { predictor: {} },
  };
  const s = toService(raw, "Standard");
  assert.deepEqual(s.metadata.annotations, { "serving.kserve.io/stop": "true", team: "a" });
  assert.equal(s.metadata.resourceVersion, "7");
  assert.equal("managedFields" in s.metadata, false);
  assert.deepEqual(toService({ metadata: { name: "b", namespace: "ml" } }, "Standard").metadata.annotations, undefined);
});
