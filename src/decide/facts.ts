// The inputs of decide() built from cluster objects: what the schedule says at an instant
// (ScheduleMoment) and what an InferenceService is (ServiceFacts). Pure. The daemon's reconciler and
// the CLI (`status`, `sleep`) both build them here, so what `status` predicts is what the daemon does.
import { isStopSet } from "../api/annotations.ts";
import type { ServingScheduleSpec } from "../api/servingSchedule.ts";
import { nextTransition, stateAt, transitionsBetween, type CompiledSchedule } from "../schedule/index.ts";
import { kserveStopped, type Service } from "../sources/kube/service.ts";
import type { ScheduleMoment, ServiceFacts } from "./decide.ts";

const DAY = 86_400_000;

/** The part of a service the facts are read from: the daemon's Service, or a full object the CLI read (kind absent: an InferenceService). */
export type IsvcLike = Pick<Service, "metadata" | "status"> & { kind?: string | undefined; unsupported?: string | undefined };

/**
 * What the schedule says at `now`: its state, the start of the current period (the last real
 * transition at or before now, looked for 8 days back, then 400; -Infinity when none) and the next
 * transition.
 */
export function scheduleMoment(
  key: string,
  spec: ServingScheduleSpec,
  compiled: CompiledSchedule,
  now: number,
  createdAt: number,
  generation: number | undefined,
): ScheduleMoment {
  const next = nextTransition(compiled, now);
  let periodStart = Number.NEGATIVE_INFINITY;
  for (const lookback of [8 * DAY, 400 * DAY]) {
    const past = transitionsBetween(compiled, now - lookback, now);
    const last = past[past.length - 1];
    if (last) {
      periodStart = last.at;
      break;
    }
  }
  return {
    key,
    now: stateAt(compiled, now),
    periodStart,
    next,
    createdAt,
    generation,
    idle: spec.idle,
    wake: spec.wake,
    suspend: spec.suspend,
    dryRun: spec.dryRun,
  };
}

/** The facts decide() reads about one InferenceService; mode and GPUs are computed by the caller. */
export function serviceFacts(isvc: IsvcLike, derived: { deploymentMode: string | undefined; gpus: number }): ServiceFacts {
  const conditions = isvc.status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === "Ready");
  const annotations = isvc.metadata.annotations ?? {};
  const status = ready?.status === "True" || ready?.status === "False" ? ready.status : "Unknown";
  return {
    namespace: isvc.metadata.namespace,
    name: isvc.metadata.name,
    createdAt: toMs(isvc.metadata.creationTimestamp) ?? 0,
    annotations,
    deploymentMode: derived.deploymentMode,
    // The idle clock starts at the latest instant the condition's time can mean: a stop is never early.
    ready: ready ? { status, since: latestMs(ready.lastTransitionTime) ?? 0 } : undefined,
    stoppedByKServe: kserveStopped(isvc.kind, conditions),
    gpus: derived.gpus,
    unsupported: isvc.unsupported,
  };
}

/**
 * When the service entered its current state: the Stopped condition's change when stopped, else
 * Ready's. An LLMInferenceService has no Stopped condition: its Ready turns False (reason Stopped).
 */
export function sinceOf(isvc: IsvcLike): number | undefined {
  const conditions = isvc.status?.conditions ?? [];
  const type = isStopSet(isvc.metadata.annotations) && isvc.kind !== "LLMInferenceService" ? "Stopped" : "Ready";
  return toMs(conditions.find((c) => c.type === type)?.lastTransitionTime);
}

/**
 * Kubernetes writes a condition's lastTransitionTime to the second, truncated: "12:00:00Z" is any
 * instant of 12:00:00.000-12:00:00.999. This is the last of them (ms), so a duration counted from it
 * has truly elapsed; a time written with a fraction is taken to that fraction's precision.
 */
export function latestMs(t: string | Date | undefined): number | undefined {
  const ms = toMs(t);
  if (ms === undefined) return undefined;
  // A Date carries no resolution: a whole second is taken as one written to the second.
  const digits = typeof t === "string" ? (/\d[.,](\d+)/.exec(t)?.[1]?.length ?? 0) : ms % 1000 === 0 ? 0 : 3;
  return digits >= 3 ? ms : ms + 10 ** (3 - digits) - 1;
}

export function toMs(t: string | Date | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}
