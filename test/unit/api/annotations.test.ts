import { test } from "node:test";
import assert from "node:assert/strict";
import { KEEP_RUNNING_UNTIL, STATE, parseRfc3339, readKeepRunningUntil, readState } from "../../../src/api/annotations.ts";

test("RFC 3339: a date, a time and a zone, nothing else", () => {
  assert.equal(parseRfc3339("2026-12-01T18:00:00Z"), Date.UTC(2026, 11, 1, 18));
  assert.equal(parseRfc3339("2026-12-01T19:00:00+01:00"), Date.UTC(2026, 11, 1, 18));
  assert.equal(parseRfc3339("2026-12-01t12:30:00-05:30"), Date.UTC(2026, 11, 1, 18));
  assert.equal(parseRfc3339("2026-12-01T18:00:00.25Z"), Date.UTC(2026, 11, 1, 18, 0, 0, 250));
  assert.equal(parseRfc3339("2026-12-01T18:00:00.123456789Z"), Date.UTC(2026, 11, 1, 18, 0, 0, 123));
  assert.equal(parseRfc3339("2024-02-29T00:00:00Z"), Date.UTC(2024, 1, 29));
  for (const bad of [
    "2099",
    "99999",
    "2026-12-01",
    "2026-12-01T18:00:00",
    "2026-12-01 18:00:00Z",
    "Dec 1, 2026",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-12-01T24:00:00Z",
    "2026-12-01T18:00:00+24:00",
    "9".repeat(250_000),
    "",
  ]) {
    assert.equal(parseRfc3339(bad), undefined, bad.slice(0, 40));
  }
});

test("keep-running-until: invalid values are reported with a short quote and ignored", () => {
  assert.deepEqual(readKeepRunningUntil({}), { kind: "none" });
  assert.equal(readKeepRunningUntil({ [KEEP_RUNNING_UNTIL]: "2026-12-01T18:00:00Z" }).kind, "ok");
  const long = readKeepRunningUntil({ [KEEP_RUNNING_UNTIL]: "x".repeat(250_000) });
  assert.equal(long.kind, "invalid");
  assert.ok(long.kind === "invalid" && long.why.length < 300, "the reason quotes at most a few dozen characters");
});

test("state record: fields are bounded; oversized or malformed records are no record, with a reason", () => {
  const ok = { v: 1, action: "stop", reason: "Schedule", schedule: "ml/office", at: "2026-12-01T18:00:00.000Z", generation: 2 };
  assert.equal(readState({ [STATE]: JSON.stringify(ok) }).kind, "ok");
  const cases: [Record<string, unknown> | string, RegExp][] = [
    [{ ...ok, reason: "x".repeat(200_000) }, /characters, more than the 1024/],
    [{ ...ok, reason: "Because I said so" }, /reason: must be one word/],
    [{ ...ok, at: "2099" }, /at: must be an RFC 3339 time/],
    [{ ...ok, until: "soon" }, /until: must be an RFC 3339 time/],
    [{ ...ok, schedule: "s".repeat(400) }, /schedule/],
    [{ ...ok, generation: -1 }, /generation/],
    ["{not json", /is not JSON/],
  ];
  for (const [record, why] of cases) {
    const parsed = readState({ [STATE]: typeof record === "string" ? record : JSON.stringify(record) });
    assert.equal(parsed.kind, "invalid");
    if (parsed.kind !== "invalid") continue;
    assert.match(parsed.why, why);
    assert.ok(parsed.raw.length <= 201, "the raw text kept for display is cut");
  }
});
