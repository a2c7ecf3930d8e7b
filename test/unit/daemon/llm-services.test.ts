// The reconciler governs LLMInferenceServices through the same ports as InferenceServices: one
// schedule, both kinds, each patched as its own kind, an LLMInferenceService and an
// InferenceService of one name kept apart, and a v1alpha1-only KServe's LLMInferenceService left alone.
import assert from "node:assert/strict";
import test from "node:test";
import { STOP } from "../../../src/api/annotations.ts";
import type { ServiceId } from "../../../src/sources/kube/service.ts";
import { toLlmService } from "../../../src/sources/kube/service.ts";
import { harness, service } from "./harness.ts";

const llm = (name: string, version?: string) =>
  toLlmService(
    {
      metadata: { name, namespace: "ml", resourceVersion: "1", creationTimestamp: "2026-11-01T00:00:00Z", labels: {} },
      spec: { replicas: 1, template: { containers: [{ name: "main", resources: { limits: { "nvidia.com/gpu": "8" } } }] } },
      status: { conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2026-11-01T00:00:00Z" }] },
    },
    version,
  );

test("one schedule stops both kinds, each patched as its own kind; same-named services stay apart", async () => {
  const targets: ServiceId[] = [];
  const h = harness({
    services: [service("llama"), llm("llama")],
    schedule: { uptime: [] },
    overrides: {
      patchAnnotations: async (target, annotations) => {
        if (annotations[STOP] === "true") targets.push(target);
        return { kind: "ok", resourceVersion: "2", annotations: {} };
      },
    },
  });
  h.reconciler.start();
  await h.clock.advance(2_000);
  assert.deepEqual(targets.map((t) => `${t.kind} ${t.namespace}/${t.name}`).sort(), [
    "InferenceService ml/llama",
    "LLMInferenceService ml/llama",
  ]);
});

test("an LLMInferenceService on a KServe that serves only v1alpha1 is reported Unsupported and never patched", async () => {
  const targets: ServiceId[] = [];
  const h = harness({
    services: [llm("old", "v1alpha1")],
    schedule: { uptime: [] },
    overrides: {
      patchAnnotations: async (target) => {
        targets.push(target);
        return { kind: "ok", resourceVersion: "2", annotations: {} };
      },
    },
  });
  h.reconciler.start();
  await h.clock.advance(2_000);
  assert.deepEqual(targets, []);
  assert.ok(
    h.events.some((e) => e.reason === "Unsupported" && /v1alpha1 only/.test(e.message)),
    JSON.stringify(h.events),
  );
});
