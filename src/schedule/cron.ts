// Cron instants, computed by the engine itself from the fields our parser expands (src/schedule/cronSyntax.ts).
// Why not let a library compute "next fire": node-cron only schedules ticks from the live clock (it has
// no "next fire after an arbitrary instant, in a zone" API), and the libraries that do apply their own
// DST rules (croner 11, in Europe/Berlin: "30 2 * * *" fires at 03:00 on spring-forward day, not 03:30;
// "*/15 2 * * *" fires in both passes through 02:xx on fall-back day). Walking local days ourselves makes the DST rules of
// src/schedule/engine.ts hold for cron instants exactly as for windows, and is fast: per day we test
// month/day bits, and only on matching days enumerate the hour x minute set.
//
// Which days fire depends only on the local calendar date, never on the zone or on DST: L, nW, nL and
// n#k are read in the month of that local date, and the times of day on a firing day then follow the
// same DST rules as plain crons.
import { parseCron } from "./cronSyntax.ts";
import { civilFromDays, daysFromCivil, HOUR_MS, MINUTE_MS, weekday, DAY_MS } from "./civil.ts";
import type { ZoneOffsets } from "./zone.ts";

export type CronMatcher = {
  readonly expr: string;
  /** Local times of day it fires at, in ms since local midnight, ascending. */
  readonly timesOfDay: readonly number[];
  readonly monthMask: number;
  readonly domMask: number;
  /** "L" in day-of-month. */
  readonly domLast: boolean;
  /** "nW": n, or 0 without W. */
  readonly domNearestWeekdayTo: number;
  readonly dowMask: number;
  /** "nL": bit n set for each weekday whose last occurrence in the month fires. */
  readonly dowLastMask: number;
  /** "n#k": per weekday 0..6, bit k set for each k-th occurrence that fires. */
  readonly dowNth: readonly number[];
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
  const dowNth = [0, 0, 0, 0, 0, 0, 0];
  for (const { weekday: wd, nth } of f.nthWeekdayOfMonth) dowNth[wd] = (dowNth[wd] as number) | (1 << nth);
  return {
    expr,
    timesOfDay,
    monthMask: mask(f.month),
    domMask: mask(f.dayOfMonth),
    domLast: f.lastDayOfMonth,
    domNearestWeekdayTo: f.nearestWeekdayTo ?? 0,
    dowMask: mask(f.dayOfWeek),
    dowLastMask: mask(f.lastWeekdayOfMonth),
    dowNth,
    domRestricted: f.dayOfMonthRestricted,
    dowRestricted: f.dayOfWeekRestricted,
  };
}

const MONTH_LENGTHS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return MONTH_LENGTHS[month] as number;
}

/**
 * The day "nW" stands for in a month: day n itself on a weekday; a Saturday moves back to Friday and a
 * Sunday forward to Monday, except that the month boundary is never crossed (1W on a Saturday is
 * Monday the 3rd, 31W on a Sunday is Friday the 29th). Undefined when the month has no day n: like a
 * plain "31", "31W" does not fire in a 30-day month.
 */
export function nearestWeekday(n: number, length: number, firstWeekday: number): number | undefined {
  if (n > length) return undefined;
  const wd = (firstWeekday + n - 1) % 7;
  if (wd === 6) return n === 1 ? 3 : n - 1;
  if (wd === 0) return n === length ? n - 2 : n + 1;
  return n;
}

/**
 * Whether day `day` (weekday `wd`) of a month of `length` days fires, month aside. Classic cron: when
 * both day fields are restricted, either may match; L and nW count as day-of-month, nL and n#k as
 * day-of-week, so "0 8 15 * 1#1" fires on the 15th and on the first Monday.
 */
function matchesInMonth(c: CronMatcher, day: number, wd: number, length: number): boolean {
  const dom = () =>
    (c.domMask & (1 << day)) !== 0 ||
    (c.domLast && day === length) ||
    (c.domNearestWeekdayTo !== 0 && day === nearestWeekday(c.domNearestWeekdayTo, length, (((wd - day + 1) % 7) + 7) % 7));
  const dow = () =>
    (c.dowMask & (1 << wd)) !== 0 ||
    ((c.dowNth[wd] as number) & (1 << Math.ceil(day / 7))) !== 0 ||
    ((c.dowLastMask & (1 << wd)) !== 0 && day + 7 > length);
  if (c.domRestricted && c.dowRestricted) return dom() || dow();
  if (c.domRestricted) return dom();
  if (c.dowRestricted) return dow();
  return true;
}

/** Whether the expression fires on a local day. */
export function cronMatchesDay(c: CronMatcher, dayNumber: number): boolean {
  const { year, month, day } = civilFromDays(dayNumber);
  if ((c.monthMask & (1 << month)) === 0) return false;
  return matchesInMonth(c, day, weekday(dayNumber), daysInMonth(year, month));
}

/** Bit d set for each day d of a month (its number, length and weekday of the 1st) on which the expression fires. */
function monthDays(c: CronMatcher, month: number, length: number, firstWeekday: number): number {
  if ((c.monthMask & (1 << month)) === 0) return 0;
  let m = 0;
  for (let day = 1; day <= length; day++) if (matchesInMonth(c, day, (firstWeekday + day - 1) % 7, length)) m |= 1 << day;
  return m;
}

/** The Gregorian calendar repeats every 400 years (146,097 days, a whole number of weeks). */
const CYCLE_DAYS = 146_097;
const CYCLE_START = daysFromCivil(2000, 1, 1);

/** What the firing days of an expression look like over one full calendar cycle. */
export type CronDayProfile = {
  /** Whether it fires on any day at all ("0 0 30 2 *" never does). */
  fires: boolean;
  /** The most days from one firing day to the next, over the whole calendar (0 when it never fires). */
  longestGapDays: number;
};

const profiles = new WeakMap<CronMatcher, CronDayProfile>();

/**
 * Walks one 400-year cycle month by month; a month's firing days depend only on its number, length and
 * first weekday, so each of those few combinations is computed once.
 */
export function cronDayProfile(c: CronMatcher): CronDayProfile {
  let p = profiles.get(c);
  if (p) return p;
  const memo = new Map<number, number>();
  let first: number | undefined;
  let previous: number | undefined;
  let longest = 0;
  let start = CYCLE_START;
  for (let year = 2000; year < 2400; year++) {
    for (let month = 1; month <= 12; month++) {
      const length = daysInMonth(year, month);
      const w1 = weekday(start);
      const key = (month * 32 + length) * 8 + w1;
      let days = memo.get(key);
      if (days === undefined) {
        days = monthDays(c, month, length, w1);
        memo.set(key, days);
      }
      for (let day = 1; days !== 0 && day <= length; day++) {
        if ((days & (1 << day)) === 0) continue;
        const d = start + day - 1;
        first ??= d;
        if (previous !== undefined) longest = Math.max(longest, d - previous);
        previous = d;
      }
      start += length;
    }
  }
  if (first !== undefined && previous !== undefined) longest = Math.max(longest, first + CYCLE_DAYS - previous);
  p = { fires: first !== undefined, longestGapDays: longest };
  profiles.set(c, p);
  return p;
}

/**
 * Whether two expressions fire at exactly the same instants, however they are written ("1-5",
 * "MON-FRI", "mon-fri", "1,2,3,4,5"). Instants follow from local days and times of day through the
 * same zone rules, so equal day sets and equal times of day are equal instants; day sets are equal
 * when every kind of month (number, length, weekday of the 1st: all occur in a 400-year cycle) has
 * the same firing days.
 */
export function sameCronInstants(a: CronMatcher, b: CronMatcher): boolean {
  if (a.timesOfDay.length !== b.timesOfDay.length || a.timesOfDay.some((t, i) => t !== b.timesOfDay[i])) return false;
  for (let month = 1; month <= 12; month++) {
    const lengths = month === 2 ? [28, 29] : [daysInMonth(2001, month)];
    for (const length of lengths) {
      for (let w1 = 0; w1 < 7; w1++) if (monthDays(a, month, length, w1) !== monthDays(b, month, length, w1)) return false;
    }
  }
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
