// Ready's lastTransitionTime is written to the second, truncated: a service Ready at 12:00:00.9 says
// "12:00:00Z". Counted from the start of that second, `idle.after: 10s` stopped it up to 999 ms early
// (issue 21: 9.3-9.8 s after Ready). The facts take the end of the second, so it never is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, type ScheduleMoment } from "../../../src/decide/decide.ts";
import { latestMs, serviceFacts } from "../../../src/decide/facts.ts";

const T = (iso: string) => Date.parse(iso);

const schedule: ScheduleMoment = {
  key: "ml/office-hours",
  now: { state: "Running", reason: "Schedule" },
  periodStart: T("2026-11-30T08:00:00Z"),
  next: { at: T("2026-11-30T20:00:00Z"), state: "Stopped", reason: "Schedule" },
  createdAt: T("2026-01-01T00:00:00Z"),
  generation: 1,
  idle: { after: "10s", threshold: 0, metric: "kserve", whenMetricsUnavailable: "KeepRunning" },
  suspend: false,
  dryRun: false,
};

function readyAt(lastTransitionTime: string) {
  return serviceFacts(
    {
      metadata: { name: "llama", namespace: "ml", creationTimestamp: "2026-11-01T00:00:00Z" },
      status: { conditions: [{ type: "Ready", status: "True", lastTransitionTime }] },
    },
    { deploymentMode: "Standard", gpus: 1 },
  );
}

const at = (now: string, lastTransitionTime = "2026-11-30T12:00:00Z") =>
  decide({ now: T(now), service: readyAt(lastTransitionTime), schedule, traffic: { kind: "known", rps: 0 }, globalDryRun: false });

test("idle.after 10s from a Ready time written to the second: never stopped before 10 s after the latest instant it can mean", () => {
  // Truly Ready at 12:00:00.9: 10 s have elapsed only at 12:00:10.9.
  assert.equal(at("2026-11-30T12:00:09.950Z").action, "none");
  assert.equal(at("2026-11-30T12:00:10.000Z").action, "none", "10 s after the start of the second is up to 999 ms early");
  assert.equal(at("2026-11-30T12:00:10.500Z").action, "none");
  assert.equal(at("2026-11-30T12:00:10.998Z").action, "none");
  const stop = at("2026-11-30T12:00:10.999Z");
  assert.equal(stop.action, "stop");
  assert.equal(stop.reason, "Idle");
  assert.equal(at("2026-11-30T12:00:11.000Z").action, "stop");
});

test("the recheck for idle eligibility is at the same instant, so the stop is not missed either", () => {
  assert.equal(at("2026-11-30T12:00:05Z").recheckAt, T("2026-11-30T12:00:10.999Z"));
});

test("a Ready time written with a fraction is taken to that fraction's precision", () => {
  assert.equal(at("2026-11-30T12:00:10.400Z", "2026-11-30T12:00:00.400Z").action, "stop", "milliseconds: exact");
  assert.equal(at("2026-11-30T12:00:10.498Z", "2026-11-30T12:00:00.4Z").action, "none", "tenths: to the end of the tenth");
  assert.equal(at("2026-11-30T12:00:10.499Z", "2026-11-30T12:00:00.4Z").action, "stop");
});

test("latestMs: the last millisecond a timestamp can mean", () => {
  assert.equal(latestMs("2026-11-30T12:00:00Z"), T("2026-11-30T12:00:00.999Z"));
  assert.equal(latestMs("2026-11-30T13:00:00+01:00"), T("2026-11-30T12:00:00.999Z"));
  assert.equal(latestMs("2026-11-30T12:00:00.25Z"), T("2026-11-30T12:00:00.259Z"));
  assert.equal(latestMs("2026-11-30T12:00:00.123456Z"), T("2026-11-30T12:00:00.123Z"));
  assert.equal(latestMs(new Date("2026-11-30T12:00:00Z")), T("2026-11-30T12:00:00.999Z"));
  assert.equal(latestMs(new Date("2026-11-30T12:00:00.5Z")), T("2026-11-30T12:00:00.500Z"));
  assert.equal(latestMs(undefined), undefined);
  assert.equal(latestMs("not a time"), undefined);
});
