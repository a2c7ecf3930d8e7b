// A ClusterServingSchedule against the real daemon, apiserver and KServe: it stops the services of
// the three namespaces its namespaceSelector matches at a boundary a minute ahead, leaves a
// namespace without the label alone, and gives way in one namespace whose own ServingSchedule
// selects the service; that override is reported on the service, on the cluster schedule and in
// its status.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv } from "../support/cluster.ts";
import { apply, DaemonProcess, gpuService, hhmm, installCrd, kube, nextBoundary, schedule, sleepUntil } from "../support/daemon.ts";
import { eventually, readOrUndefined } from "../support/kube.ts";

const cluster = clusterFromEnv();
const { kc, objects } = kube(cluster.kubeconfigPath);
const ID = Date.now().toString(36).slice(-5);
const LABEL = "reclaimer.dev/test-policy";
const GOVERNED = ["a", "b", "c"].map((x) => `cs-${x}-${ID}`);
const OVERRIDING = GOVERNED[2] as string;
const UNLABELLED = `cs-free-${ID}`;
const CLUSTER_SCHEDULE = `nights-${ID}`;
const STOP = "serving.kserve.io/stop";
const B = nextBoundary(40_000);
let daemon: DaemonProcess | undefined;

type Isvc = KubernetesObject & { metadata: { annotations?: Record<string, string> } };
const stopOf = async (namespace: string) =>
  (
    await readOrUndefined<Isvc>(objects, {
      apiVersion: "serving.kserve.io/v1beta1",
      kind: "InferenceService",
      metadata: { name: "model", namespace },
    })
  )?.metadata.annotations?.[STOP];
const clusterStatus = async () =>
  (
    await readOrUndefined<KubernetesObject & { status?: Record<string, unknown> }>(objects, {
      apiVersion: "reclaimer.dev/v1alpha1",
      kind: "ClusterServingSchedule",
      metadata: { name: CLUSTER_SCHEDULE },
    })
  )?.status;

type Event = KubernetesObject & { reason: string; message: string; involvedObject: { kind: string; name: string } };
async function events(namespace: string, kind: string, name: string): Promise<Event[]> {
  const list = await objects.list<Event>("v1", "Event", namespace);
  return list.items.filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name);
}

before(async () => {
  await installCrd(kc);
  await installCrd(kc, "cluster");
  for (const ns of GOVERNED) await apply(objects, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { [LABEL]: ID } } });
  await apply(objects, { apiVersion: "v1", kind: "Namespace", metadata: { name: UNLABELLED } });
  for (const ns of [...GOVERNED, UNLABELLED]) await apply(objects, gpuService(ns, "model"));
  await apply(objects, {
    apiVersion: "reclaimer.dev/v1alpha1",
    kind: "ClusterServingSchedule",
    metadata: { name: CLUSTER_SCHEDULE },
    spec: {
      namespaceSelector: { matchLabels: { [LABEL]: ID } },
      uptime: [{ days: "*", from: hhmm(B - 10 * 60_000), to: hhmm(B) }],
    },
  } as KubernetesObject);
  // no uptime: always Running, so this namespace's service outlives the cluster-wide boundary
  await apply(objects, schedule(OVERRIDING, "always-on", {}));
  daemon = new DaemonProcess("daemon-cluster-schedules", ["--kubeconfig", cluster.kubeconfigPath]);
  await daemon.ready();
});

after(async () => {
  const code = await daemon?.stop("SIGTERM");
  assert.equal(code, 0, "SIGTERM ends the daemon cleanly");
});

test("a ClusterServingSchedule stops the services of the namespaces it selects; a namespace's own schedule overrides it", {
  timeout: 180_000,
}, async () => {
  // before the boundary the override is already reported, on the service and on the cluster schedule
  const onService = await eventually(
    "ScheduleOverridden on the overriding namespace's service",
    async () => (await events(OVERRIDING, "InferenceService", "model")).find((e) => e.reason === "ScheduleOverridden"),
    { timeoutMs: 30_000 },
  );
  assert.match(onService.message, new RegExp(`${OVERRIDING}/always-on governs.*ClusterServingSchedule ${CLUSTER_SCHEDULE}`));
  await eventually(
    "ScheduleOverridden on the cluster schedule (its Events are in default)",
    async () => (await events("default", "ClusterServingSchedule", CLUSTER_SCHEDULE)).some((e) => e.reason === "ScheduleOverridden"),
    { timeoutMs: 30_000 },
  );
  for (const ns of [...GOVERNED, UNLABELLED]) assert.notEqual(await stopOf(ns), "true", `${ns} runs before the boundary`);

  for (const ns of GOVERNED.slice(0, 2))
    await eventually(`${ns}/model stopped at the boundary`, async () => (await stopOf(ns)) === "true", {
      timeoutMs: B - Date.now() + 30_000,
    });
  await sleepUntil(B + 5_000);
  assert.notEqual(await stopOf(OVERRIDING), "true", "the namespace's own schedule keeps its service running");
  assert.notEqual(await stopOf(UNLABELLED), "true", "a namespace without the label is not reached");

  const status = await eventually("the cluster schedule's status lists what it governs and counts the override", async () => {
    const s = await clusterStatus();
    const names = ((s?.["services"] as { name: string }[] | undefined) ?? []).map((x) => x.name).sort();
    return s?.["stopped"] === 2 && names.length === 2 ? { s, names } : undefined;
  });
  assert.deepEqual(
    status.names,
    GOVERNED.slice(0, 2)
      .map((ns) => `${ns}/model`)
      .sort(),
  );
  assert.equal(status.s["overridden"], 1);
  const ready = (status.s["conditions"] as { type: string; message: string }[]).find((c) => c.type === "Ready");
  assert.match(ready?.message ?? "", new RegExp(`overridden by their namespace's ServingSchedule: ${OVERRIDING}/model`));
  assert.equal(daemon?.proc.exitCode, null, `the daemon is still running:\n${daemon?.tail()}`);
});
