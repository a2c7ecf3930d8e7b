// Which route objects the real KServe v0.16.0 controller creates for a Standard-mode
// InferenceService, in both ingress set-ups of the local control plane: an Ingress `<isvc>` by
// default (the runner's cluster), and HTTPRoutes `<isvc>` and `<isvc>-predictor` attached to
// kserve/kserve-ingress-gateway when started with `kserveIngress: "gateway-api"` (a second cluster
// started here, with the Gateway API CRDs from the sigs.k8s.io/gateway-api module). Both sets go
// away on serving.kserve.io/stop "true" and come back on "false".
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { clusterFromEnv, startCluster, KSERVE_GATEWAY, type Cluster } from "../support/cluster.ts";
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
const name = "routed";
const GW = "gateway.networking.k8s.io/v1";

type HttpRoute = KubernetesObject & {
  spec?: {
    hostnames?: string[];
    parentRefs?: { name: string; namespace?: string; group?: string; kind?: string }[];
    rules?: { backendRefs?: { name: string; port?: number }[] }[];
  };
  status?: { parents?: { conditions?: { type: string; status: string }[] }[] };
};

const ref = (apiVersion: string, kind: string, ns: string, n: string) => ({ apiVersion, kind, metadata: { name: n, namespace: ns } });

async function setStop(objects: KubernetesObjectApi, ns: string, value: "true" | "false"): Promise<void> {
  await mergePatch(objects, {
    ...ref("serving.kserve.io/v1beta1", "InferenceService", ns, name),
    metadata: { name, namespace: ns, annotations: { [STOP]: value } },
  });
}

async function isvcCondition(objects: KubernetesObjectApi, ns: string, type: string): Promise<string | undefined> {
  const isvc = await readOrUndefined<InferenceService>(objects, ref("serving.kserve.io/v1beta1", "InferenceService", ns, name));
  return condition(isvc, type)?.status;
}

async function createIsvc(objects: KubernetesObjectApi, ns: string): Promise<void> {
  await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject);
  await objects.create(gpuInferenceService(ns, name));
}

describe("KServe with Ingress (the default cluster)", () => {
  const env = clusterFromEnv();
  const { objects } = kubeClient(env.kubeconfigPath);
  const ns = `routes-ing-${randomBytes(3).toString("hex")}`;
  const describeIt = async () =>
    JSON.stringify(
      (await readOrUndefined<InferenceService>(objects, ref("serving.kserve.io/v1beta1", "InferenceService", ns, name)))?.status,
    );

  before(() => createIsvc(objects, ns));
  after(() =>
    objects.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } as KubernetesObject).then(
      () => {},
      () => {},
    ),
  );

  test("a Standard-mode service gets an Ingress and no HTTPRoute API exists; stop removes the Ingress, start brings it back", async () => {
    const ingress = await eventually("Ingress routed", () => readOrUndefined(objects, ref("networking.k8s.io/v1", "Ingress", ns, name)), {
      describe: describeIt,
    });
    assert.deepEqual(
      (ingress as { spec?: { rules?: { host?: string }[] } }).spec?.rules?.map((r) => r.host),
      [`${name}-${ns}.example.com`, `${name}-predictor-${ns}.example.com`],
    );
    await eventually("Ready=True", async () => (await isvcCondition(objects, ns, "Ready")) === "True", { describe: describeIt });
    await assert.rejects(objects.list(GW, "HTTPRoute", ns), "the default cluster has no Gateway API CRDs");

    await setStop(objects, ns, "true");
    await eventually(
      "Stopped=True and the Ingress gone",
      async () => {
        const gone = (await readOrUndefined(objects, ref("networking.k8s.io/v1", "Ingress", ns, name))) === undefined;
        return gone && (await isvcCondition(objects, ns, "Stopped")) === "True";
      },
      { describe: describeIt },
    );

    await setStop(objects, ns, "false");
    await eventually(
      "Ready=True with the Ingress back",
      async () => {
        const back = (await readOrUndefined(objects, ref("networking.k8s.io/v1", "Ingress", ns, name))) !== undefined;
        return back && (await isvcCondition(objects, ns, "Ready")) === "True";
      },
      { describe: describeIt },
    );
  });
});

describe("KServe with Gateway API (startCluster({ kserveIngress: 'gateway-api' }))", { timeout: 600_000 }, () => {
  let cluster: Cluster | undefined;
  let objects: KubernetesObjectApi;
  const ns = `routes-gw-${randomBytes(3).toString("hex")}`;
  const parent = mkdtempSync(join(tmpdir(), "kserve-reclaimer-gwtest-"));
  const route = (n: string) => readOrUndefined<HttpRoute>(objects, ref(GW, "HTTPRoute", ns, n));
  const describeIt = async () =>
    `isvc status: ${JSON.stringify((await readOrUndefined<InferenceService>(objects, ref("serving.kserve.io/v1beta1", "InferenceService", ns, name)))?.status)}\nroutes: ${JSON.stringify((await objects.list(GW, "HTTPRoute", ns)).items.map((r) => r.metadata?.name))}`;

  before(async () => {
    // The runner already built the binaries; a second, independent plane (1 node is enough).
    cluster = await startCluster({ kserveIngress: "gateway-api", nodes: 1, build: false, dir: join(parent, "cluster"), log: () => {} });
    objects = kubeClient(cluster.kubeconfigPath).objects;
    await createIsvc(objects, ns);
  });
  after(async () => {
    await cluster?.stop();
    rmSync(parent, { recursive: true, force: true });
  });

  test("the Gateway KServe is configured with exists, and a wrong kserveIngress is refused before anything starts", async () => {
    const gateway = await readOrUndefined<KubernetesObject & { spec?: { gatewayClassName?: string } }>(
      objects,
      ref(GW, "Gateway", KSERVE_GATEWAY.namespace, KSERVE_GATEWAY.name),
    );
    assert.equal(gateway?.spec?.gatewayClassName, KSERVE_GATEWAY.className);
    const bad = join(parent, "bad");
    for (const value of ["", "istio", "gateway-api\u001b[2J", "x".repeat(100_000)]) {
      await assert.rejects(
        startCluster({ kserveIngress: value as never, build: false, dir: bad, log: () => {} }),
        (err: Error) => err.message.includes('kserveIngress must be "ingress" or "gateway-api"') && err.message.length < 200,
      );
    }
    assert.equal(existsSync(bad), false, "nothing was started for a refused option");
  });

  test("a Standard-mode service gets HTTPRoutes <isvc> and <isvc>-predictor on kserve/kserve-ingress-gateway, no Ingress, and becomes Ready", async () => {
    const [top, predictor] = await eventually(
      "HTTPRoutes routed and routed-predictor",
      async () => {
        const both = [await route(name), await route(`${name}-predictor`)];
        return both.every((r) => r !== undefined) && both;
      },
      { describe: describeIt },
    );
    for (const r of [top, predictor]) {
      assert.deepEqual(
        r?.spec?.parentRefs?.map((p) => `${p.namespace}/${p.name}`),
        [`${KSERVE_GATEWAY.namespace}/${KSERVE_GATEWAY.name}`],
      );
    }
    assert.deepEqual(top?.spec?.hostnames, [`${name}-${ns}.example.com`]);
    assert.deepEqual(predictor?.spec?.hostnames, [`${name}-predictor-${ns}.example.com`]);
    assert.equal(predictor?.spec?.rules?.[0]?.backendRefs?.[0]?.name, `${name}-predictor`);
    await eventually(
      "Ready=True (routes marked Accepted by the gateway status stand-in)",
      async () => {
        return (await isvcCondition(objects, ns, "Ready")) === "True";
      },
      { describe: describeIt },
    );
    const accepted = await route(name);
    assert.ok(accepted?.status?.parents?.[0]?.conditions?.some((c) => c.type === "Accepted" && c.status === "True"));
    assert.equal(
      await readOrUndefined(objects, ref("networking.k8s.io/v1", "Ingress", ns, name)),
      undefined,
      "no Ingress in gateway-api mode",
    );
  });

  test("stop deletes both HTTPRoutes and KServe writes Stopped=True; start recreates them and the service is Ready again", async () => {
    await setStop(objects, ns, "true");
    await eventually(
      "Stopped=True and both HTTPRoutes gone",
      async () => {
        const gone = (await route(name)) === undefined && (await route(`${name}-predictor`)) === undefined;
        return gone && (await isvcCondition(objects, ns, "Stopped")) === "True";
      },
      { describe: describeIt },
    );

    await setStop(objects, ns, "false");
    await eventually(
      "Ready=True with both HTTPRoutes back",
      async () => {
        const back = (await route(name)) !== undefined && (await route(`${name}-predictor`)) !== undefined;
        return back && (await isvcCondition(objects, ns, "Ready")) === "True";
      },
      { describe: describeIt },
    );
  });
});
