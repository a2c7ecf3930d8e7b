// Hostile and careless objects against the real daemon, apiserver and KServe: a service asking for
// 1e400 GPUs (the InferenceService CRD's quantity pattern admits it), a keep-running-until that is
// not a time, and a forged daemon record with a huge reason. None may crash the daemon or leak into
// the schedule's status; the well-behaved service next to them is still stopped at the boundary.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv } from "../support/cluster.ts";
import {
  apply,
  createNamespace,
  DaemonProcess,
  gpuService,
  hhmm,
  installCrd,
  kube,
  metricValue,
  nextBoundary,
  schedule,
} from "../support/daemon.ts";
import { eventually, readOrUndefined } from "../support/kube.ts";

const cluster = clusterFromEnv();
const { kc, objects } = kube(cluster.kubeconfigPath);
const NS = `hostile-${Date.now().toString(36).slice(-5)}`;
const STOP = "serving.kserve.io/stop";
const B = nextBoundary(30_000);
let daemon: DaemonProcess | undefined;

type Isvc = KubernetesObject & { metadata: { annotations?: Record<string, string> } };
const readIsvc = (name: string) =>
  readOrUndefined<Isvc>(objects, { apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", metadata: { name, namespace: NS } });
const readStatus = async () =>
  (
    await readOrUndefined<KubernetesObject & { status?: Record<string, unknown> }>(objects, {
      apiVersion: "reclaimer.dev/v1alpha1",
      kind: "ServingSchedule",
      metadata: { name: "nights", namespace: NS },
    })
  )?.status;

async function eventReasons(name: string): Promise<string[]> {
  const list = await objects.list<KubernetesObject & { reason: string; involvedObject: { name: string } }>("v1", "Event", NS);
  return list.items.filter((e) => e.involvedObject.name === name).map((e) => e.reason);
}

/** A GPU service whose GPU request is exactly `quantity`, as a careless or hostile tenant writes it. */
function withGpus(name: string, quantity: string, annotations: Record<string, string> = {}): KubernetesObject {
  const svc = gpuService(NS, name, { annotations }) as KubernetesObject & {
    spec: { predictor: { containers: { resources: Record<string, Record<string, string>> }[] } };
  };
  for (const c of svc.spec.predictor.containers) {
    c.resources = { requests: { cpu: "100m", "nvidia.com/gpu": quantity }, limits: { "nvidia.com/gpu": quantity } };
  }
  return svc;
}

before(async () => {
  await installCrd(kc);
  await createNamespace(objects, NS);
  await apply(objects, gpuService(NS, "good"));
  await apply(objects, withGpus("huge", "1e400"));
  await apply(objects, gpuService(NS, "keep", { annotations: { "reclaimer.dev/keep-running-until": "99999" } }));
  const forged = JSON.stringify({
    v: 1,
    action: "stop",
    reason: "R".repeat(100_000),
    schedule: `${NS}/nights`,
    at: new Date().toISOString(),
    gpus: 1_000_000,
  });
  await apply(objects, gpuService(NS, "forged", { annotations: { [STOP]: "true", "reclaimer.dev/state": forged } }));
  await apply(objects, schedule(NS, "nights", { uptime: [{ days: "*", from: hhmm(B - 10 * 60_000), to: hhmm(B) }] }));
  daemon = new DaemonProcess("daemon-hostile", ["--kubeconfig", cluster.kubeconfigPath, "--namespaces", NS]);
  await daemon.ready();
});

after(async () => {
  const code = await daemon?.stop("SIGTERM");
  assert.equal(code, 0, "SIGTERM still ends the daemon cleanly");
});

test("hostile objects are reported and never crash the daemon; the good service is stopped at the boundary", {
  timeout: 150_000,
}, async () => {
  await eventually("InvalidGpuRequest on the 1e400 service", async () => (await eventReasons("huge")).includes("InvalidGpuRequest"), {
    timeoutMs: 60_000,
  });
  await eventually(
    "InvalidKeepRunningUntil on the service with a non-time",
    async () => (await eventReasons("keep")).includes("InvalidKeepRunningUntil"),
    {
      timeoutMs: 60_000,
    },
  );
  await eventually("InvalidStateRecord on the forged service", async () => (await eventReasons("forged")).includes("InvalidStateRecord"), {
    timeoutMs: 60_000,
  });

  // at the boundary: the well-behaved service is stopped, and "99999" did not keep the other one up
  await eventually("good stopped", async () => (await readIsvc("good"))?.metadata.annotations?.[STOP] === "true", {
    timeoutMs: B - Date.now() + 30_000,
  });
  await eventually("keep stopped too", async () => (await readIsvc("keep"))?.metadata.annotations?.[STOP] === "true", {
    timeoutMs: 30_000,
  });
  assert.equal(daemon?.proc.exitCode, null, `the daemon is still running:\n${daemon?.tail()}`);

  const status = await eventually("the status lists the stopped services", async () => {
    const s = await readStatus();
    return (s?.["services"] as unknown[] | undefined)?.length ? s : undefined;
  });
  const text = JSON.stringify(status);
  assert.ok(text.length < 20_000, `status stays small (${text.length} bytes)`);
  assert.doesNotMatch(text, /RRRRRRRR/, "the forged reason never reaches the status");
  assert.ok(
    Number(status?.["gpusReclaimed"]) <= 4,
    `GPUs reclaimed come from the specs, not the forged record: ${status?.["gpusReclaimed"]}`,
  );
  const metrics = await daemon!.metrics();
  assert.ok(metricValue(metrics, "kserve_reclaimer_gpus_reclaimed") <= 4, "the GPU gauge is bounded too");
});
