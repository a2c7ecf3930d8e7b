// GPUs are free when the predictor pods are gone (issue 16): the pure rule (src/daemon/release.ts),
// the accounting (ledger, status), and the reconciler driven by a pod count and a fake clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { STATE, STOP } from "../../../src/api/annotations.ts";
import type { Decision } from "../../../src/decide/decide.ts";
import { buildStatus, releasedAtShown, type ServiceReport } from "../../../src/decide/status.ts";
import { countsAsReclaimed, GpuLedger } from "../../../src/daemon/ledger.ts";
import type { Outcome } from "../../../src/daemon/ports.ts";
import { isReleased, nextRelease, type Release, releaseDeadline, releaseSeconds } from "../../../src/daemon/release.ts";
import { ReclaimerMetrics } from "../../../src/report/metrics.ts";
import type { Service } from "../../../src/sources/kube/service.ts";
import { harness, metric, service, START } from "./harness.ts";

const HOUR = 3_600_000;
const T = START;

// ---- the rule ----

test("a running service has no release; a stopped one with pods is releasing until the last pod is gone", () => {
  assert.equal(nextRelease(undefined, false, 3, undefined, T), undefined);
  const releasing = nextRelease(undefined, true, 2, T - 5_000, T);
  assert.deepEqual(releasing, { kind: "releasing", stoppedAt: T - 5_000, since: T, pods: 2 });
  const fewer = nextRelease(releasing, true, 1, T - 5_000, T + 10_000);
  assert.deepEqual(fewer, { kind: "releasing", stoppedAt: T - 5_000, since: T, pods: 1 }, "since stays at the first instant");
  assert.equal(nextRelease(fewer, true, 1, T - 5_000, T + 20_000), fewer, "no change: the same object");
  const released = nextRelease(fewer, true, 0, T - 5_000, T + 40_000);
  assert.deepEqual(released, { kind: "released", stoppedAt: T - 5_000, at: T + 40_000 });
  assert.equal(nextRelease(released, true, 0, T - 5_000, T + 90_000), released, "the instant never moves while it stays released");
  assert.equal(nextRelease(released, false, 0, undefined, T + 100_000), undefined, "started again: forgotten");
});

test("a service with no pods at the stop is released at once", () => {
  assert.deepEqual(nextRelease(undefined, true, 0, T, T), { kind: "released", stoppedAt: T, at: T });
  assert.equal(releaseSeconds(undefined, nextRelease(undefined, true, 0, T, T + 300), true), 0.3);
});

test("pods that come back while the service stays stopped make it releasing again, from the same stop", () => {
  const released: Release = { kind: "released", stoppedAt: T, at: T + 30_000 };
  assert.deepEqual(nextRelease(released, true, 1, T, T + 60_000), { kind: "releasing", stoppedAt: T, since: T + 60_000, pods: 1 });
});

test("the stop instant: the state record's, unless missing, not a number or in the future (then now)", () => {
  assert.equal(nextRelease(undefined, true, 1, undefined, T)?.stoppedAt, T);
  assert.equal(nextRelease(undefined, true, 1, T + HOUR, T)?.stoppedAt, T, "a record dated in the future is not believed");
  assert.equal(nextRelease(undefined, true, 1, Number.NaN, T)?.stoppedAt, T);
  for (const holding of [Number.NaN, -1, 0]) assert.equal(nextRelease(undefined, true, holding, T, T)?.kind, "released", `${holding}`);
  assert.equal(nextRelease(undefined, true, Number.POSITIVE_INFINITY, T, T)?.kind, "releasing");
});

test("release seconds: only for a release this process saw happen, never for one found done at start-up", () => {
  const releasing: Release = { kind: "releasing", stoppedAt: T, since: T + 1_000, pods: 1 };
  const released: Release = { kind: "released", stoppedAt: T, at: T + 45_000 };
  assert.equal(releaseSeconds(releasing, released, false), 45);
  assert.equal(releaseSeconds(undefined, released, false), undefined, "found released (stopped days ago): no sample");
  assert.equal(releaseSeconds(undefined, released, true), 45, "stopped by this process just now");
  assert.equal(releaseSeconds(released, released, true), undefined, "counted once");
  assert.equal(releaseSeconds(releasing, releasing, true), undefined);
  assert.equal(releaseSeconds(releasing, undefined, true), undefined);
});

test("the Warning deadline: the stop plus the timeout, only while releasing", () => {
  assert.equal(releaseDeadline({ kind: "releasing", stoppedAt: T, since: T + 5_000, pods: 1 }, 120_000), T + 120_000);
  assert.equal(releaseDeadline({ kind: "released", stoppedAt: T, at: T }, 120_000), undefined);
  assert.equal(releaseDeadline(undefined, 120_000), undefined);
  assert.equal(isReleased(undefined), false);
});

// ---- the accounting ----

function outcome(released: boolean | undefined, reason = "Schedule"): Outcome {
  const decision: Decision = { action: "none", observed: "Stopped", desired: "Stopped", reason, message: "", confirmed: true };
  return { decision, schedule: "ml/office", gpus: 4, since: undefined, released };
}

test("ledger: GPU-hours count from the release, not from the stop", () => {
  assert.equal(countsAsReclaimed(outcome(false)), false);
  assert.equal(countsAsReclaimed(outcome(true)), true);
  assert.equal(countsAsReclaimed(outcome(true, "ManualStop")), false, "a person's stop is never reclaimed");
  const ledger = new GpuLedger(new ReclaimerMetrics({ defaultMetrics: false }));
  ledger.open("ml/office", 0, T);
  ledger.move(undefined, outcome(false), T);
  assert.equal(ledger.hours("ml/office", T + HOUR), 0, "an hour of terminating pods reclaims nothing");
  ledger.move(outcome(false), outcome(true), T + HOUR);
  assert.equal(ledger.hours("ml/office", T + 3 * HOUR), 8, "4 GPUs x 2 h since the release");
});

function report(released: boolean | undefined, releasedAt: number | undefined): ServiceReport {
  const decision: Decision = { action: "none", observed: "Stopped", desired: "Stopped", reason: "Schedule", message: "", confirmed: true };
  return {
    name: "llama",
    kind: "InferenceService",
    decision,
    gpus: 2,
    since: T,
    nextTransition: undefined,
    notConfirmed: false,
    released,
    releasedAt,
  };
}

const statusOf = (services: ServiceReport[], previous?: Parameters<typeof buildStatus>[0]["previous"]) =>
  buildStatus({
    generation: 1,
    valid: { ok: true },
    metrics: undefined,
    services,
    next: undefined,
    gpuHoursReclaimed: 0,
    previous,
    now: T + HOUR,
  });

test("status: a stopped service says whether and when its GPUs were released; GPUs held by terminating pods are not reclaimed", () => {
  const releasing = statusOf([report(false, undefined)]);
  assert.equal(releasing.services?.[0]?.gpusReleased, false);
  assert.equal(releasing.services?.[0]?.gpusReleasedAt, undefined);
  assert.equal(releasing.gpusReclaimed, 0);
  const released = statusOf([report(true, T + 30_000)]);
  assert.equal(released.services?.[0]?.gpusReleased, true);
  assert.equal(released.services?.[0]?.gpusReleasedAt, new Date(T + 30_000).toISOString());
  assert.equal(released.gpusReclaimed, 2);
  const untracked = statusOf([report(undefined, undefined)]);
  assert.equal("gpusReleased" in (untracked.services?.[0] ?? {}), false, "no field where nothing is known");
});

test("status: a restarted daemon keeps the earlier release instant the status carried while the service stayed stopped", () => {
  const previous = statusOf([report(true, T + 30_000)]);
  const after = statusOf([report(true, T + 5 * HOUR)], previous);
  assert.equal(after.services?.[0]?.gpusReleasedAt, new Date(T + 30_000).toISOString());
  const entry = previous.services?.[0];
  assert.ok(entry);
  assert.equal(releasedAtShown(report(true, T + 5 * HOUR), { ...entry, state: "Running" }), T + 5 * HOUR, "it ran in between");
  assert.equal(releasedAtShown(report(true, T + 5 * HOUR), { ...entry, gpusReleasedAt: "yesterday" }), T + 5 * HOUR, "unreadable");
  assert.equal(releasedAtShown(report(false, T), entry), undefined);
});

// ---- the reconciler ----

const stoppedByDaemon = (at: number): Record<string, string> => ({
  [STOP]: "true",
  [STATE]: JSON.stringify({
    v: 1,
    action: "stop",
    reason: "Schedule",
    schedule: "ml/office",
    at: new Date(at).toISOString(),
    generation: 1,
  }),
});

function withPods(initial: number) {
  const counts = new Map<string, number>([["ml/llama", initial]]);
  return { counts, port: { holding: (key: string) => counts.get(key) ?? 0 } };
}

test("reconciler: the release is reported when the last pod is gone, GPU-hours count from then, and the histogram has the wait", async () => {
  const pods = withPods(1);
  const stopped: Service = service("llama", stoppedByDaemon(START), 2);
  const h = harness({ services: [stopped], schedule: { uptime: [] }, overrides: { pods: pods.port } });
  h.reconciler.start();
  await h.clock.advance(2_000);
  await h.reconciler.flushStatus();
  assert.equal(h.statuses.at(-1)?.services?.[0]?.gpusReleased, false);
  assert.equal(h.statuses.at(-1)?.gpusReclaimed, 0);
  // the pod takes 45 s to go
  await h.clock.advance(43_000);
  pods.counts.set("ml/llama", 0);
  h.reconciler.onPodsChanged("ml/llama");
  await h.clock.advance(2_000);
  await h.reconciler.flushStatus();
  const entry = h.statuses.at(-1)?.services?.[0];
  assert.equal(entry?.gpusReleased, true);
  assert.equal(entry?.gpusReleasedAt, new Date(START + 45_000).toISOString());
  assert.equal(h.statuses.at(-1)?.gpusReclaimed, 2);
  await h.clock.advance(HOUR);
  // the status carries GPU-hours with the next real change; the counter moves at each status flush
  h.reconciler.onServiceChanged(stopped);
  await h.clock.advance(2_000);
  await h.reconciler.flushStatus();
  const [counter] = await metric(h.metrics, "kserve_reclaimer_gpu_hours_reclaimed_total");
  const hours = Number(counter?.split(" ")[1]);
  assert.ok(Math.abs(hours - (2 * (HOUR + 4_000)) / HOUR) < 0.002, `${counter}: 2 GPUs from the release, none before`);
  // found releasing at start-up (no stop seen by this process): the release counts once it happens
  assert.deepEqual(await metric(h.metrics, "kserve_reclaimer_gpu_release_seconds_count"), [
    'kserve_reclaimer_gpu_release_seconds_count{mode="Standard"} 1',
  ]);
  assert.deepEqual(await metric(h.metrics, 'kserve_reclaimer_gpu_release_seconds_bucket{le="30"'), [
    'kserve_reclaimer_gpu_release_seconds_bucket{le="30",mode="Standard"} 0',
  ]);
  assert.deepEqual(await metric(h.metrics, 'kserve_reclaimer_gpu_release_seconds_bucket{le="60"'), [
    'kserve_reclaimer_gpu_release_seconds_bucket{le="60",mode="Standard"} 1',
  ]);
  assert.equal(h.events.filter((e) => e.type === "Warning").length, 0);
  await h.reconciler.stop();
  assert.equal(h.clock.live, 0, "no timer left behind");
});

test("reconciler: pods still there at the stop timeout give one Warning Event; a pod change of a running service decides nothing", async () => {
  const pods = withPods(3);
  const h = harness({
    services: [service("llama", stoppedByDaemon(START), 1), service("other", {}, 1)],
    schedule: { uptime: [] },
    overrides: { pods: pods.port },
  });
  h.reconciler.start();
  await h.clock.advance(2_000);
  // "other" was stopped by one patch; the cache still shows it running, so deciding it again would patch again
  const before = h.patches.length;
  h.reconciler.onPodsChanged("ml/other");
  h.reconciler.onPodsChanged("ml/missing");
  await h.clock.advance(130_000);
  assert.equal(h.patches.length, before, "pods of a running (or unknown) service decide nothing");
  const warnings = h.events.filter((e) => e.type === "Warning" && e.ref.name === "llama");
  assert.equal(warnings.length, 1, JSON.stringify(h.events));
  assert.equal(warnings[0]?.reason, "GPUsNotReleased");
  assert.equal(warnings[0]?.ref.name, "llama");
  assert.match(warnings[0]?.message ?? "", /^3 predictor pod\(s\) still terminating 1[23]\ds after the stop: its GPUs are not free yet/);
  assert.deepEqual(await metric(h.metrics, "kserve_reclaimer_gpus_not_released_total"), ["kserve_reclaimer_gpus_not_released_total 1"]);
  // more reconciles while the pods stay: no second Warning
  pods.counts.set("ml/llama", 2);
  h.reconciler.onPodsChanged("ml/llama");
  await h.clock.advance(60_000);
  assert.equal(h.events.filter((e) => e.type === "Warning" && e.ref.name === "llama").length, 1);
  await h.reconciler.stop();
  assert.equal(h.clock.live, 0);
});

test("reconciler without a pod source: a stop is a release (the behaviour before the pod watch)", async () => {
  const h = harness({ services: [service("llama", stoppedByDaemon(START), 1)], schedule: { uptime: [] } });
  h.reconciler.start();
  await h.clock.advance(2_000);
  await h.reconciler.flushStatus();
  assert.equal(h.statuses.at(-1)?.services?.[0]?.gpusReleased, true);
  assert.equal(h.statuses.at(-1)?.gpusReclaimed, 1);
  await h.reconciler.stop();
});
