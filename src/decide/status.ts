// What a ServingSchedule's status says, computed from the decisions for its services. Pure: the
// writer in src/act/ sends it, and skips the write when nothing changed, so at rest nothing is written.
import type { Condition, GovernedKind, ServiceStatus, ServingScheduleStatus } from "../api/servingSchedule.ts";
import type { Transition } from "../schedule/index.ts";
import type { Decision } from "./decide.ts";

export type ServiceReport = {
  name: string;
  kind: GovernedKind;
  decision: Decision;
  gpus: number;
  /** When the service entered its current state, as far as the cluster tells. */
  since: number | undefined;
  nextTransition: number | undefined;
  /** A patch was sent and KServe did not confirm it within the timeout. */
  notConfirmed: boolean;
  /** Stopped services: whether the last predictor pod is gone, and when (undefined: not tracked, as for a running one). */
  released?: boolean | undefined;
  releasedAt?: number | undefined;
};

export type StatusInput = {
  generation: number | undefined;
  /** warnings: "path: warning: ..." lines of a valid spec that is most likely a mistake (see src/api/validate.ts). */
  valid: { ok: true; warnings?: readonly string[] } | { ok: false; message: string };
  /** undefined when the schedule has no idle policy. */
  metrics: { ok: true } | { ok: false; message: string } | undefined;
  services: ServiceReport[];
  next: Transition | undefined;
  gpuHoursReclaimed: number;
  previous: ServingScheduleStatus | undefined;
  now: number;
  /**
   * ClusterServingSchedule only: the services ("namespace/name") it selects that a ServingSchedule
   * of their namespace governs instead. Counted in full, named up to OVERRIDDEN_NAMED.
   */
  overridden?: readonly string[];
};

/** Enough names to find the overriding schedules; the count says how many there are in all. */
export const OVERRIDDEN_NAMED = 10;

/** Reasons that mean "the daemon stopped it", so its GPUs count as reclaimed (once released). */
export function reclaimedBy(decision: Decision): boolean {
  return decision.observed === "Stopped" && decision.reason !== "ManualStop" && decision.skip === undefined;
}

/**
 * The release instant a stopped service's entry shows: the earlier of this process's and the one the
 * status already carried while the service stayed stopped, so a restart of the daemon (which finds
 * the pods gone and releases "now") does not move it.
 */
export function releasedAtShown(
  report: Pick<ServiceReport, "decision" | "released" | "releasedAt">,
  previous: ServiceStatus | undefined,
): number | undefined {
  if (report.decision.observed !== "Stopped" || report.released !== true || report.releasedAt === undefined) return undefined;
  const before = previous?.state === "Stopped" && previous.gpusReleasedAt !== undefined ? Date.parse(previous.gpusReleasedAt) : Number.NaN;
  return Number.isFinite(before) && before < report.releasedAt ? before : report.releasedAt;
}

export function buildStatus(input: StatusInput): ServingScheduleStatus {
  const iso = (ms: number) => new Date(ms).toISOString();
  const entryKey = (kind: string | undefined, name: string) => `${kind ?? "InferenceService"} ${name}`;
  const previousEntries = new Map((input.previous?.services ?? []).map((s) => [entryKey(s.kind, s.name), s]));
  const services: ServiceStatus[] = [...input.services]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0))
    .map((s) => ({
      name: s.name,
      ...(s.kind === "LLMInferenceService" ? { kind: s.kind } : {}),
      state: s.decision.observed,
      reason: s.decision.skip ?? s.decision.reason,
      ...(s.since !== undefined ? { since: iso(s.since) } : {}),
      ...(s.nextTransition !== undefined ? { nextTransition: iso(s.nextTransition) } : {}),
      gpus: s.gpus,
      confirmed: s.decision.confirmed,
      message: s.decision.message,
      ...releaseFields(s, previousEntries.get(entryKey(s.kind, s.name)), iso),
    }));
  const running = services.filter((s) => s.state === "Running").length;
  const stopped = services.length - running;
  // GPUs still held by terminating pods are not reclaimed yet
  const gpusReclaimed = input.services.filter((s) => reclaimedBy(s.decision) && s.released !== false).reduce((n, s) => n + s.gpus, 0);
  const notConfirmed = input.services
    .filter((s) => s.notConfirmed)
    .map((s) => (s.kind === "LLMInferenceService" ? `${s.name} (LLMInferenceService)` : s.name));

  const conditions: Condition[] = [];
  const cond = (type: string, status: "True" | "False" | "Unknown", reason: string, message: string) =>
    conditions.push(
      keepTransitionTime(input.previous, {
        type,
        status,
        reason,
        message,
        lastTransitionTime: iso(input.now),
        ...(input.generation !== undefined ? { observedGeneration: input.generation } : {}),
      }),
    );

  // A warning keeps the schedule Valid and working, so it rides on the Valid condition rather than
  // adding a condition type that tools would have to learn.
  if (input.valid.ok && (input.valid.warnings?.length ?? 0) > 0)
    cond("Valid", "True", "ValidWithWarnings", `the spec is valid; ${input.valid.warnings?.join("; ")}`);
  else if (input.valid.ok) cond("Valid", "True", "Valid", "the spec is valid");
  else cond("Valid", "False", "Invalid", input.valid.message);
  if (input.metrics === undefined) cond("MetricsAvailable", "True", "NotRequired", "no idle policy: request rates are not read");
  else if (input.metrics.ok) cond("MetricsAvailable", "True", "QuerySucceeded", "request rates are available");
  else cond("MetricsAvailable", "False", "QueryFailed", `${input.metrics.message}; idle stops follow whenMetricsUnavailable`);
  if (!input.valid.ok) cond("Ready", "False", "Invalid", input.valid.message);
  else if (notConfirmed.length > 0)
    cond("Ready", "False", "NotConfirmed", `KServe did not confirm the change for: ${notConfirmed.join(", ")}`);
  else if (input.metrics !== undefined && !input.metrics.ok) cond("Ready", "False", "MetricsUnavailable", input.metrics.message);
  else
    cond(
      "Ready",
      "True",
      "Reconciled",
      `${services.length} services: ${running} running, ${stopped} stopped${overriddenNote(input.overridden)}`,
    );

  return {
    ...(input.generation !== undefined ? { observedGeneration: input.generation } : {}),
    conditions,
    services,
    running,
    stopped,
    gpusReclaimed,
    gpuHoursReclaimed: Math.round(input.gpuHoursReclaimed * 1000) / 1000,
    ...(input.overridden !== undefined ? { overridden: input.overridden.length } : {}),
    ...(input.next ? { nextTransition: iso(input.next.at), nextState: input.next.state } : {}),
  };
}

function releaseFields(
  report: ServiceReport,
  previous: ServiceStatus | undefined,
  iso: (ms: number) => string,
): { gpusReleased?: boolean; gpusReleasedAt?: string } {
  if (report.decision.observed !== "Stopped" || report.released === undefined) return {};
  const at = releasedAtShown(report, previous);
  return { gpusReleased: report.released, ...(at !== undefined ? { gpusReleasedAt: iso(at) } : {}) };
}

function overriddenNote(overridden: readonly string[] | undefined): string {
  if (!overridden || overridden.length === 0) return "";
  const named = [...overridden].sort().slice(0, OVERRIDDEN_NAMED);
  const rest = overridden.length - named.length;
  return `; ${overridden.length} overridden by their namespace's ServingSchedule: ${named.join(", ")}${rest > 0 ? ` and ${rest} more` : ""}`;
}

/** A condition keeps its lastTransitionTime while its status does not change (Kubernetes API conventions). */
function keepTransitionTime(previous: ServingScheduleStatus | undefined, next: Condition): Condition {
  const before = previous?.conditions?.find((c) => c.type === next.type);
  return before && before.status === next.status ? { ...next, lastTransitionTime: before.lastTransitionTime } : next;
}
