// Smoke test of the local control plane: a GPU InferenceService on the real
// kube-apiserver, reconciled by the real KServe v0.16.0 controller in Standard
// mode, scheduled on kwok GPU nodes, stopped and resumed with
// serving.kserve.io/stop, with simulator traffic visible in Prometheus.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { KubernetesObject, V1Pod, V1Deployment, V1Node } from "@kubernetes/client-node";
import { clusterFromEnv } from "../support/cluster.ts";
import { SimulatorClient } from "../support/simulator.ts";
import {
  condition,
  eventually,
  gpuInferenceService,
  kubeClient,
  mergePatch,
  promQuery,
  readOrUndefined,
  type InferenceService,
} from "../support/kube.ts";

const env = clusterFromEnv();
const { objects } = kubeClient(env.kubeconfigPath);
const sim = new SimulatorClient(env.simulatorUrl);
const ns = `smoke-${randomBytes(3).toString("hex")}`;
const name = "llama";
const target = `${ns}/${name}`;
const STOP = "serving.kserve.io/stop";
let predictorNode = "";
const ISVC_LABEL = "serving.kserve.io/inferenceservice";

function gpuIsvc(isvcName: string, gpus: number): InferenceService {
  return gpuInferenceService(ns, isvcName, { gpus }) as InferenceService;
}

const isvcRef = (n: string) => ({
  apiVersion: "serving.kserve.io/v1beta1",
  kind: "InferenceService",
  metadata: { name: n, namespace: ns },
});
const readIsvc = (n = name) => readOrUndefined<InferenceService>(objects, isvcRef(n));

async function pods(isvcName = name): Promise<V1Pod[]> {
  const list = await objects.list<V1Pod>("v1", "Pod", ns, undefined, undefined, undefined, undefined, `${ISVC_LABEL}=${isvcName}`);
  return list.items;
}

const readyPod = (p: V1Pod) =>
  !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

async function describeIsvc(): Promise<string> {
  const isvc = await readIsvc();
  const podList = await pods();
  return `InferenceService conditions: ${JSON.stringify(isvc?.status?.conditions ?? [])}\npods: ${JSON.stringify(podList.map((p) => ({ name: p.metadata?.name, phase: p.status?.phase, node: p.spec?.nodeName, conditions: p.status?.conditions })))}`;
}

async function gpusRequestedOn(nodeName: string): Promise<number> {
  const list = await objects.list<V1Pod>("v1", "Pod", undefined, undefined, undefined, undefined, `spec.nodeName=${nodeName}`);
  return list.items
    .filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
    .flatMap((p) => p.spec?.containers ?? [])
    .reduce((sum, c) => sum + Number(c.resources?.requests?.["nvidia.com/gpu"] ?? 0), 0);
}

describe("smoke: real kube-apiserver + KServe v0.16.0 (Standard mode) + kwok GPU nodes + Prometheus", () => {
  before(async () => {
    await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject);
    await objects.create(gpuIsvc(name, 1));
  });

  after(async () => {
    await sim.stop().catch(() => {});
    await objects.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject).catch(() => {});
  });

  test("KServe creates the predictor Deployment; its pod is Ready on a kwok node with a GPU allocated", async () => {
    const deployment = await eventually(
      "Deployment llama-predictor with 1 ready replica",
      async () => {
        const d = await readOrUndefined<V1Deployment>(objects, {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: `${name}-predictor`, namespace: ns },
        });
        return d?.status?.readyReplicas === 1 ? d : undefined;
      },
      { timeoutMs: 90_000, describe: describeIsvc },
    );
    assert.equal(deployment.metadata?.labels?.[ISVC_LABEL], name);
    const [pod] = (await pods()).filter(readyPod);
    assert.ok(pod, "a Ready predictor pod");
    const nodeName = pod.spec?.nodeName ?? "";
    assert.match(nodeName, /^kwok-gpu-\d+$/);
    predictorNode = nodeName;
    assert.equal(pod.spec?.containers[0]?.resources?.limits?.["nvidia.com/gpu"], "1");
    const node = await objects.read<V1Node>({ apiVersion: "v1", kind: "Node", metadata: { name: nodeName } });
    assert.equal(node.status?.allocatable?.["nvidia.com/gpu"], "4");
    assert.ok((await gpusRequestedOn(nodeName)) >= 1, "the scheduler allocated a GPU on the node");
    const isvc = await eventually(
      "InferenceService Ready=True",
      async () => {
        const i = await readIsvc();
        return condition(i, "Ready")?.status === "True" ? i : undefined;
      },
      { timeoutMs: 60_000, describe: describeIsvc },
    );
    assert.equal(condition(isvc, "PredictorReady")?.status, "True");
  });

  test("simulator traffic to the ready service shows up in PromQL under the real servers' metric names", async () => {
    await sim.send(target, { rps: 10, seconds: 8 });
    const queries = [
      `sum(request_predict_seconds_count{namespace="${ns}",model_name="${name}"})`,
      `sum(vllm:request_success_total{namespace="${ns}",model_name="${name}"})`,
      `sum(revision_app_request_count{namespace_name="${ns}",service_name="${name}-predictor"})`,
      `sum(istio_requests_total{reporter="destination",destination_service_namespace="${ns}",destination_service_name="${name}-predictor"})`,
    ];
    for (const q of queries) {
      const value = await eventually(
        `PromQL ${q} > 0`,
        async () => {
          const [sample] = await promQuery(env.prometheusUrl, q);
          return sample && Number(sample.value[1]) > 0 ? Number(sample.value[1]) : undefined;
        },
        { timeoutMs: 30_000 },
      );
      assert.ok(value > 0);
    }
    const rate = await eventually(
      "a positive request rate",
      async () => {
        const [sample] = await promQuery(
          env.prometheusUrl,
          `sum(rate(request_predict_seconds_count{namespace="${ns}",model_name="${name}"}[5s]))`,
        );
        return sample && Number(sample.value[1]) > 0 ? Number(sample.value[1]) : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.ok(rate > 0);
    assert.equal(await sim.predict(target), 200);
  });

  test('serving.kserve.io/stop="true": KServe sets Stopped=True, Ready=False and the pod goes away (GPU free)', async () => {
    const begin = Date.now();
    await mergePatch(objects, { ...isvcRef(name), metadata: { ...isvcRef(name).metadata, annotations: { [STOP]: "true" } } });
    const isvc = await eventually(
      "Stopped=True and Ready=False",
      async () => {
        const i = await readIsvc();
        return condition(i, "Stopped")?.status === "True" && condition(i, "Ready")?.status === "False" ? i : undefined;
      },
      { timeoutMs: 60_000, describe: describeIsvc },
    );
    assert.equal(condition(isvc, "Ready")?.reason, "Stopped");
    assert.equal(condition(isvc, "PredictorReady")?.status, "False");
    assert.equal(condition(isvc, "PredictorReady")?.reason, "Stopped");
    assert.equal(condition(isvc, "IngressReady")?.status, "False");
    assert.equal(isvc.status?.url, undefined, "no URL while stopped");
    await eventually(
      "the predictor Deployment is deleted",
      async () =>
        (await readOrUndefined(objects, {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: `${name}-predictor`, namespace: ns },
        })) === undefined,
      { timeoutMs: 60_000 },
    );
    await eventually("no predictor pod is left", async () => (await pods()).length === 0, { timeoutMs: 60_000, describe: describeIsvc });
    process.stderr.write(`# stop took ${((Date.now() - begin) / 1000).toFixed(1)} s until the pod was gone\n`);
    const stillOnNode = (await objects.list<V1Pod>("v1", "Pod", ns, undefined, undefined, undefined, `spec.nodeName=${predictorNode}`))
      .items;
    assert.deepEqual(
      stillOnNode.map((p) => p.metadata?.name),
      [],
      "the GPU on the node is free: no pod of this namespace is left there",
    );
    assert.equal(await sim.predict(target), 503, "a stopped service answers no predict request");
    await eventually(
      "the stopped service's series disappear from Prometheus",
      async () =>
        (await promQuery(env.prometheusUrl, `request_predict_seconds_count{namespace="${ns}",model_name="${name}"}`)).length === 0,
      { timeoutMs: 30_000 },
    );
  });

  test('serving.kserve.io/stop="false": the service comes back Ready', async () => {
    const begin = Date.now();
    await mergePatch(objects, { ...isvcRef(name), metadata: { ...isvcRef(name).metadata, annotations: { [STOP]: "false" } } });
    const isvc = await eventually(
      "Ready=True again",
      async () => {
        const i = await readIsvc();
        return condition(i, "Ready")?.status === "True" ? i : undefined;
      },
      { timeoutMs: 90_000, describe: describeIsvc },
    );
    process.stderr.write(`# resume took ${((Date.now() - begin) / 1000).toFixed(1)} s until Ready=True\n`);
    assert.notEqual(condition(isvc, "Stopped")?.status, "True");
    assert.equal((await pods()).filter(readyPod).length, 1);
    await eventually("the simulator serves it again", async () => (await sim.predict(target)) === 200, { timeoutMs: 15_000 });
  });

  test("GPU pods stay Pending when no node has enough free GPUs", async () => {
    const big = "too-big";
    await objects.create(gpuIsvc(big, 5)); // every node has 4
    const pod = await eventually(
      "an unschedulable predictor pod",
      async () => {
        const p = (await pods(big)).find((x) =>
          (x.status?.conditions ?? []).some((c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable"),
        );
        return p;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(pod.status?.phase, "Pending");
    assert.match(pod.status?.conditions?.find((c) => c.type === "PodScheduled")?.message ?? "", /nvidia\.com\/gpu/);
    assert.notEqual(condition(await readIsvc(big), "Ready")?.status, "True");
  });
});
