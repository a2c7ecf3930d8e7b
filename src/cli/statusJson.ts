// `status --output json`, and the data the human views of `status` are printed from, so the two can
// never disagree: one service in detail (serviceDetailJson) and every schedule with its services
// (overview). No I/O and no clock: `now` is an argument.
import { EXCLUDE, isStopSet, KEEP_RUNNING_UNTIL, STATE, STOP } from "../api/annotations.ts";
import type { ServiceStatus, ServingScheduleStatus } from "../api/servingSchedule.ts";
import { type CompiledEntry, governingOf } from "../decide/schedules.ts";
import { nextTransition } from "../schedule/index.ts";
import { gpusOf, type InferenceService } from "../sources/kube/inferenceService.ts";
import { isClusterSchedule } from "../sources/kube/servingSchedule.ts";
import { type Evaluation, scheduleLabel } from "./decision.ts";
import { rfc3339 } from "./times.ts";

export type ServiceDetailJson = {
  name: string;
  schedule: { name: string; timeZone: string; overruled: string[] } | null;
  scheduleNow: { state: string; reason: string; detail?: string } | null;
  annotations: {
    stop: string | null;
    state: { kind: "none" } | { kind: "ok"; record: Record<string, unknown> } | { kind: "invalid"; raw: string };
    keepRunningUntil: string | null;
    exclude: string | null;
  };
  conditions: { type: string; status: string; reason?: string; since?: string }[];
  deploymentMode: string;
  gpus: number;
  state: string;
  confirmed: boolean;
  decision: { action: string; desired: string; reason: string; skip?: string; wouldDo?: string; message: string; recheckAt?: string };
  traffic: { kind: "known"; rps: number } | { kind: "unknown"; why: string } | { kind: "notEvaluated"; why: string } | null;
  nextTransitions: { at: string; state: string; reason: string; detail?: string }[];
};

export function serviceDetailJson(e: Evaluation, isvc: InferenceService, trafficNote: string | undefined): ServiceDetailJson {
  const a = e.facts.annotations;
  const g = e.governing;
  const d = e.decision;
  return {
    name: e.key,
    schedule: g
      ? { name: scheduleLabel(g.key), timeZone: g.compiled.timeZone, overruled: e.overruled.map((o) => scheduleLabel(o.key)) }
      : null,
    scheduleNow: e.moment ? stateJson(e.moment.now) : null,
    annotations: {
      stop: a[STOP] ?? null,
      state: e.record.kind === "ok" ? { kind: "ok", record: e.record.state } : e.record,
      keepRunningUntil: a[KEEP_RUNNING_UNTIL] ?? null,
      exclude: a[EXCLUDE] ?? null,
    },
    conditions: (isvc.status?.conditions ?? [])
      .filter((c) => c.type === "Ready" || c.type === "Stopped")
      .map((c) => ({
        type: c.type,
        status: c.status,
        ...(c.reason ? { reason: c.reason } : {}),
        ...(c.lastTransitionTime ? { since: c.lastTransitionTime } : {}),
      })),
    deploymentMode: e.mode,
    gpus: e.facts.gpus,
    state: d.observed,
    confirmed: d.confirmed,
    decision: {
      action: d.action,
      desired: d.desired,
      reason: d.reason,
      ...(d.skip ? { skip: d.skip } : {}),
      ...(d.wouldDo ? { wouldDo: d.wouldDo } : {}),
      message: d.message,
      ...(d.recheckAt !== undefined && Number.isFinite(d.recheckAt) ? { recheckAt: rfc3339(d.recheckAt) } : {}),
    },
    traffic: e.traffic ?? (g?.spec.idle ? { kind: "notEvaluated", why: trafficNote ?? "not queried" } : null),
    nextTransitions: e.upcoming.map((t) => ({ at: rfc3339(t.at), ...stateJson(t) })),
  };
}

function stateJson(s: { state: string; reason: string; detail?: string | undefined }): { state: string; reason: string; detail?: string } {
  return s.detail === undefined ? { state: s.state, reason: s.reason } : { state: s.state, reason: s.reason, detail: s.detail };
}

export type ServiceRow = {
  name: string;
  state: string;
  reason: string;
  since: string | null;
  nextTransition: string | null;
  gpus: number | null;
  confirmed: boolean | null;
  message: string | null;
  /** Live annotations of the InferenceService (null when it no longer exists). */
  live: { stop: string | null; keepRunningUntil: string | null; exclude: string | null; state: string | null } | null;
};

export type ScheduleOverview = {
  name: string;
  timeZone: string | null;
  valid: boolean;
  problem: string | null;
  conditions: { type: string; status: string; reason?: string; message?: string }[];
  reported: boolean;
  running: number | null;
  stopped: number | null;
  gpusReclaimed: number | null;
  gpuHoursReclaimed: number | null;
  nextTransition: string | null;
  nextState: string | null;
  services: ServiceRow[];
};

export type StatusOverviewJson = { schedules: ScheduleOverview[]; notSelected: string[] };

/**
 * From the schedules' status (written by the daemon) and the live InferenceServices. `namespace` is
 * the one listed (undefined: all); a ClusterServingSchedule's rows are named "ns/name" and only
 * those of the listed namespace are shown, as its other namespaces were not read.
 */
export function overview(
  entries: readonly CompiledEntry[],
  services: readonly InferenceService[],
  now: number,
  scope: { namespace?: string | undefined; namespaceLabels?: ReadonlyMap<string, Record<string, string>> } = {},
): StatusOverviewJson {
  const byKey = new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  const governedBy = new Map<string, string[]>();
  const notSelected: string[] = [];
  for (const s of services) {
    const { governing } = governingOf(entries, s, scope.namespaceLabels?.get(s.metadata.namespace));
    const k = `${s.metadata.namespace}/${s.metadata.name}`;
    // a cluster schedule spans namespaces, so its rows carry theirs
    const row = governing && isClusterSchedule(governing.obj) ? k : s.metadata.name;
    if (!governing) notSelected.push(k);
    else governedBy.set(governing.key, [...(governedBy.get(governing.key) ?? []), row]);
  }
  const inScope = (row: string) => scope.namespace === undefined || !row.includes("/") || row.startsWith(`${scope.namespace}/`);
  const schedules = [...entries]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((e): ScheduleOverview => {
      const status = (e.obj.status ?? undefined) as ServingScheduleStatus | undefined;
      const reported = status?.services !== undefined || status?.conditions !== undefined;
      const service = (name: string) => byKey.get(isClusterSchedule(e.obj) ? name : `${e.obj.metadata.namespace}/${name}`);
      const rows: ServiceRow[] = reported
        ? (status?.services ?? [])
            .filter((r) => inScope(r.name))
            .map((r: ServiceStatus) => ({
              name: r.name,
              state: r.state,
              reason: r.reason,
              since: r.since ?? null,
              nextTransition: r.nextTransition ?? null,
              gpus: r.gpus,
              confirmed: r.confirmed,
              message: r.message ?? null,
              live: liveAnnotations(service(r.name)),
            }))
        : // no status yet (daemon not running?): the services the schedule governs, as the cluster shows them
          (governedBy.get(e.key) ?? []).sort().map((name) => {
            const s = service(name);
            return {
              name,
              state: isStopSet(s?.metadata.annotations) ? "Stopped" : "Running",
              reason: "-",
              since: null,
              nextTransition: null,
              gpus: s ? gpusOf(s) : null,
              confirmed: null,
              message: null,
              live: liveAnnotations(s),
            };
          });
      const next = e.ok ? nextTransition(e.compiled, now) : undefined;
      return {
        name: scheduleLabel(e.key),
        timeZone: e.ok ? e.compiled.timeZone : null,
        valid: e.ok,
        problem: e.ok ? null : e.message,
        conditions: (status?.conditions ?? []).map((c) => ({
          type: c.type,
          status: c.status,
          ...(c.reason ? { reason: c.reason } : {}),
          ...(c.message ? { message: c.message } : {}),
        })),
        reported,
        running: status?.running ?? null,
        stopped: status?.stopped ?? null,
        gpusReclaimed: status?.gpusReclaimed ?? null,
        gpuHoursReclaimed: status?.gpuHoursReclaimed ?? null,
        nextTransition: next ? rfc3339(next.at) : (status?.nextTransition ?? null),
        nextState: next ? next.state : (status?.nextState ?? null),
        services: rows,
      };
    });
  return { schedules, notSelected: notSelected.sort() };
}

function liveAnnotations(s: InferenceService | undefined): ServiceRow["live"] {
  if (!s) return null;
  const a = s.metadata.annotations ?? {};
  return { stop: a[STOP] ?? null, keepRunningUntil: a[KEEP_RUNNING_UNTIL] ?? null, exclude: a[EXCLUDE] ?? null, state: a[STATE] ?? null };
}
