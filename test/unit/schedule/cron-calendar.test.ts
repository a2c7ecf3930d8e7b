// The calendar forms of cron day fields: L, nW (day-of-month), nL, n#k (day-of-week) and "?", as
// literal instants in several zones, across daylight-saving changes, and how they combine with the
// other day field. These forms used to validate and then fire on the wrong days (issue 10).
import { test } from "node:test";
import assert from "node:assert/strict";
import { stateAt } from "../../../src/schedule/index.ts";
import { compileCron, cronInstantsBetween } from "../../../src/schedule/cron.ts";
import { zoneOffsets } from "../../../src/schedule/zone.ts";
import { ms, sched, trs } from "./helpers.ts";

const pair = (timeZone: string, start: string, stop: string) => sched({ timeZone, uptime: [{ cron: { start, stop } }] });

/** Local instants the expression fires at in [from, until], formatted in the zone. */
function fires(expr: string, timeZone: string, from: string, until: string): string[] {
  const z = zoneOffsets(timeZone);
  return cronInstantsBetween(compileCron(expr), z, ms(from), ms(until)).map((t) => z.format(t));
}

test('"1#2" is the second Monday of the month (Europe/Berlin), not every Sunday', () => {
  assert.deepEqual(trs(pair("Europe/Berlin", "0 8 * * 1#2", "0 18 * * *"), "2026-12-01T00:00:00Z", "2027-03-01T00:00:00Z"), [
    "2026-12-14T08:00:00.000+01:00 Running Schedule",
    "2026-12-14T18:00:00.000+01:00 Stopped Schedule",
    "2027-01-11T08:00:00.000+01:00 Running Schedule",
    "2027-01-11T18:00:00.000+01:00 Stopped Schedule",
    "2027-02-08T08:00:00.000+01:00 Running Schedule",
    "2027-02-08T18:00:00.000+01:00 Stopped Schedule",
  ]);
});

test('"5L" is the last Friday of the month (America/New_York, across the fall-back in November)', () => {
  assert.deepEqual(trs(pair("America/New_York", "0 8 * * 5L", "0 9 * * *"), "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"), [
    "2026-10-30T08:00:00.000-04:00 Running Schedule",
    "2026-10-30T09:00:00.000-04:00 Stopped Schedule",
    "2026-11-27T08:00:00.000-05:00 Running Schedule",
    "2026-11-27T09:00:00.000-05:00 Stopped Schedule",
    "2026-12-25T08:00:00.000-05:00 Running Schedule",
    "2026-12-25T09:00:00.000-05:00 Stopped Schedule",
  ]);
  // FRIL and 5l say the same
  assert.deepEqual(fires("0 8 * * FRIL", "America/New_York", "2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z"), [
    "2026-10-30T08:00:00.000-04:00",
    "2026-11-27T08:00:00.000-05:00",
  ]);
});

test('"L" in day-of-month is the last day of each month, 28 or 29 in February (Asia/Kolkata)', () => {
  assert.deepEqual(fires("0 8 L * *", "Asia/Kolkata", "2027-12-15T00:00:00Z", "2028-04-01T00:00:00Z"), [
    "2027-12-31T08:00:00.000+05:30",
    "2028-01-31T08:00:00.000+05:30",
    "2028-02-29T08:00:00.000+05:30",
    "2028-03-31T08:00:00.000+05:30",
  ]);
  assert.deepEqual(fires("0 8 15,L 2 *", "Asia/Kolkata", "2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z"), [
    "2027-02-15T08:00:00.000+05:30",
    "2027-02-28T08:00:00.000+05:30",
  ]);
  assert.deepEqual(trs(pair("Asia/Kolkata", "0 8 L * *", "0 20 L * *"), "2027-01-15T00:00:00Z", "2027-03-01T00:00:00Z"), [
    "2027-01-31T08:00:00.000+05:30 Running Schedule",
    "2027-01-31T20:00:00.000+05:30 Stopped Schedule",
    "2027-02-28T08:00:00.000+05:30 Running Schedule",
    "2027-02-28T20:00:00.000+05:30 Stopped Schedule",
  ]);
});

test('"15W" is the weekday nearest the 15th: Saturday -> Friday, Sunday -> Monday (Australia/Sydney, across its spring-forward)', () => {
  // 2026-08-15 is a Saturday, 2026-11-15 a Sunday; Sydney moves to +11:00 on 2026-10-04
  assert.deepEqual(fires("0 8 15W * *", "Australia/Sydney", "2026-07-01T00:00:00Z", "2026-12-01T00:00:00Z"), [
    "2026-07-15T08:00:00.000+10:00",
    "2026-08-14T08:00:00.000+10:00",
    "2026-09-15T08:00:00.000+10:00",
    "2026-10-15T08:00:00.000+11:00",
    "2026-11-16T08:00:00.000+11:00",
  ]);
});

test("nW never crosses the month boundary: 1W on a Saturday is Monday the 3rd, 31W on a Sunday is Friday the 29th", () => {
  // 2026-08-01 is a Saturday; 2026-05-31 a Sunday; 2026-02-01 a Sunday
  assert.deepEqual(fires("0 8 1W * *", "UTC", "2026-07-25T00:00:00Z", "2026-08-10T00:00:00Z"), ["2026-08-03T08:00:00.000+00:00"]);
  assert.deepEqual(fires("0 8 1W * *", "UTC", "2026-01-25T00:00:00Z", "2026-02-10T00:00:00Z"), ["2026-02-02T08:00:00.000+00:00"]);
  assert.deepEqual(fires("0 8 31W * *", "UTC", "2026-05-20T00:00:00Z", "2026-06-10T00:00:00Z"), ["2026-05-29T08:00:00.000+00:00"]);
  // a month without day 31 has no 31W, as it has no plain 31: April and June 2026 are skipped
  assert.deepEqual(fires("0 8 31W * *", "UTC", "2026-03-01T00:00:00Z", "2026-08-01T00:00:00Z"), [
    "2026-03-31T08:00:00.000+00:00",
    "2026-05-29T08:00:00.000+00:00",
    "2026-07-31T08:00:00.000+00:00",
  ]);
});

test("n#k with k = 5 fires only in months that have a fifth such weekday", () => {
  // Thursdays: 2026-10 has five (1, 8, 15, 22, 29), 2026-11 has four, 2026-12 has five (3 .. 31)
  assert.deepEqual(fires("0 8 * * 4#5", "UTC", "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"), [
    "2026-10-29T08:00:00.000+00:00",
    "2026-12-31T08:00:00.000+00:00",
  ]);
});

test("calendar forms follow the engine's DST rules: a nonexistent time moves forward, a repeated one is the earlier", () => {
  // Berlin springs forward on the last Sunday of March and falls back on the last Sunday of October
  assert.deepEqual(fires("30 2 * 3 0L", "Europe/Berlin", "2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z"), [
    "2027-03-28T03:30:00.000+02:00",
  ]);
  assert.deepEqual(fires("30 2 * 10 0L", "Europe/Berlin", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"), [
    "2026-10-25T02:30:00.000+02:00",
  ]);
  // New York springs forward on the second Sunday of March
  assert.deepEqual(fires("30 2 * 3 SUN#2", "America/New_York", "2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z"), [
    "2027-03-14T03:30:00.000-04:00",
  ]);
});

test('"?" is "*" in both day fields', () => {
  assert.deepEqual(
    fires("0 8 ? * 1", "UTC", "2026-11-30T00:00:00Z", "2026-12-15T00:00:00Z"),
    fires("0 8 * * 1", "UTC", "2026-11-30T00:00:00Z", "2026-12-15T00:00:00Z"),
  );
  assert.deepEqual(fires("0 8 1 * ?", "UTC", "2026-11-30T00:00:00Z", "2027-01-15T00:00:00Z"), [
    "2026-12-01T08:00:00.000+00:00",
    "2027-01-01T08:00:00.000+00:00",
  ]);
});

test("both day fields restricted: a day matching either fires, calendar forms included; lists of calendar forms", () => {
  // the 15th OR the first Monday (December 2026: Monday the 7th)
  assert.deepEqual(fires("0 8 15 * 1#1", "UTC", "2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z"), [
    "2026-12-07T08:00:00.000+00:00",
    "2026-12-15T08:00:00.000+00:00",
  ]);
  // the last day OR any Monday
  assert.deepEqual(fires("0 8 L * MON", "UTC", "2026-12-20T00:00:00Z", "2027-01-05T00:00:00Z"), [
    "2026-12-21T08:00:00.000+00:00",
    "2026-12-28T08:00:00.000+00:00",
    "2026-12-31T08:00:00.000+00:00",
    "2027-01-04T08:00:00.000+00:00",
  ]);
  // the weekday nearest the 1st OR the last Friday
  assert.deepEqual(fires("0 8 1W * 5L", "UTC", "2026-07-25T00:00:00Z", "2026-09-01T00:00:00Z"), [
    "2026-07-31T08:00:00.000+00:00",
    "2026-08-03T08:00:00.000+00:00",
    "2026-08-28T08:00:00.000+00:00",
  ]);
  // first and third Monday, and the last Sunday
  assert.deepEqual(fires("0 8 * * 1#1,1#3,0L", "UTC", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"), [
    "2026-12-07T08:00:00.000+00:00",
    "2026-12-21T08:00:00.000+00:00",
    "2026-12-27T08:00:00.000+00:00",
  ]);
});

test("a start that recurs only every 28 years is still seen by the look-back: the fifth Monday of February", () => {
  // February has five Mondays only in a leap year starting on a Monday: 2016, then 2044
  const s = pair("UTC", "0 8 * 2 1#5", "0 8 1 1 *");
  assert.deepEqual(trs(s, "2016-01-01T12:00:00Z", "2016-03-01T00:00:00Z"), ["2016-02-29T08:00:00.000+00:00 Running Schedule"]);
  assert.deepEqual(stateAt(s, ms("2016-12-31T23:00:00Z")), { state: "Running", reason: "Schedule" });
  const rare = pair("UTC", "0 8 * 2 1#5", "0 8 * 2 2#5"); // Tuesday 5th: only in leap years starting on a Tuesday
  // in mid-2027 the latest start was 2016-02-29 and the latest stop 2000-02-29, both further back than 8 years
  assert.deepEqual(stateAt(rare, ms("2027-06-01T00:00:00Z")), { state: "Running", reason: "Schedule" });
  assert.deepEqual(trs(rare, "2027-06-01T00:00:00Z", "2045-01-01T00:00:00Z"), [
    "2028-02-29T08:00:00.000+00:00 Stopped Schedule",
    "2044-02-29T08:00:00.000+00:00 Running Schedule",
  ]);
});
