// The window form {days, from, to}: literal expected instants, across midnight, week wrap, DST.
import { test } from "node:test";
import assert from "node:assert/strict";
import { stateAt, transitionsBetween } from "../../../src/schedule/index.ts";
import { ms, sched, trs } from "./helpers.ts";

test("Europe/Berlin spring forward 2027-03-28: 02:30-05:00 opens at 03:30 CEST", () => {
  const s = sched({ timeZone: "Europe/Berlin", uptime: [{ days: "*", from: "02:30", to: "05:00" }] });
  assert.deepEqual(trs(s, "2027-03-27T12:00:00Z", "2027-03-29T12:00:00Z"), [
    "2027-03-28T03:30:00.000+02:00 Running Schedule",
    "2027-03-28T05:00:00.000+02:00 Stopped Schedule",
    "2027-03-29T02:30:00.000+02:00 Running Schedule",
    "2027-03-29T05:00:00.000+02:00 Stopped Schedule",
  ]);
  assert.deepEqual(stateAt(s, ms("2027-03-28T03:29:59.999+02:00")), { state: "Stopped", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2027-03-28T03:30:00+02:00")), { state: "Running", reason: "Schedule" });
});

test("Europe/Berlin fall back 2026-10-25: 02:30-05:00 opens at the first 02:30 and lasts 3.5 h", () => {
  const s = sched({ timeZone: "Europe/Berlin", uptime: [{ days: "Sun", from: "02:30", to: "05:00" }] });
  const t = transitionsBetween(s, ms("2026-10-24T00:00:00Z"), ms("2026-10-26T00:00:00Z"));
  assert.deepEqual(trs(s, "2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z"), [
    "2026-10-25T02:30:00.000+02:00 Running Schedule",
    "2026-10-25T05:00:00.000+01:00 Stopped Schedule",
  ]);
  assert.equal((t[1]?.at ?? 0) - (t[0]?.at ?? 0), 3.5 * 3_600_000);
  // an end inside the repeated hour is the earlier instant too: 01:30-02:30 lasts one hour
  const s2 = sched({ timeZone: "Europe/Berlin", uptime: [{ days: "Sun", from: "01:30", to: "02:30" }] });
  assert.deepEqual(trs(s2, "2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z"), [
    "2026-10-25T01:30:00.000+02:00 Running Schedule",
    "2026-10-25T02:30:00.000+02:00 Stopped Schedule",
  ]);
});

test("a window entirely inside a spring-forward gap moves with it, or is empty when it collapses", () => {
  const inside = sched({ timeZone: "Europe/Berlin", uptime: [{ days: "Sun", from: "02:15", to: "02:45" }] });
  assert.deepEqual(trs(inside, "2027-03-27T00:00:00Z", "2027-03-29T00:00:00Z"), [
    "2027-03-28T03:15:00.000+02:00 Running Schedule",
    "2027-03-28T03:45:00.000+02:00 Stopped Schedule",
  ]);
  const collapsed = sched({ timeZone: "Europe/Berlin", uptime: [{ days: "Sun", from: "02:30", to: "03:00" }] });
  assert.deepEqual(trs(collapsed, "2027-03-27T00:00:00Z", "2027-03-29T00:00:00Z"), []);
  const collapsedWarm = sched({ timeZone: "Europe/Berlin", warmup: "15m", uptime: [{ days: "Sun", from: "02:30", to: "03:00" }] });
  assert.deepEqual(trs(collapsedWarm, "2027-03-27T00:00:00Z", "2027-03-29T00:00:00Z"), [], "an empty window has no warm-up");
  assert.deepEqual(trs(collapsed, "2027-04-03T00:00:00Z", "2027-04-05T00:00:00Z"), [
    "2027-04-04T02:30:00.000+02:00 Running Schedule",
    "2027-04-04T03:00:00.000+02:00 Stopped Schedule",
  ]);
});

test("America/New_York: office hours across the 2026-11-01 fall back, and 01:30-02:30 on that day", () => {
  const s = sched({
    timeZone: "America/New_York",
    uptime: [
      { days: "Fri", from: "09:00", to: "17:00" },
      { days: "Sun", from: "01:30", to: "02:30" },
      { days: "Mon", from: "09:00", to: "17:00" },
    ],
  });
  assert.deepEqual(trs(s, "2026-10-30T14:00:00Z", "2026-11-03T00:00:00Z"), [
    "2026-10-30T17:00:00.000-04:00 Stopped Schedule",
    "2026-11-01T01:30:00.000-04:00 Running Schedule",
    "2026-11-01T02:30:00.000-05:00 Stopped Schedule",
    "2026-11-02T09:00:00.000-05:00 Running Schedule",
    "2026-11-02T17:00:00.000-05:00 Stopped Schedule",
  ]);
  // spring forward 2027-03-14: 02:30 does not exist
  const s2 = sched({ timeZone: "America/New_York", uptime: [{ days: "Sun", from: "02:30", to: "04:00" }] });
  assert.deepEqual(trs(s2, "2027-03-13T00:00:00Z", "2027-03-15T00:00:00Z"), [
    "2027-03-14T03:30:00.000-04:00 Running Schedule",
    "2027-03-14T04:00:00.000-04:00 Stopped Schedule",
  ]);
});

test("Asia/Kolkata (+05:30): Mon-Fri 09:00-18:00 with 15m warmup", () => {
  const s = sched({ timeZone: "Asia/Kolkata", warmup: "15m", uptime: [{ days: "Mon-Fri", from: "09:00", to: "18:00" }] });
  assert.deepEqual(trs(s, "2026-12-04T00:00:00Z", "2026-12-08T00:00:00Z"), [
    "2026-12-04T08:45:00.000+05:30 Running Warmup",
    "2026-12-04T18:00:00.000+05:30 Stopped Schedule",
    "2026-12-07T08:45:00.000+05:30 Running Warmup",
    "2026-12-07T18:00:00.000+05:30 Stopped Schedule",
  ]);
  assert.equal(transitionsBetween(s, ms("2026-12-04T00:00:00Z"), ms("2026-12-05T00:00:00Z"))[0]?.at, ms("2026-12-04T03:15:00Z"));
});

test("windows across midnight: Mon-Fri 22:00-06:00 ends the next morning, none opens Sat/Sun", () => {
  const s = sched({ timeZone: "Europe/Berlin", uptime: [{ days: "Mon-Fri", from: "22:00", to: "06:00" }] });
  assert.deepEqual(trs(s, "2026-12-04T12:00:00+01:00", "2026-12-08T12:00:00+01:00"), [
    "2026-12-04T22:00:00.000+01:00 Running Schedule",
    "2026-12-05T06:00:00.000+01:00 Stopped Schedule",
    "2026-12-07T22:00:00.000+01:00 Running Schedule",
    "2026-12-08T06:00:00.000+01:00 Stopped Schedule",
  ]);
  // started the evening before the range: Running from the range's start
  assert.deepEqual(stateAt(s, ms("2026-12-05T03:00:00+01:00")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(trs(s, "2026-12-05T03:00:00+01:00", "2026-12-05T12:00:00+01:00"), ["2026-12-05T06:00:00.000+01:00 Stopped Schedule"]);
});

test("across the Sun->Mon wrap: Sun 22:00-02:00 ends on Monday", () => {
  const s = sched({ uptime: [{ days: "Sun", from: "22:00", to: "02:00" }] });
  assert.deepEqual(trs(s, "2026-11-30T12:00:00Z", "2026-12-14T00:00:00Z"), [
    "2026-12-06T22:00:00.000+00:00 Running Schedule",
    "2026-12-07T02:00:00.000+00:00 Stopped Schedule",
    "2026-12-13T22:00:00.000+00:00 Running Schedule",
  ]);
  assert.equal(stateAt(s, ms("2026-12-07T01:59:59.999Z")).state, "Running");
  assert.equal(stateAt(s, ms("2026-12-07T02:00:00Z")).state, "Stopped");
});

test('"24:00" is the end of the day, and a following 00:00 window merges with no seam', () => {
  const s = sched({ uptime: [{ days: "Fri", from: "20:00", to: "24:00" }] });
  assert.deepEqual(trs(s, "2026-12-04T00:00:00Z", "2026-12-06T00:00:00Z"), [
    "2026-12-04T20:00:00.000+00:00 Running Schedule",
    "2026-12-05T00:00:00.000+00:00 Stopped Schedule",
  ]);
  const merged = sched({
    uptime: [
      { days: "Mon-Fri", from: "18:00", to: "24:00" },
      { days: "Tue-Sat", from: "00:00", to: "06:00" },
    ],
  });
  assert.deepEqual(trs(merged, "2026-11-30T12:00:00Z", "2026-12-01T20:00:00Z"), [
    "2026-11-30T18:00:00.000+00:00 Running Schedule",
    "2026-12-01T06:00:00.000+00:00 Stopped Schedule",
    "2026-12-01T18:00:00.000+00:00 Running Schedule",
  ]);
  // "24:00" in Berlin on the night before fall back
  const berlin = sched({ timeZone: "Europe/Berlin", uptime: [{ days: "Sat", from: "20:00", to: "24:00" }] });
  assert.deepEqual(trs(berlin, "2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z"), [
    "2026-10-24T20:00:00.000+02:00 Running Schedule",
    "2026-10-25T00:00:00.000+02:00 Stopped Schedule",
  ]);
});

test("wrapping day range Fri-Mon (case-insensitive)", () => {
  for (const days of ["Fri-Mon", "fri-MON"]) {
    const s = sched({ uptime: [{ days, from: "10:00", to: "16:00" }] });
    assert.deepEqual(trs(s, "2026-11-30T00:00:00Z", "2026-12-08T00:00:00Z"), [
      "2026-11-30T10:00:00.000+00:00 Running Schedule", // Mon
      "2026-11-30T16:00:00.000+00:00 Stopped Schedule",
      "2026-12-04T10:00:00.000+00:00 Running Schedule", // Fri
      "2026-12-04T16:00:00.000+00:00 Stopped Schedule",
      "2026-12-05T10:00:00.000+00:00 Running Schedule", // Sat
      "2026-12-05T16:00:00.000+00:00 Stopped Schedule",
      "2026-12-06T10:00:00.000+00:00 Running Schedule", // Sun
      "2026-12-06T16:00:00.000+00:00 Stopped Schedule",
      "2026-12-07T10:00:00.000+00:00 Running Schedule", // Mon
      "2026-12-07T16:00:00.000+00:00 Stopped Schedule",
    ]);
  }
});

test("adjacent and overlapping windows merge: no transition at the seam", () => {
  const s = sched({
    uptime: [
      { days: "Tue", from: "08:00", to: "12:00" },
      { days: "Tue", from: "12:00", to: "15:00" },
      { days: "Tue", from: "14:00", to: "18:00" },
    ],
  });
  assert.deepEqual(trs(s, "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"), [
    "2026-12-01T08:00:00.000+00:00 Running Schedule",
    "2026-12-01T18:00:00.000+00:00 Stopped Schedule",
  ]);
});

test("warmup crossing midnight: a 00:10 window with 30m warmup starts 23:40 the previous day", () => {
  const s = sched({ timeZone: "Europe/Berlin", warmup: "30m", uptime: [{ days: "Wed", from: "00:10", to: "06:00" }] });
  assert.deepEqual(trs(s, "2026-12-01T12:00:00+01:00", "2026-12-03T00:00:00+01:00"), [
    "2026-12-01T23:40:00.000+01:00 Running Warmup",
    "2026-12-02T06:00:00.000+01:00 Stopped Schedule",
  ]);
  assert.deepEqual(stateAt(s, ms("2026-12-02T00:00:00+01:00")), { state: "Running", reason: "Warmup" });
  assert.deepEqual(stateAt(s, ms("2026-12-02T00:10:00+01:00")), { state: "Running", reason: "Schedule" });
  // the range starting inside the warm-up reports it as the initial state, not as a transition
  assert.deepEqual(trs(s, "2026-12-01T23:50:00+01:00", "2026-12-03T00:00:00+01:00"), ["2026-12-02T06:00:00.000+01:00 Stopped Schedule"]);
});

test("warmup is elapsed time: 1h before 03:30 CEST on spring-forward day is 01:30 CET", () => {
  const s = sched({ timeZone: "Europe/Berlin", warmup: "1h", uptime: [{ days: "Sun", from: "03:30", to: "06:00" }] });
  assert.deepEqual(trs(s, "2027-03-27T00:00:00Z", "2027-03-29T00:00:00Z"), [
    "2027-03-28T01:30:00.000+01:00 Running Warmup",
    "2027-03-28T06:00:00.000+02:00 Stopped Schedule",
  ]);
});

test("a warm-up bridging the gap between two windows keeps it Running (reason Warmup in the gap)", () => {
  const s = sched({
    warmup: "15m",
    uptime: [
      { days: "Tue", from: "08:00", to: "12:00" },
      { days: "Tue", from: "12:10", to: "18:00" },
    ],
  });
  assert.deepEqual(trs(s, "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"), [
    "2026-12-01T07:45:00.000+00:00 Running Warmup",
    "2026-12-01T18:00:00.000+00:00 Stopped Schedule",
  ]);
  assert.deepEqual(stateAt(s, ms("2026-12-01T12:05:00Z")), { state: "Running", reason: "Warmup" });
  assert.deepEqual(stateAt(s, ms("2026-12-01T11:59:00Z")), { state: "Running", reason: "Schedule" });
});

test("stateAt reasons at and around the boundaries (a change at t is in effect at t)", () => {
  const s = sched({ timeZone: "Europe/Berlin", warmup: "15m", uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }] });
  assert.deepEqual(stateAt(s, ms("2026-12-01T07:44:59.999+01:00")), { state: "Stopped", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2026-12-01T07:45:00+01:00")), { state: "Running", reason: "Warmup" });
  assert.deepEqual(stateAt(s, ms("2026-12-01T07:59:59.999+01:00")), { state: "Running", reason: "Warmup" });
  assert.deepEqual(stateAt(s, ms("2026-12-01T08:00:00+01:00")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2026-12-01T19:59:59.999+01:00")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2026-12-01T20:00:00+01:00")), { state: "Stopped", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2026-12-05T12:00:00+01:00")), { state: "Stopped", reason: "Schedule" });
  // a change exactly at `from` is the initial state, a change exactly at `until` is included
  assert.deepEqual(trs(s, "2026-12-01T07:45:00+01:00", "2026-12-01T20:00:00+01:00"), ["2026-12-01T20:00:00.000+01:00 Stopped Schedule"]);
});

test("idle-only (no uptime) is always Running; uptime: [] is always Stopped", () => {
  const idle = sched({ timeZone: "Europe/Berlin", idle: { after: "30m" } });
  assert.deepEqual(stateAt(idle, ms("2026-12-01T03:00:00Z")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(transitionsBetween(idle, ms("2026-01-01T00:00:00Z"), ms("2027-01-01T00:00:00Z")), []);
  const never = sched({ uptime: [] });
  assert.deepEqual(stateAt(never, ms("2026-12-01T12:00:00Z")), { state: "Stopped", reason: "Schedule" });
  assert.deepEqual(transitionsBetween(never, ms("2026-01-01T00:00:00Z"), ms("2027-01-01T00:00:00Z")), []);
});
