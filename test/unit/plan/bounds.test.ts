// plan's bounds: --days within 1..MAX_DAYS, the interval within MAX_DAYS, and at most MAX_TRANSITIONS
// per schedule, counted lazily so a schedule that flaps every minute is refused at once instead of
// being planned for minutes and gigabytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileSchedule, transitionsBetween, type CompiledSchedule } from "../../../src/schedule/index.ts";
import {
  CHUNK_MS,
  lazyTransitions,
  MAX_DAYS,
  MAX_TRANSITIONS,
  planSchedule,
  PlanLimitError,
  PlanRangeError,
  takeTransitions,
} from "../../../src/plan/plan.ts";
import type { ServingScheduleSpec } from "../../../src/api/servingSchedule.ts";
import { main } from "../../../src/cli/main.ts";
import type { CliIO } from "../../../src/cli/io.ts";

const ROOT = new URL("../../../", import.meta.url);
const FROM = Date.parse("2026-01-01T00:00:00Z");
const DAY = 86_400_000;
const FLAP: ServingScheduleSpec = {
  timeZone: "UTC",
  uptime: [{ cron: { start: "*/2 * * * *", stop: "1-59/2 * * * *" } }],
} as ServingScheduleSpec;
const OFFICE: ServingScheduleSpec = {
  timeZone: "Europe/Berlin",
  uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }],
  warmup: "15m",
} as ServingScheduleSpec;

test("lazyTransitions: the same transitions as one call to the engine, chunk boundaries included", () => {
  for (const spec of [OFFICE, FLAP]) {
    const c = compileSchedule(spec);
    // 07:45 and 20:00 fall inside chunks, midnight changes of FLAP fall on chunk boundaries
    const until = FROM + 3 * DAY + 5 * 60_000;
    assert.deepEqual([...lazyTransitions(c, FROM, until)], transitionsBetween(c, FROM, until));
  }
});

test("takeTransitions stops the engine right after limit+1 transitions: no chunk past the one holding it", () => {
  const c = compileSchedule(FLAP);
  const calls: [number, number][] = [];
  const spy = (s: CompiledSchedule, lo: number, hi: number) => {
    calls.push([lo, hi]);
    return transitionsBetween(s, lo, hi);
  };
  const limit = 5000; // 1440 a day: transition 5001 is on the 4th day
  const r = takeTransitions(lazyTransitions(c, FROM, FROM + MAX_DAYS * DAY, spy), limit);
  assert.equal(r.complete, false);
  assert.equal(r.transitions.length, limit);
  assert.equal(calls.length, 4);
  assert.ok(calls.every(([lo, hi]) => hi - lo <= CHUNK_MS));
  const within = takeTransitions(lazyTransitions(c, FROM, FROM + DAY), 1440);
  assert.deepEqual([within.complete, within.transitions.length], [true, 1440]);
});

test("planSchedule refuses more than MAX_TRANSITIONS transitions, quickly, and plans up to it", () => {
  const t0 = performance.now();
  assert.throws(
    () => planSchedule("ns/flap", FLAP, { kind: "instant", ms: FROM }, { kind: "days", days: MAX_DAYS }),
    (e: unknown) =>
      e instanceof PlanLimitError &&
      e.message.includes(`more than ${MAX_TRANSITIONS} transitions`) &&
      /fewer --days/.test(e.message) &&
      !e.message.includes("\n"),
  );
  assert.ok(performance.now() - t0 < 5000, "refused without planning ten years first");
  // exactly the limit is fine: 10,000 changes at every minute from the start
  const ok = planSchedule(
    "ns/flap",
    FLAP,
    { kind: "instant", ms: FROM },
    { kind: "time", at: { kind: "instant", ms: FROM + MAX_TRANSITIONS * 60_000 } },
  );
  assert.equal(ok.transitions.length, MAX_TRANSITIONS);
  // office hours over the longest interval: about 5,200 changes, planned
  assert.ok(planSchedule("ns/office", OFFICE, { kind: "instant", ms: FROM }, { kind: "days", days: MAX_DAYS }).transitions.length > 5000);
});

test("planSchedule refuses an --until interval longer than MAX_DAYS", () => {
  assert.throws(
    () =>
      planSchedule(
        "ns/office",
        OFFICE,
        { kind: "instant", ms: FROM },
        { kind: "time", at: { kind: "instant", ms: FROM + (MAX_DAYS + 2) * DAY } },
      ),
    (e: unknown) => e instanceof PlanRangeError && e.message.includes(`longer than ${MAX_DAYS} days`),
  );
});

function cli(args: string[], timeout = 30_000) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["src/cli/main.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout, killSignal: "SIGKILL" });
  return { ...r, ms: Date.now() - t0 };
}

test("plan CLI: a minute-flapping schedule over ten years is refused in one line, exit 2, at once", { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "plan-bounds-"));
  const f = join(dir, "flap.yaml");
  writeFileSync(
    f,
    'apiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata: {name: flap, namespace: ns}\nspec:\n  uptime:\n    - cron: {start: "*/2 * * * *", stop: "1-59/2 * * * *"}\n',
  );
  const r = cli(["plan", "-f", f, "--from", "2026-01-01", "--days", String(MAX_DAYS), "-o", "json"]);
  assert.equal(r.signal, null, `killed after ${r.ms} ms: not refused`);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /^kserve-reclaimer plan: ns\/flap: more than 10000 transitions between 2026-01-01T00:00:00\.000\+00:00 and 2036-01-09T00:00:00\.000\+00:00, the most a plan lists: plan fewer --days \(or an earlier --until\) or make the schedule change less often\n$/,
  );
  const week = cli(["plan", "-f", f, "--from", "2026-01-01", "--days", "6", "-o", "json"]);
  assert.equal(week.status, 0, week.stderr);
  assert.equal((JSON.parse(week.stdout) as { schedules: { transitions: unknown[] }[] }).schedules[0]?.transitions.length, 6 * 1440);
});

async function inProcess(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), now: () => FROM };
  const code = await main(args, io);
  return { code, out, err };
}

test("plan CLI: --days outside 1..3660 is a usage error with the range", { timeout: 60_000 }, async () => {
  const f = new URL("schedules/office-hours.yaml", ROOT).pathname;
  for (const days of ["0", "-1", "NaN", "1e9", "3661", "99999", "1.5", ""]) {
    const r = await inProcess("plan", "-f", f, `--days=${days}`);
    assert.equal(r.code, 2, days);
    assert.equal(r.out, "");
    assert.equal(r.err.split("\n")[0], `kserve-reclaimer plan: --days must be a whole number from 1 to 3660, not "${days}"`);
  }
  const longest = await inProcess("plan", "-f", f, "--from", "2026-01-01", "--days", "3660", "-o", "json");
  assert.equal(longest.code, 0, longest.err);
  const tooLong = await inProcess("plan", "-f", f, "--from", "2026-01-01", "--until", "2040-01-01");
  assert.equal(tooLong.code, 2);
  assert.match(
    tooLong.err,
    /^kserve-reclaimer plan: ml-team\/office-hours: the interval from 2026-01-01T00:00:00\.000\+01:00 to 2040-01-01T00:00:00\.000\+01:00 is longer than 3660 days, the most a plan covers: give a later --from or an earlier --until\n/,
  );
});
