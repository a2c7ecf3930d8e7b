// What the daemon's shell needs from the outside, and the record it keeps per service.
// Adapters in src/sources/ and src/act/ implement the ports; main.ts wires them; unit tests hand
// in memory. The types are the adapters' own, so nothing is converted or cast on the way.
import type { EventReason, EventType, InvolvedObject } from "../act/events.ts";
import type { PatchResult } from "../act/patcher.ts";
import type { ServingScheduleStatus } from "../api/servingSchedule.ts";
import type { Decision, Traffic } from "../decide/decide.ts";
import type { Logger } from "../report/log.ts";
import type { ReclaimerMetrics } from "../report/metrics.ts";
import { SERVICE_KINDS, type Service, type ServiceId, serviceKey } from "../sources/kube/service.ts";
import {
  CLUSTER_SCOPE,
  CLUSTER_SERVING_SCHEDULE_KIND,
  isClusterSchedule,
  SERVING_SCHEDULE_API_VERSION,
  SERVING_SCHEDULE_KIND,
  type ScheduleObject,
} from "../sources/kube/servingSchedule.ts";
import type { TrafficReading, TrafficRequest } from "../sources/prometheus/traffic.ts";
import type { Clock } from "./clock.ts";
import type { Release } from "./release.ts";
import type { BatchTarget, BatchTimings } from "./transitionEvents.ts";

export type ReconcilerPorts = {
  clock: Clock;
  log: Logger;
  metrics: ReclaimerMetrics;
  /** Both kinds, by key (serviceKey: "namespace/name", "namespace/llmisvc/name"). */
  services: { list(): Service[]; get(key: string): Service | undefined };
  /** ServingSchedules, and ClusterServingSchedules under namespace CLUSTER_SCOPE. */
  schedules: { list(): ScheduleObject[]; get(namespace: string, name: string): ScheduleObject | undefined };
  /**
   * A namespace's labels, for ClusterServingSchedules' namespaceSelector; undefined when the
   * namespace is not known (then no cluster schedule reaches it). Absent: none ever does.
   */
  namespaceLabels?: ((namespace: string) => Record<string, string> | undefined) | undefined;
  patchAnnotations(
    service: ServiceId,
    annotations: Record<string, string | null>,
    resourceVersion: string | undefined,
  ): Promise<PatchResult>;
  /**
   * A schedule transition that may write to this many services is a few seconds away: get the
   * connections ready (a burst on cold connections pays the TLS handshakes at its start). Absent: nothing to warm.
   */
  warmWrites?: ((services: number) => void) | undefined;
  event(ref: InvolvedObject, type: EventType, reason: EventReason, message: string): void;
  writeStatus(namespace: string, name: string, status: ServingScheduleStatus): Promise<void>;
  /** The schedule is gone: whatever the writer remembers of its last write can go too. */
  forgetStatus(namespace: string, name: string): void;
  /** undefined when no Prometheus is configured: every request rate is unknown. */
  readTraffic: ((requests: TrafficRequest[]) => Promise<TrafficReading>) | undefined;
  /** Absent: wake on request is off (no wake routes are written). */
  wakeRoutes?: WakeRoutesPort | undefined;
  /** Why the service's predictor pods cannot be scheduled (the scheduler's message), or undefined; for a start not confirmed in time. */
  unschedulable?: ((service: ServiceId) => Promise<string | undefined>) | undefined;
  /**
   * How many of the service's predictor pods still hold its GPUs (not yet gone or terminated).
   * Absent (unit tests): a stopped service counts as released at once.
   */
  pods?: { holding(key: string): number } | undefined;
};

/** The wake routes `<isvc>-wake` (src/act/wakeRoutes.ts) as the reconciler sees them; keys are "namespace/name". */
export type WakeRoutesPort = {
  /** Whether the service has a wake route, as last listed or written; undefined before the first listing. */
  has(key: string): boolean | undefined;
  ensure(service: Service): Promise<void>;
  remove(namespace: string, name: string): Promise<void>;
};

export type ReconcilerOptions = {
  dryRun: boolean;
  idleIntervalMs: number;
  confirmStopTimeoutMs: number;
  confirmStartTimeoutMs: number;
  /** How long status writes are batched (ms). */
  statusDebounceMs: number;
  /** How a schedule's transition Events are batched; default DEFAULT_BATCH_TIMINGS (src/daemon/transitionEvents.ts). */
  transitionBatch?: BatchTimings | undefined;
};

/**
 * The last decision for a service, as its schedule's status and the GPU-hours ledger count it;
 * `overridden`: the ClusterServingSchedules that select it but gave way to its namespace's own.
 */
export type Outcome = {
  decision: Decision;
  schedule: string | undefined;
  gpus: number;
  since: number | undefined;
  overridden?: readonly string[] | undefined;
  /** false: stopped, but its predictor pods are not all gone, so its GPUs are not free (nor counted) yet. */
  released?: boolean | undefined;
  /** When the last predictor pod of the stopped service was gone. */
  releasedAt?: number | undefined;
};

/**
 * A stop or start sent, and the instant by which KServe must confirm it; `batch`: the schedule
 * transition it was part of, whose confirmations are reported together (src/daemon/transitionEvents.ts).
 */
export type Awaiting = {
  action: "stop" | "start";
  since: number;
  deadline: number;
  cancel: () => void;
  batch?: BatchTarget | undefined;
};

/** Everything the daemon remembers about one service: forgetting it is one delete. */
export type ServiceRecord = {
  last: Outcome | undefined;
  awaiting: Awaiting | undefined;
  /** The last stop or start was not confirmed by its deadline (and nothing confirmed it since). */
  notConfirmed: boolean;
  /** Request rate from the last idle tick; only read under an idle policy. */
  traffic: Traffic | undefined;
  /** What was last reported, by kind, so each problem is one Event per value and not one per reconcile. */
  reported: Map<string, string>;
  /** The last wake request (the waker asked for this service); memory only: the waker asks again every second or two. */
  wakeRequestedAt: number | undefined;
  /** When this process last created the service's wake route (a start waits until it is older than KServe's route can be). */
  wakeRouteCreatedAt: number | undefined;
  /** A stopped service's way to free GPUs (src/daemon/release.ts); undefined while it runs. */
  release: Release | undefined;
  /** The Warning for pods still terminating after the stop timeout, armed while releasing. */
  releaseDeadline: { at: number; cancel: () => void } | undefined;
};

export const newRecord = (): ServiceRecord => ({
  last: undefined,
  awaiting: undefined,
  notConfirmed: false,
  traffic: undefined,
  reported: new Map(),
  wakeRequestedAt: undefined,
  wakeRouteCreatedAt: undefined,
  release: undefined,
  releaseDeadline: undefined,
});

/** A service's key (serviceKey), or a schedule's: "namespace/name", ClusterServingSchedules under CLUSTER_SCOPE. */
export const keyOf = (o: { kind?: string; metadata: { namespace: string; name: string } }): string =>
  o.kind === "LLMInferenceService"
    ? serviceKey(o.kind, o.metadata.namespace, o.metadata.name)
    : `${o.metadata.namespace}/${o.metadata.name}`;

/** Which service a Service is, for a write. */
export const serviceId = (s: Service): ServiceId => ({ kind: s.kind, namespace: s.metadata.namespace, name: s.metadata.name });

export function splitKey(k: string): [string, string] {
  const i = k.indexOf("/");
  return [k.slice(0, i), k.slice(i + 1)];
}

export function serviceRef(s: Service): InvolvedObject {
  const { namespace, name, uid } = s.metadata;
  return { kind: s.kind, apiVersion: SERVICE_KINDS[s.kind].apiVersion, namespace, name, uid };
}

export function scheduleRef(s: ScheduleObject): InvolvedObject {
  const { namespace, name, uid } = s.metadata;
  const kind = isClusterSchedule(s) ? CLUSTER_SERVING_SCHEDULE_KIND : SERVING_SCHEDULE_KIND;
  return { kind, apiVersion: SERVING_SCHEDULE_API_VERSION, namespace, name, uid };
}

/** A schedule's key as people read it in Events and logs: "team-a/nights", "ClusterServingSchedule nights". */
export function scheduleLabel(k: string): string {
  const [namespace, name] = splitKey(k);
  return namespace === CLUSTER_SCOPE ? `${CLUSTER_SERVING_SCHEDULE_KIND} ${name}` : k;
}

/** One line of an error for logs and Events: long messages are cut. */
export function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
