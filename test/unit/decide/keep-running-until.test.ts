import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, type ScheduleMoment, type ServiceFacts } from "../../../src/decide/decide.ts";
import { KEEP_RUNNING_UNTIL } from "../../../src/api/annotations.ts";

const NOW = Date.parse("2026-11-30T21:00:00Z");
const night: ScheduleMoment = {
  key: "ml/office-hours",
  now: { state: "Stopped", reason: "Schedule" },
  periodStart: Date.parse("2026-11-30T20:00:00Z"),
  next: { at: Date.parse("2026-12-01T08:00:00Z"), state: "Running", reason: "Schedule" },
  createdAt: Date.parse("2026-01-01T00:00:00Z"),
  generation: 1,
  idle: undefined,
  suspend: false,
  dryRun: false,
};
const service = (keep: string): ServiceFacts => ({
  namespace: "ml",
  name: "llama",
  createdAt: Date.parse("2026-11-01T00:00:00Z"),
  annotations: { [KEEP_RUNNING_UNTIL]: keep },
  deploymentMode: "Standard",
  ready: { status: "True", since: Date.parse("2026-11-30T08:00:00Z") },
  stoppedByKServe: false,
  gpus: 1,
});
const run = (keep: string) => decide({ now: NOW, service: service(keep), schedule: night, traffic: undefined, globalDryRun: false });

test("keep-running-until: RFC 3339 with Z or an offset keeps the service up", () => {
  for (const keep of ["2026-12-01T18:00:00Z", "2026-12-01T19:00:00+01:00"]) {
    const d = run(keep);
    assert.equal(d.reason, "KeepRunningUntil", keep);
    assert.equal(d.recheckAt, Date.parse("2026-12-01T18:00:00Z"));
  }
});

test("keep-running-until that Date.parse would guess at is decided as if absent", () => {
  for (const keep of ["2099", "99999", "Tue Dec 01 2099", "2099-01-01", "9".repeat(250_000)]) {
    const d = run(keep);
    assert.equal(d.action, "stop", keep.slice(0, 20));
    assert.equal(d.reason, "Schedule");
  }
});
