// The resilient informer against the real kube-apiserver: add/update/delete, namespaces and label
// selectors, nothing but watches at rest, and recovery after the apiserver is restarted (events
// made while it was down still arrive, and consumers get a `restart` resync).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Informer, type SyncReason } from "../../src/sources/kube/informer.ts";
import { ISVC_RESOURCE, parseInferenceService, type InferenceService } from "../../src/sources/kube/inferenceService.ts";
import { SERVING_SCHEDULE_RESOURCE, parseScheduleObject } from "../../src/sources/kube/servingSchedule.ts";
import type { KubernetesObject } from "@kubernetes/client-node";
import { createNamespace, isvcManifest, startKubePlane, type KubePlane } from "./kube-plane.ts";
import { eventually } from "../support/kube.ts";
import { httpGet } from "../support/cluster.ts";

let plane: KubePlane;
const ns1 = "inf-a";
const ns2 = "inf-b";

type Seen = { kind: "add" | "update" | "delete"; key: string; rv: string | undefined };

function record(informer: Informer<InferenceService>) {
  const seen: Seen[] = [];
  const synced: SyncReason[] = [];
  const key = (o: InferenceService) => `${o.metadata.namespace}/${o.metadata.name}`;
  informer.on("add", (o) => void seen.push({ kind: "add", key: key(o), rv: o.metadata.resourceVersion }));
  informer.on("update", (o) => void seen.push({ kind: "update", key: key(o), rv: o.metadata.resourceVersion }));
  informer.on("delete", (o) => void seen.push({ kind: "delete", key: key(o), rv: o.metadata.resourceVersion }));
  informer.on("synced", (i) => void synced.push(i.reason));
  return { seen, synced };
}

/** Requests the apiserver served for a resource, by verb, from its own metrics. */
async function requestCounts(resource: string): Promise<Record<string, number>> {
  const dir = plane.dir;
  const auth = { ca: `${dir}/pki/ca.crt`, cert: `${dir}/pki/admin.crt`, key: `${dir}/pki/admin.key` };
  const res = await httpGet(`${plane.apiserverUrl}/metrics`, auth, 10_000);
  const out: Record<string, number> = {};
  for (const line of res.body.split("\n")) {
    if (!line.startsWith("apiserver_request_total{") || !line.includes(`resource="${resource}"`)) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? "?";
    out[verb] = (out[verb] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return out;
}

describe("informer against kube-apiserver", { timeout: 240_000 }, () => {
  before(async () => {
    plane = await startKubePlane();
    await createNamespace(plane.objects, ns1);
    await createNamespace(plane.objects, ns2);
  });
  after(async () => {
    await plane?.stop();
  });

  test("lists, then sees add, update and delete", async () => {
    await plane.objects.create(isvcManifest(ns1, "pre-existing"));
    const informer = new Informer({ kubeConfig: plane.kubeConfig(), resource: ISVC_RESOURCE, transform: parseInferenceService });
    const { seen, synced } = record(informer);
    informer.start();
    try {
      await informer.waitForSync();
      assert.equal(informer.hasSynced, true);
      assert.deepEqual(synced, ["initial"]);
      assert.ok(informer.get(ns1, "pre-existing"), "listed object in cache");
      assert.ok(seen.some((s) => s.kind === "add" && s.key === `${ns1}/pre-existing`));

      await plane.objects.create(isvcManifest(ns1, "fresh", { gpus: 2 }));
      await eventually("add of fresh", async () => seen.some((s) => s.kind === "add" && s.key === `${ns1}/fresh`));
      const fresh = informer.get(ns1, "fresh");
      assert.equal(fresh?.spec?.predictor?.containers?.[0]?.resources?.limits?.["nvidia.com/gpu"], "2");

      await plane.objects.patch(
        {
          apiVersion: "serving.kserve.io/v1beta1",
          kind: "InferenceService",
          metadata: { name: "fresh", namespace: ns1, annotations: { "serving.kserve.io/stop": "true" } },
        },
        undefined,
        undefined,
        "test",
        undefined,
        "application/merge-patch+json",
      );
      await eventually(
        "update of fresh",
        async () => informer.get(ns1, "fresh")?.metadata.annotations?.["serving.kserve.io/stop"] === "true",
      );
      assert.ok(seen.some((s) => s.kind === "update" && s.key === `${ns1}/fresh`));

      await plane.objects.delete({
        apiVersion: "serving.kserve.io/v1beta1",
        kind: "InferenceService",
        metadata: { name: "fresh", namespace: ns1 },
      });
      await eventually("delete of fresh", async () => seen.some((s) => s.kind === "delete" && s.key === `${ns1}/fresh`));
      assert.equal(informer.get(ns1, "fresh"), undefined);
      assert.ok(informer.stalenessMs() < 5_000, `staleness ${informer.stalenessMs()}`);
    } finally {
      await informer.stop();
    }
  });

  test("a list of namespaces is one watch per namespace; label selectors filter", async () => {
    await plane.objects.create(isvcManifest(ns2, "labelled", { labels: { team: "x" } }));
    await plane.objects.create(isvcManifest(ns2, "other", { labels: { team: "y" } }));
    const informer = new Informer({
      kubeConfig: plane.kubeConfig(),
      resource: ISVC_RESOURCE,
      transform: parseInferenceService,
      namespaces: [ns2, "inf-empty"],
      labelSelector: "team=x",
    });
    informer.start();
    try {
      await informer.waitForSync();
      assert.equal(informer.status().scopes.length, 2);
      assert.deepEqual(
        informer.list().map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
        [`${ns2}/labelled`],
      );
      await plane.objects.create(isvcManifest(ns1, "elsewhere", { labels: { team: "x" } }));
      await plane.objects.create(isvcManifest(ns2, "labelled-2", { labels: { team: "x" } }));
      await eventually("labelled-2 seen", async () => informer.get(ns2, "labelled-2") !== undefined);
      assert.equal(informer.get(ns1, "elsewhere"), undefined, "other namespaces are not watched");
    } finally {
      await informer.stop();
    }
  });

  test("ServingSchedules: cached with metadata and the raw spec, without managedFields", async () => {
    await plane.objects.create({
      apiVersion: "reclaimer.dev/v1alpha1",
      kind: "ServingSchedule",
      metadata: { name: "office", namespace: ns1 },
      spec: { uptime: [{ days: "Mon-Fri", from: "08:00", to: "18:00" }] },
    } as KubernetesObject);
    const informer = new Informer({ kubeConfig: plane.kubeConfig(), resource: SERVING_SCHEDULE_RESOURCE, transform: parseScheduleObject });
    informer.start();
    try {
      await informer.waitForSync();
      const got = informer.get(ns1, "office");
      assert.ok(got?.metadata.uid);
      assert.equal(got?.metadata.generation, 1);
      assert.equal((got?.metadata as Record<string, unknown> | undefined)?.["managedFields"], undefined);
      assert.deepEqual((got?.spec as { uptime?: unknown[] } | undefined)?.uptime?.[0], { days: "Mon-Fri", from: "08:00", to: "18:00" });
    } finally {
      await informer.stop();
    }
  });

  test("at rest: no LIST after the initial sync, only the open watch", async () => {
    const informer = new Informer({ kubeConfig: plane.kubeConfig(), resource: ISVC_RESOURCE, transform: parseInferenceService });
    informer.start();
    try {
      await informer.waitForSync();
      await sleep(500);
      const before = await requestCounts("inferenceservices");
      await sleep(8_000);
      const afterRest = await requestCounts("inferenceservices");
      assert.equal(afterRest["LIST"] ?? 0, before["LIST"] ?? 0, "no LIST at rest");
      assert.equal((afterRest["PATCH"] ?? 0) + (afterRest["UPDATE"] ?? 0), (before["PATCH"] ?? 0) + (before["UPDATE"] ?? 0), "no writes");
      assert.equal(afterRest["WATCH"] ?? 0, before["WATCH"] ?? 0, "the watch stays open: no reconnects");
    } finally {
      await informer.stop();
    }
  });

  test("recovers after the apiserver restarts: missed changes arrive, consumers resync", async () => {
    const informer = new Informer({
      kubeConfig: plane.kubeConfig(),
      resource: ISVC_RESOURCE,
      transform: parseInferenceService,
      namespaces: [ns1],
      backoff: { initialMs: 200, maxMs: 1_000 },
    });
    const { seen, synced } = record(informer);
    const errors: unknown[] = [];
    informer.on("error", (err) => void errors.push(err));
    informer.start();
    try {
      await informer.waitForSync();
      await plane.objects.create(isvcManifest(ns1, "survivor"));
      await eventually("survivor seen", async () => informer.get(ns1, "survivor") !== undefined);
      const begin = Date.now();
      await plane.stopApiserver();
      await sleep(1_500); // the informer retries against a dead apiserver meanwhile
      await plane.startApiserver();
      // A change while the informer may still be reconnecting.
      await plane.objects.create(isvcManifest(ns1, "born-after-restart"));
      await eventually("born-after-restart seen", async () => informer.get(ns1, "born-after-restart") !== undefined, { timeoutMs: 30_000 });
      await eventually("restart resync", async () => synced.includes("restart"), { timeoutMs: 30_000 });
      process.stderr.write(`[kube-informer] recovered ${Date.now() - begin} ms after apiserver stop (${errors.length} errors seen)\n`);
      assert.ok(errors.length >= 1, "the failure was reported");
      assert.ok(seen.some((s) => s.kind === "add" && s.key === `${ns1}/born-after-restart`));
      assert.ok(informer.get(ns1, "survivor"));
      assert.ok(informer.status().scopes[0]!.restarts >= 1);
    } finally {
      await informer.stop();
    }
  });
});
