import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, type DecideInput, type ScheduleMoment, type ServiceFacts } from "../../../src/decide/decide.ts";
import {
  STOP,
  STATE,
  KEEP_RUNNING_UNTIL,
  EXCLUDE,
  DEPLOYMENT_MODE,
  readState,
  writeState,
  type ReclaimerState,
} from "../../../src/api/annotations.ts";

const T = (iso: string) => Date.parse(iso);
const MON_0800 = T("2026-11-30T08:00:00Z");
const MON_2000 = T("2026-11-30T20:00:00Z");
const TUE_0800 = T("2026-12-01T08:00:00Z");

function moment(over: Partial<ScheduleMoment> = {}): ScheduleMoment {
  return {
    key: "ml/office-hours",
    now: { state: "Running", reason: "Schedule" },
    periodStart: MON_0800,
    next: { at: MON_2000, state: "Stopped", reason: "Schedule" },
    createdAt: T("2026-01-01T00:00:00Z"),
    generation: 1,
    idle: undefined,
    suspend: false,
    dryRun: false,
    ...over,
  };
}

const night = (over: Partial<ScheduleMoment> = {}) =>
  moment({
    now: { state: "Stopped", reason: "Schedule" },
    periodStart: MON_2000,
    next: { at: TUE_0800, state: "Running", reason: "Schedule" },
    ...over,
  });

function service(annotations: Record<string, string> = {}, over: Partial<ServiceFacts> = {}): ServiceFacts {
  return {
    namespace: "ml",
    name: "llama",
    createdAt: T("2026-11-01T00:00:00Z"),
    annotations,
    deploymentMode: "Standard",
    ready: { status: "True", since: T("2026-11-30T08:02:00Z") },
    stoppedByKServe: false,
    gpus: 1,
    ...over,
  };
}

function rec(action: ReclaimerState["action"], reason: string, at: string, extra: Partial<ReclaimerState> = {}): string {
  return writeState({ v: 1, action, reason, schedule: "ml/office-hours", at, ...extra });
}

function run(over: Partial<DecideInput>) {
  return decide({
    now: T("2026-11-30T21:00:00Z"),
    service: service(),
    schedule: night(),
    traffic: undefined,
    globalDryRun: false,
    ...over,
  });
}

test("outside all windows a running service is stopped, with a record naming the transition", () => {
  const d = run({});
  assert.equal(d.action, "stop");
  assert.equal(d.reason, "Schedule");
  assert.equal(d.desired, "Stopped");
  assert.equal(d.record?.transition, "2026-11-30T20:00:00.000Z");
  assert.equal(d.recheckAt, TUE_0800);
});

test("already stopped by the daemon for this period: nothing to do (nothing twice)", () => {
  const d = run({
    service: service(
      { [STOP]: "true", [STATE]: rec("stop", "Schedule", "2026-11-30T20:00:00.300Z", { transition: "2026-11-30T20:00:00.000Z" }) },
      { stoppedByKServe: true },
    ),
  });
  assert.equal(d.action, "none");
  assert.equal(d.observed, "Stopped");
  assert.equal(d.confirmed, true);
});

test("a Running transition starts what the daemon stopped", () => {
  const d = run({
    now: TUE_0800 + 200,
    schedule: moment({ periodStart: TUE_0800, next: { at: T("2026-12-01T20:00:00Z"), state: "Stopped", reason: "Schedule" } }),
    service: service({
      [STOP]: "true",
      [STATE]: rec("stop", "Schedule", "2026-11-30T20:00:00.300Z", { transition: "2026-11-30T20:00:00.000Z" }),
    }),
  });
  assert.equal(d.action, "start");
  assert.equal(d.record?.action, "start");
  assert.equal(d.record?.transition, "2026-12-01T08:00:00.000Z");
});

test("a person's stop is never undone, even at a Running transition", () => {
  for (const st of [undefined, rec("start", "Schedule", "2026-11-30T08:00:00.100Z")]) {
    const ann: Record<string, string> = { [STOP]: "True" };
    if (st) ann[STATE] = st;
    const d = run({ now: TUE_0800 + 1, schedule: moment({ periodStart: TUE_0800 }), service: service(ann) });
    assert.equal(d.action, "none");
    assert.equal(d.skip, "ManualStop");
    assert.equal(d.desired, "Stopped");
  }
});

test("a person's start of a daemon-stopped service is held until the next transition, then the schedule applies", () => {
  const stopped = rec("stop", "Schedule", "2026-11-30T20:00:00.300Z", { transition: "2026-11-30T20:00:00.000Z" });
  const noticed = run({ now: T("2026-11-30T22:00:00Z"), service: service({ [STOP]: "false", [STATE]: stopped }) });
  assert.equal(noticed.action, "record");
  assert.equal(noticed.record?.action, "hold");
  assert.equal(noticed.record?.until, "2026-12-01T08:00:00.000Z");
  assert.equal(noticed.recheckAt, TUE_0800);

  const held = run({
    now: T("2026-11-30T23:00:00Z"),
    service: service({ [STOP]: "false", [STATE]: noticed.record ? writeState(noticed.record) : "" }),
  });
  assert.equal(held.action, "none");
  assert.equal(held.desired, "Running");

  // Next evening, after the Stopped transition: the hold has expired and the schedule stops it.
  const nextNight = night({
    periodStart: T("2026-12-01T20:00:00Z"),
    next: { at: T("2026-12-02T08:00:00Z"), state: "Running", reason: "Schedule" },
  });
  const later = run({
    now: T("2026-12-01T20:00:00.100Z"),
    schedule: nextNight,
    service: service({ [STOP]: "false", [STATE]: writeState(noticed.record!) }),
  });
  assert.equal(later.action, "stop");
});

test("idle stop requires Ready for idle.after and known traffic at or below threshold", () => {
  const idle = { after: "30m", threshold: 0.1, metric: "kserve" as const, whenMetricsUnavailable: "KeepRunning" as const };
  const sched = moment({ idle, periodStart: MON_0800 });
  const now = T("2026-11-30T12:00:00Z");
  const svc = service({}, { ready: { status: "True", since: T("2026-11-30T11:40:00Z") } });
  assert.equal(run({ now, schedule: sched, service: svc, traffic: { kind: "known", rps: 0 } }).action, "none", "Ready only 20m");
  const svc2 = service({}, { ready: { status: "True", since: T("2026-11-30T11:00:00Z") } });
  const stop = run({ now, schedule: sched, service: svc2, traffic: { kind: "known", rps: 0.05 } });
  assert.equal(stop.action, "stop");
  assert.equal(stop.reason, "Idle");
  assert.equal(run({ now, schedule: sched, service: svc2, traffic: { kind: "known", rps: 0.5 } }).action, "none");
  assert.equal(
    run({ now, schedule: sched, service: svc2, traffic: { kind: "unknown", why: "absent series" } }).action,
    "none",
    "no data never stops",
  );
  const stopWhenUnknown = moment({ idle: { ...idle, whenMetricsUnavailable: "Stop" } });
  const d = run({ now, schedule: stopWhenUnknown, service: svc2, traffic: { kind: "unknown", why: "timeout" } });
  assert.equal(d.action, "stop");
  assert.equal(d.reason, "MetricsUnavailable");
  // Not yet eligible: recheck at the instant it becomes eligible.
  assert.equal(run({ now, schedule: sched, service: svc, traffic: { kind: "known", rps: 0 } }).recheckAt, T("2026-11-30T12:10:00Z"));
});

test("an idle-stopped service stays stopped for the rest of the period and starts at the next Running transition", () => {
  const idle = { after: "30m", threshold: 0, metric: "kserve" as const, whenMetricsUnavailable: "KeepRunning" as const };
  const idleStopped = service(
    { [STOP]: "true", [STATE]: rec("stop", "Idle", "2026-11-30T14:00:00.000Z") },
    { ready: { status: "False", since: T("2026-11-30T14:00:01Z") }, stoppedByKServe: true },
  );
  const same = run({ now: T("2026-11-30T15:00:00Z"), schedule: moment({ idle }), service: idleStopped });
  assert.equal(same.action, "none");
  assert.equal(same.reason, "Idle");
  const atNight = run({ schedule: night({ idle }), service: idleStopped });
  assert.equal(atNight.action, "none");
  const morning = run({ now: TUE_0800, schedule: moment({ idle, periodStart: TUE_0800 }), service: idleStopped });
  assert.equal(morning.action, "start");
});

test("keep-running-until starts a stopped service and keeps it up, also against idle", () => {
  const ann = {
    [STOP]: "true",
    [STATE]: rec("stop", "Schedule", "2026-11-30T20:00:00Z", { transition: "2026-11-30T20:00:00.000Z" }),
    [KEEP_RUNNING_UNTIL]: "2026-11-30T23:00:00Z",
  };
  const d = run({ service: service(ann) });
  assert.equal(d.action, "start");
  assert.equal(d.reason, "KeepRunningUntil");
  assert.equal(d.recheckAt, T("2026-11-30T23:00:00Z"));
  const expired = run({
    now: T("2026-11-30T23:00:01Z"),
    service: service({ [KEEP_RUNNING_UNTIL]: "2026-11-30T23:00:00Z", [STATE]: rec("start", "KeepRunningUntil", "2026-11-30T21:00:00Z") }),
  });
  assert.equal(expired.action, "none", "the daemon started it in this period, the schedule already had its say");
});

test("exclude and ModelMesh are hands off; suspend and dry run decide but do not act", () => {
  assert.equal(run({ service: service({ [EXCLUDE]: "true" }) }).skip, "Excluded");
  const mm = run({ service: service({ [DEPLOYMENT_MODE]: "ModelMesh" }, { deploymentMode: "ModelMesh" }) });
  assert.equal(mm.skip, "Unsupported");
  assert.equal(mm.action, "none");
  const suspended = run({ schedule: night({ suspend: true }) });
  assert.deepEqual([suspended.action, suspended.skip, suspended.wouldDo], ["none", "Suspended", "stop"]);
  const dry = run({ globalDryRun: true });
  assert.deepEqual([dry.action, dry.skip, dry.wouldDo], ["none", "DryRun", "stop"]);
  assert.equal(run({ schedule: undefined }).skip, "NotSelected");
});

test("a service created during a Stopped period is left up until the next transition", () => {
  const fresh = service({}, { createdAt: T("2026-11-30T21:30:00Z") });
  const d = run({ now: T("2026-11-30T22:00:00Z"), service: fresh });
  assert.equal(d.action, "none");
  assert.equal(d.reason, "NewService");
  const older = run({ now: T("2026-11-30T22:00:00Z") });
  assert.equal(older.action, "stop", "an existing service with no record is adopted: caught up to the schedule");
  const newSchedule = run({ now: T("2026-11-30T22:00:00Z"), service: fresh, schedule: night({ createdAt: T("2026-11-30T21:45:00Z") }) });
  assert.equal(newSchedule.action, "stop", "a schedule applied after the service adopts it at once");
  const never = run({
    now: T("2026-11-30T22:00:00Z"),
    service: fresh,
    schedule: night({ periodStart: Number.NEGATIVE_INFINITY, next: undefined }),
  });
  assert.equal(never.action, "stop", "with no next transition there is nothing to wait for: adopted");
});

test("catch-up after downtime: the state the schedule says now, once", () => {
  // The daemon stopped it Monday evening, was down through Tuesday's window, comes back Tuesday night.
  const ann = { [STOP]: "true", [STATE]: rec("stop", "Schedule", "2026-11-30T20:00:00Z", { transition: "2026-11-30T20:00:00.000Z" }) };
  const tueNight = night({
    periodStart: T("2026-12-01T20:00:00Z"),
    next: { at: T("2026-12-02T08:00:00Z"), state: "Running", reason: "Schedule" },
  });
  assert.equal(run({ now: T("2026-12-01T21:00:00Z"), schedule: tueNight, service: service(ann) }).action, "none");
  // Back during Tuesday's window instead: start.
  const tueDay = moment({ periodStart: TUE_0800 });
  assert.equal(run({ now: T("2026-12-01T09:00:00Z"), schedule: tueDay, service: service(ann) }).action, "start");
});

test("an edited schedule is applied afresh: a record from another generation or schedule does not count", () => {
  const idleStopped = service(
    { [STOP]: "true", [STATE]: rec("stop", "Idle", "2026-11-30T14:00:00.000Z", { generation: 1 }) },
    { stoppedByKServe: true },
  );
  const now = T("2026-11-30T15:00:00Z");
  assert.equal(run({ now, schedule: moment(), service: idleStopped }).action, "none", "same generation: the idle stop stands");
  const edited = run({ now, schedule: moment({ generation: 2 }), service: idleStopped });
  assert.equal(edited.action, "start");
  assert.equal(edited.record?.generation, 2);
  const other = run({ now, schedule: moment({ key: "ml/another" }), service: idleStopped });
  assert.equal(other.action, "start", "a different governing schedule applies its own state");
});

test("the state record has a version and unreadable records are not trusted", () => {
  assert.deepEqual(readState({ [STATE]: rec("stop", "Idle", "2026-11-30T14:00:00Z") }), {
    kind: "ok",
    state: { v: 1, action: "stop", reason: "Idle", schedule: "ml/office-hours", at: "2026-11-30T14:00:00Z" },
  });
  assert.equal(readState({ [STATE]: '{"v":9,"action":"stop"}' }).kind, "invalid");
  assert.equal(readState({ [STATE]: "not json" }).kind, "invalid");
  assert.equal(readState({}).kind, "none");
  // An unreadable record is no proof the daemon stopped it: treated as a person's stop.
  assert.equal(
    run({ service: service({ [STOP]: "true", [STATE]: "garbage" }), now: TUE_0800, schedule: moment({ periodStart: TUE_0800 }) }).skip,
    "ManualStop",
  );
});
