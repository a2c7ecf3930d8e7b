// plan: the JSON contract, the table, the time arguments, and every example in schedules/ checked
// against an independent computation (luxon date arithmetic and hand-written instants, not the engine).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { DateTime } from "luxon";
import { main } from "../../../src/cli/main.ts";
import type { CliIO } from "../../../src/cli/io.ts";
import { parseManifests } from "../../../src/api/manifests.ts";
import { parseTimeArg, planSchedule, renderPlanJson, renderPlanTable, weekView, type PlanJson } from "../../../src/plan/plan.ts";
import type { ServingScheduleSpec } from "../../../src/api/servingSchedule.ts";

const ROOT = new URL("../../../", import.meta.url);
const NOW = Date.parse("2026-12-01T09:30:00Z");

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), now: () => NOW };
  const code = await main(args, io);
  return { code, out, err };
}

async function planJson(...args: string[]): Promise<PlanJson> {
  const r = await cli("plan", "-o", "json", ...args);
  assert.equal(r.err, "");
  assert.equal(r.code, 0);
  return JSON.parse(r.out) as PlanJson;
}

const example = (name: string) => new URL(`schedules/${name}`, ROOT).pathname;

function spec(yamlSpec: string): ServingScheduleSpec {
  const r = parseManifests(
    `apiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata: {name: t, namespace: ns}\nspec:\n${yamlSpec}`,
    "t.yaml",
  );
  assert.deepEqual(r.problems, []);
  return (r.schedules[0] as { schedule: { spec: ServingScheduleSpec } }).schedule.spec;
}

// ---------------------------------------------------------------------------------------------------
// the contract

test("plan JSON: the contract of the issue, byte for byte", async () => {
  const r = await cli("plan", "-f", example("office-hours.yaml"), "--from", "2026-12-01", "--days", "1", "--output", "json");
  assert.equal(r.code, 0);
  assert.equal(r.err, "");
  assert.equal(
    r.out,
    '{"schedules":[{"name":"ml-team/office-hours","timeZone":"Europe/Berlin","initial":{"state":"Stopped","reason":"Schedule"},' +
      '"transitions":[{"at":"2026-12-01T07:45:00.000+01:00","state":"Running","reason":"Warmup"},' +
      '{"at":"2026-12-01T20:00:00.000+01:00","state":"Stopped","reason":"Schedule"}]}]}\n',
  );
});

test("plan JSON: detail only where an exception with a reason decides the state", async () => {
  const s = spec(
    '  timeZone: Europe/Berlin\n  uptime: [{days: "*", from: "08:00", to: "20:00"}]\n  exceptions:\n' +
      "    - {from: 2026-12-24T12:00, to: 2026-12-25, state: Stopped, reason: Christmas Eve}\n" +
      "    - {from: 2026-12-25T21:00, to: 2026-12-25T23:00, state: Running}\n",
  );
  const p = planSchedule("ns/t", s, { kind: "local", localMs: Date.UTC(2026, 11, 24, 10) }, { kind: "days", days: 2 });
  assert.equal(
    renderPlanJson([p]),
    '{"schedules":[{"name":"ns/t","timeZone":"Europe/Berlin","initial":{"state":"Running","reason":"Schedule"},"transitions":[' +
      '{"at":"2026-12-24T12:00:00.000+01:00","state":"Stopped","reason":"Exception","detail":"Christmas Eve"},' +
      '{"at":"2026-12-25T08:00:00.000+01:00","state":"Running","reason":"Schedule"},' +
      '{"at":"2026-12-25T20:00:00.000+01:00","state":"Stopped","reason":"Schedule"},' +
      '{"at":"2026-12-25T21:00:00.000+01:00","state":"Running","reason":"Exception"},' +
      '{"at":"2026-12-25T23:00:00.000+01:00","state":"Stopped","reason":"Schedule"},' +
      '{"at":"2026-12-26T08:00:00.000+01:00","state":"Running","reason":"Schedule"}]}]}\n',
  );
  // Christmas Day lies in the yearly shutdown, and exceptions come before holidays
  const inside = await planJson("-f", example("german-holidays.yaml"), "--from", "2026-12-25T10:00", "--days", "1");
  assert.deepEqual(inside.schedules[0]?.initial, { state: "Stopped", reason: "Exception", detail: "Company shutdown" });
  const labour = await planJson("-f", example("german-holidays.yaml"), "--from", "2026-05-01T10:00", "--days", "1");
  assert.deepEqual(labour.schedules[0]?.initial, { state: "Stopped", reason: "Exception", detail: "Holiday: Labour Day" });
});

test("plan: --from defaults to now (the clock read by the shell), the interval to 7 days", async () => {
  const j = await planJson("-f", example("office-hours.yaml"));
  const s = j.schedules[0];
  assert.deepEqual(s?.initial, { state: "Running", reason: "Schedule" }); // Tue 2026-12-01 10:30 Berlin
  assert.equal(s?.transitions[0]?.at, "2026-12-01T20:00:00.000+01:00");
  assert.equal(s?.transitions.at(-1)?.at, "2026-12-08T07:45:00.000+01:00"); // Tue 08 Dec 07:45 <= now + 7 days
  assert.equal(s?.transitions.length, 10);
});

test("plan: --from and --until with an offset are instants; without, local time of each schedule", async () => {
  const a = await planJson(
    "-f",
    example("office-hours.yaml"),
    "--from",
    "2026-12-01T06:45:00Z",
    "--until",
    "2026-12-01T06:45:00Z".replace("06:45", "19:00"),
  );
  assert.deepEqual(a.schedules[0]?.initial, { state: "Running", reason: "Warmup" }); // 07:45 Berlin: the change at --from is the initial state
  assert.deepEqual(a.schedules[0]?.transitions, [{ at: "2026-12-01T20:00:00.000+01:00", state: "Stopped", reason: "Schedule" }]); // (from, until]
  const b = await planJson(
    "-f",
    example("nights-off.yaml"),
    "-f",
    example("office-hours.yaml"),
    "--from",
    "2026-12-01T06:00",
    "--until",
    "2026-12-01T06:00:01",
  );
  assert.deepEqual(
    b.schedules.map((s) => [s.name, s.initial.state]),
    [
      ["chatbot/nights-off", "Running"], // in the order of -f
      ["ml-team/office-hours", "Stopped"],
    ],
  );
});

test("plan: usage errors exit 2 with one message; invalid files exit 1 with validate's lines", async () => {
  const f = example("office-hours.yaml");
  const cases: [string[], RegExp][] = [
    [["plan"], /plan needs -f <file\|dir>/],
    [["plan", "-f", f, "--until", "2027-01-01", "--days", "3"], /give --until or --days, not both/],
    [["plan", "-f", f, "--days", "0"], /--days must be a whole number from 1 to 3660, not "0"/],
    [["plan", "-f", f, "--from", "next monday"], /--from must be an ISO 8601 date or date-time/],
    [["plan", "-f", f, "--from", "2027-02-29"], /--from must be an ISO 8601/],
    [["plan", "-f", f, "--from", "2027-01-02", "--until", "2027-01-01"], /is not after its start/],
    [["plan", "-f", f, "-o", "yaml"], /--output must be table or json, not "yaml"/],
    [["plan", "-f", f, "--color"], /unknown flag --color/],
    [["plan", "-f", "/nonexistent/dir"], /\/nonexistent\/dir: no such file or directory/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.out, "");
    assert.match(r.err, message);
  }
  const bad = await cli("plan", "-f", new URL("test/unit/cli/fixtures/invalid.yaml", ROOT).pathname, "-o", "json");
  assert.equal(bad.code, 1);
  assert.equal(bad.out, "");
  assert.match(bad.err, /invalid\.yaml:10: team\/broken: spec\.uptime\[0\]\.from: must be a local time "HH:MM" from 00:00 to 23:59\n$/);
});

test("parseTimeArg", () => {
  assert.deepEqual(parseTimeArg("2026-12-01"), { kind: "local", localMs: Date.UTC(2026, 11, 1) });
  assert.deepEqual(parseTimeArg("2026-12-01T08:30"), { kind: "local", localMs: Date.UTC(2026, 11, 1, 8, 30) });
  assert.deepEqual(parseTimeArg("2026-12-01T08:30:15.5"), { kind: "local", localMs: Date.UTC(2026, 11, 1, 8, 30, 15, 500) });
  assert.deepEqual(parseTimeArg("2026-12-01T08:30:00Z"), { kind: "instant", ms: Date.UTC(2026, 11, 1, 8, 30) });
  assert.deepEqual(parseTimeArg("2026-12-01T08:30+05:30"), { kind: "instant", ms: Date.UTC(2026, 11, 1, 3, 0) });
  assert.deepEqual(parseTimeArg("2026-12-01T08:30:00.000-0500"), { kind: "instant", ms: Date.UTC(2026, 11, 1, 13, 30) });
  for (const bad of ["2026-13-01", "2026-02-29", "2026-12-01T24:00", "tomorrow", "2026-12-01T08", ""])
    assert.equal(parseTimeArg(bad), undefined, bad);
});

test("plan: a local --from in a DST gap moves forward like every local time (02:30 -> 03:30)", async () => {
  const j = await planJson("-f", example("office-hours.yaml"), "--from", "2027-03-28T02:30", "--days", "2");
  assert.equal(j.schedules[0]?.transitions[0]?.at, "2027-03-29T07:45:00.000+02:00");
  const p = planSchedule(
    "x/y",
    spec("  timeZone: Europe/Berlin\n"),
    { kind: "local", localMs: Date.UTC(2027, 2, 28, 2, 30) },
    { kind: "days", days: 1 },
  );
  assert.equal(p.from, Date.parse("2027-03-28T03:30:00+02:00"));
  assert.equal(p.until, Date.parse("2027-03-29T03:30:00+02:00")); // one calendar day after the resolved start
});

// ---------------------------------------------------------------------------------------------------
// the table

test("plan table: transitions in local time with weekday and offset, then the week view", () => {
  const p = planSchedule(
    "ml-team/office-hours",
    spec(
      '  timeZone: Europe/Berlin\n  uptime: [{days: Mon-Fri, from: "08:00", to: "20:00"}]\n  warmup: 15m\n  exceptions: [{from: 2026-12-04, to: 2026-12-05, state: Stopped, reason: Team day}]\n',
    ),
    { kind: "local", localMs: Date.UTC(2026, 11, 3) },
    { kind: "days", days: 2 },
    "office.yaml",
  );
  assert.equal(
    renderPlanTable([p]),
    [
      "ml-team/office-hours (Europe/Berlin)  office.yaml",
      "  Thu 2026-12-03 00:00 +01:00  Stopped  Schedule  (at start)",
      "  Thu 2026-12-03 07:45 +01:00  Running  Warmup",
      "  Thu 2026-12-03 20:00 +01:00  Stopped  Schedule",
      "  Sat 2026-12-05 00:00 +01:00  (end)",
      "",
      "                 0     3     6     9     12    15    18    21    24",
      "  Thu 2026-12-03 ···············▓████████████████████████········",
      "  Fri 2026-12-04 ------------------------------------------------  Team day",
      "",
      "  █ running  ▓ warm-up  ▒ running (exception)  · stopped  - stopped (exception)",
      "",
    ].join("\n"),
  );
});

test("plan week view: the hour skipped at spring forward is blank, a window across midnight wraps to the next line", () => {
  const p = planSchedule(
    "a/b",
    spec('  timeZone: Europe/Berlin\n  uptime: [{days: Sat, from: "22:00", to: "04:00"}]\n'),
    { kind: "local", localMs: Date.UTC(2027, 2, 27) },
    { kind: "days", days: 2 },
  );
  assert.deepEqual(weekView(p).slice(1), [
    "Sat 2027-03-27 ············································████",
    "Sun 2027-03-28 ████  ██········································", // 00:00-02:00, gap, 03:00-04:00
  ]);
});

test("plan table: seconds are shown when any instant has them", () => {
  const p = planSchedule(
    "a/b",
    spec('  uptime: [{days: "*", from: "08:00", to: "09:00"}]\n  warmup: 90s\n'),
    { kind: "instant", ms: Date.UTC(2026, 0, 1) },
    { kind: "days", days: 1 },
  );
  assert.match(renderPlanTable([p]), /Thu 2026-01-01 07:58:30 \+00:00 {2}Running {2}Warmup/);
});

// ---------------------------------------------------------------------------------------------------
// schedules/: every example against an independent computation

type Expected = { at: string; state: string; reason: string; detail?: string };

/**
 * Transitions built with luxon, day by day, from local wall times: `rule` says what happens on a local
 * date. Only instants in (from, until] are kept. No example puts a change into a DST gap or overlap.
 */
function byDay(
  zone: string,
  fromIso: string,
  untilIso: string,
  rule: (d: DateTime) => { time: string; plusDays?: number; state: string; reason: string }[],
): Expected[] {
  const from = DateTime.fromISO(fromIso, { zone });
  const until = DateTime.fromISO(untilIso, { zone });
  const out: { ms: number; e: Expected }[] = [];
  for (let d = from.startOf("day").minus({ days: 1 }); d <= until; d = d.plus({ days: 1 })) {
    for (const r of rule(d)) {
      const [h, m] = r.time.split(":").map(Number);
      const t = d.plus({ days: r.plusDays ?? 0 }).set({ hour: h, minute: m, second: 0, millisecond: 0 });
      if (t > from && t <= until) out.push({ ms: t.toMillis(), e: { at: t.toISO() as string, state: r.state, reason: r.reason } });
    }
  }
  return out.sort((a, b) => a.ms - b.ms).map((x) => x.e);
}

const weekday = (d: DateTime) => d.weekday <= 5; // luxon: 1 = Monday

/** Easter Sunday (anonymous Gregorian algorithm), independent of any calendar library. */
function easter(y: number): DateTime {
  const a = y % 19,
    b = Math.floor(y / 100),
    c = y % 100,
    d = Math.floor(b / 4),
    e = b % 4;
  const f = Math.floor((b + 8) / 25),
    g = Math.floor((b - f + 1) / 3),
    h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4),
    k = c % 4,
    l = (32 + 2 * e + 2 * i - h - k) % 7,
    m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31),
    day = ((h + l - 7 * m + 114) % 31) + 1;
  return DateTime.utc(y, month, day);
}

function germanHolidays(y: number): string[] {
  const e = easter(y);
  const rel = (n: number) => e.plus({ days: n }).toISODate() as string;
  return [`${y}-01-01`, rel(-2), rel(1), `${y}-05-01`, rel(39), rel(50), `${y}-10-03`, `${y}-12-25`, `${y}-12-26`];
}

const officeHours = (d: DateTime) =>
  weekday(d)
    ? [
        { time: "07:45", state: "Running", reason: "Warmup" },
        { time: "20:00", state: "Stopped", reason: "Schedule" },
      ]
    : [];

const checks: Record<string, () => Promise<void>> = {
  "office-hours.yaml": async () => {
    // a whole year, both DST changes inside
    const j = await planJson("-f", example("office-hours.yaml"), "--from", "2026-01-01", "--until", "2027-01-01");
    assert.deepEqual(j.schedules[0]?.transitions, byDay("Europe/Berlin", "2026-01-01", "2027-01-01", officeHours));
    // hand-written instants around the spring-forward day 2027-03-28
    const s = await planJson("-f", example("office-hours.yaml"), "--from", "2027-03-26T12:00", "--until", "2027-03-29T21:00");
    assert.deepEqual(
      s.schedules[0]?.transitions.map((t) => t.at),
      ["2027-03-26T20:00:00.000+01:00", "2027-03-29T07:45:00.000+02:00", "2027-03-29T20:00:00.000+02:00"],
    );
    // and the equivalent cron form
    const cron = planSchedule(
      "ml-team/office-hours",
      spec('  timeZone: Europe/Berlin\n  uptime: [{cron: {start: "0 8 * * 1-5", stop: "0 20 * * 1-5"}}]\n  warmup: 15m\n'),
      parseTimeArg("2026-01-01") as never,
      { kind: "time", at: parseTimeArg("2027-01-01") as never },
    );
    assert.deepEqual(JSON.parse(renderPlanJson([cron])), j);
  },
  "german-holidays.yaml": async () => {
    // years apart, to show that neither the calendar nor the yearly shutdown lapses
    for (const year of [2026, 2027, 2031]) {
      const j = await planJson("-f", example("german-holidays.yaml"), "--from", `${year}-01-01`, "--until", `${year + 1}-01-01`);
      const holidays = new Set(germanHolidays(year));
      const shutdown = (d: DateTime) => d.month === 12 && d.day >= 24;
      const expected = byDay("Europe/Berlin", `${year}-01-01`, `${year + 1}-01-01`, (d) =>
        holidays.has(d.toISODate() as string) || shutdown(d) ? [] : officeHours(d),
      );
      assert.deepEqual(j.schedules[0]?.transitions, expected, `${year}`);
    }
    // Good Friday 2026 is a Friday: no warm-up at 07:45 that morning, and the plan names the holiday
    const friday = await planJson("-f", example("german-holidays.yaml"), "--from", "2026-04-03T12:00", "--days", "1");
    assert.deepEqual(friday.schedules[0]?.initial, { state: "Stopped", reason: "Exception", detail: "Holiday: Good Friday" });
    const eve = await planJson("-f", example("german-holidays.yaml"), "--from", "2031-12-24T12:00", "--days", "1");
    assert.deepEqual(eve.schedules[0]?.initial, { state: "Stopped", reason: "Exception", detail: "Company shutdown" });
  },
  "weekends-off.yaml": async () => {
    const j = await planJson("-f", example("weekends-off.yaml"), "--from", "2026-01-01", "--until", "2027-01-01");
    const expected = byDay("America/New_York", "2026-01-01", "2027-01-01", (d) =>
      d.weekday === 1
        ? [{ time: "00:00", state: "Running", reason: "Schedule" }]
        : d.weekday === 6
          ? [{ time: "00:00", state: "Stopped", reason: "Schedule" }]
          : [],
    );
    assert.deepEqual(j.schedules[0]?.transitions, expected);
    assert.deepEqual(
      j.schedules[0]?.transitions.slice(0, 2).map((t) => t.at),
      ["2026-01-03T00:00:00.000-05:00", "2026-01-05T00:00:00.000-05:00"],
    );
    const cron = planSchedule(
      "research/weekends-off",
      spec('  timeZone: America/New_York\n  uptime: [{cron: {start: "0 0 * * MON", stop: "0 0 * * SAT"}}]\n'),
      parseTimeArg("2026-01-01") as never,
      { kind: "time", at: parseTimeArg("2027-01-01") as never },
    );
    assert.deepEqual(JSON.parse(renderPlanJson([cron])), j);
  },
  "nights-off.yaml": async () => {
    const j = await planJson("-f", example("nights-off.yaml"), "--from", "2026-12-01", "--days", "7");
    assert.deepEqual(j.schedules[0]?.initial, { state: "Stopped", reason: "Schedule" });
    assert.deepEqual(j.schedules[0]?.transitions.slice(0, 3), [
      { at: "2026-12-01T06:00:00.000+05:30", state: "Running", reason: "Schedule" },
      { at: "2026-12-01T22:00:00.000+05:30", state: "Stopped", reason: "Schedule" },
      { at: "2026-12-02T06:00:00.000+05:30", state: "Running", reason: "Schedule" },
    ]);
    const expected = byDay("Asia/Kolkata", "2026-12-01", "2026-12-08", () => [
      { time: "06:00", state: "Running", reason: "Schedule" },
      { time: "22:00", state: "Stopped", reason: "Schedule" },
    ]);
    assert.deepEqual(j.schedules[0]?.transitions, expected);
  },
  "cluster-nights-off.yaml": async () => {
    const j = await planJson("-f", example("cluster-nights-off.yaml"), "--from", "2026-12-01", "--days", "14");
    assert.equal(j.schedules[0]?.name, "nights-off", "a ClusterServingSchedule is named without a namespace");
    const expected = byDay("Europe/Berlin", "2026-12-01", "2026-12-15", (d) =>
      weekday(d)
        ? [
            { time: "07:00", state: "Running", reason: "Schedule" },
            { time: "20:00", state: "Stopped", reason: "Schedule" },
          ]
        : [],
    );
    assert.deepEqual(j.schedules[0]?.transitions, expected);
  },
  "late-shift.yaml": async () => {
    const j = await planJson("-f", example("late-shift.yaml"), "--from", "2026-01-01", "--until", "2027-01-01");
    const expected = byDay("America/New_York", "2026-01-01", "2027-01-01", (d) =>
      weekday(d)
        ? [
            { time: "16:00", state: "Running", reason: "Schedule" },
            { time: "02:00", plusDays: 1, state: "Stopped", reason: "Schedule" },
          ]
        : [],
    );
    assert.deepEqual(j.schedules[0]?.transitions, expected);
    // Friday's window ends Saturday 02:00 (the day named is the day the window opens)
    assert.ok(j.schedules[0]?.transitions.some((t) => t.at === "2026-01-03T02:00:00.000-05:00" && t.state === "Stopped"));
    const cron = planSchedule(
      "support/late-shift",
      spec('  timeZone: America/New_York\n  uptime: [{cron: {start: "0 16 * * 1-5", stop: "0 2 * * 2-6"}}]\n'),
      parseTimeArg("2026-01-01") as never,
      { kind: "time", at: parseTimeArg("2027-01-01") as never },
    );
    assert.deepEqual(JSON.parse(renderPlanJson([cron])), j);
  },
  "morning-batch.yaml": async () => {
    const j = await planJson("-f", example("morning-batch.yaml"), "--from", "2026-01-01", "--until", "2027-01-01");
    const expected = byDay("Europe/Berlin", "2026-01-01", "2027-01-01", (d) =>
      weekday(d)
        ? [
            { time: "05:40", state: "Running", reason: "Warmup" },
            { time: "09:00", state: "Stopped", reason: "Schedule" },
          ]
        : [],
    );
    assert.deepEqual(j.schedules[0]?.transitions, expected);
    const days = planSchedule(
      "reporting/morning-batch",
      spec('  timeZone: Europe/Berlin\n  uptime: [{days: Mon-Fri, from: "06:00", to: "09:00"}]\n  warmup: 20m\n'),
      parseTimeArg("2026-01-01") as never,
      { kind: "time", at: parseTimeArg("2027-01-01") as never },
    );
    assert.deepEqual(JSON.parse(renderPlanJson([days])), j);
  },
  "idle-only.yaml": async () => {
    const j = await planJson("-f", example("idle-only.yaml"), "--from", "2026-01-01", "--days", "365");
    assert.deepEqual(j, {
      schedules: [{ name: "sandbox/idle-only", timeZone: "UTC", initial: { state: "Running", reason: "Schedule" }, transitions: [] }],
    });
  },
};

test("schedules/: every example has an independent check", () => {
  const files = readdirSync(new URL("schedules/", ROOT))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  assert.deepEqual(files, Object.keys(checks).sort());
});

for (const [file, check] of Object.entries(checks)) test(`schedules/${file}: plan --output json agrees with the independent check`, check);

test("plan through npm (child process): `npm run --silent cli` prints only the plan JSON", () => {
  const r = spawnSync("npm", ["run", "--silent", "cli", "--", "plan", "-f", "schedules", "--from", "2026-12-01", "-o", "json"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  const j = JSON.parse(r.stdout) as PlanJson;
  assert.deepEqual(
    j.schedules.map((s) => s.name),
    [
      "nights-off",
      "ml-team-de/office-hours-de",
      "sandbox/idle-only",
      "support/late-shift",
      "reporting/morning-batch",
      "chatbot/nights-off",
      "ml-team/office-hours",
      "research/weekends-off",
    ],
  );
});
