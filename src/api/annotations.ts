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

export const StateAction = z.enum(["stop", "start", "hold"]);
export type StateAction = z.infer<typeof StateAction>;

/**
 * Version 1 of the state record. The version field lets a later daemon migrate what an older one
 * wrote; an unknown or unparsable record is treated as "no record" and reported, never trusted.
 * - `stop` / `start`: the daemon set the stop annotation to "true" / "false".
 * - `hold`: a person started a service the daemon had stopped; the daemon leaves it up until `until`
 *   (the schedule's next transition after it noticed).
 * `at` is when the daemon acted; `transition` the schedule transition instant it acted for, if any,
 * so the same transition is never applied twice.
 */
export const ReclaimerState = z.object({
  v: z.literal(1),
  action: StateAction,
  reason: z.string(),
  schedule: z.string(),
  at: z.string(),
  transition: z.string().optional(),
  /** metadata.generation of the schedule the daemon acted on: an edited schedule is applied afresh. */
  generation: z.number().int().optional(),
  until: z.string().optional(),
});
export type ReclaimerState = z.infer<typeof ReclaimerState>;

export type ParsedState = { kind: "none" } | { kind: "ok"; state: ReclaimerState } | { kind: "invalid"; raw: string };

export function readState(annotations: Record<string, string> | undefined): ParsedState {
  const raw = annotations?.[STATE];
  if (raw === undefined || raw === "") return { kind: "none" };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { kind: "invalid", raw };
  }
  const parsed = ReclaimerState.safeParse(json);
  return parsed.success ? { kind: "ok", state: parsed.data } : { kind: "invalid", raw };
}

export function writeState(state: ReclaimerState): string {
  return JSON.stringify(state);
}
