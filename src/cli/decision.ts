// What the daemon would decide for one InferenceService now, worked out by the CLI itself from the
// objects it read: the governing schedule, the same decide() the daemon runs, and the schedule's next
// transitions. `status`, `wake` and `sleep` print or act on this; none of them asks the daemon.
// No I/O and no clock: `now` is an argument.
import { type ParsedState, readState } from "../api/annotations.ts";
import { type Decision, decide, type ScheduleMoment, type ServiceFacts, type Traffic } from "../decide/decide.ts";
import { scheduleMoment, serviceFacts } from "../decide/facts.ts";
import { type CompiledEntry, governingOf, type ValidSchedule } from "../decide/schedules.ts";
import { type CompiledSchedule, nextTransition, type Transition } from "../schedule/index.ts";
import { type DeploymentMode, deploymentModeOf, gpusOf, type InferenceService } from "../sources/kube/inferenceService.ts";

/**
 * How people read a schedule's key: "ns/name" as it is, a ClusterServingSchedule's "/name" (its key
 * has no namespace) as "name (cluster)", so nobody goes looking for it in a namespace.
 */
export function scheduleLabel(key: string): string {
  return key.startsWith("/") ? `${key.slice(1)} (cluster)` : key;
}

/** The next `count` transitions after `now`. */
export function upcoming(compiled: CompiledSchedule, now: number, count: number): Transition[] {
  const out: Transition[] = [];
  let t = now;
  while (out.length < count) {
    const next = nextTransition(compiled, t);
    if (!next) break;
    out.push(next);
    t = next.at;
  }
  return out;
}

/** The first transition to Running after `now` (where a daemon's stop ends). */
export function nextRunning(compiled: CompiledSchedule, now: number): Transition | undefined {
  let t = now;
  for (let i = 0; i < 1000; i++) {
    const next = nextTransition(compiled, t);
    if (!next || next.state === "Running") return next;
    t = next.at;
  }
  return undefined;
}

export type Evaluation = {
  key: string;
  facts: ServiceFacts;
  mode: DeploymentMode;
  governing: ValidSchedule | undefined;
  overruled: ValidSchedule[];
  moment: ScheduleMoment | undefined;
  /** What the daemon would decide now. */
  decision: Decision;
  /** Whether idle traffic was part of the decision. */
  traffic: Traffic | undefined;
  record: ParsedState;
  upcoming: Transition[];
};

/**
 * What the daemon would decide for one InferenceService now. Traffic: pass it when read from
 * Prometheus; without it the idle rule is not evaluated (unknown traffic never stops anything here).
 */
export function evaluate(
  isvc: InferenceService,
  entries: readonly CompiledEntry[],
  now: number,
  opts: {
    traffic?: Traffic | undefined;
    defaultDeploymentMode?: DeploymentMode;
    /** The labels of the service's Namespace; undefined when not read: then no ClusterServingSchedule reaches it. */
    namespaceLabels?: Record<string, string> | undefined;
  } = {},
): Evaluation {
  const defaultDeploymentMode = opts.defaultDeploymentMode ?? "Standard";
  const mode = deploymentModeOf(isvc, defaultDeploymentMode);
  const facts = serviceFacts(isvc, { deploymentMode: mode, gpus: gpusOf(isvc, { defaultDeploymentMode }) });
  const { governing, overruled } = governingOf(entries, isvc, opts.namespaceLabels);
  const moment = governing
    ? scheduleMoment(governing.key, governing.spec, governing.compiled, now, governing.createdAt, governing.obj.metadata.generation)
    : undefined;
  const traffic = governing?.spec.idle ? opts.traffic : undefined;
  const decision = decide({ now, service: facts, schedule: moment, traffic, globalDryRun: false });
  return {
    key: `${isvc.metadata.namespace}/${isvc.metadata.name}`,
    facts,
    mode,
    governing,
    overruled,
    moment,
    decision,
    traffic,
    record: readState(isvc.metadata.annotations),
    upcoming: governing ? upcoming(governing.compiled, now, 3) : [],
  };
}
