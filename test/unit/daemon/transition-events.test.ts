// Events at a boundary: what a schedule's transition does to its services is one Event on the
// schedule, not one per service; a person's reasons to look at one service (an idle stop, a
// failure, a keep-running-until) still get an Event on that service.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KEEP_RUNNING_UNTIL, readState, STOP } from "../../../src/api/annotations.ts";
import type { TrafficReading, TrafficRequest } from "../../../src/sources/prometheus/traffic.ts";
import { TransitionEvents } from "../../../src/daemon/transitionEvents.ts";
import { FakeClock, harness, type RecordedEvent, service, START } from "./harness.ts";

const HOUR = 3_600_000;
/** Running from 09:00 to 11:30 in Berlin (08:00 to 10:30 UTC): START (10:00 UTC) is 11:00 there, the boundary 30 min later. */
const MORNING_BERLIN = { timeZone: "Europe/Berlin", uptime: [{ days: "*", from: "09:00", to: "11:30" }] };
const names = (n: number) => Array.from({ length: n }, (_, i) => `model-${String(i).padStart(3, "0")}`);
const onServices = (events: RecordedEvent[]) => events.filter((e) => e.ref.kind === "InferenceService");

test("100 services stopped by one schedule's boundary: one Event on the schedule naming the count, none on the services", async () => {
  const h = harness({ services: names(100).map((n) => service(n, {}, "4")), schedule: MORNING_BERLIN });
  h.reconciler.start();
  await h.clock.advance(29 * 60_000);
  assert.equal(h.patches.length, 0, "inside the window");
  await h.clock.advance(60_000 + 1_000);
  assert.equal(h.patches.length, 100);
  assert.equal(h.events.filter((e) => e.reason === "Stopped").length, 0, "collected while the burst lasts");
  await h.clock.advance(5_000);
  const stopped = h.events.filter((e) => e.reason === "Stopped");
  assert.equal(stopped.length, 1);
  assert.deepEqual([stopped[0]?.ref.kind, stopped[0]?.ref.name, stopped[0]?.type], ["ServingSchedule", "office", "Normal"]);
  assert.equal(
    stopped[0]?.message,
    "stopped 100 services (400 GPUs) at 11:30 Europe/Berlin, outside all uptime windows: " +
      `${names(10)
        .map((n) => `ml/${n}`)
        .join(", ")}, … and 90 more`,
  );
  assert.deepEqual(onServices(h.events), [], "no Event on any service");
  // kubectl describe still says why each one is down: the record written with the stop
  for (const p of h.patches) {
    assert.equal(p.annotations[STOP], "true");
    const state = readState({ "reclaimer.dev/state": p.annotations["reclaimer.dev/state"] ?? "" });
    assert.equal(state.kind, "ok");
    if (state.kind !== "ok") continue;
    assert.deepEqual([state.state.action, state.state.reason, state.state.schedule], ["stop", "Schedule", "ml/office"]);
    assert.equal(state.state.transition, new Date(START + 30 * 60_000).toISOString());
  }
  // metrics and logs stay per service
  assert.equal(h.logs.filter((l) => l.msg === "stop applied").length, 100);
  await h.reconciler.stop();
});

test("a stop that fails is a Warning on its service; the others are one Event on the schedule", async () => {
  const h = harness({ services: names(5).map((n) => service(n)), schedule: { uptime: [] } });
  h.answers.push("error");
  h.reconciler.start();
  await h.clock.advance(3_000);
  const failed = h.events.filter((e) => e.reason === "PatchFailed");
  assert.equal(failed.length, 1);
  assert.equal(failed[0]?.ref.kind, "InferenceService");
  assert.equal(failed[0]?.type, "Warning");
  const stopped = h.events.filter((e) => e.reason === "Stopped");
  assert.equal(stopped.length, 1);
  assert.match(stopped[0]?.message ?? "", /^stopped 4 services \(4 GPUs\) at 10:00 UTC/);
  // the retry goes through: reported on the schedule too
  await h.clock.advance(10_000);
  assert.equal(h.events.filter((e) => e.reason === "Stopped").length, 2);
  assert.match(h.events.filter((e) => e.reason === "Stopped")[1]?.message ?? "", /^stopped 1 service \(1 GPU\) /);
  assert.deepEqual(
    onServices(h.events).map((e) => e.reason),
    ["PatchFailed"],
  );
  await h.reconciler.stop();
});

test("an idle stop is an Event on its service (why is my model down?), and the schedule's Event names it", async () => {
  const readTraffic = async (requests: TrafficRequest[]): Promise<TrafficReading> => ({
    byService: new Map(requests.map((r) => [r.service, { kind: "known", rps: 0 }])),
    queries: [],
  });
  const h = harness({ services: [service("llama")], schedule: { idle: { after: "30m", threshold: 0 } }, overrides: { readTraffic } });
  h.reconciler.start();
  await h.clock.advance(5_000);
  assert.equal(h.patches.length, 1);
  const mine = onServices(h.events);
  assert.equal(mine.length, 1);
  assert.equal(mine[0]?.reason, "Stopped");
  assert.match(mine[0]?.message ?? "", /^served 0 req\/s over the last 30m/);
  const onSchedule = h.events.filter((e) => e.ref.kind === "ServingSchedule" && e.reason === "Stopped");
  assert.deepEqual(
    onSchedule.map((e) => e.message),
    ["stopped 1 service (1 GPU), reason Idle: ml/llama"],
  );
  await h.reconciler.stop();
});

test("keep-running-until starting a service is a person's action: an Event on the service", async () => {
  const h = harness({
    services: [service("llama", { [STOP]: "true", [KEEP_RUNNING_UNTIL]: "2026-12-01T12:00:00Z" })],
    schedule: { uptime: [] },
  });
  h.reconciler.start();
  await h.clock.advance(5_000);
  assert.equal(h.patches[0]?.annotations[STOP], "false");
  assert.deepEqual(
    onServices(h.events).map((e) => [e.reason, e.message]),
    [["Started", "kept running until 2026-12-01T12:00:00Z (schedule ml/office, 1 GPU)"]],
  );
  await h.reconciler.stop();
});

test("shutdown writes a batch still collecting", async () => {
  const h = harness({ services: names(3).map((n) => service(n)), schedule: { uptime: [] } });
  h.reconciler.start();
  await h.clock.advance(500);
  assert.equal(h.patches.length, 3);
  assert.equal(h.events.length, 0, "not yet: the burst may go on");
  await h.reconciler.stop();
  assert.deepEqual(
    h.events.map((e) => [e.ref.kind, e.reason, e.message]),
    [
      [
        "ServingSchedule",
        "Stopped",
        "stopped 3 services (3 GPUs) at 10:00 UTC, outside all uptime windows: ml/model-000, ml/model-001, ml/model-002",
      ],
    ],
  );
  await h.clock.advance(HOUR);
  assert.equal(h.events.length, 1, "and nothing twice");
});

test("a batch waits while services keep joining, and is written at the latest maxMs after the first", async () => {
  const clock = new FakeClock();
  const events: RecordedEvent[] = [];
  const t = new TransitionEvents({ clock, event: (ref, type, reason, message) => events.push({ ref, type, reason, message }) });
  const ref = { apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", namespace: "ml", name: "office" };
  const item = (i: number) => ({
    ref,
    schedule: "ml/office",
    reason: "Stopped" as const,
    at: START,
    timeZone: "UTC",
    why: "outside all uptime windows",
    service: `ml/s${String(i).padStart(3, "0")}`,
    gpus: 1,
  });
  // one every 1.5 s: the burst never pauses for 2 s
  for (let i = 0; i < 10; i++) {
    t.add(item(i));
    await clock.advance(1_500);
  }
  assert.equal(events.length, 0);
  await clock.advance(1_000);
  assert.equal(events.length, 1);
  assert.match(events[0]?.message ?? "", /^stopped 10 services/);
  // a trickle that never stops is cut at 60 s
  for (let i = 0; i < 90; i++) {
    t.add(item(i));
    await clock.advance(1_000);
  }
  assert.equal(events.length, 2);
  assert.match(events[1]?.message ?? "", /^stopped 60 services/);
  t.flush();
  assert.match(events[2]?.message ?? "", /^stopped 30 services/);
  assert.equal(t.pending, 0);
  // different transitions are different Events
  t.add(item(1));
  t.add({ ...item(2), at: START + HOUR });
  t.add({ ...item(3), reason: "Started" });
  t.flush();
  assert.equal(events.length, 6);
});

test("a long list of long names stays within an Event message", () => {
  const clock = new FakeClock();
  const events: RecordedEvent[] = [];
  const t = new TransitionEvents({ clock, event: (ref, type, reason, message) => events.push({ ref, type, reason, message }) });
  const ref = { apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", namespace: "ml", name: "office" };
  for (let i = 0; i < 50; i++)
    t.add({
      ref,
      schedule: "ml/office",
      reason: "Stopped",
      at: START,
      timeZone: "UTC",
      why: "x",
      service: `ml/${"m".repeat(200)}${i}`,
      gpus: 1,
    });
  t.flush();
  const message = events[0]?.message ?? "";
  assert.ok(message.length < 1024, `${message.length} characters`);
  assert.match(message, /, … and 4\d more$/);
});
