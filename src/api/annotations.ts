// Annotations kserve-reclaimer reads and writes on InferenceServices. The daemon keeps no state of
// its own: what it last did lives on the object (`reclaimer.dev/state`), so a restarted daemon, or a
// second replica after failover, rebuilds everything from the cluster.
import { z } from "zod";

/** KServe's own switch; parsed case-insensitively against "true", as KServe does. */
export const STOP = "serving.kserve.io/stop";
export const DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode";
/** The daemon's record of its last action, JSON (see ReclaimerState). */
export const STATE = "reclaimer.dev/state";
/** RFC 3339 instant: keep the service up (and start it) until then. */
export const KEEP_RUNNING_UNTIL = "reclaimer.dev/keep-running-until";
/** "true": hands off. */
export const EXCLUDE = "reclaimer.dev/exclude";

export function isStopSet(annotations: Record<string, string> | undefined): boolean {
  return (annotations?.[STOP] ?? "").toLowerCase() === "true";
}

// ---- RFC 3339 ----

/** "2026-12-01T18:00:00.123456789+01:00" is 35 characters; nothing longer is an RFC 3339 instant. */
export const MAX_RFC3339_LENGTH = 35;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Epoch ms of an RFC 3339 date-time (a date, a time and a zone: "Z" or an offset), or undefined.
 * Date.parse would take "2099", "99999" or a locale string and guess; people write these by hand,
 * so anything but the one format is refused rather than guessed.
 */
export function parseRfc3339(text: string): number | undefined {
  if (text.length > MAX_RFC3339_LENGTH) return undefined;
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offH = m[9] === undefined ? 0 : Number(m[9]);
  const offM = m[10] === undefined ? 0 : Number(m[10]);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60 || offH > 23 || offM > 59) return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return undefined;
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
  const sign = m[8] === "-" ? -1 : 1;
  // A leap second (:60) is the instant just before the next minute, as far as ms go.
  const utc = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), second === 60 ? 999 : fraction);
  const ms = utc - sign * (offH * 60 + offM) * 60_000;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Text of a user's value for a message, cut short so a 250 KB annotation does not become a 250 KB Event. */
export function shortValue(text: string, max = 64): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

export type KeepRunningUntil =
  | { kind: "none" }
  | { kind: "ok"; until: number; raw: string }
  | { kind: "invalid"; raw: string; why: string };

/** reclaimer.dev/keep-running-until: RFC 3339 only; anything else is invalid and decided as if absent. */
export function readKeepRunningUntil(annotations: Record<string, string> | undefined): KeepRunningUntil {
  const raw = annotations?.[KEEP_RUNNING_UNTIL];
  if (raw === undefined) return { kind: "none" };
  const until = parseRfc3339(raw);
  if (until === undefined) {
    return {
      kind: "invalid",
      raw,
      why: `${KEEP_RUNNING_UNTIL}: ${shortValue(raw)} is not an RFC 3339 time such as 2026-12-01T18:00:00Z or 2026-12-01T19:00:00+01:00; ignored`,
    };
  }
  return { kind: "ok", until, raw };
}

// ---- the state record ----

export const StateAction = z.enum(["stop", "start", "hold"]);
export type StateAction = z.infer<typeof StateAction>;

/** What the daemon writes is about 200 characters; a record much longer was not written by it. */
export const MAX_STATE_LENGTH = 1024;
const Instant = z
  .string()
  .max(MAX_RFC3339_LENGTH)
  .refine((t) => parseRfc3339(t) !== undefined, { message: "must be an RFC 3339 time" });

/**
 * Version 1 of the state record. The version field lets a later daemon migrate what an older one
 * wrote; an unknown or unparsable record is treated as "no record" and reported, never trusted.
 * - `stop` / `start`: the daemon set the stop annotation to "true" / "false".
 * - `hold`: a person started a service the daemon had stopped; the daemon leaves it up until `until`
 *   (the schedule's next transition after it noticed).
 * `at` is when the daemon acted; `transition` the schedule transition instant it acted for, if any,
 * so the same transition is never applied twice.
 * Every field is bounded: the record is copied into decisions, Events and the schedule's status,
 * and anyone who may patch the service may write it.
 */
export const ReclaimerState = z.object({
  v: z.literal(1),
  action: StateAction,
  /** A reason word such as Schedule, Idle or Sleep. */
  reason: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, { message: "must be one word of letters and digits, at most 64 characters" }),
  /** namespace/name of a ServingSchedule (empty when none governed). */
  schedule: z.string().max(63 + 1 + 253),
  at: Instant,
  transition: Instant.optional(),
  /** metadata.generation of the schedule the daemon acted on: an edited schedule is applied afresh. */
  generation: z.number().int().min(0).optional(),
  until: Instant.optional(),
});
export type ReclaimerState = z.infer<typeof ReclaimerState>;

/** `raw` is cut to a few hundred characters (it is shown to people); `why` says what is wrong. */
export type ParsedState = { kind: "none" } | { kind: "ok"; state: ReclaimerState } | { kind: "invalid"; raw: string; why: string };

/**
 * Records already read, by their text: a reconcile reads the record of its service three or four
 * times in a row, and at a boundary every service is reconciled twice (the decision, then the watch's echo
 * of the patch). Bounded: emptied when full. The parsed values are never changed by a reader.
 */
const readRecords = new Map<string, ParsedState>();
const MAX_READ_RECORDS = 1_024;

export function readState(annotations: Record<string, string> | undefined): ParsedState {
  const raw = annotations?.[STATE];
  if (raw === undefined || raw === "") return { kind: "none" };
  const known = readRecords.get(raw);
  if (known !== undefined) return known;
  const parsed = parseState(raw);
  if (readRecords.size >= MAX_READ_RECORDS) readRecords.clear();
  readRecords.set(raw, parsed);
  return parsed;
}

function parseState(raw: string): ParsedState {
  const shown = raw.length > 200 ? `${raw.slice(0, 200)}…` : raw;
  if (raw.length > MAX_STATE_LENGTH)
    return {
      kind: "invalid",
      raw: shown,
      why: `${STATE} is ${raw.length} characters, more than the ${MAX_STATE_LENGTH} a record of the daemon can be`,
    };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { kind: "invalid", raw: shown, why: `${STATE} is not JSON` };
  }
  const parsed = ReclaimerState.safeParse(json);
  if (parsed.success) return { kind: "ok", state: parsed.data };
  const why = parsed.error.issues.map((i) => `${i.path.join(".") || "record"}: ${i.message}`).join("; ");
  return { kind: "invalid", raw: shown, why: `${STATE} is not a record of the daemon (${why.slice(0, 300)})` };
}

export function writeState(state: ReclaimerState): string {
  return JSON.stringify(state);
}
