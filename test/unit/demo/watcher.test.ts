// The demo's reading of the cluster, against a fake one: the rows it shows come from the project's
// own readers (GPUs, the governing schedule, the stop annotation, the daemon's state record), so the
// demo can never show a schedule or a reason the daemon would not.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { demoPlan, NAMESPACE } from "../../../scripts/demo/scenario.ts";
import { type ClusterReader, Watcher } from "../../../scripts/demo/watcher.ts";

const NOW = Date.parse("2026-11-28T11:05:30Z");

function fakeCluster(objects: Record<string, KubernetesObject[]>): ClusterReader {
  return {
    list: (async (_apiVersion: string, kind: string) => ({ items: objects[kind] ?? [] })) as unknown as ClusterReader["list"],
  };
}

function pod(service: string, gpus: string): KubernetesObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `${service}-0`, namespace: NAMESPACE, labels: { "serving.kserve.io/inferenceservice": service } },
    spec: { nodeName: "kwok-0", containers: [{ name: "c", resources: { limits: { "nvidia.com/gpu": gpus } } }] },
    status: { phase: "Running" },
  } as KubernetesObject;
}

test("rows: schedule by the daemon's rule, GPUs as the daemon counts them, reason from the status or the record", async () => {
  const plan = demoPlan(NOW);
  const withMeta = (o: KubernetesObject, extra: Record<string, unknown>): KubernetesObject & { status?: unknown } => ({
    ...o,
    metadata: { ...o.metadata, ...extra },
  });
  const services = plan.services.map((s) => {
    const name = s.metadata?.name;
    const ready = { conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2026-11-28T11:00:00Z" }] };
    if (name !== "llama") return { ...s, status: ready };
    // stopped a moment ago: the daemon's record is on the object, its status not written yet
    const record = JSON.stringify({ v: 1, action: "stop", reason: "Schedule", schedule: "demo/office-hours", at: "2026-11-28T11:05:00Z" });
    const annotations = { ...s.metadata?.annotations, "serving.kserve.io/stop": "true", "reclaimer.dev/state": record };
    return { ...withMeta(s, { annotations }), status: ready };
  });
  const schedules = plan.schedules.map((s) =>
    s.metadata?.name === "office-hours"
      ? {
          ...withMeta(s, { creationTimestamp: "2026-11-28T10:00:00Z" }),
          status: {
            gpusReclaimed: 0,
            gpuHoursReclaimed: 0,
            services: [
              { name: "llama", state: "Running", reason: "Schedule", gpus: 2, confirmed: true },
              { name: "critical", state: "Running", reason: "Excluded", gpus: 1, confirmed: true },
            ],
          },
        }
      : withMeta(s, { creationTimestamp: "2026-11-28T10:00:00Z" }),
  );
  const node = { apiVersion: "v1", kind: "Node", metadata: { name: "kwok-0" }, status: { allocatable: { "nvidia.com/gpu": "4" } } };
  const cluster = fakeCluster({
    InferenceService: services,
    ServingSchedule: schedules,
    Pod: [pod("mistral", "1"), pod("critical", "1"), pod("embedder", "1")],
    Node: [node, { ...node, metadata: { name: "kwok-1" } }],
  });
  const watcher = new Watcher(cluster, { state: async () => [] });
  const snap = await watcher.snapshot(
    NOW,
    plan.services.map((s) => s.metadata?.name ?? ""),
  );

  assert.deepEqual(
    snap.rows.map((r) => [r.key, r.schedule, r.state, r.reason, r.gpus, r.gpusInUse]),
    [
      ["demo/llama", "office-hours", "Stopped", "Schedule", 2, 0],
      ["demo/mistral", "office-hours", "Running", "-", 1, 1],
      ["demo/critical", "office-hours", "Running", "Excluded", 1, 1],
      ["demo/embedder", "idle-45s", "Running", "-", 1, 1],
    ],
  );
  assert.equal(snap.gpuCapacity, 8);
  assert.equal(snap.gpusInUse, 3);
  const llama = snap.rows[0];
  assert.equal(llama?.next?.at, plan.closeAt);
  assert.equal(snap.rows[2]?.next, undefined, "hands off: no next transition for an excluded service");
  assert.match(snap.rows[2]?.note ?? "", /hands off/);
  assert.match(snap.rows[3]?.note ?? "", /no requests since 11:00:00: idle for 45s stops it/);
});
