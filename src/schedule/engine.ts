// THE SCHEDULE ENGINE: a ServingSchedule spec -> a timeline of Running / Stopped. Pure: no I/O, no
// clock (every instant is passed in, as epoch milliseconds). This header is the one place where the
// semantics are modelled; docs/schedule-semantics.md says the same in prose, with examples.
//
// Layers, highest first. The state at instant t is decided by the first layer that has an opinion;
// `reason` names that layer. Every piece of the timeline is half-open [start, end): the state
// "at t" is the state right after t, so a change at t is already in effect at t.
//
//  1. Exceptions (reason "Exception", detail = the exception's reason), then holidays (reason
//     "Exception", detail "Holiday: <English name>"). Each exception is [from, to) in local time of
//     spec.timeZone: "YYYY-MM-DD" = local midnight, or "YYYY-MM-DDTHH:MM"; or, yearly, "--MM-DD" and
//     "--MM-DDTHH:MM" (ISO 8601's date without a year): [from, to) in every year, running into the
//     next year when to <= from ("--12-31" to "--01-02"). "--02-29" is the day after Feb 28, so
//     March 1 in a year without Feb 29 (a yearly exception "--02-29" to "--03-01" is empty then).
//     Each entry of spec.holidays is the holidays of a country (or a region of it) in date-holidays'
//     calendar, of the given types (public by default), every year: each holiday DATE from local
//     midnight to the next local midnight in spec.timeZone, whatever the country's own zone.
//     Order of precedence, first that contains t wins: the exceptions in list order (dated and
//     yearly alike), then the holiday calendars in list order (and, within one, the earlier holiday).
//     So a Running exception beats a Stopped holiday, and a Running calendar listed first beats a
//     Stopped one. Exceptions and holidays beat uptime and warmup absolutely: inside a Stopped
//     exception (or holiday) the state is Stopped even where warmup would run, so warmup never pushes a
//     start into a Stopped exception (the service starts when the exception ends, reason Warmup if
//     the window's warm-up is still under way). Warmup does not apply to Running exceptions: their
//     `from` is when they start. An exception whose bounds resolve (DST) to from >= to is empty.
//  2. Warmup (reason "Warmup", state Running): each uptime window [s, e) also runs during
//     [s - warmup, s), warmup being ELAPSED time (instant minus duration, not wall-clock time).
//     Where a warm-up overlaps another window, that window's "Schedule" wins the reason.
//  3. Uptime (reason "Schedule"): Running inside the union of all windows, Stopped outside.
//     - `uptime` absent: always Running (an idle-only policy). `uptime: []`: always Stopped (only
//       Running exceptions start anything).
//     - Window form {days, from, to}: for each local day whose weekday is in `days` (the day the
//       window OPENS; "*", "Mon-Fri", lists, wrapping ranges "Fri-Mon" = Fri,Sat,Sun,Mon, "A-A" = A,
//       case-insensitive), the window is [day at from, end) with end = the same day at `to`, or the
//       next day at `to` when to < from; "24:00" = next day 00:00. A window whose bounds resolve
//       (DST) to end <= start is empty (e.g. 02:30-03:00 on a 02:00->03:00 day).
//     - Cron form {cron: {start, stop}} (5 fields, classic semantics: when day-of-month and
//       day-of-week are both restricted, a day matching either fires; day-of-month also takes L and
//       nW, day-of-week nL and n#k, which count as values of their field in that rule; which local
//       dates fire never depends on DST, see src/schedule/cron.ts), in timeZone: Running from
//       each start instant to the first stop instant at or after it. A start while running does
//       nothing, a stop while stopped does nothing; a start and a stop at the same instant leave it
//       Stopped (a zero-length window). To know whether a cron window is open at t the engine looks
//       back from t for the latest start and the latest stop, at least CRON_LOOKBACK_DAYS (8 years
//       + 2 days, so Feb 29 crons are seen too) and longer for an expression with longer gaps
//       between firings ("0 8 * 2 1#5", a fifth Monday in February, recurs only every 28-40 years).
//     - Windows are united: overlapping and adjacent windows (of any form) merge, so there is no
//       Stopped instant at a seam and no transition there.
//
// Local times and daylight saving (windows, cron instants and exception bounds alike): a local time
// that does not exist (spring forward) is moved forward by the length of the gap (02:30 on a
// 02:00->03:00 day is 03:30); an ambiguous local time (fall back) is the EARLIER instant (02:30 on a
// 03:00->02:00 day is the first 02:30). So a cron "30 2 * * *" fires at 03:30 local on spring-forward
// day and once, at the first 02:30, on fall-back day. (luxon's own conversion picks the later
// instant in an overlap, so src/schedule/zone.ts converts local times itself.)
//
// Transitions are REAL state changes only: a change of reason without a change of state (Warmup ->
// Schedule, Schedule -> Exception with the same state) is not a transition; a transition carries the
// reason (and detail) of the state it enters.
import { isCronUptime, type ScheduleException, type ScheduleSpec } from "./spec.ts";
import { parseDuration } from "./duration.ts";
import { civilFromDays, DAY_MS, daysFromCivil, MINUTE_MS, weekday } from "./civil.ts";
import { compileCron, cronDayProfile, cronInstantsBetween, lastCronInstantBefore, type CronMatcher } from "./cron.ts";
import { parseDays, parseTimeOfDay } from "./days.ts";
import { holidaysOf, type HolidayType } from "./holidays.ts";
import { zoneOffsets, type ZoneOffsets } from "./zone.ts";

export type State = "Running" | "Stopped";
export type Reason = "Schedule" | "Warmup" | "Exception";
export type StateAt = { state: State; reason: Reason; detail?: string };
export type Transition = { at: number; state: State; reason: Reason; detail?: string };
/** A maximal piece of the timeline with one state, reason and detail: [from, until). */
export type Segment = { from: number; until: number; state: State; reason: Reason; detail?: string };

/** How far back a cron window's latest start/stop is searched (see the header). */
export const CRON_LOOKBACK_DAYS = 8 * 366 + 2;
/** Default horizon of nextTransition. */
export const DEFAULT_HORIZON_MS = 400 * DAY_MS;

type DayWindow = { readonly kind: "days"; readonly dayMask: number; readonly fromMin: number; readonly toMin: number };
type CronWindow = { readonly kind: "cron"; readonly start: CronMatcher; readonly stop: CronMatcher };
type ExceptionSegment = { readonly from: number; readonly until: number; readonly state: State; readonly detail: string | undefined };
/** A yearly exception: month, day and minute of day of both ends, in local time. */
type YearlyRule = {
  readonly kind: "yearly";
  readonly from: { readonly month: number; readonly day: number; readonly minute: number };
  readonly to: { readonly month: number; readonly day: number; readonly minute: number };
  /** to <= from as "MM-DDTHH:MM": the range ends in the next year. */
  readonly wraps: boolean;
  readonly state: State;
  readonly detail: string | undefined;
};
type HolidayRule = {
  readonly kind: "holidays";
  readonly country: string;
  readonly region: string | undefined;
  readonly types: readonly HolidayType[];
  readonly state: State;
};
type DatedRule = { readonly kind: "dated" } & ExceptionSegment;
type ExceptionRule = DatedRule | YearlyRule | HolidayRule;

export type CompiledSchedule = {
  readonly timeZone: string;
  readonly zone: ZoneOffsets;
  /** "always" = no uptime (idle-only), "never" = uptime: []. */
  readonly uptime: "always" | "never" | readonly (DayWindow | CronWindow)[];
  readonly warmupMs: number;
  /**
   * Disjoint, ascending; first-match-wins already applied. All of them when `recurring` is undefined;
   * otherwise empty, and the exceptions of a stretch of time are worked out from `recurring`.
   */
  readonly exceptions: readonly ExceptionSegment[];
  /** Every exception and holiday calendar in order of precedence, when any of them recurs every year. */
  readonly recurring: readonly ExceptionRule[] | undefined;
  /** Resolved exceptions of `recurring` per span of local years ("2026/2027"), filled as they are asked for. */
  readonly byYears: Map<string, readonly ExceptionSegment[]>;
};

/** Compiles a spec already validated by the zod schema (defaults applied). Throws on what the schema rejects. */
export function compileSchedule(spec: ScheduleSpec): CompiledSchedule {
  const zone = zoneOffsets(spec.timeZone ?? "UTC");
  let uptime: CompiledSchedule["uptime"];
  if (spec.uptime === undefined) uptime = "always";
  else if (spec.uptime.length === 0) uptime = "never";
  else
    uptime = spec.uptime.map((u): DayWindow | CronWindow => {
      if (isCronUptime(u)) return { kind: "cron", start: compileCron(u.cron.start), stop: compileCron(u.cron.stop) };
      const fromMin = parseTimeOfDay(u.from);
      const toMin = parseTimeOfDay(u.to);
      if (fromMin >= 1440) throw new Error(`window from "${u.from}" must be before 24:00`);
      if (fromMin === toMin) throw new Error(`window to "${u.to}" must differ from from "${u.from}"`);
      return { kind: "days", dayMask: parseDays(u.days), fromMin, toMin };
    });
  const warmupMs = spec.warmup === undefined ? 0 : parseDuration(spec.warmup);
  if (!Number.isFinite(warmupMs)) throw new Error(`invalid warmup "${spec.warmup}"`);
  const rules = compileRules(spec, zone);
  const recurs = rules.some((r) => r.kind !== "dated");
  return {
    timeZone: zone.name,
    zone,
    uptime,
    warmupMs,
    exceptions: recurs ? [] : firstMatchWins(rules as DatedRule[]),
    recurring: recurs ? rules : undefined,
    byYears: new Map(),
  };
}

/** "YYYY-MM-DD" (local midnight) or "YYYY-MM-DDTHH:MM" in the zone -> instant. */
export function localDateTimeToInstant(zone: ZoneOffsets, text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(text);
  if (!m) throw new Error(`invalid local date/time "${text}"`);
  const local = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0));
  return zone.localToInstant(local);
}

const YEARLY = /^--(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/;

/** "--MM-DD" or "--MM-DDTHH:MM" -> its parts, or undefined for a dated bound. */
export function parseYearly(text: string): { month: number; day: number; minute: number } | undefined {
  const m = YEARLY.exec(text);
  if (!m) return undefined;
  return { month: Number(m[1]), day: Number(m[2]), minute: Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0) };
}

function compileRules(spec: ScheduleSpec, zone: ZoneOffsets): ExceptionRule[] {
  const rules: ExceptionRule[] = (spec.exceptions ?? []).map((e: ScheduleException): ExceptionRule => {
    const from = parseYearly(e.from);
    const to = parseYearly(e.to);
    if (from && to) return { kind: "yearly", from, to, wraps: e.to.slice(2) <= e.from.slice(2), state: e.state, detail: e.reason };
    if (from || to) throw new Error(`exception from "${e.from}" and to "${e.to}" must both have a year or both be yearly`);
    return {
      kind: "dated",
      from: localDateTimeToInstant(zone, e.from),
      until: localDateTimeToInstant(zone, e.to),
      state: e.state,
      detail: e.reason,
    };
  });
  for (const h of spec.holidays ?? []) {
    holidaysOf(h.country, h.region, h.types, 2026); // an unknown country or region fails here, not in the middle of a plan
    rules.push({ kind: "holidays", country: h.country, region: h.region, types: h.types, state: h.state });
  }
  return rules;
}

const MAX_CACHED_SPANS = 16;

/**
 * The exceptions that matter for [lo, hi]: those of the local years it touches and the year before,
 * worked out once per span of years. Every segment containing an instant of [lo, hi] is there with
 * the right state and detail (one that began before those years may show a later start).
 */
function exceptionsFor(s: CompiledSchedule, lo: number, hi: number): readonly ExceptionSegment[] {
  if (s.recurring === undefined) return s.exceptions;
  const z = s.zone;
  // A yearly range ends within the next year, a holiday within days: one year back is enough.
  const firstYear = civilFromDays(z.localDay(lo)).year - 1;
  const lastYear = civilFromDays(z.localDay(hi)).year;
  const key = `${firstYear}/${lastYear}`;
  const known = s.byYears.get(key);
  if (known) return known;
  const list: ExceptionSegment[] = [];
  const at = (year: number, b: { month: number; day: number; minute: number }) =>
    z.localToInstant(daysFromCivil(year, b.month, b.day) * DAY_MS + b.minute * MINUTE_MS);
  for (const r of s.recurring) {
    if (r.kind === "dated") list.push(r);
    else if (r.kind === "yearly") {
      for (let y = firstYear; y <= lastYear; y++) {
        list.push({ from: at(y, r.from), until: at(r.wraps ? y + 1 : y, r.to), state: r.state, detail: r.detail });
      }
    } else {
      for (let y = firstYear; y <= lastYear; y++) {
        for (const h of holidaysOf(r.country, r.region, r.types, y)) {
          const from = z.localToInstant(h.day * DAY_MS);
          const until = z.localToInstant((h.day + h.days) * DAY_MS);
          list.push({ from, until, state: r.state, detail: `Holiday: ${h.name}` });
        }
      }
    }
  }
  const segments = firstMatchWins(list);
  // a daemon asks about the same year or two for months; a ten-year plan walks through them once
  if (s.byYears.size >= MAX_CACHED_SPANS) s.byYears.clear();
  s.byYears.set(key, segments);
  return segments;
}

/** Disjoint ascending segments from ranges in order of precedence (the first containing an instant wins). */
function firstMatchWins(list: readonly ExceptionSegment[]): ExceptionSegment[] {
  const resolved = list.filter((e) => e.from < e.until);
  const bounds = [...new Set(resolved.flatMap((e) => [e.from, e.until]))].sort((a, b) => a - b);
  const out: ExceptionSegment[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const from = bounds[i] as number;
    const until = bounds[i + 1] as number;
    const winner = resolved.find((e) => e.from <= from && until <= e.until); // first match in list order
    if (!winner) continue;
    const prev = out[out.length - 1];
    if (prev && prev.until === from && prev.state === winner.state && prev.detail === winner.detail) {
      out[out.length - 1] = { ...prev, until };
    } else {
      out.push({ from, until, state: winner.state, detail: winner.detail });
    }
  }
  return out;
}

type Interval = { s: number; e: number };

/** Raw uptime intervals of one window that can matter for [lo, hi] (before warmup). */
function windowIntervals(w: DayWindow | CronWindow, zone: ZoneOffsets, lo: number, hi: number, out: Interval[]): void {
  if (w.kind === "days") {
    // A window lasts at most 24 h of local time (+ a DST shift), so it opens at most 2 local days before lo.
    const last = zone.localDay(hi) + 1;
    for (let d = zone.localDay(lo) - 2; d <= last; d++) {
      if ((w.dayMask & (1 << weekday(d))) === 0) continue;
      const midnight = d * DAY_MS;
      const s = zone.localToInstant(midnight + w.fromMin * MINUTE_MS);
      const e = zone.localToInstant(midnight + (w.toMin <= w.fromMin ? DAY_MS : 0) + w.toMin * MINUTE_MS);
      if (e > s && e >= lo && s <= hi) out.push({ s, e });
    }
    return;
  }
  // Cron form: state just before lo from the latest start and stop, then walk the events in [lo, hi].
  const lastStart = latestCronInstantBefore(w.start, zone, lo);
  const lastStop = latestCronInstantBefore(w.stop, zone, lo);
  let openSince: number | undefined = lastStart !== undefined && (lastStop === undefined || lastStart > lastStop) ? lastStart : undefined;
  const starts = cronInstantsBetween(w.start, zone, lo, hi);
  const stops = cronInstantsBetween(w.stop, zone, lo, hi);
  let i = 0;
  let j = 0;
  while (i < starts.length || j < stops.length) {
    const ts = i < starts.length ? (starts[i] as number) : Infinity;
    const tp = j < stops.length ? (stops[j] as number) : Infinity;
    if (tp <= ts) {
      // a stop (a start at the same instant opens and closes a zero-length window: nothing)
      if (openSince !== undefined) out.push({ s: openSince, e: tp });
      openSince = undefined;
      j++;
      if (ts === tp) i++;
    } else {
      openSince ??= ts;
      i++;
    }
  }
  if (openSince !== undefined) out.push({ s: openSince, e: Infinity });
}

/**
 * The latest instant before `before`, however long ago: "0 8 * 2 1#5" can go 40 years without firing.
 * The expression's longest gap costs a walk over the calendar, so it is only asked for when the usual
 * look-back finds nothing.
 */
function latestCronInstantBefore(c: CronMatcher, zone: ZoneOffsets, before: number): number | undefined {
  const found = lastCronInstantBefore(c, zone, before, CRON_LOOKBACK_DAYS);
  if (found !== undefined) return found;
  const longest = cronDayProfile(c).longestGapDays + 2;
  return longest > CRON_LOOKBACK_DAYS ? lastCronInstantBefore(c, zone, before, longest) : undefined;
}

type Piece = { at: number; state: State; reason: Reason; detail: string | undefined };

/** The uptime+warmup layer over [lo, hi] as pieces: the first at lo, the rest in (lo, hi], each a change. */
function uptimePieces(s: CompiledSchedule, lo: number, hi: number): Piece[] {
  if (s.uptime === "always") return [{ at: lo, state: "Running", reason: "Schedule", detail: undefined }];
  if (s.uptime === "never") return [{ at: lo, state: "Stopped", reason: "Schedule", detail: undefined }];
  const w = s.warmupMs;
  const raw: Interval[] = [];
  for (const win of s.uptime) windowIntervals(win, s.zone, lo, hi + w, raw);
  raw.sort((a, b) => a.s - b.s);
  // union: overlapping and adjacent windows merge
  const merged: Interval[] = [];
  for (const r of raw) {
    const last = merged[merged.length - 1];
    if (last && r.s <= last.e) last.e = Math.max(last.e, r.e);
    else merged.push({ s: r.s, e: r.e });
  }
  // breakpoints in time order; at one instant the later one wins
  const bps: Piece[] = [];
  let prevEnd = -Infinity;
  for (const r of merged) {
    const warmStart = Math.max(r.s - w, prevEnd);
    if (warmStart < r.s) bps.push({ at: warmStart, state: "Running", reason: "Warmup", detail: undefined });
    bps.push({ at: r.s, state: "Running", reason: "Schedule", detail: undefined });
    bps.push({ at: r.e, state: "Stopped", reason: "Schedule", detail: undefined });
    prevEnd = r.e;
  }
  const out: Piece[] = [{ at: lo, state: "Stopped", reason: "Schedule", detail: undefined }];
  for (const bp of bps) {
    if (bp.at <= lo) out[0] = { ...bp, at: lo };
    else if (bp.at <= hi) {
      const last = out[out.length - 1] as Piece;
      if (last.at === bp.at) out[out.length - 1] = bp;
      else out.push(bp);
    }
  }
  return out;
}

/** The whole timeline over [lo, hi]: first piece at lo (the state there), then every change of state/reason/detail in (lo, hi]. */
function pieces(s: CompiledSchedule, lo: number, hi: number): Piece[] {
  const up = uptimePieces(s, lo, hi);
  const ex = exceptionsFor(s, lo, hi);
  if (ex.length === 0) return up;
  // all instants where either layer may change
  const times: number[] = up.map((p) => p.at);
  for (const e of ex) {
    if (e.from > lo && e.from <= hi) times.push(e.from);
    if (e.until > lo && e.until <= hi) times.push(e.until);
  }
  times.sort((a, b) => a - b);
  const out: Piece[] = [];
  let ui = 0;
  let ei = 0;
  for (const t of times) {
    if (out.length > 0 && (out[out.length - 1] as Piece).at === t) continue;
    while (ui + 1 < up.length && (up[ui + 1] as Piece).at <= t) ui++;
    while (ei < ex.length && (ex[ei] as ExceptionSegment).until <= t) ei++;
    const e = ex[ei];
    const p: Piece = e && e.from <= t ? { at: t, state: e.state, reason: "Exception", detail: e.detail } : { ...(up[ui] as Piece), at: t };
    const last = out[out.length - 1];
    if (!last || last.state !== p.state || last.reason !== p.reason || last.detail !== p.detail) out.push(p);
  }
  return out;
}

function stateOf(p: Piece): StateAt {
  return p.detail === undefined ? { state: p.state, reason: p.reason } : { state: p.state, reason: p.reason, detail: p.detail };
}

/** The state at instant `at` (ms) and the rule that decides it right after `at`. */
export function stateAt(s: CompiledSchedule, at: number): StateAt {
  return stateOf(pieces(s, at, at)[0] as Piece);
}

/** Real state changes with from < at <= until, in order (a change exactly at `from` is the initial state). */
export function transitionsBetween(s: CompiledSchedule, from: number, until: number): Transition[] {
  if (!(until > from)) return [];
  const ps = pieces(s, from, until);
  const out: Transition[] = [];
  let state = (ps[0] as Piece).state;
  for (let i = 1; i < ps.length; i++) {
    const p = ps[i] as Piece;
    if (p.state === state) continue;
    state = p.state;
    out.push({ at: p.at, ...stateOf(p) });
  }
  return out;
}

/** Maximal pieces of one state, reason and detail covering [from, until), e.g. for drawing a week. */
export function timeline(s: CompiledSchedule, from: number, until: number): Segment[] {
  if (!(until > from)) return [];
  const ps = pieces(s, from, until).filter((p) => p.at < until);
  return ps.map((p, i) => ({ from: p.at, until: i + 1 < ps.length ? (ps[i + 1] as Piece).at : until, ...stateOf(p) }));
}

/** The first real state change strictly after `after`, within `horizonMs` (default 400 days). */
export function nextTransition(s: CompiledSchedule, after: number, horizonMs: number = DEFAULT_HORIZON_MS): Transition | undefined {
  const end = after + horizonMs;
  for (let span = 8 * DAY_MS; ; span *= 4) {
    const until = Math.min(after + span, end);
    const first = transitionsBetween(s, after, until)[0];
    if (first || until >= end) return first;
  }
}

/** ISO 8601 in the schedule's zone with milliseconds and offset, e.g. 2026-12-01T07:45:00.000+01:00. */
export function formatInstant(s: CompiledSchedule, ms: number): string {
  return s.zone.format(ms);
}
