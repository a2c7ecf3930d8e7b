// The write side against the real kube-apiserver: annotation patches (resourceVersion
// preconditions, 409, retry on conflict, not found, rate limit), Events as kubectl describe reads
// them (with aggregation of repeats), and ServingSchedule status written only when it changed.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { CoreV1Api, type KubernetesObject } from "@kubernetes/client-node";
import { AnnotationPatcher } from "../../src/act/patcher.ts";
import { WriteLimiter } from "../../src/act/writeLimiter.ts";
import { EventRecorder, REPORTING_CONTROLLER } from "../../src/act/events.ts";
import { ScheduleStatusWriter } from "../../src/act/scheduleStatus.ts";
import { createNamespace, isvcManifest, startKubePlane, type KubePlane } from "./kube-plane.ts";

let plane: KubePlane;
const ns = "act";

type Obj = KubernetesObject & { status?: Record<string, unknown> };

async function readIsvc(name: string): Promise<Obj> {
  return (await plane.objects.read({
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: { name, namespace: ns },
  })) as Obj;
}
async function readSchedule(name: string): Promise<Obj> {
  return (await plane.objects.read({
    apiVersion: "reclaimer.dev/v1alpha1",
    kind: "ServingSchedule",
    metadata: { name, namespace: ns },
  })) as Obj;
}

describe("act/ against kube-apiserver", { timeout: 240_000 }, () => {
  before(async () => {
    plane = await startKubePlane();
    await createNamespace(plane.objects, ns);
  });
  after(async () => {
    await plane?.stop();
  });

  test("patchAnnotations: ok with the new resourceVersion; 409 on a stale one; removal with null", async () => {
    await plane.objects.create(isvcManifest(ns, "p1"));
    const patcher = new AnnotationPatcher({ kubeConfig: plane.kubeConfig(), limiter: new WriteLimiter() });
    const before = await readIsvc("p1");
    const rv0 = before.metadata?.resourceVersion;
    const ok = await patcher.patchAnnotations(
      ns,
      "p1",
      { "serving.kserve.io/stop": "true", "reclaimer.dev/state": '{"v":1}' },
      { resourceVersion: rv0 },
    );
    assert.equal(ok.kind, "ok");
    assert.ok(ok.kind === "ok" && ok.resourceVersion !== rv0);
    assert.equal(ok.kind === "ok" && ok.annotations["serving.kserve.io/stop"], "true");
    const after1 = await readIsvc("p1");
    assert.equal(after1.metadata?.resourceVersion, ok.kind === "ok" ? ok.resourceVersion : "");
    assert.equal(after1.metadata?.annotations?.["serving.kserve.io/deploymentMode"], "Standard", "other annotations untouched");

    const stale = await patcher.patchAnnotations(ns, "p1", { "serving.kserve.io/stop": "false" }, { resourceVersion: rv0 });
    assert.equal(stale.kind, "conflict");
    assert.equal((await readIsvc("p1")).metadata?.annotations?.["serving.kserve.io/stop"], "true", "nothing written on conflict");

    const removed = await patcher.patchAnnotations(ns, "p1", { "reclaimer.dev/state": null });
    assert.equal(removed.kind, "ok");
    assert.equal((await readIsvc("p1")).metadata?.annotations?.["reclaimer.dev/state"], undefined);

    const missing = await patcher.patchAnnotations(ns, "does-not-exist", { a: "b" });
    assert.equal(missing.kind, "notFound");
  });

  test("patchAnnotations: onConflict re-reads and re-decides", async () => {
    await plane.objects.create(isvcManifest(ns, "p2"));
    const patcher = new AnnotationPatcher({ kubeConfig: plane.kubeConfig(), limiter: new WriteLimiter() });
    const rv0 = (await readIsvc("p2")).metadata?.resourceVersion;
    // Someone changes it after our decision.
    await patcher.patchAnnotations(ns, "p2", { owner: "person" });
    let asked = 0;
    const res = await patcher.patchAnnotations(
      ns,
      "p2",
      { "serving.kserve.io/stop": "true" },
      {
        resourceVersion: rv0,
        onConflict: (fresh) => {
          asked++;
          assert.equal(fresh.metadata.annotations?.["owner"], "person");
          return { "serving.kserve.io/stop": "true" };
        },
      },
    );
    assert.equal(asked, 1);
    assert.equal(res.kind, "ok");
    const giveUp = await patcher.patchAnnotations(ns, "p2", { x: "y" }, { resourceVersion: rv0, onConflict: () => null });
    assert.equal(giveUp.kind, "conflict");
  });

  test("the shared rate limit holds for real writes", async () => {
    for (let i = 0; i < 12; i++) await plane.objects.create(isvcManifest(ns, `r${i}`));
    const limiter = new WriteLimiter({ qps: 10, burst: 2, concurrency: 4 });
    const patcher = new AnnotationPatcher({ kubeConfig: plane.kubeConfig(), limiter });
    const begin = Date.now();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => patcher.patchAnnotations(ns, `r${i}`, { "serving.kserve.io/stop": "true" })),
    );
    const elapsed = Date.now() - begin;
    assert.ok(results.every((r) => r.kind === "ok"));
    // 2 from the burst, then 10 at 10/s: at least ~1 s.
    assert.ok(elapsed >= 950, `12 writes at qps 10 burst 2 took ${elapsed} ms`);
    assert.ok(elapsed < 3_000, `took ${elapsed} ms`);
    await patcher.drain();
    assert.equal(limiter.stats().inFlight, 0);
  });

  test("Events: visible on the InferenceService as kubectl describe reads them; repeats aggregate", async () => {
    await plane.objects.create(isvcManifest(ns, "e1"));
    const isvc = await readIsvc("e1");
    const recorder = new EventRecorder({
      kubeConfig: plane.kubeConfig(),
      limiter: new WriteLimiter(),
      reportingInstance: "test-pod-0",
      repeatIntervalMs: 300,
    });
    const involved = {
      apiVersion: "serving.kserve.io/v1beta1",
      kind: "InferenceService",
      namespace: ns,
      name: "e1",
      uid: isvc.metadata?.uid,
    };
    const first = await recorder.recordAsync(involved, "Normal", "Stopped", "Stopped by schedule office-hours");
    assert.equal(first.kind, "created");
    assert.equal((await recorder.recordAsync(involved, "Normal", "Stopped", "Stopped by schedule office-hours")).kind, "deferred");
    assert.equal((await recorder.recordAsync(involved, "Normal", "Stopped", "Stopped by schedule office-hours")).kind, "deferred");
    await recorder.recordAsync(involved, "Warning", "NotConfirmed", "KServe did not set Stopped=True within 60s");
    await new Promise((r) => setTimeout(r, 600));
    await recorder.flush();
    const core = plane.kubeConfig().makeApiClient(CoreV1Api);
    // What `kubectl describe` asks for: events by involvedObject.
    const list = await core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: `involvedObject.name=e1,involvedObject.namespace=${ns},involvedObject.kind=InferenceService,involvedObject.uid=${isvc.metadata?.uid}`,
    });
    const stopped = list.items.filter((e) => e.reason === "Stopped");
    assert.equal(stopped.length, 1, "one Event for three identical records");
    assert.equal(stopped[0]?.count, 3);
    assert.equal(stopped[0]?.type, "Normal");
    assert.equal(stopped[0]?.reportingComponent, REPORTING_CONTROLLER);
    assert.equal(stopped[0]?.source?.component, "kserve-reclaimer");
    const warn = list.items.find((e) => e.reason === "NotConfirmed");
    assert.equal(warn?.type, "Warning");
    assert.equal(warn?.count, 1);
  });

  test("Events: on a ServingSchedule; the per-object spam filter drops a storm", async () => {
    await plane.objects.create({
      apiVersion: "reclaimer.dev/v1alpha1",
      kind: "ServingSchedule",
      metadata: { name: "storm", namespace: ns },
      spec: { uptime: [{ days: "Mon-Fri", from: "08:00", to: "18:00" }] },
    } as KubernetesObject);
    const sched = await readSchedule("storm");
    const recorder = new EventRecorder({
      kubeConfig: plane.kubeConfig(),
      limiter: new WriteLimiter(),
      reportingInstance: "test-pod-0",
      spamBurst: 5,
    });
    const involved = {
      apiVersion: "reclaimer.dev/v1alpha1",
      kind: "ServingSchedule",
      namespace: ns,
      name: "storm",
      uid: sched.metadata?.uid,
    };
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await recorder.recordAsync(involved, "Warning", "Invalid", `problem number ${i}`));
    assert.equal(results.filter((r) => r.kind === "created").length, 5);
    assert.equal(results.filter((r) => r.kind === "dropped").length, 15);
    const core = plane.kubeConfig().makeApiClient(CoreV1Api);
    const list = await core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: `involvedObject.kind=ServingSchedule,involvedObject.name=storm`,
    });
    assert.equal(list.items.length, 5);
  });

  test("schedule status: written through /status, skipped when unchanged (resourceVersion stays)", async () => {
    await plane.objects.create({
      apiVersion: "reclaimer.dev/v1alpha1",
      kind: "ServingSchedule",
      metadata: { name: "office", namespace: ns },
      spec: { uptime: [{ days: "Mon-Fri", from: "08:00", to: "18:00" }] },
    } as KubernetesObject);
    const writer = new ScheduleStatusWriter({ kubeConfig: plane.kubeConfig(), limiter: new WriteLimiter() });
    const status = {
      observedGeneration: 1,
      conditions: [{ type: "Ready", status: "True", reason: "Reconciled", message: "ok", lastTransitionTime: "2026-01-05T08:00:00Z" }],
      services: [{ name: "llama", state: "Running", reason: "Schedule", gpus: 4, confirmed: true }],
      running: 1,
      stopped: 0,
      gpusReclaimed: 0,
      nextTransition: "2026-01-05T18:00:00Z",
    };
    const first = await writer.write(ns, "office", status, await readSchedule("office"));
    assert.equal(first.kind, "ok");
    const afterFirst = await readSchedule("office");
    assert.equal(afterFirst.metadata?.resourceVersion, first.kind === "ok" ? first.resourceVersion : "");
    assert.equal((afterFirst.status?.["services"] as unknown[] | undefined)?.length, 1);

    // Same status, keys in another order: nothing written.
    const reordered = {
      nextTransition: status.nextTransition,
      gpusReclaimed: 0,
      stopped: 0,
      running: 1,
      services: status.services,
      conditions: status.conditions,
      observedGeneration: 1,
    };
    assert.equal((await writer.write(ns, "office", reordered, afterFirst)).kind, "unchanged");
    // Same status against a stale cache (the object as it was before our write): nothing written.
    assert.equal(
      (await writer.write(ns, "office", status, { metadata: { resourceVersion: first.kind === "ok" ? first.resourceVersion : "" } })).kind,
      "unchanged",
    );
    assert.equal(
      (await readSchedule("office")).metadata?.resourceVersion,
      afterFirst.metadata?.resourceVersion,
      "resourceVersion unchanged",
    );

    // A changed status: written, removed keys removed, spec untouched.
    const { nextTransition: _dropped, ...rest } = status;
    const changed = {
      ...rest,
      running: 0,
      stopped: 1,
      services: [{ name: "llama", state: "Stopped", reason: "Schedule", gpus: 4, confirmed: false }],
    };
    const second = await writer.write(ns, "office", changed, afterFirst);
    assert.equal(second.kind, "ok");
    const afterSecond = await readSchedule("office");
    assert.equal(afterSecond.status?.["stopped"], 1);
    assert.equal(afterSecond.status?.["nextTransition"], undefined, "removed key removed");
    assert.deepEqual((afterSecond as { spec?: unknown }).spec, (afterFirst as { spec?: unknown }).spec);
    assert.deepEqual(writer.stats(), { writes: 2, skipped: 2 });

    assert.equal((await writer.write(ns, "gone", status, undefined)).kind, "notFound");
  });
});
