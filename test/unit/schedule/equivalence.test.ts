// Independent check: the days form and the equivalent cron form (written out by hand below) give
// identical transitions over a year, in zones with and without DST (incl. a 30-minute DST shift and
// a DST change at midnight). The two forms share only the local-time conversion: the days form
// walks opening days, the cron form walks fire instants and pairs starts with stops.
import { test } from "node:test";
import assert from "node:assert/strict";
import { transitionsBetween } from "../../../src/schedule/index.ts";
import { ms, sched } from "./helpers.ts";

type Case = { name: string; window: { days: string; from: string; to: string }; start: string; stop: string };

const cases: Case[] = [
  { name: "office hours", window: { days: "Mon-Fri", from: "08:00", to: "20:00" }, start: "0 8 * * 1-5", stop: "0 20 * * 1-5" },
  {
    name: "nights, wrapping days",
    window: { days: "Fri-Mon", from: "22:00", to: "06:00" },
    start: "0 22 * * 5,6,0,1",
    stop: "0 6 * * 6,0,1,2",
  },
  { name: "Sun->Mon wrap", window: { days: "Sun", from: "22:00", to: "02:00" }, start: "0 22 * * 0", stop: "0 2 * * 1" },
  { name: "DST hours", window: { days: "*", from: "02:30", to: "05:00" }, start: "30 2 * * *", stop: "0 5 * * *" },
  { name: "until 24:00", window: { days: "Sat,Sun", from: "18:00", to: "24:00" }, start: "0 18 * * 6,0", stop: "0 0 * * 0,1" },
  { name: "ambiguous hour", window: { days: "Sun", from: "01:30", to: "02:30" }, start: "30 1 * * 0", stop: "30 2 * * 0" },
  { name: "around midnight", window: { days: "Tue,Thu", from: "23:45", to: "00:15" }, start: "45 23 * * 2,4", stop: "15 0 * * 3,5" },
];

const zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Santiago"];
const from = ms("2026-06-01T00:00:00Z");
const until = ms("2027-06-01T00:00:00Z");

for (const timeZone of zones) {
  test(`days form == cron form over a year in ${timeZone}`, () => {
    for (const c of cases) {
      for (const warmup of [undefined, "20m"]) {
        const days = sched({ timeZone, warmup, uptime: [c.window] });
        const cron = sched({ timeZone, warmup, uptime: [{ cron: { start: c.start, stop: c.stop } }] });
        const a = transitionsBetween(days, from, until);
        const b = transitionsBetween(cron, from, until);
        assert.ok(a.length >= 100, `${c.name}: ${a.length} transitions`);
        assert.deepEqual(b, a, `${c.name} (warmup ${warmup ?? "none"}) in ${timeZone}`);
      }
    }
    // all windows in one schedule (they overlap and abut) against all cron pairs in one schedule
    const days = sched({ timeZone, warmup: "10m", uptime: cases.map((c) => c.window) });
    const cron = sched({ timeZone, warmup: "10m", uptime: cases.map((c) => ({ cron: { start: c.start, stop: c.stop } })) });
    assert.deepEqual(transitionsBetween(cron, from, until), transitionsBetween(days, from, until));
  });
}
