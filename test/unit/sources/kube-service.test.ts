// The informer's transform of an InferenceService: what the cache keeps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseServiceKey, serviceKey, toLlmService, toService } from "../../../src/sources/kube/service.ts";

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

test("service keys: an InferenceService keeps namespace/name, an LLMInferenceService of the same name is another key, and keys read back", () => {
  assert.equal(serviceKey("InferenceService", "ml", "llama"), "ml/llama");
  assert.equal(serviceKey("LLMInferenceService", "ml", "llama"), "ml/llmisvc/llama");
  for (const [kind, name] of [
    ["InferenceService", "llama"],
    ["LLMInferenceService", "llama"],
    ["InferenceService", "llmisvc"],
  ] as const)
    assert.deepEqual(parseServiceKey(serviceKey(kind, "ml", name)), { kind, namespace: "ml", name });
});

test("an LLMInferenceService becomes a Service: stopped by KServe when Ready=False reason Stopped; on a v1alpha1-only KServe it is unsupported", () => {
  const raw = {
    metadata: { name: "llama", namespace: "ml", annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" } },
    spec: { replicas: 2, template: { containers: [{ name: "main", resources: { limits: { "nvidia.com/gpu": "4" } } }] } },
    status: { conditions: [{ type: "Ready", status: "False", reason: "Stopped" }] },
  };
  const s = toLlmService(raw);
  assert.equal(s.kind, "LLMInferenceService");
  assert.equal(s.gpus, 8);
  assert.equal(s.stoppedByKServe, true);
  assert.equal(s.unsupported, undefined);
  assert.deepEqual(s.metadata.annotations, {});
  assert.match(toLlmService(raw, "v1alpha1").unsupported ?? "", /v1alpha1 only.*ignores serving\.kserve\.io\/stop/);
  const notStopped = toLlmService({ ...raw, status: { conditions: [{ type: "Ready", status: "False", reason: "Progressing" }] } });
  assert.equal(notStopped.stoppedByKServe, false);
  // an InferenceService reads Stopped=True, never Ready's reason
  assert.equal(toService({ ...raw, spec: {} }, "Standard").stoppedByKServe, false);
});
