// Properties that tie the API functions together: the answer must not depend on where a range starts
// (look-back, warm-up and exceptions crossing range edges), and stateAt, transitionsBetween,
// nextTransition and timeline must tell the same story.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  nextTransition,
  stateAt,
  timeline,
  transitionsBetween,
  type CompiledSchedule,
  type Transition,
} from "../../../src/schedule/index.ts";
import { ms, sched } from "./helpers.ts";

const schedules: [string, CompiledSchedule][] = [
  [
    "Berlin mixed",
    sched({
      timeZone: "Europe/Berlin",
      warmup: "45m",
      uptime: [
        { days: "Mon-Fri", from: "08:00", to: "20:00" },
        { days: "Sat", from: "23:30", to: "02:30" },
        { cron: { start: "30 2 * * 0", stop: "0 9 * * 0" } },
        { cron: { start: "0 12 1 * *", stop: "0 3 2 * *" } },
      ],
      exceptions: [
        { from: "2026-12-24", to: "2026-12-27", state: "Stopped", reason: "Christmas" },
        { from: "2026-12-20", to: "2027-01-01T08:30", state: "Running", reason: "Year-end" },
        { from: "2027-03-28T01:00", to: "2027-03-28T03:30", state: "Stopped", reason: "DST" },
      ],
    }),
  ],
  [
    "New York nights",
    sched({
      timeZone: "America/New_York",
      warmup: "1h30m",
      uptime: [{ days: "Sun-Thu", from: "22:00", to: "06:00" }, { cron: { start: "0 1 * * 6", stop: "30 1 * * 6" } }],
    }),
  ],
  ["Kolkata long cron", sched({ timeZone: "Asia/Kolkata", uptime: [{ cron: { start: "0 9 * * 1", stop: "0 18 * * 5" } }] })],
];

const from = ms("2026-06-01T00:00:00Z");
const until = ms("2027-06-01T00:00:00Z");

for (const [name, s] of schedules) {
  test(`${name}: a year's transitions equal the concatenation over odd-sized chunks`, () => {
    const whole = transitionsBetween(s, from, until);
    assert.ok(whole.length > 50);
    const chunked: Transition[] = [];
    const step = 5.3 * 86_400_000 + 7 * 60_000;
    for (let a = from; a < until; a += step) chunked.push(...transitionsBetween(s, a, Math.min(a + step, until)));
    assert.deepEqual(chunked, whole);
  });

  test(`${name}: stateAt agrees with every transition, and nextTransition walks the same list`, () => {
    const whole = transitionsBetween(s, from, until);
    let prev = stateAt(s, from).state;
    for (const t of whole) {
      assert.notEqual(t.state, prev, "only real state changes");
      const { state, reason, detail } = stateAt(s, t.at);
      assert.deepEqual({ state, reason, detail }, { state: t.state, reason: t.reason, detail: t.detail });
      assert.equal(stateAt(s, t.at - 1).state, prev);
      prev = t.state;
    }
    const walked: Transition[] = [];
    for (let t = nextTransition(s, from); t && t.at <= until; t = nextTransition(s, t.at)) walked.push(t);
    assert.deepEqual(walked, whole);
  });

  test(`${name}: timeline segments are contiguous, maximal and match stateAt`, () => {
    const segs = timeline(s, from, until);
    assert.equal(segs[0]?.from, from);
    assert.equal(segs[segs.length - 1]?.until, until);
    for (let i = 0; i < segs.length; i++) {
      const g = segs[i]!;
      assert.ok(g.from < g.until);
      const { state, reason, detail } = stateAt(s, g.from);
      assert.deepEqual({ state, reason, detail }, { state: g.state, reason: g.reason, detail: g.detail });
      const mid = stateAt(s, Math.floor((g.from + g.until) / 2));
      assert.deepEqual(mid.state + mid.reason, g.state + g.reason);
      const next = segs[i + 1];
      if (next) {
        assert.equal(next.from, g.until);
        assert.ok(next.state !== g.state || next.reason !== g.reason || next.detail !== g.detail);
      }
    }
    const changes = segs.filter((g, i) => i > 0 && g.state !== segs[i - 1]!.state).map((g) => g.from);
    assert.deepEqual(
      changes,
      transitionsBetween(s, from, until).map((t) => t.at),
    );
  });
}

test("nextTransition returns undefined when nothing changes within the horizon", () => {
  const s = sched({ uptime: [{ cron: { start: "0 0 1 1 *", stop: "0 0 2 1 *" } }] });
  assert.equal(nextTransition(s, ms("2026-06-01T00:00:00Z"), 30 * 86_400_000), undefined);
  assert.equal(nextTransition(s, ms("2026-06-01T00:00:00Z"))?.at, ms("2027-01-01T00:00:00Z"));
  assert.equal(nextTransition(sched({}), ms("2026-06-01T00:00:00Z")), undefined);
});
