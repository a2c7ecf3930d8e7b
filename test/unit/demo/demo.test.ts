// `npm run demo`'s pure parts: the scenario's schedules (valid, and they do what the demo promises at
// any time of day, midnight included) and the view (frame, change lines, daemon log lines).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { demoPlan, nextMinute } from "../../../scripts/demo/scenario.ts";
import { changeLines, countdown, formatDaemonLine, gpuBar, renderFrame, truncate, type Snapshot } from "../../../scripts/demo/view.ts";
import { validateServingSchedule } from "../../../src/api/validate.ts";
import { compileSchedule, stateAt, transitionsBetween } from "../../../src/schedule/index.ts";

describe("demo scenario", () => {
  const instants = [
    Date.parse("2026-11-28T11:05:17.300Z"),
    Date.parse("2026-11-28T23:58:59.000Z"), // the window closes at midnight
    Date.parse("2026-11-28T23:59:45.000Z"), // ... just after midnight, and reopens the next day
    Date.parse("2026-11-29T00:20:00.000Z"), // the open window started the previous day
    Date.parse("2026-03-29T00:59:40.000Z"),
  ];
  for (const now of instants) {
    test(`office-hours at ${new Date(now).toISOString()}: Running now, Stopped at closeAt, Running at reopenAt`, () => {
      const plan = demoPlan(now);
      assert.ok(plan.closeAt - now >= 30_000 && plan.closeAt - now < 90_000, `closes ${plan.closeAt - now} ms from now`);
      assert.equal(plan.reopenAt - plan.closeAt, 60_000);
      const office = plan.schedules.find((s) => s.metadata?.name === "office-hours");
      const v = validateServingSchedule(office);
      assert.ok(v.ok, JSON.stringify(v));
      const compiled = compileSchedule(v.schedule.spec);
      assert.equal(stateAt(compiled, now).state, "Running");
      const ts = transitionsBetween(compiled, now, plan.reopenAt + 30 * 60_000);
      assert.deepEqual(
        ts.map((t) => [t.at, t.state, t.reason]),
        [
          [plan.closeAt, "Stopped", "Schedule"],
          [plan.reopenAt, "Running", "Schedule"],
        ],
      );
    });
  }

  test("idle-45s is valid, has no windows, and selects only the embedder; critical is excluded", () => {
    const plan = demoPlan(Date.parse("2026-11-28T11:05:17Z"));
    const idle = plan.schedules.find((s) => s.metadata?.name === "idle-45s");
    const v = validateServingSchedule(idle);
    assert.ok(v.ok, JSON.stringify(v));
    assert.equal(v.schedule.spec.uptime, undefined);
    assert.equal(v.schedule.spec.idle?.after, "45s");
    const byPolicy = (p: string) => plan.services.filter((s) => s.metadata?.labels?.["policy"] === p).map((s) => s.metadata?.name);
    assert.deepEqual(byPolicy("idle"), ["embedder"]);
    assert.deepEqual(byPolicy("office-hours"), ["llama", "mistral", "critical"]);
    const critical = plan.services.find((s) => s.metadata?.name === "critical");
    assert.equal(critical?.metadata?.annotations?.["reclaimer.dev/exclude"], "true");
  });

  test("nextMinute: a whole minute at least the lead ahead", () => {
    assert.equal(nextMinute(Date.parse("2026-01-01T10:00:10Z"), 30_000), Date.parse("2026-01-01T10:01:00Z"));
    assert.equal(nextMinute(Date.parse("2026-01-01T10:00:40Z"), 30_000), Date.parse("2026-01-01T10:02:00Z"));
    assert.equal(nextMinute(Date.parse("2026-01-01T10:00:00Z"), 30_000), Date.parse("2026-01-01T10:01:00Z"));
  });
});

describe("demo view", () => {
  const now = Date.parse("2026-11-28T11:05:30Z");
  const snap = (over: Partial<Snapshot> = {}): Snapshot => ({
    now,
    rows: [
      {
        key: "demo/llama",
        schedule: "office-hours",
        state: "Running",
        reason: "Schedule",
        ready: "True",
        gpus: 2,
        gpusInUse: 2,
        since: now - 10_000,
        next: { at: now + 30_000, state: "Stopped" },
        note: "",
      },
      {
        key: "demo/critical",
        schedule: "office-hours",
        state: "Running",
        reason: "Excluded",
        ready: "True",
        gpus: 1,
        gpusInUse: 1,
        since: undefined,
        next: undefined,
        note: "hands off",
      },
    ],
    gpuCapacity: 16,
    gpusInUse: 3,
    gpusReclaimed: 0,
    gpuHoursReclaimed: 0,
    events: ["11:05:00 caches synced"],
    ...over,
  });

  test("countdown", () => {
    assert.equal(countdown(0), "0:00");
    assert.equal(countdown(1), "0:01");
    assert.equal(countdown(65_000), "1:05");
    assert.equal(countdown(3_600_000 + 61_000), "1:01:01");
    assert.equal(countdown(-5), "0:00");
    assert.equal(countdown(Number.NaN), "-");
  });

  test("frame: services, next transition with countdown, GPUs, GPU-hours, daemon events; fits the width", () => {
    const lines = renderFrame(snap(), {
      title: "demo",
      subtitle: "sub",
      startedAt: now - 62_000,
      endsAt: undefined,
      color: false,
      width: 100,
    });
    const text = lines.join("\n");
    assert.match(text, /demo\/llama\s+office-hours\s+Running\s+Schedule\s+True\s+2\s+11:05:20\s+Stopped at 11:06:00 \(0:30\)/);
    assert.match(text, /demo\/critical .*Excluded/);
    assert.match(text, /↳ hands off/);
    assert.match(text, /3 in use · 0 reclaimed · 13 free of 16/);
    assert.match(text, /GPU-hours reclaimed so far\s+0\.0000/);
    assert.match(text, /running 1:02 · Ctrl-C stops and cleans up/);
    assert.match(text, /11:05:00 caches synced/);
    for (const l of lines) assert.ok(l.length <= 100, `too wide: ${l}`);
    const coloured = renderFrame(snap(), { title: "demo", subtitle: "sub", startedAt: now, endsAt: now + 10_000, color: true, width: 60 });
    assert.ok(coloured.some((l) => l.includes("\x1b[32mRunning")));
    assert.ok(coloured.some((l) => l.includes("exits in 0:10")));
  });

  test("truncate keeps colour codes balanced and cuts to the visible width", () => {
    assert.equal(truncate("abcdef", 4), "abc…");
    const t = truncate("\x1b[32mabcdef\x1b[0m", 4);
    assert.equal(t.replace(/\x1b\[[0-9;]*m/g, ""), "abc…");
    assert.ok(t.endsWith("\x1b[0m"));
  });

  test("GPU bar: in use, reclaimed, free", () => {
    assert.equal(gpuBar({ gpuCapacity: 6, gpusInUse: 2, gpusReclaimed: 3 }, false), "[██▒▒▒·]");
  });

  test("change lines: first snapshot lists everything; later only what changed", () => {
    const first = changeLines(undefined, snap(), now - 1000);
    assert.equal(first.filter((l) => l.includes("demo/")).length, 2);
    assert.ok(first.some((l) => /GPUs: 3 in use, 0 reclaimed, 13 free of 16/.test(l)));
    assert.deepEqual(changeLines(snap(), snap(), now), []);
    const stopped = snap({
      rows: [
        { ...snap().rows[0]!, state: "Stopped", ready: "False", gpusInUse: 0, next: { at: now + 90_000, state: "Running" } },
        snap().rows[1]!,
      ],
      gpusInUse: 1,
      gpusReclaimed: 2,
    });
    const lines = changeLines(snap(), stopped, now - 60_000);
    assert.equal(lines.length, 2);
    assert.match(
      lines[0] ?? "",
      /^\[11:05:30 \+1:00\] demo\/llama: Running -> Stopped reason=Schedule ready=False gpus=0\/2 next Running at 11:07:00$/,
    );
    assert.match(lines[1] ?? "", /GPUs: 1 in use, 2 reclaimed, 13 free of 16/);
  });

  test("daemon log lines: JSON to one line, raw text kept", () => {
    const f = formatDaemonLine(
      '{"time":"2026-11-28T11:06:00.012Z","level":"info","msg":"stop applied","service":"demo/llama","reason":"Schedule","gpus":2,"lagMs":37}',
    );
    assert.equal(f?.text, "11:06:00 stop applied service=demo/llama reason=Schedule gpus=2 lagMs=37");
    assert.equal(f?.msg, "stop applied");
    assert.equal(
      formatDaemonLine('{"time":"2026-11-28T11:06:00.012Z","level":"warn","msg":"not confirmed","service":"demo/x"}')?.text,
      "11:06:00 WARN not confirmed service=demo/x",
    );
    assert.equal(formatDaemonLine("node: warning")?.level, "raw");
    assert.equal(formatDaemonLine("  "), undefined);
  });
});
