// Validation of one ServingSchedule object, wherever it comes from (a file for `validate` and `plan`,
// the cluster for the daemon). Pure. Problems carry a field path ("spec.uptime[1].cron.stop") and a
// one-line message meant for people; the zod schema decides what is valid, this module only words it.
import type { z } from "zod";
import {
  API_VERSION,
  CLUSTER_KIND,
  ClusterServingSchedule,
  GROUP,
  KIND,
  isCronUptime,
  ServingSchedule,
  type ServingScheduleSpec,
} from "./servingSchedule.ts";
import {
  civilFromDays,
  compileSchedule,
  DAY_MS,
  firstQuickFlip,
  formatInstant,
  localDateTimeToInstant,
  MIN_FLIP_GAP_MS,
  MINUTE_MS,
  parseDays,
  parseTimeOfDay,
  weekday,
  zoneOffsets,
  type CompiledSchedule,
} from "../schedule/index.ts";

export type PathSegment = string | number;
export type Problem = { path: string; segments: PathSegment[]; message: string };
/** Warnings are about valid schedules that are most likely a mistake; they never make one invalid. */
export type ValidationResult =
  | { ok: true; schedule: ServingSchedule | ClusterServingSchedule; warnings: Problem[] }
  | { ok: false; problems: Problem[] };

/**
 * Where the check for schedules that flip too often looks: the year from this fixed instant. Fixed,
 * not the current time, so that `validate` and the daemon's status say the same about a schedule on
 * any day; a year, so that a pattern confined to some months or weekdays is seen too.
 */
export const FLIP_CHECK_FROM = Date.UTC(2026, 0, 1);
export const FLIP_CHECK_DAYS = 366;

/** `spec.uptime[1].cron.stop` from ["spec", "uptime", 1, "cron", "stop"]. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  return out;
}

function problem(segments: PathSegment[], message: string): Problem {
  return { path: formatPath(segments), segments, message };
}

/**
 * Checks a ServingSchedule or ClusterServingSchedule object (by its kind; apiVersion, kind, metadata,
 * spec; status is ignored) and returns it
 * with defaults applied, or every problem found, ordered by field path position in the object.
 * `now` (epoch ms), when given, is only used to warn about exceptions that are over: the validity of
 * a schedule never depends on the day it is checked.
 */
export function validateServingSchedule(obj: unknown, now?: number): ValidationResult {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    return { ok: false, problems: [problem([], "must be a mapping (an object with apiVersion, kind, metadata and spec)")] };
  }
  const { status: _ignored, ...rest } = obj as Record<string, unknown>;
  const schema = rest["kind"] === CLUSTER_KIND ? ClusterServingSchedule : ServingSchedule;
  const result = schema.safeParse(rest, { error: messageFor });
  if (result.success) {
    const spec = result.data.spec;
    const warnings = [...flipWarnings(spec), ...daylightSavingWarnings(spec), ...(now === undefined ? [] : pastWarnings(spec, now))];
    return { ok: true, schedule: result.data, warnings };
  }
  const problems = result.error.issues.flatMap((i) => fromIssue(i as Issue, [], rest));
  return { ok: false, problems: dedupe(mixedForms(problems, rest)) };
}

/**
 * A warning when the schedule changes state less than 10 minutes after its previous change, at the
 * uptime entry that does so on its own (with the schedule's zone and warm-up), or at spec.uptime when
 * only entries together do (a window ending 5 minutes before the next begins).
 */
function flipWarnings(spec: ServingScheduleSpec): Problem[] {
  const until = FLIP_CHECK_FROM + FLIP_CHECK_DAYS * 86_400_000;
  const flips = (s: ServingScheduleSpec) => {
    let compiled: CompiledSchedule;
    try {
      compiled = compileSchedule(s);
    } catch {
      return undefined; // what the engine cannot compile is reported as a problem, not here
    }
    const pair = firstQuickFlip(compiled, FLIP_CHECK_FROM, until, MIN_FLIP_GAP_MS);
    return pair && { compiled, pair };
  };
  if (!spec.uptime || spec.uptime.length === 0) return [];
  const whole = flips(spec);
  if (!whole) return [];
  const own = spec.uptime.flatMap((u, i) => {
    const found = spec.uptime && spec.uptime.length > 1 ? flips({ ...spec, uptime: [u], exceptions: [], holidays: [] }) : whole;
    return found ? [problem(["spec", "uptime", i, ...(isCronUptime(u) ? ["cron"] : [])], flipMessage(found.compiled, found.pair))] : [];
  });
  return own.length > 0 ? own : [problem(["spec", "uptime"], flipMessage(whole.compiled, whole.pair))];
}

function flipMessage(s: CompiledSchedule, [a, b]: [{ at: number; state: string }, { at: number; state: string }]): string {
  const gap = b.at - a.at;
  const apart = gap % 60_000 === 0 ? `${gap / 60_000} minute${gap === 60_000 ? "" : "s"}` : `${Math.round(gap / 1000)} seconds`;
  return (
    `warning: changes state ${apart} after the previous change (${a.state} at ${formatInstant(s, a.at)}, ${b.state} at ${formatInstant(s, b.at)}); ` +
    `a schedule that flips more often than every ${MIN_FLIP_GAP_MS / 60_000} minutes thrashes GPUs, as every start loads the model again`
  );
}

/**
 * A dated exception that ended before `now` no longer does anything: most likely last year's holidays,
 * which a yearly exception ("--12-24") or a holiday calendar would have kept applying.
 */
function pastWarnings(spec: ServingScheduleSpec, now: number): Problem[] {
  const zone = zoneOffsets(spec.timeZone);
  return (spec.exceptions ?? []).flatMap((e, i) => {
    if (e.to.startsWith("--")) return [];
    const until = localDateTimeToInstant(zone, e.to);
    if (until > now) return [];
    return [
      problem(
        ["spec", "exceptions", i],
        `warning: ended ${e.to} (${zone.format(until)}), in the past, so it no longer applies; for every year write "--MM-DD" without the year, for public holidays use spec.holidays`,
      ),
    ];
  });
}

/**
 * A window that a daylight-saving change turns inside out runs not at all that day (02:30-03:00 on
 * the day the clocks jump from 02:00 to 03:00). Looked for over the same fixed year as the flips.
 */
function daylightSavingWarnings(spec: ServingScheduleSpec): Problem[] {
  const zone = zoneOffsets(spec.timeZone);
  const first = Math.floor(FLIP_CHECK_FROM / DAY_MS);
  const out: Problem[] = [];
  (spec.uptime ?? []).forEach((u, i) => {
    if (isCronUptime(u)) return;
    const mask = parseDays(u.days);
    const from = parseTimeOfDay(u.from);
    const to = parseTimeOfDay(u.to);
    for (let d = first; d < first + FLIP_CHECK_DAYS; d++) {
      if ((mask & (1 << weekday(d))) === 0) continue;
      const start = zone.localToInstant(d * DAY_MS + from * MINUTE_MS);
      const end = zone.localToInstant(d * DAY_MS + (to <= from ? DAY_MS : 0) + to * MINUTE_MS);
      if (end > start) continue;
      out.push(
        problem(
          ["spec", "uptime", i],
          `warning: does not run at all on ${isoDate(d)}: the clocks of ${spec.timeZone} skip its local times from ${u.from} to ${u.to} that day (daylight saving); end the window outside the skipped hour`,
        ),
      );
      return;
    }
  });
  return out;
}

function isoDate(dayNumber: number): string {
  const { year, month, day } = civilFromDays(dayNumber);
  return `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** An uptime entry with keys of both forms gets one problem saying so instead of the details of either form. */
function mixedForms(problems: Problem[], root: unknown): Problem[] {
  const out: Problem[] = [];
  const reported = new Set<number>();
  for (const p of problems) {
    const [spec, uptime, index] = p.segments;
    if (spec === "spec" && uptime === "uptime" && typeof index === "number") {
      const entry = valueAt(root, ["spec", "uptime", index]);
      const keys = typeof entry === "object" && entry !== null ? Object.keys(entry) : [];
      if (keys.includes("cron") && keys.some((k) => k === "days" || k === "from" || k === "to")) {
        if (!reported.has(index)) out.push(problem(["spec", "uptime", index], "an uptime entry is either days/from/to or cron, not both"));
        reported.add(index);
        continue;
      }
    }
    out.push(p);
  }
  return out;
}

type Issue = z.core.$ZodIssue;

function fromIssue(issue: Issue, prefix: PathSegment[], root: unknown): Problem[] {
  const path = [...prefix, ...(issue.path as PathSegment[])];
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((k) => problem([...path, k], "unknown field"));
    case "invalid_union":
      return unionProblems(issue, path, root);
    default:
      return [problem(path, issue.message)];
  }
}

/**
 * A failed union (an uptime entry) reports the problems of the form the user evidently meant: the cron
 * form when a "cron" key is there, else the days/from/to form; both forms at once is one problem.
 */
function unionProblems(issue: Extract<Issue, { code: "invalid_union" }>, path: PathSegment[], root: unknown): Problem[] {
  const input = valueAt(root, path);
  const keys = typeof input === "object" && input !== null ? Object.keys(input) : [];
  const hasCron = keys.includes("cron");
  const hasWindow = keys.some((k) => k === "days" || k === "from" || k === "to");
  if (hasCron && hasWindow) return [problem(path, "an uptime entry is either days/from/to or cron, not both")];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return [problem(path, "must be a mapping: {days, from, to} or {cron: {start, stop}}")];
  }
  const chosen = issue.errors[hasCron ? 1 : 0] ?? [];
  if (!hasCron && !hasWindow && keys.length === 0) return [problem(path, "is empty: give days, from and to, or cron: {start, stop}")];
  return chosen.flatMap((i) => fromIssue(i as Issue, path, root));
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let v = root;
  for (const s of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[s];
  }
  return v;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
  record: "a mapping",
};

/** Messages for the issues the schema does not word itself (zod's defaults are for developers). */
function messageFor(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return "is required";
      return `must be ${EXPECTED[iss.expected] ?? iss.expected}, not ${typeName(iss.input)}`;
    case "invalid_value": {
      if (iss.input === undefined) return "is required";
      const values = iss.values.map((v) => JSON.stringify(v));
      if (values.length === 1) return `must be ${values[0]}, not ${JSON.stringify(iss.input)}`;
      return `must be one of ${values.join(", ")}, not ${JSON.stringify(iss.input)}`;
    }
    case "too_small":
      if (iss.origin === "string")
        return Number(iss.minimum) === 1 ? "must not be empty" : `must be at least ${iss.minimum} characters long`;
      if (iss.origin === "array") return `must have at least ${iss.minimum} entries`;
      return `must be at least ${iss.minimum}`;
    case "too_big":
      if (iss.origin === "string") return `must be at most ${iss.maximum} characters long`;
      if (iss.origin === "array") return `must have at most ${iss.maximum} entries`;
      return `must be at most ${iss.maximum}`;
    case "invalid_format":
      return "has an invalid format";
    default:
      return undefined;
  }
}

/** What a document is, by apiVersion and kind: one of our schedules, one of ours in a version we do not serve, or something else. */
export type DocumentKind = { kind: "schedule" } | { kind: "foreign" } | { kind: "wrong"; segments: PathSegment[]; message: string };

const OUR_KINDS: readonly unknown[] = [KIND, CLUSTER_KIND];

export function classifyDocument(obj: unknown): DocumentKind {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return { kind: "foreign" };
  const { apiVersion, kind } = obj as { apiVersion?: unknown; kind?: unknown };
  const group = typeof apiVersion === "string" && apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : undefined;
  if (apiVersion === API_VERSION && OUR_KINDS.includes(kind)) return { kind: "schedule" };
  if (group === GROUP) {
    if (OUR_KINDS.includes(kind))
      return {
        kind: "wrong",
        segments: ["apiVersion"],
        message: `version not supported: must be "${API_VERSION}", not ${JSON.stringify(apiVersion)}`,
      };
    return {
      kind: "wrong",
      segments: ["kind"],
      message: `unknown kind ${JSON.stringify(kind)} in ${GROUP}: the kinds are ${KIND} and ${CLUSTER_KIND}`,
    };
  }
  if (OUR_KINDS.includes(kind))
    return { kind: "wrong", segments: ["apiVersion"], message: `must be "${API_VERSION}", not ${JSON.stringify(apiVersion ?? null)}` };
  return { kind: "foreign" };
}

/**
 * "namespace/name" as reported in problems and plans; namespace "default" when absent. A
 * ClusterServingSchedule has no namespace and is named as kubectl names it: its name alone.
 */
export function scheduleName(obj: unknown): string {
  const meta = typeof obj === "object" && obj !== null ? (obj as { metadata?: unknown }).metadata : undefined;
  const m = typeof meta === "object" && meta !== null ? (meta as { name?: unknown; namespace?: unknown }) : {};
  const name = typeof m.name === "string" && m.name !== "" ? m.name : "<unnamed>";
  if ((obj as { kind?: unknown }).kind === CLUSTER_KIND) return name;
  const ns = typeof m.namespace === "string" && m.namespace !== "" ? m.namespace : "default";
  return `${ns}/${name}`;
}
