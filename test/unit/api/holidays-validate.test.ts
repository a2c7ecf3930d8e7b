// spec.holidays and yearly exceptions as validate and the daemon see them: unknown countries and
// regions with the close matches, every input bounded (an attacker's 10,000 calendars or 1 MB region
// is refused by size before anything looks it up), and the warnings about exceptions that are over
// and windows that a daylight-saving change empties.
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateServingSchedule } from "../../../src/api/validate.ts";
import { parseManifests } from "../../../src/api/manifests.ts";

function check(spec: Record<string, unknown>, now?: number) {
  return validateServingSchedule(
    { apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", metadata: { name: "s", namespace: "ns" }, spec },
    now,
  );
}
const problems = (spec: Record<string, unknown>) => {
  const r = check(spec);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};
const warnings = (spec: Record<string, unknown>, now?: number) => {
  const r = check(spec, now);
  assert.ok(r.ok, JSON.stringify(r));
  return r.warnings.map((p) => `${p.path}: ${p.message}`);
};

test("holidays: defaults (public, Stopped) and a known region", () => {
  const r = check({
    holidays: [
      { country: "DE", region: "BY" },
      { country: "US", types: ["public", "bank"], state: "Running" },
    ],
  });
  assert.ok(r.ok);
  assert.deepEqual(r.schedule.spec.holidays, [
    { country: "DE", region: "BY", types: ["public"], state: "Stopped" },
    { country: "US", types: ["public", "bank"], state: "Running" },
  ]);
});

test("holidays: an unknown country or region is refused with the close matches", () => {
  assert.deepEqual(problems({ holidays: [{ country: "QQ" }] }), [
    'spec.holidays[0].country: unknown country "QQ" (no holiday calendar); close matches: BQ (Caribbean Netherlands), GQ (Republic of Equatorial Guinea), MQ (Martinique)',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", region: "BX" }] }), [
    'spec.holidays[0].region: unknown region "BX" of DE; close matches: BB (Brandenburg), BE (Berlin), BW (Baden-Württemberg), BY (Bayern)',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", region: "by" }] }), [
    'spec.holidays[0].region: unknown region "by" of DE; close matches: BY (Bayern), BB (Brandenburg), BE (Berlin), BW (Baden-Württemberg)',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", region: "Bayern" }] }), [
    'spec.holidays[0].region: unknown region "Bayern" of DE; close matches: BY (Bayern)',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "LU", region: "X1" }] }), [
    'spec.holidays[0].region: unknown region "X1" of LU; LU has no regions in the calendar, leave region out',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "CH", region: "QQQQ" }] }), [
    'spec.holidays[0].region: unknown region "QQQQ" of CH; regions of CH: ZH, BE, LU, UR, SZ, OW, NW, GL, ZG, FR, SO, BS, BL, SH, AR, AI, SG, GR, AG, TG, TI, VD, VS, NE, GE, JU',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "de" }] }), [
    'spec.holidays[0].country: must be a two-letter country code in capitals (ISO 3166-1), e.g. "DE"',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "Germany" }] }), ["spec.holidays[0].country: must be at most 2 characters long"]);
});

test("holidays: every input is bounded", () => {
  const many = Array.from({ length: 10_000 }, () => ({ country: "DE" }));
  assert.deepEqual(problems({ holidays: many }), ["spec.holidays: must have at most 16 entries"]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", region: "B".repeat(1 << 20) }] }), [
    "spec.holidays[0].region: must be at most 16 characters long",
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", region: "B-Y" }] }), [
    'spec.holidays[0].region: must be a region code such as "BY" (letters and digits, at most 16)',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", types: ["religious"] }] }), [
    'spec.holidays[0].types[0]: must be one of "public", "bank", "school", "optional", "observance", not "religious"',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", types: [] }] }), ["spec.holidays[0].types: must have at least 1 entries"]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", types: ["public", "public"] }] }), [
    "spec.holidays[0].types: must not repeat a type",
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", state: "Paused" }] }), [
    'spec.holidays[0].state: must be one of "Running", "Stopped", not "Paused"',
  ]);
  assert.deepEqual(problems({ holidays: [{ country: "DE", name: "x" }] }), ["spec.holidays[0].name: unknown field"]);
});

test("yearly exceptions: --MM-DD and --MM-DDTHH:MM, both ends alike, real dates, not empty", () => {
  const e = (from: string, to: string) => ({ exceptions: [{ from, to, state: "Stopped" }] });
  for (const [from, to] of [
    ["--12-24", "--12-27"],
    ["--12-24T18:00", "--12-25"],
    ["--12-31", "--01-02"],
    ["--02-29", "--03-01"],
  ])
    assert.deepEqual(problems(e(from as string, to as string)), [], `${from} ${to}`);
  assert.deepEqual(problems(e("--12-24", "2026-12-27")), [
    "spec.exceptions[0].to: from and to must both have a year, or both be yearly (--MM-DD)",
  ]);
  assert.deepEqual(problems(e("--12-24", "--12-24T00:00")), ["spec.exceptions[0].to: to must differ from from"]);
  assert.deepEqual(problems(e("--02-30", "--03-01")), ["spec.exceptions[0].from: is not a date in the calendar"]);
  assert.deepEqual(problems(e("--13-01", "--12-01")), [
    'spec.exceptions[0].from: must be a local date "YYYY-MM-DD", date and time "YYYY-MM-DDTHH:MM", or a yearly date "--MM-DD" or "--MM-DDTHH:MM"',
  ]);
});

test("warning: a dated exception entirely in the past (only when the caller passes the clock)", () => {
  const spec = {
    timeZone: "Europe/Berlin",
    exceptions: [
      { from: "2025-12-24", to: "2025-12-27", state: "Stopped", reason: "Christmas 2025" },
      { from: "2026-11-30", to: "2026-12-02", state: "Stopped", reason: "Under way" },
      { from: "--12-24", to: "--12-27", state: "Stopped", reason: "Every year" },
    ],
  };
  assert.deepEqual(warnings(spec), []);
  assert.deepEqual(warnings(spec, Date.parse("2026-12-01T12:00:00Z")), [
    'spec.exceptions[0]: warning: ended 2025-12-27 (2025-12-27T00:00:00.000+01:00), in the past, so it no longer applies; for every year write "--MM-DD" without the year, for public holidays use spec.holidays',
  ]);
  // the end is exclusive: an exception ending at this very instant is over
  assert.equal(warnings(spec, Date.parse("2026-12-01T23:00:00Z")).length, 2);
});

test("warning: a window that a daylight-saving change empties", () => {
  assert.deepEqual(warnings({ timeZone: "Europe/Berlin", uptime: [{ days: "*", from: "02:30", to: "03:00" }] }), [
    "spec.uptime[0]: warning: does not run at all on 2026-03-29: the clocks of Europe/Berlin skip its local times from 02:30 to 03:00 that day (daylight saving); end the window outside the skipped hour",
  ]);
  // only on the days it opens: Sundays are when Berlin's clocks change
  assert.deepEqual(warnings({ timeZone: "Europe/Berlin", uptime: [{ days: "Mon-Sat", from: "02:30", to: "03:00" }] }), []);
  assert.deepEqual(warnings({ timeZone: "UTC", uptime: [{ days: "*", from: "02:30", to: "03:00" }] }), []);
  assert.deepEqual(warnings({ timeZone: "Europe/Berlin", uptime: [{ days: "*", from: "02:15", to: "02:45" }] }), []);
});

test("the warnings carry their line through parseManifests, and now reaches them", () => {
  const text =
    "apiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata: {name: s, namespace: ns}\nspec:\n  exceptions:\n    - {from: 2020-01-01, to: 2020-01-02, state: Stopped}\n";
  assert.equal(parseManifests(text, "f.yaml").warnings, undefined);
  const w = parseManifests(text, "f.yaml", Date.parse("2026-12-01T00:00:00Z")).warnings ?? [];
  assert.equal(w.length, 1);
  assert.equal(w[0]?.line, 6);
  assert.equal(w[0]?.path, "spec.exceptions[0]");
});
