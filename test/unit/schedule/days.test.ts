import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDays, parseTimeOfDay } from "../../../src/schedule/days.ts";

const bits = (...days: number[]) => days.reduce((m, d) => m | (1 << d), 0); // 0 = Sun .. 6 = Sat

test("days: star, ranges, lists, wrapping ranges, case-insensitive", () => {
  assert.equal(parseDays("*"), bits(0, 1, 2, 3, 4, 5, 6));
  assert.equal(parseDays("Mon-Fri"), bits(1, 2, 3, 4, 5));
  assert.equal(parseDays("Sat,Sun"), bits(6, 0));
  assert.equal(parseDays("Fri-Mon"), bits(5, 6, 0, 1));
  assert.equal(parseDays("fri-MON"), bits(5, 6, 0, 1));
  assert.equal(parseDays("Sun-Sat"), bits(0, 1, 2, 3, 4, 5, 6));
  assert.equal(parseDays("Sat-Fri"), bits(0, 1, 2, 3, 4, 5, 6));
  assert.equal(parseDays("Mon-Mon"), bits(1));
  assert.equal(parseDays("Fri-Mon,Wed"), bits(5, 6, 0, 1, 3));
  assert.throws(() => parseDays("Mon-Fry"), /unknown day/);
  assert.throws(() => parseDays("Mon-Tue-Wed"), /invalid day range/);
});

test("times of day: HH:MM and 24:00", () => {
  assert.equal(parseTimeOfDay("00:00"), 0);
  assert.equal(parseTimeOfDay("08:30"), 510);
  assert.equal(parseTimeOfDay("23:59"), 1439);
  assert.equal(parseTimeOfDay("24:00"), 1440);
  assert.throws(() => parseTimeOfDay("24:01"));
  assert.throws(() => parseTimeOfDay("8:30"));
  assert.throws(() => parseTimeOfDay("08:60"));
});
