// InferenceServices in Knative (Serverless) mode, against the real KServe v0.16.0 controller and
// the real Knative Serving v0.44.0 controller and autoscaler, on a second plane started here with
// startCluster({ knative: true }) (the runner's plane has no Knative). The one stand-in: KIngresses
// are marked Ready, as a networking layer (Istio, Kourier) would, since none runs here.
// KServe's stop switch in this mode: serving.kserve.io/stop "true" deletes the Knative Service and
// KServe writes Stopped=True; "false" brings the Knative Service back and the service is Ready.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { KubernetesObject, KubernetesObjectApi, V1Pod } from "@kubernetes/client-node";
import { startCluster, type Cluster } from "../support/cluster.ts";
import {
  condition,
  eventually,
  gpuInferenceService,
  kubeClient,
  mergePatch,
  readOrUndefined,
  type InferenceService,
} from "../support/kube.ts";

const STOP = "serving.kserve.io/stop";
const KSVC = "serving.knative.dev/v1";
const name = "sless";
const ns = `serverless-${randomBytes(3).toString("hex")}`;
const ref = (apiVersion: string, kind: string, n: string) => ({ apiVersion, kind, metadata: { name: n, namespace: ns } });
type Ksvc = KubernetesObject & { status?: { conditions?: { type: string; status: string }[]; url?: string } };

describe("KServe in Knative mode on real Knative Serving (startCluster({ knative: true }))", { timeout: 900_000 }, () => {
  let cluster: Cluster | undefined;
  let objects: KubernetesObjectApi;
  const parent = mkdtempSync(join(tmpdir(), "kserve-reclaimer-knative-"));
  const readIsvc = () => readOrUndefined<InferenceService>(objects, ref("serving.kserve.io/v1beta1", "InferenceService", name));
  const readKsvc = () => readOrUndefined<Ksvc>(objects, ref(KSVC, "Service", `${name}-predictor`));
  const isvcCondition = async (type: string) => condition(await readIsvc(), type)?.status;
  const describeIt = async () => {
    const isvc = await readIsvc();
    const ksvc = await readKsvc();
    return `isvc conditions: ${JSON.stringify(isvc?.status?.conditions)}\nksvc conditions: ${JSON.stringify(ksvc?.status?.conditions)}`;
  };
  const setStop = (value: "true" | "false") =>
    mergePatch(objects, {
      ...ref("serving.kserve.io/v1beta1", "InferenceService", name),
      metadata: { name, namespace: ns, annotations: { [STOP]: value } },
    });
  const readyPods = async () =>
    (
      await objects.list<V1Pod>("v1", "Pod", ns, undefined, undefined, undefined, undefined, `serving.kserve.io/inferenceservice=${name}`)
    ).items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));

  before(async () => {
    cluster = await startCluster({ knative: true, nodes: 1, dir: join(parent, "cluster"), log: () => {} });
    objects = kubeClient(cluster.kubeconfigPath).objects;
    await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject);
    await objects.create(gpuInferenceService(ns, name, { annotations: { "serving.kserve.io/deploymentMode": "Knative" } }));
  });
  after(async () => {
    // KEEP_CLUSTER_DIR=1 (as for the runner's plane) keeps this plane's logs too.
    const keepDir = process.env["KEEP_CLUSTER_DIR"] === "1";
    await cluster?.stop({ keepDir });
    if (keepDir) process.stderr.write(`# Knative plane's logs kept in ${parent}/cluster/logs\n`);
    else rmSync(parent, { recursive: true, force: true });
  });

  test("the service runs as a Knative Service with a GPU pod and becomes Ready", async () => {
    const ksvc = await eventually(
      "Knative Service sless-predictor Ready",
      async () => {
        const k = await readKsvc();
        return condition(k, "Ready")?.status === "True" && k;
      },
      { timeoutMs: 120_000, describe: describeIt },
    );
    assert.match(ksvc.status?.url ?? "", new RegExp(`^http://${name}-predictor\\.${ns}\\.`));
    await eventually("InferenceService Ready=True", async () => (await isvcCondition("Ready")) === "True", {
      timeoutMs: 60_000,
      describe: describeIt,
    });
    const pods = await readyPods();
    assert.equal(pods.length, 1, "one Ready predictor pod (Knative's min-scale from minReplicas: 1)");
    assert.equal(pods[0]?.spec?.containers.find((c) => c.name === "kserve-container")?.resources?.requests?.["nvidia.com/gpu"], "1");
    assert.ok(
      pods[0]?.spec?.containers.some((c) => c.name === "queue-proxy"),
      "Knative's queue-proxy sidecar is in the pod",
    );
    assert.equal((await readIsvc())?.metadata?.annotations?.["serving.kserve.io/deploymentMode"], "Knative");
  });

  test("a second Knative plane is refused while this one's autoscaler holds :8080, before anything starts", async () => {
    const second = join(parent, "second");
    await assert.rejects(
      startCluster({ knative: true, nodes: 1, build: false, dir: second, log: () => {} }),
      /port 8080 is in use; Knative's autoscaler binds it/,
    );
    assert.equal(existsSync(second), false);
  });

  test('stop "true" deletes the Knative Service and KServe writes Stopped=True; "false" brings it back Ready', async () => {
    await setStop("true");
    const stoppedAt = Date.now();
    await eventually(
      "Stopped=True and the Knative Service gone",
      async () => {
        return (await readKsvc()) === undefined && (await isvcCondition("Stopped")) === "True";
      },
      { timeoutMs: 60_000, describe: describeIt },
    );
    const stoppedSeconds = (Date.now() - stoppedAt) / 1000;
    assert.equal(await isvcCondition("Ready"), "False");
    await eventually("no predictor pod left", async () => (await readyPods()).length === 0, { timeoutMs: 60_000 });
    const noPodSeconds = (Date.now() - stoppedAt) / 1000;

    await setStop("false");
    const startedAt = Date.now();
    await eventually(
      "Knative Service back and the InferenceService Ready=True, Stopped=False",
      async () => {
        const ready = condition(await readKsvc(), "Ready")?.status === "True";
        return ready && (await isvcCondition("Ready")) === "True" && (await isvcCondition("Stopped")) === "False";
      },
      { timeoutMs: 120_000, describe: describeIt },
    );
    assert.equal((await readyPods()).length, 1);
    process.stderr.write(
      `# knative stop: ${stoppedSeconds.toFixed(1)} s to Stopped=True, ${noPodSeconds.toFixed(1)} s to no pod; start: ${((Date.now() - startedAt) / 1000).toFixed(1)} s to Ready\n`,
    );
  });
});
