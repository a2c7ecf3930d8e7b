// validate: every class of invalid input, with its exact message and line. Pure functions directly;
// one run of the real CLI as a child process for exit codes and the stderr format.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatProblem, parseManifests, parseSources } from "../../../src/api/manifests.ts";
import { validateServingSchedule } from "../../../src/api/validate.ts";

const HEAD = `apiVersion: reclaimer.dev/v1alpha1
kind: ServingSchedule
metadata:
  name: s
  namespace: ns
spec:
`; // spec's body starts on line 7

/** Problems of one schedule whose spec body (indented by the caller) follows HEAD. */
function problems(specBody: string): string[] {
  const r = parseManifests(HEAD + specBody, "f.yaml");
  return r.problems.map(formatProblem);
}

const cases: { name: string; spec: string; expected: string[] }[] = [
  {
    name: "unknown field in spec",
    spec: "  timeZone: UTC\n  suspended: true\n",
    expected: ["f.yaml:8: ns/s: spec.suspended: unknown field"],
  },
  {
    name: "unknown field in an uptime window",
    spec: '  uptime:\n    - days: Mon\n      from: "08:00"\n      to: "09:00"\n      until: "10:00"\n',
    expected: ["f.yaml:11: ns/s: spec.uptime[0].until: unknown field"],
  },
  {
    name: "IANA zone",
    spec: "  timeZone: Europe/Berlinn\n",
    expected: ["f.yaml:7: ns/s: spec.timeZone: must be an IANA time zone name such as Europe/Berlin"],
  },
  {
    name: "duration",
    spec: "  warmup: 15 min\n",
    expected: ['f.yaml:7: ns/s: spec.warmup: must be a duration such as "90s", "15m" or "1h30m"'],
  },
  {
    name: "empty duration",
    spec: '  warmup: ""\n',
    expected: ['f.yaml:7: ns/s: spec.warmup: must be a duration such as "90s", "15m" or "1h30m", not empty'],
  },
  {
    name: "cron field out of range",
    spec: '  uptime:\n    - days: Mon-Fri\n      from: "08:00"\n      to: "20:00"\n    - cron:\n        start: "0 8 * * 1-5"\n        stop: "0 25 * * 1-5"\n',
    expected: ['f.yaml:13: ns/s: spec.uptime[1].cron.stop: hour field "25" is not valid (allowed: 0-23, lists, ranges, steps)'],
  },
  {
    name: "cron with 6 fields",
    spec: '  uptime:\n    - cron: {start: "0 0 8 * * 1-5", stop: "0 20 * * 1-5"}\n',
    expected: [
      "f.yaml:8: ns/s: spec.uptime[0].cron.start: must be a cron expression with 5 fields (minute hour day-of-month month day-of-week)",
    ],
  },
  {
    name: "cron that never fires",
    spec: '  uptime:\n    - cron: {start: "0 8 30 2 *", stop: "0 20 * * *"}\n',
    expected: ['f.yaml:8: ns/s: spec.uptime[0].cron.start: day-of-month "30" never occurs in month "2"'],
  },
  {
    name: "cron pair with start == stop (empty window)",
    spec: '  uptime:\n    - cron:\n        start: "0 8 * * *"\n        stop: "0  8 * * *"\n',
    expected: ["f.yaml:10: ns/s: spec.uptime[0].cron.stop: stop must differ from start (the window would be empty)"],
  },
  {
    name: "days",
    spec: '  uptime:\n    - {days: Mon-Fry, from: "08:00", to: "20:00"}\n',
    expected: [
      'f.yaml:8: ns/s: spec.uptime[0].days: must be "*" or days Mon..Sun as a list and/or ranges, e.g. "Mon-Fri" or "Fri-Mon,Wed"',
    ],
  },
  {
    name: "time of day",
    spec: '  uptime:\n    - {days: Mon, from: "8:00", to: "24:30"}\n',
    expected: [
      'f.yaml:8: ns/s: spec.uptime[0].from: must be a local time "HH:MM" from 00:00 to 23:59',
      'f.yaml:8: ns/s: spec.uptime[0].to: must be a local time "HH:MM" from 00:00 to 24:00',
    ],
  },
  {
    name: "empty window (to == from)",
    spec: '  uptime:\n    - days: Mon\n      from: "08:00"\n      to: "08:00"\n',
    expected: ["f.yaml:10: ns/s: spec.uptime[0].to: to must differ from from (an empty or all-day window is ambiguous)"],
  },
  {
    name: "window without to",
    spec: '  uptime:\n    - days: Mon\n      from: "08:00"\n',
    expected: ["f.yaml:8: ns/s: spec.uptime[0].to: is required"],
  },
  {
    name: "both forms in one entry",
    spec: '  uptime:\n    - days: Mon\n      cron: {start: "0 8 * * *", stop: "0 9 * * *"}\n',
    expected: ["f.yaml:8: ns/s: spec.uptime[0]: an uptime entry is either days/from/to or cron, not both"],
  },
  {
    name: "empty entry",
    spec: "  uptime:\n    - {}\n",
    expected: ["f.yaml:8: ns/s: spec.uptime[0]: is empty: give days, from and to, or cron: {start, stop}"],
  },
  {
    name: "exception from >= to",
    spec: "  exceptions:\n    - {from: 2026-12-27, to: 2026-12-24, state: Stopped}\n    - {from: 2026-12-24T10:00, to: 2026-12-24T10:00, state: Running}\n",
    expected: [
      "f.yaml:8: ns/s: spec.exceptions[0].to: from must be before to",
      "f.yaml:9: ns/s: spec.exceptions[1].to: from must be before to",
    ],
  },
  {
    name: "exception dates",
    spec: "  exceptions:\n    - from: 2027-02-29\n      to: 2027-13-01\n      state: Stopped\n",
    expected: [
      "f.yaml:8: ns/s: spec.exceptions[0].from: is not a date in the calendar",
      'f.yaml:9: ns/s: spec.exceptions[0].to: must be a local date "YYYY-MM-DD", date and time "YYYY-MM-DDTHH:MM", or a yearly date "--MM-DD" or "--MM-DDTHH:MM"',
    ],
  },
  {
    name: "exception state",
    spec: "  exceptions:\n    - {from: 2026-12-24, to: 2026-12-27, state: Off}\n",
    expected: ['f.yaml:8: ns/s: spec.exceptions[0].state: must be one of "Running", "Stopped", not "Off"'],
  },
  { name: "idle after 0", spec: "  idle:\n    after: 0m\n", expected: ["f.yaml:8: ns/s: spec.idle.after: must be between 10s and 168h"] },
  { name: "idle after 9s", spec: "  idle:\n    after: 9s\n", expected: ["f.yaml:8: ns/s: spec.idle.after: must be between 10s and 168h"] },
  {
    name: "custom metric without query",
    spec: "  idle:\n    after: 30m\n    metric: custom\n",
    expected: ["f.yaml:7: ns/s: spec.idle.custom: metric custom needs custom.query and custom.serviceLabel"],
  },
  {
    name: "wrong type",
    spec: "  suspend: yes please\n",
    expected: ['f.yaml:7: ns/s: spec.suspend: must be true or false, not the string "yes please"'],
  },
  {
    name: "selector requirement without values",
    spec: "  selector:\n    matchExpressions:\n      - {key: team, operator: In}\n",
    expected: [
      "f.yaml:9: ns/s: spec.selector.matchExpressions[0].values: values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist",
    ],
  },
];

for (const c of cases) {
  test(`validate: ${c.name}`, () => assert.deepEqual(problems(c.spec), c.expected));
}

test("validate: several problems in one schedule are all reported, in line order", () => {
  assert.deepEqual(problems("  timeZone: Nowhere/Town\n  warmup: soon\n  extra: 1\n"), [
    "f.yaml:7: ns/s: spec.timeZone: must be an IANA time zone name such as Europe/Berlin",
    'f.yaml:8: ns/s: spec.warmup: must be a duration such as "90s", "15m" or "1h30m"',
    "f.yaml:9: ns/s: spec.extra: unknown field",
  ]);
});

test("validate: YAML syntax errors and duplicate keys are located and never stop the other documents", () => {
  const text = `a: [1, 2\n---\n${HEAD}  timeZone: UTC\n  timeZone: UTC\n---\n${HEAD}  warmup: x\n`;
  const r = parseManifests(text, "f.yaml");
  assert.deepEqual(r.problems.map(formatProblem), [
    "f.yaml:2: -: -: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    "f.yaml:10: -: -: YAML: Map keys must be unique",
    'f.yaml:18: ns/s: spec.warmup: must be a duration such as "90s", "15m" or "1h30m"',
  ]);
});

test("validate: other kinds are skipped silently; reclaimer.dev objects of another version or kind are errors", () => {
  const text = [
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}",
    "apiVersion: reclaimer.dev/v1beta1\nkind: ServingSchedule\nmetadata: {name: a, namespace: x}\nspec: {}",
    "apiVersion: reclaimer.dev/v1alpha1\nkind: ServingPlan\nmetadata: {name: b}\nspec: {}",
    "apiVersion: reclaimer.io/v1alpha1\nkind: ServingSchedule\nmetadata: {name: c}\nspec: {}",
    "apiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata: {name: ok}\nspec: {}",
    "just a string",
    "",
  ].join("\n---\n");
  const r = parseManifests(text, "m.yaml");
  assert.deepEqual(r.problems.map(formatProblem), [
    'm.yaml:6: x/a: apiVersion: version not supported: must be "reclaimer.dev/v1alpha1", not "reclaimer.dev/v1beta1"',
    'm.yaml:12: default/b: kind: unknown kind "ServingPlan" in reclaimer.dev: the kinds are ServingSchedule and ClusterServingSchedule',
    'm.yaml:16: default/c: apiVersion: must be "reclaimer.dev/v1alpha1", not "reclaimer.io/v1alpha1"',
  ]);
  assert.deepEqual(
    r.schedules.map((s) => [s.name, s.line]),
    [["default/ok", 21]],
  );
});

test("validate: metadata.name is required; the namespace defaults to default", () => {
  const r = parseManifests("apiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata:\n  labels: {a: b}\nspec: {}\n", "n.yaml");
  assert.deepEqual(r.problems.map(formatProblem), ["n.yaml:3: default/<unnamed>: metadata.name: is required"]);
  const s = parseManifests("apiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata: {name: x}\n", "n.yaml");
  assert.deepEqual(s.problems.map(formatProblem), ["n.yaml:1: default/x: spec: is required"]);
});

test("validate: a schedule defined twice is reported at its second definition", () => {
  const doc = "apiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata: {name: x, namespace: a}\nspec: {}\n";
  const r = parseSources([
    { path: "one.yaml", text: doc },
    { path: "two.yaml", text: `# comment\n${doc}` },
  ]);
  assert.deepEqual(r.problems.map(formatProblem), ["two.yaml:2: a/x: metadata.name: defined twice (first at one.yaml:1)"]);
  assert.equal(r.schedules.length, 1);
});

test("validateServingSchedule: objects from the cluster, defaults applied, status ignored", () => {
  const ok = validateServingSchedule({
    apiVersion: "reclaimer.dev/v1alpha1",
    kind: "ServingSchedule",
    metadata: { name: "x", namespace: "y", resourceVersion: "5", uid: "u", generation: 2 },
    spec: { uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }] },
    status: { anything: "goes" },
  });
  assert.equal(ok.ok, true);
  if (ok.ok) {
    assert.equal(ok.schedule.spec.timeZone, "UTC");
    assert.deepEqual(ok.schedule.spec.selector, {});
    assert.equal(ok.schedule.spec.suspend, false);
    assert.equal(ok.schedule.spec.dryRun, false);
  }
  const bad = validateServingSchedule({
    apiVersion: "reclaimer.dev/v1alpha1",
    kind: "ServingSchedule",
    metadata: { name: "x" },
    spec: { uptime: [{ cron: { start: "0 8 * * *", stop: "0 99 * * *" } }] },
  });
  assert.deepEqual(bad, {
    ok: false,
    problems: [
      {
        path: "spec.uptime[0].cron.stop",
        segments: ["spec", "uptime", 0, "cron", "stop"],
        message: 'hour field "99" is not valid (allowed: 0-23, lists, ranges, steps)',
      },
    ],
  });
  assert.deepEqual(validateServingSchedule("nope"), {
    ok: false,
    problems: [{ path: "", segments: [], message: "must be a mapping (an object with apiVersion, kind, metadata and spec)" }],
  });
});

test("validate: the examples in schedules/ are all valid", () => {
  const out = execFileSync(process.execPath, ["src/cli/main.ts", "validate", "schedules"], {
    cwd: new URL("../../../", import.meta.url),
    encoding: "utf8",
  });
  assert.match(out, /^\d+ schedules valid in \d+ files\n$/);
});

test("validate CLI (child process): exit codes, one line per problem on stderr, nothing else, no stack trace", () => {
  const dir = mkdtempSync(join(tmpdir(), "validate-"));
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "good.yaml"), `${HEAD}  timeZone: Europe/Berlin\n`);
  writeFileSync(
    join(dir, "sub", "bad.yml"),
    `${HEAD}  timeZone: Mars/Olympus\n  uptime:\n    - cron: {start: "0 8 * * *", stop: "0 8 * *"}\n`,
  );
  writeFileSync(join(dir, "sub", "notes.txt"), "not: [yaml");
  const cwd = new URL("../../../", import.meta.url);
  const run = (...args: string[]) => spawnSync(process.execPath, ["src/cli/main.ts", ...args], { cwd, encoding: "utf8" });

  const bad = run("validate", dir);
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout, "");
  assert.equal(
    bad.stderr,
    `${join(dir, "sub", "bad.yml")}:7: ns/s: spec.timeZone: must be an IANA time zone name such as Europe/Berlin\n` +
      `${join(dir, "sub", "bad.yml")}:9: ns/s: spec.uptime[0].cron.stop: must be a cron expression with 5 fields (minute hour day-of-month month day-of-week)\n`,
  );
  assert.doesNotMatch(bad.stderr, /\n\s+at /);

  const good = run("validate", join(dir, "good.yaml"));
  assert.deepEqual([good.status, good.stdout, good.stderr], [0, "1 schedule valid in 1 file\n", ""]);

  const none = run("validate");
  assert.equal(none.status, 2);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /^kserve-reclaimer validate: validate needs at least one file or directory\n/);

  const missing = run("validate", join(dir, "nope.yaml"));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.yaml: no such file or directory\n/);

  const binary = run("validate", join(dir, "sub", "notes.txt"));
  assert.equal(binary.status, 1);
  assert.match(binary.stderr, /notes\.txt:1: -: -: YAML: /);
  assert.doesNotMatch(binary.stderr, /\n\s+at /);

  const unknown = run("validate", "--strict", dir);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown flag --strict/);
});

test("validate CLI (child process): a schedule that flips more often than every 10 minutes is a warning line, exit 0", () => {
  const dir = mkdtempSync(join(tmpdir(), "validate-flip-"));
  const file = join(dir, "flip.yaml");
  writeFileSync(file, `${HEAD}  uptime:\n    - cron: {start: "*/2 * * * *", stop: "1-59/2 * * * *"}\n`);
  const r = spawnSync(process.execPath, ["src/cli/main.ts", "validate", file], {
    cwd: new URL("../../../", import.meta.url),
    encoding: "utf8",
  });
  assert.deepEqual([r.status, r.stdout], [0, "1 schedule valid in 1 file\n"]);
  assert.equal(
    r.stderr,
    `${file}:8: ns/s: spec.uptime[0].cron: warning: changes state 1 minute after the previous change ` +
      "(Stopped at 2026-01-01T00:01:00.000+00:00, Running at 2026-01-01T00:02:00.000+00:00); " +
      "a schedule that flips more often than every 10 minutes thrashes GPUs, as every start loads the model again\n",
  );
});

test("validate: cron start and stop that differ only in how they are written are one problem at stop", () => {
  assert.deepEqual(problems('  uptime:\n    - cron:\n        start: "0 8 * * MON-FRI"\n        stop: "0 8 * * 1-5"\n'), [
    "f.yaml:10: ns/s: spec.uptime[0].cron.stop: stop fires at exactly the same instants as start, only written differently (the window would be empty)",
  ]);
});
