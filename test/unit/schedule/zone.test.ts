import { test } from "node:test";
import assert from "node:assert/strict";
import { DateTime, IANAZone } from "luxon";
import { zoneOffsets } from "../../../src/schedule/zone.ts";
import { DAY_MS, daysFromCivil, civilFromDays, weekday } from "../../../src/schedule/civil.ts";
import { ms } from "./helpers.ts";

const local = (y: number, mo: number, d: number, h: number, mi: number) => Date.UTC(y, mo - 1, d, h, mi);

test("civil: day numbers round-trip and weekdays are right", () => {
  assert.equal(daysFromCivil(1970, 1, 1), 0);
  assert.equal(daysFromCivil(2026, 11, 28), Date.UTC(2026, 10, 28) / DAY_MS);
  assert.equal(weekday(daysFromCivil(2026, 11, 28)), 6); // a Saturday
  assert.equal(weekday(daysFromCivil(1969, 12, 28)), 0); // a Sunday, before the epoch
  for (let d = -800_000; d <= 800_000; d += 997) {
    const c = civilFromDays(d);
    assert.equal(daysFromCivil(c.year, c.month, c.day), d);
    const js = new Date(d * DAY_MS);
    assert.deepEqual(c, { year: js.getUTCFullYear(), month: js.getUTCMonth() + 1, day: js.getUTCDate() });
    assert.equal(weekday(d), js.getUTCDay());
  }
});

test("Europe/Berlin: spring-forward gap moves forward by the gap, fall-back overlap takes the earlier instant", () => {
  const z = zoneOffsets("Europe/Berlin");
  assert.equal(z.format(z.localToInstant(local(2027, 3, 28, 2, 30))), "2027-03-28T03:30:00.000+02:00");
  assert.equal(z.format(z.localToInstant(local(2027, 3, 28, 2, 0))), "2027-03-28T03:00:00.000+02:00");
  assert.equal(z.format(z.localToInstant(local(2027, 3, 28, 1, 59))), "2027-03-28T01:59:00.000+01:00");
  assert.equal(z.format(z.localToInstant(local(2027, 3, 28, 3, 0))), "2027-03-28T03:00:00.000+02:00");
  assert.equal(z.format(z.localToInstant(local(2026, 10, 25, 2, 30))), "2026-10-25T02:30:00.000+02:00");
  assert.equal(z.localToInstant(local(2026, 10, 25, 2, 30)), ms("2026-10-25T00:30:00Z"));
  assert.equal(z.format(z.localToInstant(local(2026, 10, 25, 2, 0))), "2026-10-25T02:00:00.000+02:00");
  assert.equal(z.format(z.localToInstant(local(2026, 10, 25, 3, 0))), "2026-10-25T03:00:00.000+01:00");
  assert.equal(z.format(z.localToInstant(local(2026, 10, 25, 1, 59))), "2026-10-25T01:59:00.000+02:00");
});

test("America/New_York and Asia/Kolkata offsets and formatting", () => {
  const ny = zoneOffsets("America/New_York");
  assert.equal(ny.format(ny.localToInstant(local(2026, 11, 1, 1, 30))), "2026-11-01T01:30:00.000-04:00");
  assert.equal(ny.format(ny.localToInstant(local(2027, 3, 14, 2, 30))), "2027-03-14T03:30:00.000-04:00");
  assert.equal(ny.format(ms("2026-12-01T12:00:00.123Z")), "2026-12-01T07:00:00.123-05:00");
  const kol = zoneOffsets("Asia/Kolkata");
  assert.equal(kol.format(ms("2026-12-01T03:15:00Z")), "2026-12-01T08:45:00.000+05:30");
  assert.equal(kol.localToInstant(local(2026, 12, 1, 8, 45)), ms("2026-12-01T03:15:00Z"));
  const utc = zoneOffsets("UTC");
  assert.equal(utc.format(ms("2026-12-06T22:00:00Z")), "2026-12-06T22:00:00.000+00:00");
  assert.throws(() => zoneOffsets("Mars/Olympus_Mons"), /unknown IANA time zone/);
});

test("cached offsets agree with luxon every 4 hours for two years (across cache chunks), and to the minute around every change", () => {
  for (const name of ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Santiago"]) {
    const z = zoneOffsets(name);
    const lux = IANAZone.create(name);
    let changes = 0;
    const step = 4 * 3_600_000;
    let prev = lux.offset(ms("2026-01-01T00:00:00Z"));
    for (let t = ms("2026-01-01T00:00:00Z"); t < ms("2028-01-01T00:00:00Z"); t += step) {
      const next = lux.offset(t + step);
      assert.equal(z.offsetAt(t), prev * 60_000, `${name} at ${new Date(t).toISOString()}`);
      if (prev !== next) {
        changes++;
        for (let u = t; u <= t + step; u += 60_000)
          assert.equal(z.offsetAt(u), lux.offset(u) * 60_000, `${name} at ${new Date(u).toISOString()}`);
      }
      prev = next;
    }
    assert.equal(changes, name === "Asia/Kolkata" ? 0 : 4, name);
  }
});

test("local -> instant agrees with luxon except in overlaps, where ours is the earlier instant", () => {
  for (const name of ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]) {
    const z = zoneOffsets(name);
    const lux = IANAZone.create(name);
    let overlaps = 0;
    let gaps = 0;
    for (let day = local(2026, 1, 1, 0, 0); day < local(2028, 1, 1, 0, 0); day += DAY_MS) {
      // every 5 minutes on days (UTC-ish) whose offset changes, a few samples on the others
      const changes = lux.offset(day - DAY_MS) !== lux.offset(day + 2 * DAY_MS);
      for (let L = day; L < day + DAY_MS; L += changes ? 5 * 60_000 : 7 * 3_600_000) {
        const d = new Date(L);
        const dt = DateTime.fromObject(
          { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes() },
          { zone: name },
        );
        const ours = z.localToInstant(L);
        const other = [L - lux.offset(L - DAY_MS) * 60_000, L - lux.offset(L + DAY_MS) * 60_000].filter(
          (t) => t !== ours && lux.offset(t) * 60_000 === L - t,
        );
        if (z.toLocal(ours) !== L) {
          gaps++;
          assert.ok(z.toLocal(ours) > L, "a non-existent wall time moves forward");
          assert.equal(ours, dt.toMillis(), "luxon also moves gaps forward");
        } else if (other.length > 0) {
          overlaps++;
          assert.ok(
            other.every((t) => t > ours),
            `${name} ${d.toISOString()}: the earlier instant`,
          );
        } else {
          assert.equal(ours, dt.toMillis(), `${name} ${d.toISOString()}`);
        }
      }
    }
    assert.ok(overlaps > 0 && gaps > 0, `${name}: saw ${overlaps} overlap and ${gaps} gap samples`);
  }
});
