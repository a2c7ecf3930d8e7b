// The daemon's shell with a fake clock and in-memory ports: what a person would see (patches,
// Events, metrics, schedule status) at a schedule boundary, at a confirmation deadline, over hours
// of reclaimed GPUs, after a watch gap, on a refused patch and after losing the lease.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KEEP_RUNNING_UNTIL, STATE, STOP } from "../../../src/api/annotations.ts";
import type { Service } from "../../../src/sources/kube/service.ts";
import { harness, metric, schedule, service, START } from "./harness.ts";

const HOUR = 3_600_000;
/** Running from 09:00 to 11:00 UTC every day; START is 10:00. */
const MORNING = { timeZone: "UTC", uptime: [{ days: "*", from: "09:00", to: "11:00" }] };
/** Never running: every service is stopped at once. */
const NEVER = { uptime: [] };

/** The service after a patch, as the watch would deliver it; `stopped` adds KServe's confirmation. */
function afterPatch(s: Service, annotations: Record<string, string | null>, stoppedAt?: number): Service {
  const merged: Record<string, string> = { ...s.metadata.annotations };
  for (const [k, v] of Object.entries(annotations))
    if (v === null) delete merged[k];
    else merged[k] = v;
  const conditions = [...(s.status?.conditions ?? [])];
  if (stoppedAt !== undefined) conditions.push({ type: "Stopped", status: "True", lastTransitionTime: new Date(stoppedAt).toISOString() });
  return {
    ...s,
    metadata: { ...s.metadata, annotations: merged, resourceVersion: String(Number(s.metadata.resourceVersion) + 1) },
    status: { conditions },
  };
}

test("one boundary over 500 services: each is stopped by exactly one patch, and the status is written a few times, not 500", async () => {
  const names = Array.from({ length: 500 }, (_, i) => `model-${String(i).padStart(3, "0")}`);
  const h = harness({ services: names.map((n) => service(n)), schedule: MORNING });
  h.reconciler.start();
  await h.clock.advance(60_000);
  assert.equal(h.patches.length, 0, "inside the window nothing is patched");
  // A burst of watch events for every service just before the boundary merges into the work already queued.
  for (const s of h.services.values()) for (let i = 0; i < 3; i++) h.reconciler.onServiceChanged(s);
  const writesBefore = h.statuses.length;
  await h.clock.advance(HOUR - 60_000 + 10_000);
  assert.equal(h.patches.length, 500);
  assert.deepEqual([...new Set(h.patches.map((p) => p.name))].sort(), names);
  assert.ok(
    h.patches.every((p) => p.annotations[STOP] === "true"),
    "every patch is a stop",
  );
  // the watch delivers the 500 patched objects
  for (const p of h.patches) {
    const patched = afterPatch(h.services.get(`ml/${p.name}`)!, p.annotations);
    h.services.set(`ml/${p.name}`, patched);
    h.reconciler.onServiceChanged(patched);
  }
  await h.clock.advance(10_000);
  assert.equal(h.patches.length, 500, "the daemon's own stops are not patched again");
  assert.ok(h.statuses.length - writesBefore <= 4, `${h.statuses.length - writesBefore} status writes`);
  assert.equal(h.statuses.at(-1)?.stopped, 500);
  assert.equal(h.statuses.at(-1)?.gpusReclaimed, 500);
  // one Event on the schedule for the transition, none per service
  assert.equal(h.events.filter((e) => e.reason === "Stopped" && e.ref.kind === "InferenceService").length, 0);
  const stopped = h.events.filter((e) => e.reason === "Stopped");
  assert.equal(stopped.length, 1);
  assert.match(stopped[0]?.message ?? "", /^stopped 500 services \(500 GPUs\) at 11:00 UTC, outside all uptime windows: ml\/model-000, /);
  await h.reconciler.stop();
});

test("KServe never confirms a stop: one Warning and the metric at the deadline, Ready=False on the schedule; a late confirmation clears it", async () => {
  const h = harness({ services: [service("llama")], schedule: NEVER });
  h.reconciler.start();
  await h.clock.advance(119_000);
  assert.equal(h.patches.length, 1);
  assert.equal(h.events.filter((e) => e.reason === "NotConfirmed").length, 0, "not before the deadline");
  await h.clock.advance(2_000);
  const warnings = h.events.filter((e) => e.reason === "NotConfirmed");
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.type, "Warning");
  assert.match(warnings[0]?.message ?? "", /has not set Stopped=True within 120s of the stop/);
  assert.deepEqual(await metric(h.metrics, "kserve_reclaimer_unconfirmed_transitions_total"), [
    'kserve_reclaimer_unconfirmed_transitions_total{action="stop"} 1',
  ]);
  await h.clock.advance(2_000);
  const ready = () => h.statuses.at(-1)?.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready()?.status, "False");
  assert.equal(ready()?.reason, "NotConfirmed");
  // KServe catches up
  const patched = afterPatch(h.services.get("ml/llama")!, h.patches[0]!.annotations, h.clock.now());
  h.services.set("ml/llama", patched);
  h.reconciler.onServiceChanged(patched);
  await h.clock.advance(2_000);
  assert.equal(ready()?.status, "True");
  assert.equal(h.events.filter((e) => e.reason === "NotConfirmed").length, 1, "one Warning, not one per reconcile");
  await h.reconciler.stop();
});

test("KServe confirms in time: StopConfirmed, and no Warning at the deadline", async () => {
  const h = harness({ services: [service("llama")], schedule: NEVER });
  h.reconciler.start();
  await h.clock.advance(30_000);
  const patched = afterPatch(h.services.get("ml/llama")!, h.patches[0]!.annotations, h.clock.now());
  h.services.set("ml/llama", patched);
  h.reconciler.onServiceChanged(patched);
  await h.clock.advance(600_000);
  // a schedule's stop is confirmed on the schedule, with the others of its transition
  const confirmed = h.events.filter((e) => e.reason === "StopConfirmed");
  assert.deepEqual(
    confirmed.map((e) => [e.ref.kind, e.message]),
    [
      [
        "ServingSchedule",
        "KServe set Stopped=True on 1 service (1 GPU) stopped at 10:00 UTC, outside all uptime windows; the last after 30.0s: ml/llama",
      ],
    ],
  );
  assert.equal(h.events.filter((e) => e.reason === "NotConfirmed").length, 0);
  await h.reconciler.stop();
});

test("a 2-GPU service stopped for 3 h reclaims 6 GPU-hours, and the count carries on across a restart through the status", async () => {
  const first = harness({ services: [service("llama", {}, 2)], schedule: NEVER });
  first.reconciler.start();
  await first.clock.advance(1_000);
  assert.equal(first.patches.length, 1);
  const stopAt = first.clock.now();
  const stopped = afterPatch(first.services.get("ml/llama")!, first.patches[0]!.annotations);
  first.services.set("ml/llama", stopped);
  first.reconciler.onServiceChanged(stopped);
  await first.clock.advance(3 * HOUR - 1_000);
  // KServe's confirmation arrives late: a real change, so the status is written, GPU-hours with it
  const confirmed = afterPatch(first.services.get("ml/llama")!, first.patches[0]!.annotations, first.clock.now());
  first.services.set("ml/llama", confirmed);
  first.reconciler.onServiceChanged(confirmed);
  await first.clock.advance(2_000);
  const written = first.statuses.at(-1);
  assert.equal(written?.gpusReclaimed, 2);
  assert.ok(Math.abs((written?.gpuHoursReclaimed ?? 0) - 6) < 0.01, `${written?.gpuHoursReclaimed} GPU-hours`);
  const [counter] = await metric(first.metrics, "kserve_reclaimer_gpu_hours_reclaimed_total");
  assert.ok(Math.abs(Number(counter?.split(" ")[1]) - 6) < 0.01, counter);
  await first.reconciler.stop();

  // A new leader starts an hour later from what the cluster holds: the service, and the schedule with its status.
  const office = first.schedules.get("ml/office")!;
  const second = harness({ services: [confirmed], schedules: [office] });
  second.clock.t = stopAt + 4 * HOUR;
  second.reconciler.start();
  await second.clock.advance(HOUR);
  assert.equal(second.patches.length, 0, "the daemon's own stop is left as it is");
  second.services.delete("ml/llama");
  second.reconciler.onServiceDeleted(confirmed);
  await second.clock.advance(2_000);
  const after = second.statuses.at(-1);
  assert.equal(after?.gpusReclaimed, 0);
  assert.ok(Math.abs((after?.gpuHoursReclaimed ?? 0) - 8) < 0.01, `${after?.gpuHoursReclaimed} GPU-hours: 6 before, 2 since`);
  await second.reconciler.stop();
});

test("resync after a watch gap: a service and a schedule deleted meanwhile are forgotten, with no timer left behind", async () => {
  const later = new Date(START + 2 * HOUR).toISOString();
  const h = harness({
    services: [service("kept"), service("gone", { [KEEP_RUNNING_UNTIL]: later })],
    schedules: [
      schedule("office", NEVER),
      schedule("evening", { ...MORNING, selector: { matchLabels: { team: "nobody" } } }, { creationTimestamp: "2026-02-01T00:00:00Z" }),
    ],
  });
  h.reconciler.start();
  await h.clock.advance(5_000);
  assert.deepEqual(h.reconciler.tracked().queued, ["ml/gone"], "gone waits for its keep-running-until");
  // Deleted while the watch was down: the caches lose them, no delete event is delivered.
  h.services.delete("ml/gone");
  h.schedules.delete("ml/evening");
  h.reconciler.resync();
  await h.clock.advance(1_000);
  const tracked = h.reconciler.tracked();
  assert.deepEqual(tracked.services, ["ml/kept"]);
  assert.deepEqual(tracked.schedules, ["ml/office"]);
  assert.deepEqual(tracked.queued, []);
  assert.deepEqual(h.forgotten, ["ml/evening"], "the status writer forgets the schedule");
  const patchesBefore = h.patches.length;
  await h.clock.advance(3 * HOUR);
  assert.equal(h.patches.length, patchesBefore, "no timer of the deleted service fired");
  assert.ok(!h.logs.some((l) => l.msg === "schedule transition" && l.fields?.schedule === "ml/evening"));
  await h.reconciler.stop();
});

test("a 409 re-reads the cache and decides again on what it finds", async () => {
  const h = harness({ services: [service("llama")], schedule: NEVER });
  h.answers.push("conflict");
  h.reconciler.start();
  await h.clock.advance(100);
  assert.equal(h.patches.length, 1);
  // Someone changed the service meanwhile: they asked to keep it running. The cache has it; the watch event is late.
  const kept = service("llama", { [KEEP_RUNNING_UNTIL]: new Date(START + HOUR).toISOString() });
  h.services.set("ml/llama", { ...kept, metadata: { ...kept.metadata, resourceVersion: "7" } });
  await h.clock.advance(2_000);
  assert.equal(h.patches.length, 1, "re-decided on the fresh object: keep it running, nothing to patch");
  await h.clock.advance(HOUR);
  assert.equal(h.patches.length, 2, "stopped when keep-running-until passed");
  assert.equal(h.patches[1]?.resourceVersion, "7");
  await h.reconciler.stop();
});

test("a 500 is reported as PatchFailed and retried with backoff until it goes through", async () => {
  const h = harness({ services: [service("llama")], schedule: NEVER });
  h.answers.push("error", "error");
  h.reconciler.start();
  await h.clock.advance(60_000);
  assert.equal(h.patches.length, 3, "the first try and two retries");
  const failed = h.events.filter((e) => e.reason === "PatchFailed");
  assert.equal(failed.length, 2);
  assert.match(failed[0]?.message ?? "", /could not stop: etcd is sad/);
  const retries = h.logs.filter((l) => l.msg === "patch failed; retrying").map((l) => l.fields?.retryInMs);
  assert.deepEqual(retries, [5_000, 10_000]);
  assert.equal(h.events.filter((e) => e.reason === "Stopped" && e.ref.kind === "InferenceService").length, 0);
  assert.equal(h.events.filter((e) => e.reason === "Stopped" && e.ref.kind === "ServingSchedule").length, 1, "once it went through");
  assert.ok(h.patches.every((p) => p.annotations[STOP] === "true" && p.annotations[STATE] !== undefined));
  await h.reconciler.stop();
});

test("after losing the lease nothing is patched: no boundary, no watch event, no retry", async () => {
  const h = harness({ services: [service("llama"), service("mistral")], schedule: MORNING });
  h.answers.push("error");
  h.reconciler.start();
  await h.clock.advance(1_000);
  // main.ts stops the reconciler when the lease is lost
  await h.reconciler.stop();
  assert.equal(h.reconciler.ready, false);
  h.reconciler.onServiceChanged(h.services.get("ml/llama")!);
  h.reconciler.resync();
  await h.clock.advance(3 * HOUR);
  assert.equal(h.patches.length, 0);
  assert.deepEqual(h.reconciler.tracked().queued, []);
});

test("connections are warmed 5 s before a transition, for the services it may write to; not after the schedule is gone", async () => {
  const warmed: { at: number; services: number }[] = [];
  const other = { ...service("elsewhere"), metadata: { ...service("elsewhere").metadata, namespace: "other" } };
  const h = harness({
    services: [service("a"), service("b"), service("c"), other],
    schedule: MORNING,
    overrides: { warmWrites: (services) => warmed.push({ at: h.clock.now(), services }) },
  });
  h.reconciler.start();
  await h.clock.advance(HOUR - 5_001);
  assert.deepEqual(warmed, [], "nothing to warm an hour ahead");
  await h.clock.advance(1);
  assert.deepEqual(warmed, [{ at: START + HOUR - 5_000, services: 3 }], "the three services of ml, not the one in another namespace");
  assert.equal(h.patches.length, 0, "warming writes nothing");
  await h.clock.advance(5_000);
  assert.equal(h.patches.length, 3);
  // The next transition is 09:00 tomorrow; the schedule goes before its warm-up is due.
  h.reconciler.onScheduleDeleted(h.schedules.get("ml/office")!);
  await h.clock.advance(24 * HOUR);
  assert.equal(warmed.length, 1, "no warm-up for a deleted schedule");
  await h.reconciler.stop();
});
