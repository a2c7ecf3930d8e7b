// Cron instants, computed by the engine itself from the fields node-cron expands (src/api/cron.ts).
// Why not let a library compute "next fire": node-cron only schedules ticks from the live clock (it has
// no "next fire after an arbitrary instant, in a zone" API), and the libraries that do apply their own
// DST rules (croner 11, in Europe/Berlin: "30 2 * * *" fires at 03:00 on spring-forward day, not 03:30;
// "*/15 2 * * *" fires in both passes through 02:xx on fall-back day). Walking local days ourselves makes the DST rules of
// src/schedule/engine.ts hold for cron instants exactly as for windows, and is fast: per day we test
// month/day bits, and only on matching days enumerate the hour x minute set.
import { parseCron } from "../api/cron.ts";
import { civilFromDays, HOUR_MS, MINUTE_MS, weekday, DAY_MS } from "./civil.ts";
import type { ZoneOffsets } from "./zone.ts";

export type CronMatcher = {
  readonly expr: string;
  /** Local times of day it fires at, in ms since local midnight, ascending. */
  readonly timesOfDay: readonly number[];
  readonly monthMask: number;
  readonly domMask: number;
  readonly dowMask: number;
  readonly domRestricted: boolean;
  readonly dowRestricted: boolean;
};

function mask(values: readonly number[]): number {
  let m = 0;
  for (const v of values) m |= 1 << v;
  return m;
}

const compiled = new Map<string, CronMatcher>();

/** The matcher of a valid 5-field expression (cached: matchers are immutable); throws on an invalid one. */
export function compileCron(expr: string): CronMatcher {
  let c = compiled.get(expr);
  if (!c) {
    c = buildCron(expr);
    compiled.set(expr, c);
  }
  return c;
}

function buildCron(expr: string): CronMatcher {
  const f = parseCron(expr);
  const timesOfDay: number[] = [];
  for (const h of [...f.hour].sort((a, b) => a - b)) {
    for (const m of [...f.minute].sort((a, b) => a - b)) timesOfDay.push(h * HOUR_MS + m * MINUTE_MS);
  }
  return {
    expr,
    timesOfDay,
    monthMask: mask(f.month),
    domMask: mask(f.dayOfMonth),
    dowMask: mask(f.dayOfWeek),
    domRestricted: f.dayOfMonthRestricted,
    dowRestricted: f.dayOfWeekRestricted,
  };
}

/** Whether the expression fires on a local day. Classic cron: when both day fields are restricted, either may match. */
export function cronMatchesDay(c: CronMatcher, dayNumber: number): boolean {
  const { month, day } = civilFromDays(dayNumber);
  if ((c.monthMask & (1 << month)) === 0) return false;
  const dom = (c.domMask & (1 << day)) !== 0;
  const dow = (c.dowMask & (1 << weekday(dayNumber))) !== 0;
  if (c.domRestricted && c.dowRestricted) return dom || dow;
  if (c.domRestricted) return dom;
  if (c.dowRestricted) return dow;
  return true;
}

/** Appends the instants the expression fires at on a local day (not sorted across DST gaps). */
export function cronInstantsOnDay(c: CronMatcher, zone: ZoneOffsets, dayNumber: number, out: number[]): void {
  if (!cronMatchesDay(c, dayNumber)) return;
  const midnight = dayNumber * DAY_MS;
  for (const tod of c.timesOfDay) out.push(zone.localToInstant(midnight + tod));
}

/** Sorted, de-duplicated instants the expression fires at in [from, until]. */
export function cronInstantsBetween(c: CronMatcher, zone: ZoneOffsets, from: number, until: number): number[] {
  const out: number[] = [];
  const last = zone.localDay(until) + 1;
  for (let d = zone.localDay(from) - 1; d <= last; d++) cronInstantsOnDay(c, zone, d, out);
  return sortUnique(out.filter((t) => t >= from && t <= until));
}

/**
 * The latest instant strictly before `before` at which the expression fires, looking back at most
 * `lookbackDays` local days; undefined when it does not fire in that span.
 */
export function lastCronInstantBefore(c: CronMatcher, zone: ZoneOffsets, before: number, lookbackDays: number): number | undefined {
  const first = zone.localDay(before) + 1;
  let best: number | undefined;
  let foundOn: number | undefined;
  const out: number[] = [];
  for (let d = first; d >= first - lookbackDays; d--) {
    // One more day after the first hit: a DST gap can move an instant past the next day's first ones.
    if (foundOn !== undefined && d < foundOn - 1) break;
    out.length = 0;
    cronInstantsOnDay(c, zone, d, out);
    for (const t of out) {
      if (t < before && (best === undefined || t > best)) {
        best = t;
        foundOn ??= d;
      }
    }
  }
  return best;
}

export function sortUnique(xs: number[]): number[] {
  xs.sort((a, b) => a - b);
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    if (i === 0 || xs[i] !== xs[n - 1]) xs[n++] = xs[i] as number;
  }
  xs.length = n;
  return xs;
}
