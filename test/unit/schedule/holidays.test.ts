// Holiday calendars and yearly exceptions: literal instants, across years and zones, and their place
// in the order of precedence (exceptions in list order, then holiday calendars, then warm-up, uptime).
import { test } from "node:test";
import assert from "node:assert/strict";
import { nextTransition, stateAt, transitionsBetween } from "../../../src/schedule/index.ts";
import { holidaysOf } from "../../../src/schedule/holidays.ts";
import { civilFromDays } from "../../../src/schedule/civil.ts";
import { ms, sched, show, trs } from "./helpers.ts";

const office = (timeZone: string, more: Record<string, unknown>) =>
  sched({ timeZone, warmup: "15m", uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }], ...more });

const isoDates = (
  country: string,
  region: string | undefined,
  year: number,
  types: ("public" | "bank" | "optional" | "school" | "observance")[] = ["public"],
) =>
  holidaysOf(country, region, types, year).map((h) => {
    const { year: y, month, day } = civilFromDays(h.day);
    return `${y}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")} ${h.name}`;
  });

test("Easter Monday in Bavaria 2027: Stopped from local midnight to local midnight, by its English name", () => {
  const s = office("Europe/Berlin", { holidays: [{ country: "DE", region: "BY" }] });
  // Good Friday (Mar 26) and Easter Monday (Mar 29) around a weekend: nothing runs from Thursday night to Tuesday
  assert.deepEqual(trs(s, "2027-03-25T12:00:00+01:00", "2027-03-31T00:00:00+02:00"), [
    "2027-03-25T20:00:00.000+01:00 Stopped Schedule",
    "2027-03-30T07:45:00.000+02:00 Running Warmup",
    "2027-03-30T20:00:00.000+02:00 Stopped Schedule",
  ]);
  assert.deepEqual(stateAt(s, ms("2027-03-29T00:00:00+02:00")), {
    state: "Stopped",
    reason: "Exception",
    detail: "Holiday: Easter Monday",
  });
  assert.deepEqual(stateAt(s, ms("2027-03-29T23:59:59.999+02:00")), {
    state: "Stopped",
    reason: "Exception",
    detail: "Holiday: Easter Monday",
  });
  assert.deepEqual(stateAt(s, ms("2027-03-28T23:59:59.999+02:00")), { state: "Stopped", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2027-03-30T00:00:00+02:00")), { state: "Stopped", reason: "Schedule" });
  const next = nextTransition(s, ms("2027-03-29T10:00:00+02:00"));
  assert.equal(next && show(s, next), "2027-03-30T07:45:00.000+02:00 Running Warmup");
});

test("a region has holidays of its own: Corpus Christi 2027 in Bavaria, not in Berlin", () => {
  const at = ms("2027-05-27T10:00:00+02:00"); // a Thursday
  assert.deepEqual(stateAt(office("Europe/Berlin", { holidays: [{ country: "DE", region: "BY" }] }), at), {
    state: "Stopped",
    reason: "Exception",
    detail: "Holiday: Corpus Christi",
  });
  assert.deepEqual(stateAt(office("Europe/Berlin", { holidays: [{ country: "DE", region: "BE" }] }), at), {
    state: "Running",
    reason: "Schedule",
  });
  assert.deepEqual(stateAt(office("Europe/Berlin", { holidays: [{ country: "DE" }] }), at), { state: "Running", reason: "Schedule" });
});

test("Thanksgiving in New York 2026 (Thursday, November 26)", () => {
  const s = office("America/New_York", { holidays: [{ country: "US", region: "NY" }] });
  assert.deepEqual(trs(s, "2026-11-25T12:00:00-05:00", "2026-11-28T00:00:00-05:00"), [
    "2026-11-25T20:00:00.000-05:00 Stopped Schedule",
    "2026-11-27T07:45:00.000-05:00 Running Warmup",
    "2026-11-27T20:00:00.000-05:00 Stopped Schedule",
  ]);
  assert.deepEqual(stateAt(s, ms("2026-11-26T12:00:00-05:00")), {
    state: "Stopped",
    reason: "Exception",
    detail: "Holiday: Thanksgiving Day",
  });
});

test("Diwali is not a public holiday of IN in date-holidays (nor of any type): an India schedule runs on it", () => {
  // Diwali 2026 is on November 8 (a Sunday), 2027 on October 29 (a Friday)
  for (const year of [2026, 2027]) {
    assert.ok(
      !isoDates("IN", undefined, year, ["public", "bank", "optional", "school", "observance"]).some((h) => /diwali|deepavali/i.test(h)),
    );
  }
  assert.deepEqual(isoDates("IN", undefined, 2026), [
    "2026-01-26 Republic Day",
    "2026-04-03 Good Friday",
    "2026-04-14 Ambedkar Jayanti",
    "2026-08-15 Independence Day",
    "2026-10-02 Gandhi Jayanti",
    "2026-12-25 Christmas Day",
  ]);
  const s = office("Asia/Kolkata", { holidays: [{ country: "IN" }] });
  assert.deepEqual(stateAt(s, ms("2027-10-29T12:00:00+05:30")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(stateAt(s, ms("2026-10-02T12:00:00+05:30")), {
    state: "Stopped",
    reason: "Exception",
    detail: "Holiday: Gandhi Jayanti",
  });
});

test("a holiday runs midnight to midnight in the SCHEDULE's zone, not the country's", () => {
  // German Christmas Day in a New York schedule: New York's Dec 25, not Berlin's (which begins at 18:00 on Dec 24 in New York)
  const ny = sched({ timeZone: "America/New_York", holidays: [{ country: "DE" }] });
  assert.deepEqual(trs(ny, "2026-12-24T12:00:00-05:00", "2026-12-28T00:00:00-05:00"), [
    "2026-12-25T00:00:00.000-05:00 Stopped Exception Holiday: Christmas Day",
    "2026-12-27T00:00:00.000-05:00 Running Schedule",
  ]);
  assert.deepEqual(stateAt(ny, ms("2026-12-24T19:00:00-05:00")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(stateAt(ny, ms("2026-12-26T12:00:00-05:00")), { state: "Stopped", reason: "Exception", detail: "Holiday: Boxing Day" });
  // US Thanksgiving in a Tokyo schedule: Tokyo's Nov 26, which ends while it is still Nov 26 in New York
  const tokyo = sched({ timeZone: "Asia/Tokyo", holidays: [{ country: "US", region: "NY" }] });
  assert.deepEqual(trs(tokyo, "2026-11-25T12:00:00+09:00", "2026-11-28T00:00:00+09:00"), [
    "2026-11-26T00:00:00.000+09:00 Stopped Exception Holiday: Thanksgiving Day",
    "2026-11-27T00:00:00.000+09:00 Running Schedule",
  ]);
});

test("holidays never lapse: the calendar is worked out for whatever year is asked", () => {
  const s = office("Europe/Berlin", { holidays: [{ country: "DE" }] });
  // Easter Monday: 2040-04-02, 2100-03-29
  assert.deepEqual(stateAt(s, ms("2040-04-02T10:00:00+02:00")), {
    state: "Stopped",
    reason: "Exception",
    detail: "Holiday: Easter Monday",
  });
  assert.deepEqual(stateAt(s, ms("2100-03-29T10:00:00+02:00")), {
    state: "Stopped",
    reason: "Exception",
    detail: "Holiday: Easter Monday",
  });
  // a year of transitions: 9 nationwide holidays, of which 7 fall on a weekday in 2026 (Oct 3 and Dec 26 are Saturdays)
  const year = transitionsBetween(s, ms("2026-01-01T00:00:00+01:00"), ms("2027-01-01T00:00:00+01:00"));
  assert.equal(year.length, 2 * (261 - 7));
});

test("a yearly exception of a day the clocks change lasts that day's 23 or 25 hours", () => {
  const s = sched({
    timeZone: "Europe/Berlin",
    exceptions: [
      { from: "--03-28", to: "--03-29", state: "Stopped", reason: "Spring" },
      { from: "--10-31", to: "--11-01", state: "Stopped", reason: "Autumn" },
    ],
  });
  assert.deepEqual(trs(s, "2027-03-27T12:00:00+01:00", "2027-03-30T00:00:00+02:00"), [
    "2027-03-28T00:00:00.000+01:00 Stopped Exception Spring",
    "2027-03-29T00:00:00.000+02:00 Running Schedule",
  ]);
  assert.deepEqual(trs(s, "2027-10-30T12:00:00+02:00", "2027-11-02T00:00:00+01:00"), [
    "2027-10-31T00:00:00.000+02:00 Stopped Exception Autumn",
    "2027-11-01T00:00:00.000+01:00 Running Schedule",
  ]);
});

test("yearly exceptions: --MM-DD every year, with a time, and across the year end", () => {
  const shutdown = sched({
    timeZone: "Europe/Berlin",
    exceptions: [{ from: "--12-24", to: "--12-27", state: "Stopped", reason: "Shutdown" }],
  });
  for (const y of [2026, 2027, 2035]) {
    assert.deepEqual(trs(shutdown, `${y}-12-23T12:00:00+01:00`, `${y}-12-28T00:00:00+01:00`), [
      `${y}-12-24T00:00:00.000+01:00 Stopped Exception Shutdown`,
      `${y}-12-27T00:00:00.000+01:00 Running Schedule`,
    ]);
  }
  const eve = sched({ timeZone: "Europe/Berlin", exceptions: [{ from: "--12-24T18:00", to: "--12-25", state: "Stopped", reason: "Eve" }] });
  assert.deepEqual(trs(eve, "2026-12-24T00:00:00+01:00", "2026-12-26T00:00:00+01:00"), [
    "2026-12-24T18:00:00.000+01:00 Stopped Exception Eve",
    "2026-12-25T00:00:00.000+01:00 Running Schedule",
  ]);
  const wrap = sched({ timeZone: "Europe/Berlin", exceptions: [{ from: "--12-31", to: "--01-02", state: "Stopped", reason: "New Year" }] });
  assert.deepEqual(trs(wrap, "2026-12-30T00:00:00+01:00", "2027-01-03T00:00:00+01:00"), [
    "2026-12-31T00:00:00.000+01:00 Stopped Exception New Year",
    "2027-01-02T00:00:00.000+01:00 Running Schedule",
  ]);
  // seen from inside, right after the year end: the range began in the previous year
  assert.deepEqual(stateAt(wrap, ms("2027-01-01T12:00:00+01:00")), { state: "Stopped", reason: "Exception", detail: "New Year" });
  const next = nextTransition(wrap, ms("2027-01-01T12:00:00+01:00"));
  assert.equal(next && show(wrap, next), "2027-01-02T00:00:00.000+01:00 Running Schedule");
});

test("--02-29 is the day after February 28: March 1 in years without a February 29", () => {
  const s = sched({ timeZone: "UTC", exceptions: [{ from: "--02-29", to: "--03-02", state: "Stopped", reason: "Leap" }] });
  assert.deepEqual(trs(s, "2028-02-28T00:00:00Z", "2028-03-03T00:00:00Z"), [
    "2028-02-29T00:00:00.000+00:00 Stopped Exception Leap",
    "2028-03-02T00:00:00.000+00:00 Running Schedule",
  ]);
  assert.deepEqual(trs(s, "2027-02-27T00:00:00Z", "2027-03-03T00:00:00Z"), [
    "2027-03-01T00:00:00.000+00:00 Stopped Exception Leap",
    "2027-03-02T00:00:00.000+00:00 Running Schedule",
  ]);
  // and so a range of that one day is empty in other years
  const only = sched({ timeZone: "UTC", exceptions: [{ from: "--02-29", to: "--03-01", state: "Stopped", reason: "Leap day" }] });
  assert.deepEqual(trs(only, "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"), []);
  assert.equal(trs(only, "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z").length, 2);
});

test("precedence: exceptions in list order (dated and yearly alike), then holiday calendars in list order", () => {
  const push = { from: "2026-12-20", to: "2027-01-01", state: "Running", reason: "Year-end push" };
  const shutdown = { from: "--12-24", to: "--12-27", state: "Stopped", reason: "Shutdown" };
  const at = ms("2026-12-25T10:00:00+01:00");
  // a Running exception beats a Stopped holiday
  assert.deepEqual(stateAt(office("Europe/Berlin", { exceptions: [push], holidays: [{ country: "DE" }] }), at), {
    state: "Running",
    reason: "Exception",
    detail: "Year-end push",
  });
  // among exceptions, list order decides whatever the form
  assert.deepEqual(stateAt(office("Europe/Berlin", { exceptions: [shutdown, push], holidays: [{ country: "DE" }] }), at), {
    state: "Stopped",
    reason: "Exception",
    detail: "Shutdown",
  });
  assert.deepEqual(stateAt(office("Europe/Berlin", { exceptions: [push, shutdown] }), at).detail, "Year-end push");
  // between calendars, the first listed: a Running calendar (DE) before a Stopped one (US)
  const both = office("Europe/Berlin", { holidays: [{ country: "DE", state: "Running" }, { country: "US" }] });
  assert.deepEqual(stateAt(both, ms("2026-12-25T22:00:00+01:00")), {
    state: "Running",
    reason: "Exception",
    detail: "Holiday: Christmas Day",
  });
  assert.deepEqual(stateAt(both, ms("2026-07-03T10:00:00+02:00")), {
    state: "Stopped",
    reason: "Exception",
    detail: "Holiday: Independence Day (substitute day)",
  });
});

test("warm-up never pushes a start into a holiday; a warm-up before one runs until it begins, as with any exception", () => {
  // the window opens at 00:10 with 30 minutes of warm-up: after the holiday it starts at midnight, not 23:40
  const s = sched({
    timeZone: "Europe/Berlin",
    warmup: "30m",
    uptime: [{ days: "*", from: "00:10", to: "06:00" }],
    holidays: [{ country: "DE" }],
  });
  assert.deepEqual(trs(s, "2026-04-30T12:00:00+02:00", "2026-05-02T12:00:00+02:00"), [
    "2026-04-30T23:40:00.000+02:00 Running Warmup",
    "2026-05-01T00:00:00.000+02:00 Stopped Exception Holiday: Labour Day",
    "2026-05-02T00:00:00.000+02:00 Running Warmup",
    "2026-05-02T06:00:00.000+02:00 Stopped Schedule",
  ]);
});

test("holiday types: bank holidays only when asked for; Christmas Eve (from 14:00 in the calendar) is the whole date", () => {
  const at = ms("2026-12-24T10:00:00+01:00");
  assert.deepEqual(stateAt(office("Europe/Berlin", { holidays: [{ country: "DE" }] }), at), { state: "Running", reason: "Schedule" });
  assert.deepEqual(stateAt(office("Europe/Berlin", { holidays: [{ country: "DE", types: ["public", "bank"] }] }), at), {
    state: "Stopped",
    reason: "Exception",
    detail: "Holiday: Christmas Eve",
  });
});

test("a Running holiday calendar starts services on holidays of an always-stopped schedule", () => {
  const s = sched({ timeZone: "America/New_York", uptime: [], holidays: [{ country: "US", state: "Running" }] });
  assert.deepEqual(trs(s, "2026-07-01T00:00:00-04:00", "2026-07-10T00:00:00-04:00"), [
    "2026-07-03T00:00:00.000-04:00 Running Exception Holiday: Independence Day (substitute day)",
    "2026-07-05T00:00:00.000-04:00 Stopped Schedule",
  ]);
});

test("a calendar year is worked out once and kept, whatever the order of the types", () => {
  const first = holidaysOf("FR", undefined, ["public", "bank"], 2031);
  assert.equal(holidaysOf("FR", undefined, ["bank", "public"], 2031), first);
  assert.notEqual(holidaysOf("FR", undefined, ["public"], 2031), first);
});
