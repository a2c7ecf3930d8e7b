// The cron form {cron: {start, stop}}: literal expected instants, DST, look-back, start/stop pairing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { nextTransition, stateAt, transitionsBetween } from "../../../src/schedule/index.ts";
import { compileCron, cronInstantsBetween, cronMatchesDay } from "../../../src/schedule/cron.ts";
import { daysFromCivil } from "../../../src/schedule/civil.ts";
import { zoneOffsets } from "../../../src/schedule/zone.ts";
import { ms, sched, show, trs } from "./helpers.ts";

const cron = (start: string, stop: string, extra: Record<string, unknown> = {}) => sched({ ...extra, uptime: [{ cron: { start, stop } }] });

test('cron "30 2 * * *" fires at 03:30 CEST on spring-forward day 2027-03-28', () => {
  const z = zoneOffsets("Europe/Berlin");
  const fires = cronInstantsBetween(compileCron("30 2 * * *"), z, ms("2027-03-27T00:00:00Z"), ms("2027-03-29T23:00:00Z")).map((t) =>
    z.format(t),
  );
  assert.deepEqual(fires, ["2027-03-27T02:30:00.000+01:00", "2027-03-28T03:30:00.000+02:00", "2027-03-29T02:30:00.000+02:00"]);
  const s = cron("30 2 * * *", "0 5 * * *", { timeZone: "Europe/Berlin" });
  assert.deepEqual(trs(s, "2027-03-27T12:00:00Z", "2027-03-29T12:00:00Z"), [
    "2027-03-28T03:30:00.000+02:00 Running Schedule",
    "2027-03-28T05:00:00.000+02:00 Stopped Schedule",
    "2027-03-29T02:30:00.000+02:00 Running Schedule",
    "2027-03-29T05:00:00.000+02:00 Stopped Schedule",
  ]);
});

test('cron "30 2 * * *" fires once, at the first 02:30, on fall-back day 2026-10-25', () => {
  const z = zoneOffsets("Europe/Berlin");
  const fires = cronInstantsBetween(compileCron("30 2 * * *"), z, ms("2026-10-24T12:00:00Z"), ms("2026-10-25T23:00:00Z")).map((t) =>
    z.format(t),
  );
  assert.deepEqual(fires, ["2026-10-25T02:30:00.000+02:00"]);
  const s = cron("30 2 * * *", "45 2 * * *", { timeZone: "Europe/Berlin" });
  assert.deepEqual(trs(s, "2026-10-24T12:00:00Z", "2026-10-25T23:00:00Z"), [
    "2026-10-25T02:30:00.000+02:00 Running Schedule",
    "2026-10-25T02:45:00.000+02:00 Stopped Schedule",
  ]);
  const s2 = cron("30 2 * * *", "0 5 * * *", { timeZone: "Europe/Berlin" });
  assert.deepEqual(trs(s2, "2026-10-24T12:00:00Z", "2026-10-25T23:00:00Z"), [
    "2026-10-25T02:30:00.000+02:00 Running Schedule",
    "2026-10-25T05:00:00.000+01:00 Stopped Schedule",
  ]);
  // and 15-minute starts inside the repeated hour only fire on its first pass
  const every = cronInstantsBetween(compileCron("*/15 2 * * *"), z, ms("2026-10-24T23:00:00Z"), ms("2026-10-25T03:00:00Z")).map((t) =>
    z.format(t),
  );
  assert.deepEqual(every, [
    "2026-10-25T02:00:00.000+02:00",
    "2026-10-25T02:15:00.000+02:00",
    "2026-10-25T02:30:00.000+02:00",
    "2026-10-25T02:45:00.000+02:00",
  ]);
});

test("spring forward: a start and a stop that land on the same instant open nothing (as the window form)", () => {
  const c = cron("0 2 * * *", "0 3 * * *", { timeZone: "Europe/Berlin" });
  const w = sched({ timeZone: "Europe/Berlin", uptime: [{ days: "*", from: "02:00", to: "03:00" }] });
  const expected = [
    "2027-03-27T02:00:00.000+01:00 Running Schedule",
    "2027-03-27T03:00:00.000+01:00 Stopped Schedule",
    "2027-03-29T02:00:00.000+02:00 Running Schedule",
    "2027-03-29T03:00:00.000+02:00 Stopped Schedule",
  ];
  assert.deepEqual(trs(c, "2027-03-27T00:00:00Z", "2027-03-29T12:00:00Z"), expected);
  assert.deepEqual(trs(w, "2027-03-27T00:00:00Z", "2027-03-29T12:00:00Z"), expected);
});

test("a cron pair whose start the gap moves past its stop runs to the next stop (documented difference from the days form)", () => {
  const s = cron("30 2 * * *", "0 3 * * *", { timeZone: "Europe/Berlin" });
  assert.deepEqual(trs(s, "2027-03-27T00:00:00Z", "2027-03-29T12:00:00Z"), [
    "2027-03-27T02:30:00.000+01:00 Running Schedule",
    "2027-03-27T03:00:00.000+01:00 Stopped Schedule",
    "2027-03-28T03:30:00.000+02:00 Running Schedule",
    "2027-03-29T03:00:00.000+02:00 Stopped Schedule",
  ]);
});

test("America/New_York cron across fall back 2026-11-01: 01:30 is the EDT one", () => {
  const s = cron("30 1 * * 0", "0 3 * * 0", { timeZone: "America/New_York" });
  const t = transitionsBetween(s, ms("2026-10-31T00:00:00Z"), ms("2026-11-02T00:00:00Z"));
  assert.deepEqual(
    t.map((x) => show(s, x)),
    ["2026-11-01T01:30:00.000-04:00 Running Schedule", "2026-11-01T03:00:00.000-05:00 Stopped Schedule"],
  );
  assert.equal((t[1]?.at ?? 0) - (t[0]?.at ?? 0), 2.5 * 3_600_000);
});

test("Asia/Kolkata cron with warmup", () => {
  const s = cron("0 9 * * 1-5", "0 18 * * 1-5", { timeZone: "Asia/Kolkata", warmup: "15m" });
  assert.deepEqual(trs(s, "2026-12-04T00:00:00Z", "2026-12-08T00:00:00Z"), [
    "2026-12-04T08:45:00.000+05:30 Running Warmup",
    "2026-12-04T18:00:00.000+05:30 Stopped Schedule",
    "2026-12-07T08:45:00.000+05:30 Running Warmup",
    "2026-12-07T18:00:00.000+05:30 Stopped Schedule",
  ]);
});

test("look-back: a window opened days before the range is Running at its start", () => {
  const s = cron("0 8 * * 1", "0 18 * * 5"); // Mon 08:00 .. Fri 18:00
  assert.deepEqual(stateAt(s, ms("2026-12-02T12:00:00Z")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2026-12-05T12:00:00Z")), { state: "Stopped", reason: "Schedule" });
  assert.deepEqual(trs(s, "2026-12-02T12:00:00Z", "2026-12-09T12:00:00Z"), [
    "2026-12-04T18:00:00.000+00:00 Stopped Schedule",
    "2026-12-07T08:00:00.000+00:00 Running Schedule",
  ]);
});

test("look-back reaches further than 400 days: Jan 1 .. Feb 29 runs for years", () => {
  const s = cron("0 0 1 1 *", "0 0 29 2 *");
  assert.deepEqual(stateAt(s, ms("2027-12-31T00:00:00Z")), { state: "Running", reason: "Schedule" });
  const next = nextTransition(s, ms("2027-06-01T00:00:00Z"));
  assert.equal(next && show(s, next), "2028-02-29T00:00:00.000+00:00 Stopped Schedule");
  const after = nextTransition(s, ms("2028-02-29T00:00:00Z"));
  assert.equal(after && show(s, after), "2029-01-01T00:00:00.000+00:00 Running Schedule");
  assert.deepEqual(trs(s, "2026-01-02T00:00:00Z", "2027-12-31T00:00:00Z"), []);
  // the latest start and stop are both on 2024-02-29 (stop 00:00, start 00:30): Running ever since
  const leap = cron("30 0 29 2 *", "0 0 29 2 *");
  assert.deepEqual(stateAt(leap, ms("2027-06-01T00:00:00Z")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(trs(leap, "2027-06-01T00:00:00Z", "2028-03-01T00:00:00Z"), [
    "2028-02-29T00:00:00.000+00:00 Stopped Schedule",
    "2028-02-29T00:30:00.000+00:00 Running Schedule",
  ]);
});

test("a start while running does nothing; a stop while stopped does nothing", () => {
  const twice = cron("0 8,12 * * *", "0 18 * * *");
  assert.deepEqual(trs(twice, "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"), [
    "2026-12-01T08:00:00.000+00:00 Running Schedule",
    "2026-12-01T18:00:00.000+00:00 Stopped Schedule",
  ]);
  const stops = cron("0 8 * * 1", "0 18 * * *");
  assert.deepEqual(trs(stops, "2026-11-30T00:00:00Z", "2026-12-07T12:00:00Z"), [
    "2026-11-30T08:00:00.000+00:00 Running Schedule",
    "2026-11-30T18:00:00.000+00:00 Stopped Schedule",
    "2026-12-07T08:00:00.000+00:00 Running Schedule",
  ]);
});

test("a start and a stop at the same instant leave it Stopped (the stop wins)", () => {
  // weekdays: start and stop both at 12:00 -> nothing; Saturday's start runs until Monday's stop
  const s = cron("0 12 * * *", "0 12 * * 1-5");
  assert.deepEqual(trs(s, "2026-11-30T12:00:00Z", "2026-12-07T13:00:00Z"), [
    "2026-12-05T12:00:00.000+00:00 Running Schedule",
    "2026-12-07T12:00:00.000+00:00 Stopped Schedule",
  ]);
  assert.deepEqual(stateAt(s, ms("2026-12-01T12:00:00Z")), { state: "Stopped", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2026-12-07T12:00:00Z")), { state: "Stopped", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2026-12-07T11:59:59.999Z")), { state: "Running", reason: "Schedule" });
  // a zero-length window has no warm-up either
  const warm = cron("0 12 * * *", "0 12 * * 1-5", { warmup: "30m" });
  assert.deepEqual(trs(warm, "2026-11-30T12:00:00Z", "2026-12-07T13:00:00Z"), [
    "2026-12-05T11:30:00.000+00:00 Running Warmup",
    "2026-12-07T12:00:00.000+00:00 Stopped Schedule",
  ]);
});

test("classic cron: day-of-month OR day-of-week when both are restricted", () => {
  const dec1 = daysFromCivil(2026, 12, 1); // a Tuesday
  const dec7 = daysFromCivil(2026, 12, 7); // a Monday
  const dec8 = daysFromCivil(2026, 12, 8);
  const both = compileCron("0 8 1 * 1");
  assert.deepEqual(
    [dec1, dec7, dec8].map((d) => cronMatchesDay(both, d)),
    [true, true, false],
  );
  assert.deepEqual(
    [dec1, dec7, dec8].map((d) => cronMatchesDay(compileCron("0 8 1 * *"), d)),
    [true, false, false],
  );
  assert.deepEqual(
    [dec1, dec7, dec8].map((d) => cronMatchesDay(compileCron("0 8 * * 1"), d)),
    [false, true, false],
  );
  assert.deepEqual(
    [dec1, dec7].map((d) => cronMatchesDay(compileCron("0 8 1 11 1"), d)),
    [false, false],
  ); // month restricts both
  const s = cron("0 8 1 * 1", "0 9 * * *");
  assert.deepEqual(trs(s, "2026-11-30T12:00:00Z", "2026-12-08T12:00:00Z"), [
    "2026-12-01T08:00:00.000+00:00 Running Schedule",
    "2026-12-01T09:00:00.000+00:00 Stopped Schedule",
    "2026-12-07T08:00:00.000+00:00 Running Schedule",
    "2026-12-07T09:00:00.000+00:00 Stopped Schedule",
  ]);
});
