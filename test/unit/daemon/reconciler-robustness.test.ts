// The reconciler with in-memory ports: no object, annotation or failing port may crash or wedge
// it. Each test drives it with a fake clock and checks what a user would see (Events, status,
// metrics), and that every promise it starts settles.
import { test } from "node:test";
import assert from "node:assert/strict";
import { STOP, STATE, KEEP_RUNNING_UNTIL } from "../../../src/api/annotations.ts";
import type { TrafficReading, TrafficRequest } from "../../../src/sources/prometheus/traffic.ts";
import { harness, metric, service as isvc } from "./harness.ts";

/** What the daemon itself writes when it stops a service for the schedule. */
const daemonStop = (reason = "Schedule") => ({
  [STOP]: "true",
  [STATE]: JSON.stringify({ v: 1, action: "stop", reason, schedule: "ml/office", at: "2026-12-01T09:00:00.000Z", generation: 1 }),
});

test("a service asking for 1e400 GPUs: reported once as InvalidGpuRequest, counted as 0 GPUs, and the status still flushes", async () => {
  const h = harness({ services: [isvc("huge", daemonStop(), "1e400"), isvc("fine", daemonStop(), "2")], schedule: { uptime: [] } });
  h.reconciler.start();
  await h.clock.advance(5_000);
  // GPU-hours accrue from here: an Infinity would make prom-client throw inside the status flush.
  await h.clock.advance(60_000);
  h.reconciler.onServiceChanged(h.services.get("ml/huge")!);
  await h.clock.advance(5_000);
  await h.reconciler.flushStatus();
  await h.reconciler.stop();
  const invalid = h.events.filter((e) => e.reason === "InvalidGpuRequest");
  assert.equal(invalid.length, 1, "one Event per service and value, not one per reconcile");
  assert.equal(invalid[0]?.type, "Warning");
  assert.equal(invalid[0]?.ref.name, "huge");
  assert.match(invalid[0]?.message ?? "", /nvidia\.com\/gpu "1e400" is not a Kubernetes quantity/);
  const last = h.statuses.at(-1);
  assert.deepEqual(
    last?.services?.map((s) => [s.name, s.gpus]),
    [
      ["fine", 2],
      ["huge", 0],
    ],
  );
  assert.equal(last?.gpusReclaimed, 2);
  const hours = await metric(h.metrics, "kserve_reclaimer_gpu_hours_reclaimed_total");
  assert.ok(
    hours.every((l) => Number.isFinite(Number(l.split(" ")[1]))),
    hours.join("\n"),
  );
});

test("keep-running-until that is not RFC 3339 is ignored, with one Warning Event per service and value", async () => {
  const h = harness({ services: [isvc("llama", { [KEEP_RUNNING_UNTIL]: "2099" })], schedule: { uptime: [] } });
  h.reconciler.start();
  await h.clock.advance(5_000);
  // decided as if absent: outside all windows it is stopped
  assert.deepEqual(
    h.patches.map((p) => [p.name, p.annotations[STOP]]),
    [["llama", "true"]],
  );
  for (let i = 0; i < 3; i++) {
    h.reconciler.onServiceChanged(h.services.get("ml/llama")!);
    await h.clock.advance(1_000);
  }
  const warn = () => h.events.filter((e) => e.reason === "InvalidKeepRunningUntil");
  assert.equal(warn().length, 1);
  assert.match(warn()[0]?.message ?? "", /"2099" is not an RFC 3339 time/);
  // a 250 KB value: a new value, one more Event, and a short one
  h.services.set("ml/llama", isvc("llama", { [KEEP_RUNNING_UNTIL]: "9".repeat(250_000) }));
  h.reconciler.onServiceChanged(h.services.get("ml/llama")!);
  await h.clock.advance(1_000);
  assert.equal(warn().length, 2);
  assert.ok((warn()[1]?.message.length ?? 0) < 400);
  await h.reconciler.stop();
});

test("a forged state record: its reason never reaches the status; GPUs come from the spec; the status stays small", async () => {
  const forged = {
    [STOP]: "true",
    [STATE]: JSON.stringify({
      v: 1,
      action: "stop",
      reason: "x".repeat(200_000),
      schedule: "ml/office",
      at: "2026-12-01T09:00:00Z",
      gpus: 1_000_000,
    }),
  };
  const h = harness({ services: [isvc("forged", forged, "1", { minReplicas: 1_000_000 })], schedule: { uptime: [] } });
  h.reconciler.start();
  await h.clock.advance(5_000);
  await h.reconciler.stop();
  const last = h.statuses.at(-1);
  const json = JSON.stringify(last);
  assert.ok(json.length < 10_000, `status is ${json.length} characters`);
  assert.equal(last?.gpusReclaimed, 0);
  assert.equal(last?.services?.[0]?.gpus, 0);
  // an unreadable record is no record: a stop by a person, left alone, and reported once
  assert.equal(last?.services?.[0]?.reason, "ManualStop");
  assert.equal(h.events.filter((e) => e.reason === "InvalidStateRecord").length, 1);
});

test("a failure in one service's handling is that service's problem: logged, counted, an Event, retried; the others go on", async () => {
  let failing = true;
  const patched: string[] = [];
  const h = harness({
    services: [isvc("bad"), isvc("good")],
    schedule: { uptime: [] },
    overrides: {
      // a port that throws instead of answering: the reconciler must treat it as any other bug
      patchAnnotations: async ({ name }) => {
        if (name === "bad" && failing) throw new Error("boom");
        patched.push(name);
        return { kind: "ok", resourceVersion: "2", annotations: {} };
      },
    },
  });
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on("unhandledRejection", onUnhandled);
  try {
    h.reconciler.start();
    await h.clock.advance(2_000);
    assert.deepEqual(patched, ["good"]);
    assert.equal(h.events.filter((e) => e.reason === "ReconcileFailed" && e.ref.name === "bad").length, 1);
    assert.ok(h.logs.some((l) => l.level === "error" && l.fields?.service === "ml/bad"));
    assert.deepEqual(await metric(h.metrics, 'kserve_reclaimer_errors_total{kind="reconcile"}'), [
      'kserve_reclaimer_errors_total{kind="reconcile"} 1',
    ]);
    // retried with backoff, without any event from outside
    failing = false;
    await h.clock.advance(10_000);
    assert.deepEqual(patched, ["good", "bad"]);
    await h.reconciler.stop();
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  assert.deepEqual(unhandled, []);
});

test("a status writer or traffic reader that throws is reported, never an unhandled rejection", async () => {
  const h = harness({
    services: [isvc("llama")],
    schedule: { uptime: [], idle: { after: "30m" } },
    overrides: {
      writeStatus: async () => {
        throw new Error("status exploded");
      },
      readTraffic: async () => {
        throw new Error("reader exploded");
      },
    },
  });
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on("unhandledRejection", onUnhandled);
  try {
    h.reconciler.start();
    await h.clock.advance(20_000);
    await h.reconciler.stop();
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  assert.deepEqual(unhandled, []);
  const errors = await metric(h.metrics, "kserve_reclaimer_errors_total");
  assert.ok(
    errors.some((l) => l.startsWith('kserve_reclaimer_errors_total{kind="status"}')),
    errors.join("\n"),
  );
  assert.ok(
    errors.some((l) => l.startsWith('kserve_reclaimer_errors_total{kind="idle"}')),
    errors.join("\n"),
  );
});

test("idle.after written in minutes: a failed query of its window sets MetricsAvailable=False", async () => {
  const readTraffic = async (requests: TrafficRequest[]): Promise<TrafficReading> => ({
    byService: new Map(requests.map((r) => [r.service, { kind: "unknown", why: "Prometheus down" }])),
    // the query's window is what was sent to Prometheus: whole seconds
    queries: [
      {
        preset: "kserve",
        window: "1800s",
        promql: "up",
        ok: false,
        error: "connection refused",
        latencySeconds: 0.01,
        series: 0,
        services: requests.length,
      },
    ],
  });
  const h = harness({ services: [isvc("llama")], schedule: { idle: { after: "30m" } }, overrides: { readTraffic } });
  h.reconciler.start();
  await h.clock.advance(5_000);
  await h.reconciler.stop();
  const cond = h.statuses.at(-1)?.conditions?.find((c) => c.type === "MetricsAvailable");
  assert.equal(cond?.status, "False");
  assert.match(cond?.message ?? "", /connection refused/);
  assert.equal(h.events.filter((e) => e.reason === "MetricsUnavailable").length, 1);
});

test("a well-formed record on a service asking for a million GPUs: GPUs come from the spec, within bounds, never a million", async () => {
  const h = harness({ services: [isvc("greedy", daemonStop(), "1", { minReplicas: 1_000_000 })], schedule: { uptime: [] } });
  h.reconciler.start();
  await h.clock.advance(5_000);
  await h.reconciler.stop();
  assert.equal(h.statuses.at(-1)?.gpusReclaimed, 0);
  assert.match(h.events.find((e) => e.reason === "InvalidGpuRequest")?.message ?? "", /1000000 GPUs in total .* more than 100000/);
});

test("another namespace's custom query error never reaches this schedule's status or Events", async () => {
  const readTraffic = async (requests: TrafficRequest[]): Promise<TrafficReading> => ({
    byService: new Map(requests.map((r) => [r.service, { kind: "unknown", why: "no series" }])),
    queries: [
      // namespace "secret-team"'s query failed, quoting its series; ours ("ml") succeeded
      {
        preset: "custom",
        window: "1800s",
        promql: "x",
        ok: false,
        error: 'bad: secret_metric{namespace="secret-team"} 42',
        latencySeconds: 0,
        series: 0,
        services: 1,
        namespace: "secret-team",
      },
      { preset: "custom", window: "1800s", promql: "y", ok: true, latencySeconds: 0, series: 1, services: 1, namespace: "ml" },
    ],
  });
  const h = harness({
    services: [isvc("llama")],
    schedule: { idle: { after: "30m", metric: "custom", custom: { query: "sum(rate(x[$window]))", serviceLabel: "isvc" } } },
    overrides: { readTraffic },
  });
  h.reconciler.start();
  await h.clock.advance(5_000);
  await h.reconciler.stop();
  assert.equal(h.statuses.at(-1)?.conditions?.find((c) => c.type === "Valid")?.status, "True", "the schedule is valid");
  const text = JSON.stringify({ statuses: h.statuses, events: h.events });
  assert.doesNotMatch(text, /secret/);
  assert.notEqual(h.statuses.at(-1)?.conditions?.find((c) => c.type === "MetricsAvailable")?.status, "False");
});
