// What validation says about cron pairs: the forms the engine cannot honour exactly are rejected
// with the field path and what is supported; start and stop are compared as instants, not text; a
// pair that flips more often than every 10 minutes is valid but warned about.
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateServingSchedule } from "../../../src/api/validate.ts";
import { parseManifests, formatProblem } from "../../../src/api/manifests.ts";
import { buildStatus } from "../../../src/decide/status.ts";

function check(uptime: unknown[]) {
  return validateServingSchedule({
    apiVersion: "reclaimer.dev/v1alpha1",
    kind: "ServingSchedule",
    metadata: { name: "s", namespace: "ns" },
    spec: { uptime },
  });
}

/** "path: message" of every problem of a pair, or [] when valid. */
function problems(start: string, stop: string = "0 20 * * *"): string[] {
  const r = check([{ cron: { start, stop } }]);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

const DOM_ALLOWED = '(allowed: 1-31, lists, ranges, steps, "L" (last day of the month), "nW" alone (weekday nearest to day n), "?")';
const DOW_ALLOWED =
  '(allowed: 0-7 or SUN-SAT (0 and 7 are Sunday), lists, ranges, steps, "nL" (last weekday n of the month), "n#k" (k-th weekday n, k 1-5), "?")';
const START = "spec.uptime[0].cron.start";

test("the calendar forms the engine honours are valid", () => {
  for (const start of [
    "0 8 * * 1#2",
    "0 8 * * 5L",
    "0 8 L * *",
    "0 8 15W * *",
    "0 8 ? * 1",
    "0 8 1,15,L * *",
    "0 8 * * MON#1,mon#3,FRIL",
    "0 8 1W 2 *",
    "0 8 * * 7#1",
    "0 8 15 * 1#1",
  ]) {
    assert.deepEqual(problems(start), [], start);
  }
});

test("forms the engine cannot honour exactly are rejected, with the field and what is supported", () => {
  assert.deepEqual(problems("0 8 LW * *"), [
    `${START}: day-of-month field "LW": "LW" (last weekday of the month) is not supported ${DOM_ALLOWED}`,
  ]);
  assert.deepEqual(problems("0 8 L-3 * *"), [
    `${START}: day-of-month field "L-3": offsets from the last day ("L-3") are not supported ${DOM_ALLOWED}`,
  ]);
  assert.deepEqual(problems("0 8 1W,15 * *"), [
    `${START}: day-of-month field "1W,15": "nW" must stand alone, not in a list or range ${DOM_ALLOWED}`,
  ]);
  assert.deepEqual(problems("0 8 1-15W * *"), [
    `${START}: day-of-month field "1-15W": "nW" must stand alone, not in a list or range ${DOM_ALLOWED}`,
  ]);
  assert.deepEqual(problems("0 8 32W * *"), [`${START}: day-of-month field "32W" is not valid ${DOM_ALLOWED}`]);
  assert.deepEqual(problems("0 8 * * 1#6"), [
    `${START}: day-of-week field "1#6": "#6": k in "n#k" must be 1 to 5 (a month has at most five of each weekday) ${DOW_ALLOWED}`,
  ]);
  assert.deepEqual(problems("0 8 * * 1-5#2"), [
    `${START}: day-of-week field "1-5#2": "#" and "L" need a single weekday before them, e.g. "1#2" or "5L" ${DOW_ALLOWED}`,
  ]);
  assert.deepEqual(problems("0 8 * * L"), [
    `${START}: day-of-week field "L": "#" and "L" need a single weekday before them, e.g. "1#2" or "5L" ${DOW_ALLOWED}`,
  ]);
  assert.deepEqual(problems("0 8 * * 1,?"), [`${START}: day-of-week field "1,?": "?" must stand alone ${DOW_ALLOWED}`]);
  assert.deepEqual(problems("L 8 * * *"), [`${START}: minute field "L" is not valid (allowed: 0-59, lists, ranges, steps)`]);
  assert.deepEqual(problems("0 8W * * *"), [`${START}: hour field "8W" is not valid (allowed: 0-23, lists, ranges, steps)`]);
  assert.deepEqual(problems("0 8 * L *"), [`${START}: month field "L" is not valid (allowed: 1-12 or JAN-DEC, lists, ranges, steps)`]);
  assert.deepEqual(problems("0 8 * 2#1 *"), [`${START}: month field "2#1" is not valid (allowed: 1-12 or JAN-DEC, lists, ranges, steps)`]);
  assert.deepEqual(problems("5/15 8 * * *"), [
    `${START}: minute field "5/15": a step needs "*" or a range before it, e.g. "*/15" or "0-30/10" (allowed: 0-59, lists, ranges, steps)`,
  ]);
  const fields = "must be a cron expression with 5 fields (minute hour day-of-month month day-of-week)";
  assert.deepEqual(problems("0 0 8 * * 1-5"), [`${START}: ${fields}`]); // seconds
  assert.deepEqual(problems("0 8 * * 1 2027"), [`${START}: ${fields}`]); // a year
  assert.deepEqual(problems("@yearly"), [`${START}: ${fields}`]);
});

test("a calendar form that never matches any date is rejected", () => {
  assert.deepEqual(problems("0 8 30W 2 *"), [`${START}: never fires (no date matches its day-of-month, month and day-of-week fields)`]);
  assert.deepEqual(problems("0 8 31 4,6 *"), [`${START}: day-of-month "31" never occurs in month "4,6"`]);
  // classic cron ORs the day fields, so a Monday in February makes "30 2 MON" fire
  assert.deepEqual(problems("0 8 30 2 1"), []);
});

test("start and stop are compared as instants: the same instants written differently are rejected", () => {
  const same = `spec.uptime[0].cron.stop: stop fires at exactly the same instants as start, only written differently (the window would be empty)`;
  assert.deepEqual(problems("0 8 * * MON-FRI", "0 8 * * mon-fri"), [same]);
  assert.deepEqual(problems("0 8 * * MON-FRI", "0 8 * * 1-5"), [same]);
  assert.deepEqual(problems("0 8 * * 1,2,3,4,5", "00 08 ? JAN-DEC monday-friday"), [same]);
  assert.deepEqual(problems("0 8 * * 0", "0 8 * * 7"), [same]);
  assert.deepEqual(problems("0 8 * * 1#5,1L", "0 8 * * 1L"), [same]); // a fifth Monday is always the last one
  assert.deepEqual(problems("0 8 * * 1#4", "0 8 * * 1L"), []); // but the last is not always the fourth
  assert.deepEqual(problems("0 8 L 2 *", "0 8 28,29 2 *"), []); // the 28th of a leap February is not its last day
  assert.deepEqual(problems("0 8 1W * *", "0 8 1-3 * 1-5"), []);
  assert.deepEqual(problems("*/30 8 * * *", "0,30 8 * * *"), [same]);
});

test("a pair that flips more often than every 10 minutes is valid, with a warning at the pair", () => {
  const r = check([{ cron: { start: "*/2 * * * *", stop: "1-59/2 * * * *" } }]);
  assert.equal(r.ok, true);
  assert.deepEqual(r.ok && r.warnings.map((w) => `${w.path}: ${w.message}`), [
    "spec.uptime[0].cron: warning: changes state 1 minute after the previous change (Stopped at 2026-01-01T00:01:00.000+00:00, Running at 2026-01-01T00:02:00.000+00:00); " +
      "a schedule that flips more often than every 10 minutes thrashes GPUs, as every start loads the model again",
  ]);
  // exactly 10 minutes apart is fine; ordinary schedules have no warnings
  for (const uptime of [
    [{ cron: { start: "0,20,40 * * * *", stop: "10,30,50 * * * *" } }],
    [{ days: "Mon-Fri", from: "08:00", to: "20:00" }],
    [{ cron: { start: "0 8 * * 1#2", stop: "0 20 * * 1#2" } }],
  ]) {
    const ok = check(uptime);
    assert.deepEqual(ok.ok && ok.warnings, [], JSON.stringify(uptime));
  }
});

test("flipping that only the windows together cause is warned about at spec.uptime; only in December, still found", () => {
  const r = check([
    { days: "*", from: "08:00", to: "12:00" },
    { days: "*", from: "12:05", to: "18:00" },
  ]);
  assert.deepEqual(r.ok && r.warnings.map((w) => `${w.path}: ${w.message.slice(0, 60)}`), [
    "spec.uptime: warning: changes state 5 minutes after the previous change (",
  ]);
  const december = check([{ cron: { start: "0 8 * 12 *", stop: "3 8 * 12 *" } }]);
  assert.deepEqual(december.ok && december.warnings.map((w) => w.message.slice(0, w.message.indexOf(";"))), [
    "warning: changes state 3 minutes after the previous change (Running at 2026-12-01T08:00:00.000+00:00, Stopped at 2026-12-01T08:03:00.000+00:00)",
  ]);
});

test("warnings are located in the manifest like problems, and do not make the schedule invalid", () => {
  const text = `apiVersion: reclaimer.dev/v1alpha1
kind: ServingSchedule
metadata: {name: s, namespace: ns}
spec:
  uptime:
    - cron:
        start: "*/2 * * * *"
        stop: "1-59/2 * * * *"
`;
  const r = parseManifests(text, "f.yaml");
  assert.deepEqual(r.problems, []);
  assert.equal(r.schedules.length, 1);
  assert.deepEqual(
    (r.warnings ?? []).map((w) => formatProblem(w).slice(0, 94)),
    ["f.yaml:6: ns/s: spec.uptime[0].cron: warning: changes state 1 minute after the previous change"],
  );
});

test("the schedule's status carries the warning on its Valid condition, which stays True", () => {
  const status = buildStatus({
    generation: 3,
    valid: { ok: true, warnings: ["spec.uptime[0].cron: warning: changes state 1 minute after the previous change"] },
    metrics: undefined,
    services: [],
    next: undefined,
    gpuHoursReclaimed: 0,
    previous: undefined,
    now: Date.UTC(2026, 11, 1),
  });
  const valid = status.conditions?.find((c) => c.type === "Valid");
  assert.deepEqual(valid && [valid.status, valid.reason, valid.message], [
    "True",
    "ValidWithWarnings",
    "the spec is valid; spec.uptime[0].cron: warning: changes state 1 minute after the previous change",
  ]);
  assert.equal(status.conditions?.find((c) => c.type === "Ready")?.status, "True");
});
