// Benchmark of the schedule engine: a year of transitions for 1,000 schedules (issue 2: "well under
// 2 s"). Prints its figure; not a timed test. Run: npm run bench:engine
import { performance } from "node:perf_hooks";
import { ServingScheduleSpec } from "../../src/api/servingSchedule.ts";
import { compileSchedule, nextTransition, stateAt, transitionsBetween } from "../../src/schedule/index.ts";

const COUNT = 1000;
const zones = [
  "UTC",
  "Europe/Berlin",
  "America/New_York",
  "Asia/Kolkata",
  "Australia/Sydney",
  "America/Sao_Paulo",
  "Asia/Tokyo",
  "Europe/London",
];

// A realistic mix: office hours, nights across midnight, weekends, cron pairs, warm-ups, holidays.
function spec(i: number): ServingScheduleSpec {
  const h = 6 + (i % 5);
  const uptime =
    i % 4 === 0
      ? [{ days: "Mon-Fri", from: `0${h}:00`.slice(-5), to: "20:00" }]
      : i % 4 === 1
        ? [
            { days: "Sun-Thu", from: "22:00", to: "06:00" },
            { days: "Sat", from: "10:00", to: "24:00" },
          ]
        : i % 4 === 2
          ? [{ cron: { start: `${i % 60} ${h} * * 1-5`, stop: "30 19 * * 1-5" } }]
          : [{ days: "Fri-Mon", from: "07:30", to: "18:00" }, { cron: { start: "0 12 1 * *", stop: "0 3 2 * *" } }];
  return ServingScheduleSpec.parse({
    timeZone: zones[i % zones.length],
    warmup: i % 3 === 0 ? "15m" : undefined,
    uptime: i % 50 === 49 ? undefined : uptime,
    exceptions:
      i % 2 === 0
        ? [
            { from: "2026-12-24", to: "2026-12-27", state: "Stopped", reason: "Christmas" },
            { from: "2027-05-01", to: "2027-05-02", state: "Stopped", reason: "Labour Day" },
            { from: "2026-11-28T09:00", to: "2026-11-28T17:00", state: "Running", reason: "Demo" },
          ]
        : undefined,
  });
}

const from = Date.parse("2026-06-01T00:00:00Z");
const until = Date.parse("2027-06-01T00:00:00Z");
const specs = Array.from({ length: COUNT }, (_, i) => spec(i));

function run(): { ms: number; transitions: number; compileMs: number } {
  const t0 = performance.now();
  const compiled = specs.map(compileSchedule);
  const t1 = performance.now();
  let transitions = 0;
  for (const s of compiled) transitions += transitionsBetween(s, from, until).length;
  return { ms: performance.now() - t0, transitions, compileMs: t1 - t0 };
}

const cold = run(); // includes filling the zone-offset cache
const warm = run();
console.log(
  `engine: ${COUNT} schedules, one year each, ${warm.transitions} transitions: ${warm.ms.toFixed(0)} ms (first run, incl. zone cache: ${cold.ms.toFixed(0)} ms; compile ${warm.compileMs.toFixed(0)} ms)`,
);

const compiled = specs.map(compileSchedule);
const t2 = performance.now();
let n = 0;
for (const s of compiled) {
  stateAt(s, from + 12_345_678);
  if (nextTransition(s, from + 12_345_678)) n++;
}
console.log(
  `engine: stateAt + nextTransition for ${COUNT} schedules: ${(performance.now() - t2).toFixed(0)} ms (${n} with a next transition)`,
);
