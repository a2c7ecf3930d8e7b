// InferenceService parsing, deployment mode and GPU counting (gpusOf), with cases taken from
// KServe v0.16's types and controller (multi-node: components/predictor.go computeRayNodeAndGPUs).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deploymentModeOf,
  gpusOf,
  gpuBreakdown,
  multiNodeGpus,
  parseInferenceService,
  parseQuantity,
  replicasAtRest,
  isReady,
  isStoppedByKServe,
} from "../../../src/sources/kube/inferenceService.ts";

const gpu = (n: number | string, key = "nvidia.com/gpu") => ({ limits: { [key]: n } });

function isvc(spec: unknown, annotations: Record<string, string> = {}, status?: unknown) {
  return parseInferenceService({ metadata: { name: "m", namespace: "ns", annotations }, spec, status });
}

test("parse keeps only what is read and tolerates odd values", () => {
  const parsed = parseInferenceService({
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: { name: "a", namespace: "b", uid: "u", managedFields: [{ big: true }], labels: { x: "y" }, generation: 3 },
    spec: { predictor: { minReplicas: "two", model: { modelFormat: { name: "vllm" }, resources: gpu("2") }, tolerations: [] } },
    status: {
      conditions: [
        { type: "Ready", status: "True", reason: "x" },
        { type: "Stopped", status: "False" },
      ],
      address: {},
    },
  });
  assert.equal((parsed.metadata as Record<string, unknown>)["managedFields"], undefined);
  assert.equal(parsed.spec?.predictor?.minReplicas, undefined, "invalid minReplicas degrades to absent");
  assert.equal(parsed.spec?.predictor?.model?.resources?.limits?.["nvidia.com/gpu"], "2");
  assert.equal(isReady(parsed), true);
  assert.equal(isStoppedByKServe(parsed), false);
  assert.throws(() => parseInferenceService({ metadata: { name: "no-namespace" } }));
});

test("deployment mode: status first, then annotation (legacy names), then the cluster default", () => {
  assert.equal(deploymentModeOf(isvc({}, { "serving.kserve.io/deploymentMode": "Serverless" })), "Knative");
  assert.equal(deploymentModeOf(isvc({}, { "serving.kserve.io/deploymentMode": "RawDeployment" })), "Standard");
  assert.equal(deploymentModeOf(isvc({}, { "serving.kserve.io/deploymentMode": "ModelMesh" })), "ModelMesh");
  assert.equal(deploymentModeOf(isvc({}, { "serving.kserve.io/deploymentMode": "bogus" })), "Standard");
  assert.equal(deploymentModeOf(isvc({}, {}), "Knative"), "Knative");
  assert.equal(
    deploymentModeOf(isvc({}, { "serving.kserve.io/deploymentMode": "Knative" }, { deploymentMode: "RawDeployment" })),
    "Standard",
  );
});

test("quantities", () => {
  assert.equal(parseQuantity("2"), 2);
  assert.equal(parseQuantity(4), 4);
  assert.equal(parseQuantity("1k"), 1000);
  assert.equal(parseQuantity("500m"), 0.5);
  assert.equal(parseQuantity("1Ki"), 1024);
  assert.equal(parseQuantity("lots"), undefined);
});

test("gpusOf: containers, model, any vendor /gpu, limits before requests", () => {
  assert.equal(gpusOf(isvc({ predictor: { containers: [{ name: "kserve-container", resources: gpu("4") }] } })), 4);
  assert.equal(gpusOf(isvc({ predictor: { model: { resources: gpu(2) } } })), 2);
  assert.equal(gpusOf(isvc({ predictor: { huggingface: { resources: gpu(1, "amd.com/gpu") } } })), 1);
  assert.equal(gpusOf(isvc({ predictor: { model: { resources: { requests: { "intel.com/gpu": "3" } } } } })), 3, "request when no limit");
  assert.equal(
    gpusOf(isvc({ predictor: { model: { resources: { limits: { "nvidia.com/gpu": "2" }, requests: { "nvidia.com/gpu": "1" } } } } })),
    2,
  );
  assert.equal(
    gpusOf(isvc({ predictor: { model: { resources: { limits: { cpu: "8", memory: "32Gi", "nvidia.com/mig-1g.5gb": "1" } } } } })),
    0,
    "only */gpu",
  );
  assert.equal(gpusOf(isvc({ predictor: { model: { resources: gpu(1, "habana.ai/gaudi") } } })), 1);
  assert.equal(gpusOf(isvc({ predictor: { model: { resources: { limits: { "nvidia.com/gpu": "1", "amd.com/gpu": "1" } } } } })), 2);
  assert.equal(gpusOf(isvc({})), 0);
  assert.equal(gpusOf(isvc(undefined)), 0);
});

test("gpusOf: every component, times replicas at rest", () => {
  const spec = {
    predictor: { minReplicas: 2, model: { resources: gpu(2) }, containers: [{ name: "sidecar", resources: gpu(1) }] },
    transformer: { minReplicas: 3, containers: [{ name: "t", resources: gpu(1) }] },
    explainer: { art: { resources: gpu(1) } },
  };
  assert.equal(gpusOf(isvc(spec)), (2 + 1) * 2 + 1 * 3 + 1 * 1);
  assert.deepEqual(
    gpuBreakdown(isvc(spec)).map((c) => [c.component, c.perReplica, c.replicas]),
    [
      ["predictor", 3, 2],
      ["transformer", 1, 3],
      ["explainer", 1, 1],
    ],
  );
});

test("minReplicas 0: Knative scales to zero (0); Standard with HPA is raised to 1; none/keda keep 0", () => {
  const spec = { predictor: { minReplicas: 0, model: { resources: gpu(2) } } };
  assert.equal(gpusOf(isvc(spec, { "serving.kserve.io/deploymentMode": "Serverless" })), 0);
  assert.equal(gpusOf(isvc(spec, { "serving.kserve.io/deploymentMode": "Standard" })), 2);
  assert.equal(gpusOf(isvc(spec, { "serving.kserve.io/deploymentMode": "Standard", "serving.kserve.io/autoscalerClass": "hpa" })), 2);
  assert.equal(gpusOf(isvc(spec, { "serving.kserve.io/deploymentMode": "Standard", "serving.kserve.io/autoscalerClass": "none" })), 0);
  assert.equal(gpusOf(isvc(spec, { "serving.kserve.io/deploymentMode": "Standard", "serving.kserve.io/autoscalerClass": "keda" })), 0);
  assert.equal(gpusOf(isvc(spec, {}), { defaultDeploymentMode: "Knative" }), 0);
  assert.equal(replicasAtRest(undefined, "Knative", undefined), 1, "default 1");
});

test("ModelMesh: the service owns no pods", () => {
  assert.equal(gpusOf(isvc({ predictor: { model: { resources: gpu(2) } } }, { "serving.kserve.io/deploymentMode": "ModelMesh" })), 0);
});

test("multi-node: KServe computeRayNodeAndGPUs cases", () => {
  // Case 1: worker GPUs set, head not: nodes = ceil(TP*PP / worker), head takes the rest.
  assert.deepEqual(multiNodeGpus(0, 2, 2, 2), { head: 2, workers: 2, nodes: 2 });
  assert.deepEqual(multiNodeGpus(0, 1, 1, 4), { head: 1, workers: 3, nodes: 4 });
  // Head and worker set, head alone can hold everything: single node.
  assert.deepEqual(multiNodeGpus(4, 1, 2, 2), { head: 4, workers: 0, nodes: 1 });
  // Case 3: only head GPUs: single-GPU workers for the remainder.
  assert.deepEqual(multiNodeGpus(2, 0, 4, 1), { head: 2, workers: 2, nodes: 3 });
  // Case 4: nothing declared: one GPU per node, TP*PP nodes.
  assert.deepEqual(multiNodeGpus(0, 0, 1, 3), { head: 1, workers: 2, nodes: 3 });
  // Defaults TP = PP = 1.
  assert.deepEqual(multiNodeGpus(0, 0), { head: 1, workers: 0, nodes: 1 });
});

test("gpusOf: multi-node predictor counts head and worker pods", () => {
  const spec = {
    predictor: {
      model: { resources: gpu(2) },
      workerSpec: { pipelineParallelSize: 2, tensorParallelSize: 2, containers: [{ name: "worker-container", resources: gpu(2) }] },
    },
  };
  assert.equal(gpusOf(isvc(spec)), 4);
  const b = gpuBreakdown(isvc(spec))[0];
  assert.equal(b?.perReplica, 2);
  assert.equal(b?.workers, 2);
  // Three pipeline stages of 1 GPU each, nothing declared on the head.
  assert.equal(gpusOf(isvc({ predictor: { model: {}, workerSpec: { pipelineParallelSize: 3, containers: [{ resources: gpu(1) }] } } })), 3);
});
