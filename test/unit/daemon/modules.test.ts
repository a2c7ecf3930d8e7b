// The shell's small modules on their own: the GPU-hours ledger, the confirmation deadline, the
// debounced status writes and the idle tick.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Decision } from "../../../src/decide/decide.ts";
import { Confirmations } from "../../../src/daemon/confirmations.ts";
import { GpuLedger } from "../../../src/daemon/ledger.ts";
import { newRecord, type Outcome } from "../../../src/daemon/ports.ts";
import { TransitionEvents } from "../../../src/daemon/transitionEvents.ts";
import { ReclaimerMetrics } from "../../../src/report/metrics.ts";
import { harness, metric, schedule, service } from "./harness.ts";

const HOUR = 3_600_000;

function outcome(observed: "Running" | "Stopped", gpus: number, reason = "Schedule"): Outcome {
  const decision: Decision = { action: "none", observed, desired: observed, reason, message: "", confirmed: true };
  return { decision, schedule: "ml/office", gpus, since: undefined };
}

test("ledger: GPUs a schedule keeps stopped accrue hours from the figure its status carried; a person's stop does not count", async () => {
  const metrics = new ReclaimerMetrics({ defaultMetrics: false });
  const ledger = new GpuLedger(metrics);
  ledger.open("ml/office", 10, 0);
  ledger.move(undefined, outcome("Stopped", 2), 0);
  ledger.move(undefined, outcome("Stopped", 4, "ManualStop"), 0);
  assert.equal(ledger.hours("ml/office", 3 * HOUR), 16, "10 carried + 2 GPUs x 3 h");
  ledger.move(outcome("Stopped", 2), outcome("Running", 2), 3 * HOUR);
  assert.equal(ledger.hours("ml/office", 5 * HOUR), 16, "nothing accrues while it runs");
  ledger.open("ml/office", 0, 5 * HOUR);
  assert.equal(ledger.hours("ml/office", 5 * HOUR), 16, "an open account is kept");
  assert.deepEqual(await metric(metrics, "kserve_reclaimer_services{"), [
    'kserve_reclaimer_services{state="Running"} 1',
    'kserve_reclaimer_services{state="Stopped"} 1',
  ]);
  ledger.close("ml/office");
  assert.equal(ledger.hours("ml/office", 6 * HOUR), undefined);
});

test("confirmations: a deadline that passes marks the record; a confirmation before it cancels it", async () => {
  const h = harness({ services: [service("llama")], schedule: { uptime: [] } });
  const late: string[] = [];
  const confirmations = new Confirmations(
    h.ports,
    { stopMs: 60_000, startMs: 600_000 },
    () => late.push("late"),
    new TransitionEvents(h.ports),
  );
  const record = newRecord();
  confirmations.expect("ml/llama", record, "start", h.clock.now());
  await h.clock.advance(599_000);
  assert.equal(record.notConfirmed, false);
  await h.clock.advance(1_000);
  assert.equal(record.notConfirmed, true);
  assert.deepEqual(late, ["late"]);
  assert.match(h.events.at(-1)?.message ?? "", /has not reported Ready=True within 600s of the start/);
  // a new stop replaces the wait, and KServe confirms it in time
  confirmations.expect("ml/llama", record, "stop", h.clock.now());
  assert.equal(record.notConfirmed, false);
  const facts = {
    namespace: "ml",
    name: "llama",
    createdAt: 0,
    annotations: { "serving.kserve.io/stop": "true" },
    deploymentMode: "Standard",
    ready: undefined,
    stoppedByKServe: true,
    gpus: 1,
  };
  confirmations.observe("ml/llama", record, service("llama"), facts, h.clock.now() + 5_000);
  assert.equal(record.awaiting, undefined);
  await h.clock.advance(120_000);
  assert.deepEqual(late, ["late"], "no second deadline");
  assert.equal(h.events.at(-1)?.reason, "StopConfirmed");
});

test("status: a burst of decisions is one write per schedule; one schedule's failing write does not stop the others", async () => {
  const written: string[] = [];
  const h = harness({
    services: [service("a"), service("b", {}, "1", {}, undefined, { team: "lab" })],
    schedules: [
      schedule("office", { uptime: [] }),
      schedule("lab", { uptime: [], selector: { matchLabels: { team: "lab" } } }, { creationTimestamp: "2025-01-01T00:00:00Z" }),
    ],
    overrides: {
      writeStatus: async (ns, name) => {
        if (name === "lab") throw new Error("etcd is full");
        written.push(`${ns}/${name}`);
      },
    },
  });
  h.reconciler.start();
  for (let i = 0; i < 50; i++) for (const s of h.services.values()) h.reconciler.onServiceChanged(s);
  await h.clock.advance(999);
  assert.deepEqual(written, [], "nothing before the debounce");
  await h.clock.advance(1);
  assert.deepEqual(written, ["ml/office"]);
  assert.deepEqual(await metric(h.metrics, 'kserve_reclaimer_errors_total{kind="status"}'), [
    'kserve_reclaimer_errors_total{kind="status"} 1',
  ]);
  assert.ok(h.logs.some((l) => l.level === "error" && l.msg === "status of ml/lab failed"));
  await h.reconciler.stop();
});

test("status: a burst that lasts 5 s is still one write per schedule, after it is over; one that never pauses is written within 10 s", async () => {
  const written: number[] = [];
  const h = harness({
    services: [service("a")],
    schedules: [schedule("office", { uptime: [] })],
    overrides: {
      writeStatus: async () => {
        written.push(h.clock.now());
      },
    },
  });
  h.reconciler.start();
  await h.clock.advance(5_000);
  written.length = 0;
  const t0 = h.clock.now();
  const svc = [...h.services.values()][0];
  assert.ok(svc);
  // a decision every 200 ms for 5 s (a slow apiserver working through a boundary)
  for (let i = 0; i < 25; i++) {
    h.reconciler.onServiceChanged(svc);
    await h.clock.advance(200);
  }
  assert.deepEqual(written, [], "nothing while the burst goes on");
  await h.clock.advance(1_000);
  assert.equal(written.length, 1, "one write when it is over");
  assert.ok((written[0] ?? 0) - t0 >= 5_000);
  written.length = 0;
  const t1 = h.clock.now();
  for (let i = 0; i < 150; i++) {
    h.reconciler.onServiceChanged(svc);
    await h.clock.advance(100);
  }
  assert.ok(written.length >= 1 && written.length <= 2, `${written.length} writes in 15 s of decisions`);
  assert.ok((written[0] ?? Number.POSITIVE_INFINITY) - t1 <= 10_000, "the cap");
  await h.reconciler.stop();
});

test("idle tick: one query per policy for all its services, then each is decided again with its rate", async () => {
  const asked: string[][] = [];
  const h = harness({
    services: [service("a"), service("b")],
    schedule: { uptime: [{ days: "*", from: "00:00", to: "24:00" }], idle: { after: "30m" } },
    overrides: {
      readTraffic: async (requests) => {
        asked.push(requests.map((r) => r.service));
        return {
          byService: new Map(requests.map((r) => [r.service, { kind: "known", rps: 0 } as const])),
          queries: [{ preset: "kserve", window: "1800s", promql: "x", ok: true, latencySeconds: 0, series: 2, services: 2 }],
        };
      },
    },
  });
  h.reconciler.start();
  await h.clock.advance(1_000);
  assert.deepEqual(asked, [["ml/a", "ml/b"]]);
  assert.deepEqual(h.patches.map((p) => p.name).sort(), ["a", "b"], "Ready for 2 h at 0 req/s: idle");
  assert.ok(h.events.some((e) => e.reason === "Stopped" && e.message.startsWith("served 0 req/s over the last 30m")));
  await h.clock.advance(15_000);
  assert.equal(asked.length, 2, "one tick per interval");
  await h.reconciler.stop();
});

test("a dated exception entirely in the past is a warning on the schedule's Valid condition, judged by the daemon's clock", async () => {
  const past = {
    uptime: [{ days: "*", from: "09:00", to: "17:00" }],
    exceptions: [{ from: "2025-12-24", to: "2025-12-27", state: "Stopped", reason: "Christmas" }],
  };
  const h = harness({ services: [service("llama")], schedule: past });
  h.reconciler.start();
  await h.clock.advance(5_000);
  await h.reconciler.stop();
  const valid = h.statuses.at(-1)?.conditions?.find((c) => c.type === "Valid");
  assert.equal(valid?.status, "True");
  assert.equal(valid?.reason, "ValidWithWarnings");
  assert.match(valid?.message ?? "", /past/);
});
