// The plan of `kserve-reclaimer plan`: for each schedule, its state at the start of an interval and
// the real state changes inside it, rendered as the JSON contract or as a table for people. Pure:
// the interval's start is passed in (the CLI shell reads the clock), nothing is read or written.
import {
  compileSchedule,
  formatInstant,
  stateAt,
  timeline,
  transitionsBetween,
  type CompiledSchedule,
  type Segment,
  type StateAt,
  type Transition,
  DAY_MS,
  MINUTE_MS,
  weekday,
} from "../schedule/index.ts";
import type { ServingScheduleSpec } from "../api/servingSchedule.ts";
import { visible } from "../report/visible.ts";

/**
 * A time given on the command line: an absolute instant (ISO 8601 with "Z" or an offset), or a local
 * date/time without offset, read in each schedule's own time zone (same DST rules as the engine).
 */
export type TimeArg = { kind: "instant"; ms: number } | { kind: "local"; localMs: number };
/** The end of the interval: a time, or a number of calendar days (in the schedule's zone) after the start. */
export type UntilArg = { kind: "time"; at: TimeArg } | { kind: "days"; days: number };

export const DEFAULT_DAYS = 7;
/** Longest interval a plan covers, in days (about ten years); bounds the work for every schedule. */
export const MAX_DAYS = 3660;
/**
 * Most transitions one schedule may have in a plan. Office hours (2 a day) over MAX_DAYS fit; a
 * schedule that flaps every minute reaches it within a week, and is refused instead of planned.
 */
export const MAX_TRANSITIONS = 10_000;
/** Stretch of time handed to the engine at once: the work done past the limit is at most this much. */
export const CHUNK_MS = DAY_MS;

const TIME_ARG = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parses "2026-12-01", "2026-12-01T08:00", "2026-12-01T08:00:00+01:00", "...Z"; undefined when it is none of them. */
export function parseTimeArg(text: string): TimeArg | undefined {
  const m = TIME_ARG.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) =>
    v === undefined ? undefined : Number(v),
  );
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0"));
  if (year === undefined || month === undefined || day === undefined) return undefined;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const localMs = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  if (new Date(localMs).getUTCDate() !== day) return undefined; // 2027-02-30
  const zone = m[8];
  if (zone === undefined) return { kind: "local", localMs };
  if (zone.toUpperCase() === "Z") return { kind: "instant", ms: localMs };
  const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!z) return undefined;
  const offset = (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3])) * MINUTE_MS;
  return { kind: "instant", ms: localMs - offset };
}

export function resolveTime(arg: TimeArg, s: CompiledSchedule): number {
  if (arg.kind === "instant") return arg.ms;
  const minuteStart = Math.floor(arg.localMs / MINUTE_MS) * MINUTE_MS;
  return s.zone.localToInstant(minuteStart) + (arg.localMs - minuteStart);
}

export function resolveUntil(until: UntilArg, from: number, s: CompiledSchedule): number {
  if (until.kind === "time") return resolveTime(until.at, s);
  const local = s.zone.toLocal(from) + until.days * DAY_MS;
  const minuteStart = Math.floor(local / MINUTE_MS) * MINUTE_MS;
  return s.zone.localToInstant(minuteStart) + (local - minuteStart);
}

export type SchedulePlan = {
  /** namespace/name */
  name: string;
  file?: string;
  timeZone: string;
  compiled: CompiledSchedule;
  from: number;
  until: number;
  initial: StateAt;
  transitions: Transition[];
};

export class PlanRangeError extends Error {
  override name = "PlanRangeError";
}

/** The plan would be too large to compute or print: refused, with how to narrow it. */
export class PlanLimitError extends Error {
  override name = "PlanLimitError";
}

/**
 * The real changes in (from, until], asked of the engine one CHUNK_MS at a time so that a consumer
 * that stops early (at a limit) also stops the engine. Chunks are half-open like transitionsBetween,
 * so a change on a chunk boundary is produced exactly once.
 */
export function* lazyTransitions(
  s: CompiledSchedule,
  from: number,
  until: number,
  between: (s: CompiledSchedule, from: number, until: number) => Transition[] = transitionsBetween,
): Generator<Transition, void, undefined> {
  for (let lo = from; lo < until; lo += CHUNK_MS) yield* between(s, lo, Math.min(lo + CHUNK_MS, until));
}

/** At most `limit` transitions; `complete` is false when there were more (one more was looked at, no further). */
export function takeTransitions(source: Iterable<Transition>, limit: number): { transitions: Transition[]; complete: boolean } {
  const transitions: Transition[] = [];
  for (const t of source) {
    if (transitions.length === limit) return { transitions, complete: false };
    transitions.push(t);
  }
  return { transitions, complete: true };
}

/** The plan of one schedule over (from, until]: its state right after `from`, then every real change. */
export function planSchedule(
  name: string,
  spec: ServingScheduleSpec,
  from: TimeArg,
  until: UntilArg,
  file?: string,
  limit: number = MAX_TRANSITIONS,
): SchedulePlan {
  const compiled = compileSchedule(spec);
  const fromMs = resolveTime(from, compiled);
  const untilMs = resolveUntil(until, fromMs, compiled);
  if (!(untilMs > fromMs)) {
    throw new PlanRangeError(
      `${name}: the end of the interval (${formatInstant(compiled, untilMs)}) is not after its start (${formatInstant(compiled, fromMs)})`,
    );
  }
  // a day of slack: --days MAX_DAYS may be an hour longer across daylight saving
  if (untilMs - fromMs > (MAX_DAYS + 1) * DAY_MS) {
    throw new PlanRangeError(
      `${name}: the interval from ${formatInstant(compiled, fromMs)} to ${formatInstant(compiled, untilMs)} is longer than ${MAX_DAYS} days, the most a plan covers: give a later --from or an earlier --until`,
    );
  }
  const { transitions, complete } = takeTransitions(lazyTransitions(compiled, fromMs, untilMs), limit);
  if (!complete) {
    throw new PlanLimitError(
      `${name}: more than ${limit} transitions between ${formatInstant(compiled, fromMs)} and ${formatInstant(compiled, untilMs)}, the most a plan lists: plan fewer --days (or an earlier --until) or make the schedule change less often`,
    );
  }
  return {
    name,
    ...(file === undefined ? {} : { file }),
    timeZone: compiled.timeZone,
    compiled,
    from: fromMs,
    until: untilMs,
    initial: stateAt(compiled, fromMs),
    transitions,
  };
}

// ---------------------------------------------------------------------------------------------------
// JSON: the stable contract. Keys in this order; "detail" only when the state comes from an exception
// that has a reason.

export type PlanJson = {
  schedules: {
    name: string;
    timeZone: string;
    initial: { state: string; reason: string; detail?: string };
    transitions: { at: string; state: string; reason: string; detail?: string }[];
  }[];
};

export function planToJson(plans: readonly SchedulePlan[]): PlanJson {
  return {
    schedules: plans.map((p) => ({
      name: p.name,
      timeZone: p.timeZone,
      initial: stateJson(p.initial),
      transitions: p.transitions.map((t) => ({ at: formatInstant(p.compiled, t.at), ...stateJson(t) })),
    })),
  };
}

function stateJson(s: StateAt): { state: string; reason: string; detail?: string } {
  return s.detail === undefined ? { state: s.state, reason: s.reason } : { state: s.state, reason: s.reason, detail: s.detail };
}

/** One line of JSON and a newline. */
export function renderPlanJson(plans: readonly SchedulePlan[]): string {
  return `${JSON.stringify(planToJson(plans))}\n`;
}

// ---------------------------------------------------------------------------------------------------
// Table: for people.

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/** Cells per day in the week view: half hours. */
export const CELLS_PER_DAY = 48;
const CELL_MS = DAY_MS / CELLS_PER_DAY;
/** The week view shows at most this many days. */
export const MAX_VIEW_DAYS = 62;

export const GLYPHS = {
  running: "█",
  warmup: "▓",
  runningException: "▒",
  stopped: "·",
  stoppedException: "-",
  /** a local time that does not exist (the hour skipped at spring forward) */
  missing: " ",
} as const;

export function glyphOf(s: StateAt): string {
  if (s.state === "Running")
    return s.reason === "Warmup" ? GLYPHS.warmup : s.reason === "Exception" ? GLYPHS.runningException : GLYPHS.running;
  return s.reason === "Exception" ? GLYPHS.stoppedException : GLYPHS.stopped;
}

/** "Tue 2026-12-01 07:45 +01:00" (with ":SS" when `seconds`). */
export function formatLocal(s: CompiledSchedule, ms: number, seconds = false): string {
  const iso = formatInstant(s, ms); // 2026-12-01T07:45:00.000+01:00
  const day = WEEKDAYS[weekday(s.zone.localDay(ms))] ?? "";
  return `${day} ${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)} ${iso.slice(23)}`;
}

function describe(s: StateAt): string {
  return s.detail === undefined ? s.reason : `${s.reason}: ${s.detail}`;
}

/**
 * One line per local day, from the local date of the interval's start through the local date of its
 * end (at most MAX_VIEW_DAYS), 48 half-hour cells of local wall-clock time each. A cell shows the
 * state at its middle. The hour skipped at spring forward is blank; the hour repeated at fall back
 * shows its first occurrence. Exception reasons active that day follow the bar.
 */
export function weekView(p: SchedulePlan): string[] {
  const z = p.compiled.zone;
  const firstDay = z.localDay(p.from);
  const lastDay = Math.max(firstDay, z.localDay(p.until - 1));
  const days = Math.min(lastDay - firstDay + 1, MAX_VIEW_DAYS);
  const start = z.localToInstant(firstDay * DAY_MS);
  const end = z.localToInstant((firstDay + days) * DAY_MS) + DAY_MS; // generous: covers a fall-back day
  const segments = timeline(p.compiled, start, end);
  const lines: string[] = [];
  lines.push(`${" ".repeat(15)}${ruler()}`);
  let k = 0;
  for (let d = 0; d < days; d++) {
    const dayNumber = firstDay + d;
    const dayStart = z.localToInstant(dayNumber * DAY_MS);
    let bar = "";
    const details = new Set<string>();
    for (let c = 0; c < CELLS_PER_DAY; c++) {
      const local = dayNumber * DAY_MS + c * CELL_MS + CELL_MS / 2;
      const at = z.localToInstant(local);
      if (z.toLocal(at) !== local) {
        bar += GLYPHS.missing;
        continue;
      }
      while (k + 1 < segments.length && (segments[k + 1] as Segment).from <= at) k++;
      const seg = segments[k];
      bar += seg ? glyphOf(seg) : " ";
    }
    const dayEnd = z.localToInstant((dayNumber + 1) * DAY_MS);
    for (const seg of segments) {
      if (seg.reason === "Exception" && seg.detail !== undefined && seg.from < dayEnd && seg.until > dayStart) details.add(seg.detail);
    }
    const label = `${WEEKDAYS[weekday(dayNumber)]} ${formatInstant(p.compiled, dayStart).slice(0, 10)}`;
    lines.push(`${label} ${bar}${details.size > 0 ? `  ${[...details].join(", ")}` : ""}`.trimEnd());
  }
  if (lastDay - firstDay + 1 > days) lines.push(`(week view limited to the first ${MAX_VIEW_DAYS} days)`);
  return lines;
}

function ruler(): string {
  let out = "";
  for (let h = 0; h <= 24; h += 3) out = out.padEnd((h * CELLS_PER_DAY) / 24) + String(h);
  return out;
}

export const LEGEND = `${GLYPHS.running} running  ${GLYPHS.warmup} warm-up  ${GLYPHS.runningException} running (exception)  ${GLYPHS.stopped} stopped  ${GLYPHS.stoppedException} stopped (exception)`;

/** The plan for people: per schedule, a header, the transitions and the week view; names, paths and exception reasons through visible(). */
export function renderPlanTable(plans: readonly SchedulePlan[]): string {
  const blocks = plans.map((p) => {
    const seconds = [p.from, p.until, ...p.transitions.map((t) => t.at)].some((ms) => ms % MINUTE_MS !== 0);
    const lines: string[] = [];
    lines.push(`${p.name} (${p.timeZone})${p.file ? `  ${p.file}` : ""}`);
    lines.push(`  ${formatLocal(p.compiled, p.from, seconds)}  ${p.initial.state.padEnd(7)}  ${describe(p.initial)}  (at start)`);
    for (const t of p.transitions) lines.push(`  ${formatLocal(p.compiled, t.at, seconds)}  ${t.state.padEnd(7)}  ${describe(t)}`);
    if (p.transitions.length === 0) lines.push("  (no change in this interval)");
    lines.push(`  ${formatLocal(p.compiled, p.until, seconds)}  (end)`);
    lines.push("");
    lines.push(...weekView(p).map((l) => `  ${l}`));
    return lines.map(visible).join("\n");
  });
  if (plans.length === 0) return "";
  return `${blocks.join("\n\n")}\n\n  ${LEGEND}\n`;
}
