// Exceptions: absolute overrides, first match wins, beat uptime and warmup.
import { test } from "node:test";
import assert from "node:assert/strict";
import { nextTransition, stateAt, transitionsBetween } from "../../../src/schedule/index.ts";
import { ms, sched, show, trs } from "./helpers.ts";

const office = (exceptions: unknown[]) =>
  sched({ timeZone: "Europe/Berlin", warmup: "15m", uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }], exceptions });

test("a Stopped exception overrides uptime and warmup for whole days", () => {
  const s = office([{ from: "2026-12-24", to: "2026-12-27", state: "Stopped", reason: "Christmas" }]);
  assert.deepEqual(trs(s, "2026-12-23T12:00:00+01:00", "2026-12-29T00:00:00+01:00"), [
    "2026-12-23T20:00:00.000+01:00 Stopped Schedule",
    "2026-12-28T07:45:00.000+01:00 Running Warmup",
    "2026-12-28T20:00:00.000+01:00 Stopped Schedule",
  ]);
  assert.deepEqual(stateAt(s, ms("2026-12-24T10:00:00+01:00")), { state: "Stopped", reason: "Exception", detail: "Christmas" });
  assert.deepEqual(stateAt(s, ms("2026-12-24T00:00:00+01:00")), { state: "Stopped", reason: "Exception", detail: "Christmas" });
  assert.deepEqual(stateAt(s, ms("2026-12-27T00:00:00+01:00")), { state: "Stopped", reason: "Schedule" });
  const next = nextTransition(s, ms("2026-12-24T10:00:00+01:00"));
  assert.equal(next && show(s, next), "2026-12-28T07:45:00.000+01:00 Running Warmup");
});

test("a Stopped exception starting mid-window stops the service; uptime resumes after it", () => {
  const s = office([{ from: "2026-12-01T12:00", to: "2026-12-01T14:00", state: "Stopped", reason: "Maintenance" }]);
  assert.deepEqual(trs(s, "2026-12-01T00:00:00+01:00", "2026-12-02T00:00:00+01:00"), [
    "2026-12-01T07:45:00.000+01:00 Running Warmup",
    "2026-12-01T12:00:00.000+01:00 Stopped Exception Maintenance",
    "2026-12-01T14:00:00.000+01:00 Running Schedule",
    "2026-12-01T20:00:00.000+01:00 Stopped Schedule",
  ]);
});

test("warmup never pushes a start into a Stopped exception: the start waits for the exception's end", () => {
  // the warm-up would begin 07:45, but the exception holds it Stopped until 07:50
  const s = office([{ from: "2026-12-24", to: "2026-12-28T07:50", state: "Stopped", reason: "Christmas" }]);
  assert.deepEqual(trs(s, "2026-12-27T12:00:00+01:00", "2026-12-29T00:00:00+01:00"), [
    "2026-12-28T07:50:00.000+01:00 Running Warmup",
    "2026-12-28T20:00:00.000+01:00 Stopped Schedule",
  ]);
  assert.deepEqual(stateAt(s, ms("2026-12-28T07:46:00+01:00")), { state: "Stopped", reason: "Exception", detail: "Christmas" });
  // ending after the window opened: it starts at the exception's end, reason Schedule
  const late = office([{ from: "2026-12-24", to: "2026-12-28T09:00", state: "Stopped", reason: "Christmas" }]);
  assert.deepEqual(trs(late, "2026-12-27T12:00:00+01:00", "2026-12-29T00:00:00+01:00"), [
    "2026-12-28T09:00:00.000+01:00 Running Schedule",
    "2026-12-28T20:00:00.000+01:00 Stopped Schedule",
  ]);
  // and a warm-up (crossing midnight) that would start inside an exception ending at midnight
  const midnight = sched({
    timeZone: "Europe/Berlin",
    warmup: "30m",
    uptime: [{ days: "*", from: "00:10", to: "06:00" }],
    exceptions: [{ from: "2026-12-01", to: "2026-12-02", state: "Stopped", reason: "Audit" }],
  });
  assert.deepEqual(trs(midnight, "2026-12-01T12:00:00+01:00", "2026-12-02T12:00:00+01:00"), [
    "2026-12-02T00:00:00.000+01:00 Running Warmup",
    "2026-12-02T06:00:00.000+01:00 Stopped Schedule",
  ]);
});

test("first match in list order wins among overlapping exceptions", () => {
  const christmas = { from: "2026-12-24", to: "2026-12-27", state: "Stopped", reason: "Christmas" };
  const push = { from: "2026-12-20", to: "2027-01-01", state: "Running", reason: "Year-end push" };
  const s = office([christmas, push]);
  assert.deepEqual(trs(s, "2026-12-19T12:00:00+01:00", "2027-01-02T00:00:00+01:00"), [
    "2026-12-20T00:00:00.000+01:00 Running Exception Year-end push",
    "2026-12-24T00:00:00.000+01:00 Stopped Exception Christmas",
    "2026-12-27T00:00:00.000+01:00 Running Exception Year-end push",
    "2027-01-01T00:00:00.000+01:00 Stopped Schedule",
    "2027-01-01T07:45:00.000+01:00 Running Warmup",
    "2027-01-01T20:00:00.000+01:00 Stopped Schedule",
  ]);
  const reversed = office([push, christmas]);
  assert.deepEqual(trs(reversed, "2026-12-19T12:00:00+01:00", "2027-01-02T00:00:00+01:00"), [
    "2026-12-20T00:00:00.000+01:00 Running Exception Year-end push",
    "2027-01-01T00:00:00.000+01:00 Stopped Schedule",
    "2027-01-01T07:45:00.000+01:00 Running Warmup",
    "2027-01-01T20:00:00.000+01:00 Stopped Schedule",
  ]);
  assert.deepEqual(stateAt(reversed, ms("2026-12-25T12:00:00+01:00")), { state: "Running", reason: "Exception", detail: "Year-end push" });
});

test("a Running exception on a weekend starts exactly at its from (no warmup) and ends at its to", () => {
  const s = office([{ from: "2026-12-05T10:00", to: "2026-12-05T16:00", state: "Running", reason: "Demo day" }]);
  assert.deepEqual(trs(s, "2026-12-04T21:00:00+01:00", "2026-12-07T00:00:00+01:00"), [
    "2026-12-05T10:00:00.000+01:00 Running Exception Demo day",
    "2026-12-05T16:00:00.000+01:00 Stopped Schedule",
  ]);
  // a whole weekend, given as dates
  const weekend = office([{ from: "2026-12-05", to: "2026-12-07", state: "Running", reason: "Launch" }]);
  assert.deepEqual(trs(weekend, "2026-12-04T12:00:00+01:00", "2026-12-07T12:00:00+01:00"), [
    "2026-12-04T20:00:00.000+01:00 Stopped Schedule",
    "2026-12-05T00:00:00.000+01:00 Running Exception Launch",
    "2026-12-07T00:00:00.000+01:00 Stopped Schedule",
    "2026-12-07T07:45:00.000+01:00 Running Warmup",
  ]);
});

test("a reason change without a state change is not a transition", () => {
  // the window ends 20:00 but a Running exception continues until 23:00
  const s = office([{ from: "2026-12-04T19:00", to: "2026-12-04T23:00", state: "Running", reason: "Release" }]);
  assert.deepEqual(trs(s, "2026-12-04T12:00:00+01:00", "2026-12-05T12:00:00+01:00"), ["2026-12-04T23:00:00.000+01:00 Stopped Schedule"]);
  assert.deepEqual(stateAt(s, ms("2026-12-04T18:00:00+01:00")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2026-12-04T20:00:00+01:00")), { state: "Running", reason: "Exception", detail: "Release" });
});

test("exceptions apply to idle-only (no uptime) and never-running (uptime: []) schedules", () => {
  const idle = sched({
    timeZone: "Europe/Berlin",
    exceptions: [{ from: "2026-12-24", to: "2026-12-27", state: "Stopped", reason: "Christmas" }],
  });
  assert.deepEqual(trs(idle, "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"), [
    "2026-12-24T00:00:00.000+01:00 Stopped Exception Christmas",
    "2026-12-27T00:00:00.000+01:00 Running Schedule",
  ]);
  const never = sched({
    timeZone: "Europe/Berlin",
    uptime: [],
    exceptions: [{ from: "2027-03-28T02:30", to: "2027-03-28T04:00", state: "Running", reason: "Batch" }],
  });
  // exception bounds follow the DST rules too: 02:30 does not exist that day
  assert.deepEqual(trs(never, "2027-03-27T00:00:00Z", "2027-03-29T00:00:00Z"), [
    "2027-03-28T03:30:00.000+02:00 Running Exception Batch",
    "2027-03-28T04:00:00.000+02:00 Stopped Schedule",
  ]);
});

test("an exception without a reason has no detail", () => {
  const s = office([{ from: "2026-12-01", to: "2026-12-02", state: "Stopped" }]);
  assert.deepEqual(stateAt(s, ms("2026-12-01T12:00:00+01:00")), { state: "Stopped", reason: "Exception" });
  assert.deepEqual(transitionsBetween(s, ms("2026-11-30T12:00:00+01:00"), ms("2026-12-01T12:00:00+01:00")), [
    { at: ms("2026-11-30T20:00:00+01:00"), state: "Stopped", reason: "Schedule" },
  ]);
});
