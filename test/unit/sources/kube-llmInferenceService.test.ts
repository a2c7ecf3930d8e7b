// LLMInferenceService parsing and GPU counting, with shapes from KServe v0.17's types
// (pkg/apis/serving/v1alpha2) and controller (pkg/controller/v1alpha2/llmisvc workload_*.go).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  groupSize,
  LLMISVC_API_VERSION,
  LLMISVC_RESOURCE,
  llmGpuBreakdown,
  llmGpuCount,
  llmStoppedByKServe,
  parseLLMInferenceService,
} from "../../../src/sources/kube/llmInferenceService.ts";
import { MAX_GPUS_PER_SERVICE } from "../../../src/sources/kube/inferenceService.ts";

const gpu = (n: number | string, key = "nvidia.com/gpu") => ({ limits: { [key]: n } });
const pod = (...resources: unknown[]) => ({ containers: resources.map((r, i) => ({ name: `c${i}`, resources: r })) });

function llm(spec: unknown, status?: unknown) {
  return parseLLMInferenceService({ metadata: { name: "m", namespace: "ns" }, spec, status });
}
const count = (spec: unknown) => llmGpuCount(llm(spec));

test("constants", () => {
  assert.equal(LLMISVC_API_VERSION, "serving.kserve.io/v1alpha2");
  assert.deepEqual(LLMISVC_RESOURCE, { group: "serving.kserve.io", version: "v1alpha2", plural: "llminferenceservices" });
});

test("parse keeps what is read; missing name or namespace throws", () => {
  const parsed = parseLLMInferenceService({
    apiVersion: "serving.kserve.io/v1alpha2",
    kind: "LLMInferenceService",
    metadata: { name: "a", namespace: "b", managedFields: [{}] },
    spec: { model: { uri: "hf://x" }, replicas: 2, baseRefs: [{ name: "cfg" }], prefill: { replicas: 1 } },
    status: { url: "http://x", conditions: [{ type: "Ready", status: "True" }] },
  });
  assert.equal((parsed.metadata as Record<string, unknown>)["managedFields"], undefined);
  assert.equal(parsed.spec?.replicas, 2);
  assert.deepEqual(parsed.spec?.baseRefs, [{ name: "cfg" }]);
  assert.equal(parsed.spec?.prefill?.replicas, 1);
  assert.equal(parsed.status?.url, "http://x");
  assert.throws(() => parseLLMInferenceService({ metadata: { namespace: "ns" } }));
  assert.throws(() => parseLLMInferenceService({ metadata: { name: "n" } }));
  assert.throws(() => parseLLMInferenceService({}));
});

test("single node: 1 replica x 2 GPUs", () => {
  assert.deepEqual(count({ template: pod(gpu("2")) }), { gpus: 2, problems: [] });
  assert.deepEqual(llmGpuBreakdown(llm({ template: pod(gpu("2")) })), [
    { workload: "main", replicas: 1, groupSize: 1, multiNode: false, leaderGpus: 2, workerGpus: 0, total: 2 },
  ]);
});

test("replicas 3 and replicas 0", () => {
  assert.equal(count({ replicas: 3, template: pod(gpu(2)) }).gpus, 6);
  assert.deepEqual(count({ replicas: 0, template: pod(gpu(2)) }), { gpus: 0, problems: [] });
  assert.equal(count({ replicas: 0, worker: pod(gpu(8)), parallelism: { pipeline: 2 } }).gpus, 0);
});

test("GPUs summed over containers; limit before request; other vendors; no GPU", () => {
  assert.equal(count({ template: pod(gpu(1), gpu(2, "amd.com/gpu"), { requests: { cpu: "4" } }) }).gpus, 3);
  assert.equal(count({ template: pod({ limits: { "amd.com/gpu": "4" }, requests: { "amd.com/gpu": "1" } }) }).gpus, 4);
  assert.equal(count({ template: pod({ requests: { "amd.com/gpu": "2" } }) }).gpus, 2);
  assert.equal(count({ template: pod(gpu(1, "habana.ai/gaudi")) }).gpus, 1);
  assert.deepEqual(count({ template: pod({ limits: { cpu: "1" } }) }), { gpus: 0, problems: [] });
  assert.deepEqual(count({}), { gpus: 0, problems: [] });
  assert.deepEqual(llmGpuBreakdown(llm({ replicas: 3 })), [], "no template, worker or prefill: nothing read");
});

test("prefill/decode: prefill 2 x 1 GPU + main 1 x 4", () => {
  const l = llm({ template: pod(gpu(4)), prefill: { replicas: 2, template: pod(gpu(1)) } });
  assert.deepEqual(llmGpuBreakdown(l), [
    { workload: "main", replicas: 1, groupSize: 1, multiNode: false, leaderGpus: 4, workerGpus: 0, total: 4 },
    { workload: "prefill", replicas: 2, groupSize: 1, multiNode: false, leaderGpus: 1, workerGpus: 0, total: 2 },
  ]);
  assert.deepEqual(llmGpuCount(l), { gpus: 6, problems: [] });
});

test("KServe dp-ep sample shape: data 16 / dataLocal 8, 8 GPUs per pod -> group of 2, 16 GPUs", () => {
  const spec = {
    replicas: 1,
    parallelism: { data: 16, dataLocal: 8, expert: true, tensor: 1 },
    template: pod({ limits: { cpu: 128, "nvidia.com/gpu": "8" }, requests: { cpu: 64, "nvidia.com/gpu": "8" } }),
    worker: pod({ limits: { cpu: 128, "nvidia.com/gpu": "8" }, requests: { cpu: 64, "nvidia.com/gpu": "8" } }),
  };
  assert.deepEqual(llmGpuBreakdown(llm(spec)), [
    { workload: "main", replicas: 1, groupSize: 2, multiNode: true, leaderGpus: 8, workerGpus: 8, total: 16 },
  ]);
  assert.equal(count(spec).gpus, 16);
  assert.equal(count({ ...spec, replicas: 2 }).gpus, 32);
});

test("pipeline 4, worker only (the leader is a worker pod), 1 GPU each -> 4", () => {
  const spec = { parallelism: { pipeline: 4 }, worker: pod(gpu(1)) };
  assert.deepEqual(llmGpuBreakdown(llm(spec)), [
    { workload: "main", replicas: 1, groupSize: 4, multiNode: true, leaderGpus: 1, workerGpus: 1, total: 4 },
  ]);
  // A leader template with no GPU: only the 3 workers hold GPUs.
  assert.equal(count({ ...spec, template: pod({ limits: { cpu: "1" } }) }).gpus, 3);
  // Multi-node prefill too.
  assert.equal(count({ prefill: { replicas: 2, parallelism: { pipeline: 2 }, template: pod(gpu(2)), worker: pod(gpu(4)) } }).gpus, 12);
});

test("groupSize follows KServe GetSize", () => {
  assert.equal(groupSize(undefined), 1);
  assert.equal(groupSize({}), 1);
  assert.equal(groupSize({ tensor: 8 }), 1, "tensor does not change pod counts");
  assert.equal(groupSize({ pipeline: 3 }), 3);
  assert.equal(groupSize({ data: 16, dataLocal: 8 }), 2);
  assert.equal(groupSize({ data: 17, dataLocal: 8 }), 2, "integer division");
  assert.equal(groupSize({ data: 4, dataLocal: 8 }), 1, "at least 1");
  assert.equal(groupSize({ data: 4 }), 4, "dataLocal absent counts 1");
  assert.equal(groupSize({ dataLocal: 8 }), 1, "data absent counts 1");
  assert.equal(groupSize({ data: 0, dataLocal: 0 }), 1, "neither > 0: not data parallel");
  assert.equal(groupSize({ data: 0, dataLocal: 0, pipeline: 2 }), 2);
  assert.equal(groupSize({ data: 8, dataLocal: 0 }), 8, "dataLocal 0: no division by zero");
  assert.equal(groupSize({ data: 0, dataLocal: 4 }), 1);
  assert.equal(groupSize({ data: -8, dataLocal: -2, pipeline: -3 }), 1);
  assert.equal(groupSize({ data: 8, dataLocal: 2, pipeline: 5 }), 4, "data parallel first");
});

test("hostile GPU quantities count 0 with a problem naming where", () => {
  for (const q of ["1.5", "-1", "1e400", "NaN", "Infinity", "0x10", "", "abc", "500m"]) {
    const c = count({ template: pod(gpu(q), gpu(1)) });
    assert.equal(c.gpus, 1, `quantity ${JSON.stringify(q)}`);
    assert.equal(c.problems.length, 1, `quantity ${JSON.stringify(q)}`);
    assert.match(c.problems[0] ?? "", /^spec\.template\.containers\[c0\]: limits\.nvidia\.com\/gpu /);
  }
  const huge = "9".repeat(10 * 1024 * 1024);
  const c = count({ prefill: { worker: { containers: [{ name: "w", resources: { requests: { "nvidia.com/gpu": huge } } }] } } });
  assert.equal(c.gpus, 0);
  assert.equal(c.problems.length, 1);
  assert.match(c.problems[0] ?? "", /^spec\.prefill\.worker\.containers\[w\]: requests\.nvidia\.com\/gpu /);
  assert.ok((c.problems[0] ?? "").length < 300, "the problem text does not carry the whole string");
  // A worker used as the leader (no template) reports its bad quantity once.
  assert.equal(count({ parallelism: { pipeline: 2 }, worker: pod(gpu("x")) }).problems.length, 1);
  // A long container name is shortened in the problem text.
  const long = count({ template: { containers: [{ name: "n".repeat(100_000), resources: gpu("x") }] } });
  assert.ok((long.problems[0] ?? "").length < 300);
});

test("hostile replicas and parallelism", () => {
  // An invalid replicas degrades to absent (1), as KServe's nil.
  assert.equal(count({ replicas: -3, template: pod(gpu(1)) }).gpus, 1);
  assert.equal(count({ replicas: "x", template: pod(gpu(1)) }).gpus, 1);
  assert.equal(count({ replicas: 1.5, template: pod(gpu(1)) }).gpus, 1);
  // 1e9 replicas is a valid int32, and far beyond the cap: 0 with a problem.
  const big = count({ replicas: 1e9, template: pod(gpu(1)) });
  assert.equal(big.gpus, 0);
  assert.match(big.problems[0] ?? "", new RegExp(`1000000000 GPUs in total .* more than ${MAX_GPUS_PER_SERVICE}`));
  assert.equal(count({ parallelism: { data: 0 }, worker: pod(gpu(2)) }).gpus, 2);
  assert.equal(count({ parallelism: { data: 16, dataLocal: 0 }, template: pod(gpu(1)), worker: pod(gpu(1)) }).gpus, 16);
  assert.equal(count({ parallelism: { pipeline: "4" }, worker: pod(gpu(1)) }).gpus, 1, "odd parallelism degrades to absent");
  // Huge group sizes: over the cap as a whole.
  const wide = count({ replicas: 1000, parallelism: { pipeline: 2 ** 31 - 1 }, worker: pod(gpu(8)) });
  assert.equal(wide.gpus, 0);
  assert.equal(wide.problems.length, 1);
  const unsafe = count({ replicas: 2 ** 31 - 1, parallelism: { data: 2 ** 31 - 1 }, template: pod(gpu(1024)), worker: pod(gpu(1024)) });
  assert.equal(unsafe.gpus, 0);
  assert.match(unsafe.problems[0] ?? "", /more than/);
  // Exactly the cap is allowed.
  assert.equal(count({ replicas: MAX_GPUS_PER_SERVICE, template: pod(gpu(1)) }).gpus, MAX_GPUS_PER_SERVICE);
  assert.equal(count({ replicas: MAX_GPUS_PER_SERVICE + 1, template: pod(gpu(1)) }).gpus, 0);
});

test("wrong types everywhere degrade to absent", () => {
  assert.deepEqual(count("x"), { gpus: 0, problems: [] });
  assert.equal(llm("x").spec, undefined);
  assert.deepEqual(count({ template: 5 }), { gpus: 0, problems: [] });
  assert.deepEqual(count({ template: { containers: {} } }), { gpus: 0, problems: [] });
  assert.deepEqual(count({ template: { containers: [{ resources: "x" }] } }), { gpus: 0, problems: [] });
  assert.deepEqual(count({ template: { containers: [{ resources: { limits: 5 } }] } }), { gpus: 0, problems: [] });
  assert.deepEqual(count({ template: { containers: [{ resources: { limits: { "nvidia.com/gpu": {} } } }] } }), {
    gpus: 0,
    problems: [],
  });
  assert.deepEqual(count({ prefill: "x", worker: [], parallelism: 7 }), { gpus: 0, problems: [] });
  assert.equal(llm({ prefill: "x" }).spec?.prefill, undefined);
  const l = llm({ baseRefs: "cfg" }, { conditions: "x", url: 5 });
  assert.equal(l.spec?.baseRefs, undefined);
  assert.equal(l.status?.conditions, undefined);
  assert.equal(l.status?.url, undefined);
  assert.equal(llm({}, "x").status, undefined);
  // An unnamed container is named by its index.
  assert.match(count({ template: { containers: [{ resources: gpu("x") }] } }).problems[0] ?? "", /containers\[0\]/);
});

test("baseRefs with no GPU in the spec is flagged; with GPUs declared it is not", () => {
  const flagged = count({ baseRefs: [{ name: "gpu-cfg" }, { name: "other" }], template: pod({ limits: { cpu: "1" } }) });
  assert.deepEqual(flagged, {
    gpus: 0,
    problems: [
      "GPUs may come from spec.baseRefs (gpu-cfg, other), which this count does not read; the live pods' count is used while they run",
    ],
  });
  assert.equal(count({ baseRefs: [{ name: "c" }] }).problems.length, 1, "no workload in the spec at all");
  assert.deepEqual(count({ baseRefs: [{ name: "c" }], template: pod(gpu(2)) }), { gpus: 2, problems: [] });
  assert.deepEqual(count({ baseRefs: [{ name: "c" }], replicas: 0, template: pod(gpu(2)) }), { gpus: 0, problems: [] });
  assert.deepEqual(count({ baseRefs: [], template: pod() }), { gpus: 0, problems: [] });
  const many = count({ baseRefs: Array.from({ length: 10_000 }, (_, i) => ({ name: `cfg-${i}` })) });
  assert.match(many.problems[0] ?? "", /\(cfg-0, .*, cfg-7, 9992 more\)/);
});

test("llmStoppedByKServe: Ready False with reason Stopped", () => {
  assert.equal(llmStoppedByKServe([{ type: "Ready", status: "False", reason: "Stopped", message: "Service is stopped" }]), true);
  assert.equal(llmStoppedByKServe([{ type: "Ready", status: "False", reason: "WaitingForGateway" }]), false);
  assert.equal(llmStoppedByKServe([{ type: "Ready", status: "False" }]), false);
  assert.equal(llmStoppedByKServe([{ type: "Ready", status: "True", reason: "Stopped" }]), false);
  assert.equal(llmStoppedByKServe([{ type: "MainWorkloadReady", status: "False", reason: "Stopped" }]), false);
  assert.equal(llmStoppedByKServe([]), false);
  assert.equal(llmStoppedByKServe(undefined), false);
  const stopped = llm({}, { conditions: [{ type: "Ready", status: "False", reason: "Stopped" }] });
  assert.equal(llmStoppedByKServe(stopped.status?.conditions), true);
});
