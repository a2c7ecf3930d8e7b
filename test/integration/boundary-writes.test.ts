// What a boundary costs the apiserver: N InferenceServices stopped by one schedule at a minute
// boundary are at most ceil(1.1 N) writes (the N patches, the schedule's status, one Event on the
// schedule), counted from the kube-apiserver's own apiserver_request_total. Its own etcd +
// apiserver (test/integration/kube-plane.ts), so nothing else writes; the daemon runs without
// --leader-elect and the apiserver's own identity Lease renewals (resource "leases") are left out.
// Not a timing test: it waits for every annotation, the status and the Event, then counts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubernetesObject } from "@kubernetes/client-node";
import { startKubePlane, isvcManifest, createNamespace, type KubePlane } from "./kube-plane.ts";
import { DaemonProcess, apply, schedule, hhmm, nextBoundary, sleepUntil } from "../support/daemon.ts";
import { eventually, readOrUndefined } from "../support/kube.ts";
import { httpGet } from "../support/cluster.ts";

const N = 40;
const NS = "boundary";
const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "APPLY"]);

let plane: KubePlane;
let daemon: DaemonProcess | undefined;

before(async () => {
  plane = await startKubePlane();
});

after(async () => {
  await daemon?.stop("SIGKILL");
  await plane?.stop();
});

/** Writes the apiserver served, by "VERB resource[/subresource]", leases left out. */
async function writes(): Promise<Map<string, number>> {
  const dir = plane.dir;
  const auth = { ca: `${dir}/pki/ca.crt`, cert: `${dir}/pki/admin.crt`, key: `${dir}/pki/admin.key` };
  const res = await httpGet(`${plane.apiserverUrl}/metrics`, auth, 10_000);
  assert.equal(res.status, 200);
  const out = new Map<string, number>();
  for (const line of res.body.split("\n")) {
    const m = /^apiserver_request_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const verb = labels["verb"] ?? "";
    if (!WRITE_VERBS.has(verb) || labels["resource"] === "leases") continue;
    const what = `${verb} ${labels["resource"]}${labels["subresource"] ? `/${labels["subresource"]}` : ""}`;
    out.set(what, (out.get(what) ?? 0) + Number(m[2]));
  }
  return out;
}

type Listed<T> = { items: T[] };
type Isvc = KubernetesObject & { metadata: { annotations?: Record<string, string> } };
type Event = KubernetesObject & { reason: string; message: string; involvedObject: { kind: string; name: string } };

test(`a boundary over ${N} services costs at most ceil(1.1 N) apiserver writes`, { timeout: 240_000 }, async () => {
  await createNamespace(plane.objects, NS);
  for (let i = 0; i < N; i++) await apply(plane.objects, isvcManifest(NS, `model-${String(i).padStart(2, "0")}`));
  // a window that ends at the next minute boundary (UTC), far enough ahead for the daemon to start
  const boundary = nextBoundary(25_000);
  await apply(plane.objects, schedule(NS, "office", { uptime: [{ days: "*", from: hhmm(boundary - 5 * 60_000), to: hhmm(boundary) }] }));
  daemon = new DaemonProcess("boundary-writes", [
    "--kubeconfig",
    plane.kubeconfigPath,
    "--namespaces",
    NS,
    "--confirm-stop-timeout",
    "10m",
  ]);
  await daemon.ready();
  const readSchedule = () =>
    readOrUndefined<KubernetesObject & { status?: { running?: number; stopped?: number } }>(plane.objects, {
      apiVersion: "reclaimer.dev/v1alpha1",
      kind: "ServingSchedule",
      metadata: { name: "office", namespace: NS },
    });
  await eventually("the start-up status: all running", async () => (await readSchedule())?.status?.running === N);
  await sleepUntil(boundary - 3_000);
  const before = await writes();
  assert.ok(Date.now() < boundary, "counted from before the boundary");

  const list = async <T>(path: string) =>
    (await plane.objects.list(...(path.split(" ") as [string, string, string]))) as unknown as Listed<T>;
  await eventually(
    `all ${N} stop annotations`,
    async () =>
      (await list<Isvc>(`serving.kserve.io/v1beta1 InferenceService ${NS}`)).items.filter(
        (i) => i.metadata.annotations?.["serving.kserve.io/stop"] === "true",
      ).length === N,
    { timeoutMs: 60_000 },
  );
  await eventually("the status: all stopped", async () => (await readSchedule())?.status?.stopped === N);
  const event = await eventually("the schedule's Stopped Event", async () =>
    (await list<Event>(`v1 Event ${NS}`)).items.find((e) => e.reason === "Stopped" && e.involvedObject.kind === "ServingSchedule"),
  );
  assert.match(event.message, new RegExp(`^stopped ${N} services \\(${N} GPUs\\) at ${hhmm(boundary)} UTC`));
  // anything the daemon still had queued lands before the count
  await sleep(3_000);
  const after = await writes();

  const delta = new Map<string, number>();
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) delta.set(k, v - (before.get(k) ?? 0));
  const total = [...delta.values()].reduce((a, b) => a + b, 0);
  const limit = Math.ceil(1.1 * N);
  const breakdown = [...delta].map(([k, v]) => `${k}=${v}`).join(", ");
  process.stdout.write(`# writes: ${total} for ${N} services (limit ${limit}, ${(total / N).toFixed(3)} per service): ${breakdown}\n`);
  assert.ok(total <= limit, `${total} writes > ${limit}: ${breakdown}`);
  const events = (await list<Event>(`v1 Event ${NS}`)).items;
  assert.equal(events.filter((e) => e.involvedObject.kind === "InferenceService").length, 0, "no Event on any service");
  assert.equal(delta.get("PATCH inferenceservices"), N, "one patch per service");
});
