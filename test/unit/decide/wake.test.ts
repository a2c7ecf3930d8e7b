// Wake on request in the pure decision: what the daemon stopped and a request asked for is started
// (reason Request); nothing else is, and a woken service is under its policy again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, type DecideInput, type ScheduleMoment, type ServiceFacts } from "../../../src/decide/decide.ts";
import { EXCLUDE, KEEP_RUNNING_UNTIL, STATE, STOP, readState, writeState, type ReclaimerState } from "../../../src/api/annotations.ts";

const T = (iso: string) => Date.parse(iso);
const MON_2000 = T("2026-11-30T20:00:00Z");
const TUE_0800 = T("2026-12-01T08:00:00Z");
const STOPPED_AT = "2026-11-30T20:00:01.000Z";
const NOW = T("2026-11-30T23:00:00Z");
const WAKE = { onRequest: true, timeout: "5m", maxHeldRequests: 100 };
const IDLE = { after: "30m", threshold: 0, metric: "kserve" as const, whenMetricsUnavailable: "KeepRunning" as const };

function night(over: Partial<ScheduleMoment> = {}): ScheduleMoment {
  return {
    key: "ml/office-hours",
    now: { state: "Stopped", reason: "Schedule" },
    periodStart: MON_2000,
    next: { at: TUE_0800, state: "Running", reason: "Schedule" },
    createdAt: T("2026-01-01T00:00:00Z"),
    generation: 1,
    idle: IDLE,
    wake: WAKE,
    suspend: false,
    dryRun: false,
    ...over,
  };
}

function rec(action: ReclaimerState["action"], reason: string, at: string): string {
  return writeState({ v: 1, action, reason, schedule: "ml/office-hours", at, generation: 1 });
}

function service(annotations: Record<string, string>, over: Partial<ServiceFacts> = {}): ServiceFacts {
  return {
    namespace: "ml",
    name: "llama",
    createdAt: T("2026-11-01T00:00:00Z"),
    annotations,
    deploymentMode: "Standard",
    ready: { status: "False", since: T("2026-11-30T20:00:30Z") },
    stoppedByKServe: true,
    gpus: 1,
    ...over,
  };
}

const daemonStopped = (reason = "Schedule") => service({ [STOP]: "true", [STATE]: rec("stop", reason, STOPPED_AT) });

function run(over: Partial<DecideInput>) {
  return decide({ now: NOW, service: daemonStopped(), schedule: night(), traffic: undefined, globalDryRun: false, ...over });
}

test("a schedule stop is started by a later wake request, reason Request, with a start record", () => {
  const d = run({ wakeRequestedAt: NOW - 1000 });
  assert.equal(d.action, "start");
  assert.equal(d.reason, "Request");
  assert.equal(d.desired, "Running");
  assert.equal(d.record?.action, "start");
  assert.equal(d.record?.reason, "Request");
  assert.equal(d.record?.at, new Date(NOW).toISOString());
  assert.equal(d.recheckAt, TUE_0800);
  assert.match(d.message, /woken by a request/);
});

test("an idle stop is woken too", () => {
  const d = run({
    service: daemonStopped("Idle"),
    schedule: night({ now: { state: "Running", reason: "Schedule" } }),
    wakeRequestedAt: NOW,
  });
  assert.equal(d.action, "start");
  assert.equal(d.reason, "Request");
});

test("no request, or one older than the stop, changes nothing", () => {
  assert.equal(run({}).action, "none");
  assert.equal(run({ wakeRequestedAt: T(STOPPED_AT) - 1 }).action, "none");
  assert.equal(run({ wakeRequestedAt: Number.NEGATIVE_INFINITY }).action, "none");
  assert.equal(run({ wakeRequestedAt: Number.NaN }).action, "none");
  // the same millisecond as the stop counts: the request was made after the stop was decided
  assert.equal(run({ wakeRequestedAt: T(STOPPED_AT) }).action, "start");
});

test("a person's stop is never woken", () => {
  const manual = service({ [STOP]: "true" });
  const d = run({ service: manual, wakeRequestedAt: NOW });
  assert.equal(d.action, "none");
  assert.equal(d.skip, "ManualStop");
  // a person's stop over a daemon start record is a person's stop as well
  const overStart = service({ [STOP]: "true", [STATE]: rec("start", "Schedule", STOPPED_AT) });
  assert.equal(run({ service: overStart, wakeRequestedAt: NOW }).skip, "ManualStop");
});

test("a schedule without wake.onRequest does not wake", () => {
  assert.equal(run({ schedule: night({ wake: undefined }), wakeRequestedAt: NOW }).action, "none");
  assert.equal(run({ schedule: night({ wake: { ...WAKE, onRequest: false } }), wakeRequestedAt: NOW }).action, "none");
});

test("suspend and dry runs decide the wake and apply nothing", () => {
  const s = run({ schedule: night({ suspend: true }), wakeRequestedAt: NOW });
  assert.equal(s.action, "none");
  assert.equal(s.skip, "Suspended");
  assert.equal(s.wouldDo, "start");
  assert.equal(s.reason, "Request");
  const g = run({ globalDryRun: true, wakeRequestedAt: NOW });
  assert.equal(g.skip, "DryRun");
  assert.equal(g.wouldDo, "start");
  assert.equal(run({ schedule: night({ dryRun: true }), wakeRequestedAt: NOW }).skip, "DryRun");
});

test("excluded services are not woken", () => {
  const excluded = service({ [STOP]: "true", [STATE]: rec("stop", "Schedule", STOPPED_AT), [EXCLUDE]: "true" });
  assert.equal(run({ service: excluded, wakeRequestedAt: NOW }).skip, "Excluded");
});

test("keep-running-until still starts with its own reason", () => {
  const kept = service({ [STOP]: "true", [STATE]: rec("stop", "Schedule", STOPPED_AT), [KEEP_RUNNING_UNTIL]: "2026-12-01T00:00:00Z" });
  const d = run({ service: kept, wakeRequestedAt: NOW });
  assert.equal(d.action, "start");
  assert.equal(d.reason, "KeepRunningUntil");
});

test("after the wake: Running with reason Request, unconfirmed until Ready; the idle rule stops it again from Ready", () => {
  const startRecord = writeState(run({ wakeRequestedAt: NOW }).record as ReclaimerState);
  const starting = service({ [STOP]: "false", [STATE]: startRecord }, { stoppedByKServe: false, ready: { status: "False", since: NOW } });
  const a = run({ now: NOW + 60_000, service: starting, wakeRequestedAt: NOW });
  assert.equal(a.action, "none");
  assert.equal(a.reason, "Request");
  assert.equal(a.observed, "Running");
  assert.equal(a.confirmed, false);

  const readyAt = NOW + 120_000;
  const ready = service({ [STOP]: "false", [STATE]: startRecord }, { stoppedByKServe: false, ready: { status: "True", since: readyAt } });
  const b = run({ now: readyAt + 29 * 60_000, service: ready, traffic: { kind: "known", rps: 0 } });
  assert.equal(b.action, "none");
  assert.equal(b.confirmed, true);
  assert.equal(b.recheckAt, readyAt + 30 * 60_000);
  const c = run({ now: readyAt + 30 * 60_000, service: ready, traffic: { kind: "known", rps: 0 } });
  assert.equal(c.action, "stop");
  assert.equal(c.reason, "Idle");

  // stopped again by idle: an old wake request (before this stop) does not wake it, a new one does
  const again = service({ [STOP]: "true", [STATE]: writeState(c.record as ReclaimerState) });
  assert.equal(run({ now: readyAt + 31 * 60_000, service: again, wakeRequestedAt: NOW }).action, "none");
  const woken = run({ now: readyAt + 31 * 60_000, service: again, wakeRequestedAt: readyAt + 31 * 60_000 });
  assert.equal(woken.action, "start");
  assert.equal(woken.reason, "Request");
});

test("the next transition applies as usual after a wake", () => {
  const startRecord = run({ wakeRequestedAt: NOW }).record as ReclaimerState;
  const running = service(
    { [STOP]: "false", [STATE]: writeState(startRecord) },
    { stoppedByKServe: false, ready: { status: "True", since: NOW } },
  );
  // the next evening's stop transition
  const nextNight = night({
    periodStart: T("2026-12-01T20:00:00Z"),
    next: { at: T("2026-12-02T08:00:00Z"), state: "Running", reason: "Schedule" },
  });
  const d = run({ now: T("2026-12-01T20:00:00Z"), service: running, schedule: nextNight, traffic: { kind: "known", rps: 5 } });
  assert.equal(d.action, "stop");
  assert.equal(d.reason, "Schedule");
});

test("a forged stop record dated in the future is never woken", () => {
  const forged = service({ [STOP]: "true", [STATE]: rec("stop", "Idle", "2099-01-01T00:00:00Z") });
  assert.equal(run({ service: forged, wakeRequestedAt: NOW }).action, "none");
  const unreadable = service({ [STOP]: "true", [STATE]: "{not json" });
  assert.equal(run({ service: unreadable, wakeRequestedAt: NOW }).skip, "ManualStop");
  assert.equal(readState(unreadable.annotations).kind === "ok", false);
});
