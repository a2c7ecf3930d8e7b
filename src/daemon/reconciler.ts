// The reconciler: the thin shell around the pure decision. It reads the informer caches, asks
// src/decide/ what each InferenceService should be, applies that through src/act/, confirms that
// KServe acted, and reports. It holds no state that the cluster does not also hold, except caches
// that make it fast (compiled schedules, the last decision per service) and timers.
import { STOP, STATE, isStopSet, readKeepRunningUntil, readState } from "../api/annotations.ts";
import { parseDuration } from "../api/duration.ts";
import type { ServingScheduleSpec, ServingScheduleStatus } from "../api/servingSchedule.ts";
import { validateServingSchedule } from "../api/validate.ts";
import { compileSchedule, stateAt, nextTransition, type CompiledSchedule } from "../schedule/index.ts";
import { decide, type Decision, type ScheduleMoment, type ServiceFacts, type Traffic } from "../decide/decide.ts";
import { chooseGoverning } from "../decide/selector.ts";
import { scheduleMoment, serviceFacts, sinceOf, toMs } from "../decide/facts.ts";
import { buildStatus, reclaimedBy, type ServiceReport } from "../decide/status.ts";
import type { Clock, Cancel } from "./clock.ts";
import { KeyedQueue } from "./queue.ts";
import { canonicalJson, capStatus } from "../act/scheduleStatus.ts";
import type { Logger } from "../report/log.ts";
import type { ReclaimerMetrics } from "../report/metrics.ts";
import type { TrafficRequest, TrafficReading } from "../sources/prometheus/traffic.ts";

// ---- what the reconciler needs from the outside (adapters implement these) ----

export type Condition = { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string };

export type IsvcObject = {
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string | Date;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  status?: { conditions?: Condition[] };
};

export type ScheduleObject = {
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    generation?: number;
    creationTimestamp?: string | Date;
    resourceVersion?: string;
  };
  spec?: unknown;
  status?: ServingScheduleStatus;
};

export type ObjectRef = { kind: "InferenceService" | "ServingSchedule"; namespace: string; name: string; uid?: string; apiVersion: string };

export type PatchOutcome = { kind: "ok" } | { kind: "conflict" } | { kind: "notFound" } | { kind: "error"; message: string };

export type ReconcilerPorts = {
  clock: Clock;
  log: Logger;
  metrics: ReclaimerMetrics;
  services: { list(): IsvcObject[]; get(namespace: string, name: string): IsvcObject | undefined };
  schedules: { list(): ScheduleObject[]; get(namespace: string, name: string): ScheduleObject | undefined };
  gpusOf(isvc: IsvcObject): number;
  /** Why some of the service's GPU requests were not counted (not whole GPU counts); none when all were. */
  gpuProblemsOf?(isvc: IsvcObject): readonly string[];
  /** KServe deployment mode: status, else the annotation, else the cluster default. */
  modeOf(isvc: IsvcObject): string;
  patchAnnotations(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
    resourceVersion: string | undefined,
  ): Promise<PatchOutcome>;
  event(ref: ObjectRef, type: "Normal" | "Warning", reason: string, message: string): void;
  writeStatus(namespace: string, name: string, status: ServingScheduleStatus): Promise<void>;
  /** undefined when no Prometheus is configured: every request rate is unknown. */
  readTraffic: ((requests: TrafficRequest[]) => Promise<TrafficReading>) | undefined;
};

export type ReconcilerOptions = {
  dryRun: boolean;
  defaultDeploymentMode: string;
  idleIntervalMs: number;
  confirmStopTimeoutMs: number;
  confirmStartTimeoutMs: number;
  /** How long status writes are batched (ms). */
  statusDebounceMs: number;
};

type CompiledEntry =
  | {
      ok: true;
      key: string;
      obj: ScheduleObject;
      spec: ServingScheduleSpec;
      compiled: CompiledSchedule;
      createdAt: number;
      warnings?: string[];
      moment?: ScheduleMoment;
      momentValidUntil?: number;
      momentFrom?: number;
    }
  | { ok: false; key: string; obj: ScheduleObject; message: string; createdAt: number };

type Pending = { action: "stop" | "start"; deadline: number; cancel: Cancel; since: number };

const ISVC_API = "serving.kserve.io/v1beta1";
const SCHEDULE_API = "reclaimer.dev/v1alpha1";
const key = (ns: string, name: string) => `${ns}/${name}`;
const splitKey = (k: string): [string, string] => {
  const i = k.indexOf("/");
  return [k.slice(0, i), k.slice(i + 1)];
};

export class Reconciler {
  readonly #p: ReconcilerPorts;
  readonly #o: ReconcilerOptions;
  readonly #queue: KeyedQueue;
  readonly #schedules = new Map<string, CompiledEntry>();
  readonly #scheduleTimers = new Map<string, Cancel>();
  readonly #serviceTimers = new Map<string, { at: number; cancel: Cancel }>();
  readonly #decisions = new Map<string, { decision: Decision; schedule: string | undefined; gpus: number; since: number | undefined }>();
  readonly #pending = new Map<string, Pending>();
  readonly #notConfirmed = new Set<string>();
  readonly #traffic = new Map<string, Traffic>();
  readonly #metricsOk = new Map<string, { ok: true } | { ok: false; message: string }>();
  readonly #lastSkipEvent = new Map<string, string>();
  readonly #conflictReported = new Map<string, string>();
  /** Per service: the input problems (bad GPU request, keep-running-until, record) last reported, by Event reason. */
  readonly #inputProblems = new Map<string, Map<string, string>>();
  /** Per service: consecutive failed reconciles, for the retry backoff and one Event per failure. */
  readonly #failures = new Map<string, { count: number; message: string }>();
  readonly #dirtyStatus = new Set<string>();
  /** Per schedule: GPUs it keeps stopped now, GPU-hours so far, and since when `gpus` has held. */
  readonly #reclaim = new Map<string, { gpus: number; hours: number; since: number }>();
  readonly #byState = { Running: 0, Stopped: 0 };
  #statusTimer: Cancel | undefined;
  #idleTimer: Cancel | undefined;
  #stopped = false;
  #armed = false;

  constructor(ports: ReconcilerPorts, options: ReconcilerOptions) {
    this.#p = ports;
    this.#o = options;
    this.#queue = new KeyedQueue((k, err) => this.#reconcileFailed(k, err));
  }

  /**
   * One service's handling threw: a bug or an input nobody foresaw. It is that service's problem,
   * not the daemon's: logged, counted, shown on the service as an Event, and retried with backoff;
   * every other service goes on.
   */
  #reconcileFailed(k: string, err: unknown): void {
    const message = errorText(err);
    const before = this.#failures.get(k);
    const count = (before?.count ?? 0) + 1;
    this.#failures.set(k, { count, message });
    const retryInMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(count - 1, 16));
    this.#p.log.error("reconcile failed; retrying", {
      service: k,
      attempt: count,
      retryInMs,
      err: message,
      stack: err instanceof Error ? err.stack : undefined,
    });
    this.#p.metrics.error("reconcile");
    const [ns, name] = splitKey(k);
    const isvc = this.#p.services.get(ns, name);
    if (!isvc) return;
    if (before?.message !== message)
      this.#p.event(isvcRef(isvc), "Warning", "ReconcileFailed", `could not decide or act on this service: ${message}; retrying`);
    this.#armServiceTimer(k, this.#p.clock.now() + retryInMs, undefined);
  }

  /** Report a failure of work not tied to one service (status, idle tick) the same way, without a retry of its own. */
  #failed(kind: "status" | "idle", what: string, err: unknown): void {
    this.#p.log.error(what, { err: errorText(err), stack: err instanceof Error ? err.stack : undefined });
    this.#p.metrics.error(kind);
  }

  /** Caches are synced: rebuild everything from the cluster, catch up, arm timers. */
  start(): void {
    for (const s of this.#p.schedules.list()) this.#compile(s);
    this.#evaluateAll(undefined);
    this.#idleTimer = this.#p.clock.every(this.#o.idleIntervalMs, () => this.#runIdleTick());
    this.#runIdleTick();
    this.#armed = true;
  }

  get ready(): boolean {
    return this.#armed && !this.#stopped;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#idleTimer?.();
    this.#statusTimer?.();
    for (const c of this.#scheduleTimers.values()) c();
    for (const t of this.#serviceTimers.values()) t.cancel();
    for (const p of this.#pending.values()) p.cancel();
    await this.#queue.drain();
    await this.flushStatus().catch((err: unknown) => this.#failed("status", "status flush at shutdown failed", err));
  }

  #runIdleTick(): void {
    this.idleTick().catch((err: unknown) => this.#failed("idle", "idle tick failed", err));
  }

  // ---- informer events ----

  onScheduleChanged(obj: ScheduleObject): void {
    const k = key(obj.metadata.namespace, obj.metadata.name);
    const before = this.#schedules.get(k);
    if (
      before?.obj.metadata.generation === obj.metadata.generation &&
      before?.obj.metadata.uid === obj.metadata.uid &&
      before !== undefined
    ) {
      before.obj = obj; // status-only update (our own write): nothing to recompute
      return;
    }
    this.#compile(obj);
    this.#evaluateNamespace(obj.metadata.namespace, undefined);
  }

  onScheduleDeleted(obj: ScheduleObject): void {
    const k = key(obj.metadata.namespace, obj.metadata.name);
    this.#schedules.delete(k);
    this.#scheduleTimers.get(k)?.();
    this.#scheduleTimers.delete(k);
    this.#reclaim.delete(k);
    this.#metricsOk.delete(k);
    this.#p.metrics.deleteSchedule(obj.metadata.namespace, obj.metadata.name);
    this.#evaluateNamespace(obj.metadata.namespace, undefined);
  }

  onServiceChanged(obj: IsvcObject): void {
    this.#enqueue(key(obj.metadata.namespace, obj.metadata.name), undefined);
  }

  onServiceDeleted(obj: IsvcObject): void {
    const k = key(obj.metadata.namespace, obj.metadata.name);
    const prev = this.#decisions.get(k);
    this.#account(prev, undefined, this.#p.clock.now());
    this.#decisions.delete(k);
    this.#traffic.delete(k);
    this.#lastSkipEvent.delete(k);
    this.#conflictReported.delete(k);
    this.#inputProblems.delete(k);
    this.#failures.delete(k);
    this.#pending.get(k)?.cancel();
    this.#pending.delete(k);
    this.#notConfirmed.delete(k);
    this.#serviceTimers.get(k)?.cancel();
    this.#serviceTimers.delete(k);
    if (prev?.schedule) this.#markDirty(prev.schedule);
  }

  /** After an informer restart: its cache may hold changes it never announced, deletions included. */
  resync(): void {
    const schedules = this.#p.schedules.list();
    const liveSchedules = new Set(schedules.map((s) => key(s.metadata.namespace, s.metadata.name)));
    for (const [k, e] of this.#schedules) if (!liveSchedules.has(k)) this.onScheduleDeleted(e.obj);
    for (const s of schedules) this.onScheduleChanged(s);
    const liveServices = new Set(this.#p.services.list().map((s) => key(s.metadata.namespace, s.metadata.name)));
    for (const k of [...this.#decisions.keys()]) {
      if (liveServices.has(k)) continue;
      const [namespace, name] = splitKey(k);
      this.onServiceDeleted({ metadata: { namespace, name } });
    }
    this.#evaluateAll(undefined);
  }

  // ---- schedules ----

  #compile(obj: ScheduleObject): void {
    const k = key(obj.metadata.namespace, obj.metadata.name);
    const createdAt = toMs(obj.metadata.creationTimestamp) ?? 0;
    // The same validation as `kserve-reclaimer validate`: what the CRD cannot check (IANA zones, cron
    // ranges, calendar dates) is caught here and reported, and the other schedules go on.
    const parsed = validateServingSchedule({
      apiVersion: SCHEDULE_API,
      kind: "ServingSchedule",
      metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
      spec: obj.spec ?? {},
    });
    this.#scheduleTimers.get(k)?.();
    this.#scheduleTimers.delete(k);
    if (!parsed.ok) {
      const message = parsed.problems.map((p) => `${p.path}: ${p.message}`).join("; ");
      const was = this.#schedules.get(k);
      this.#schedules.set(k, { ok: false, key: k, obj, message, createdAt });
      if (!was || was.ok || was.message !== message) {
        this.#p.log.warn("invalid ServingSchedule", { schedule: k, message });
        this.#p.event(scheduleRef(obj), "Warning", "Invalid", message);
      }
      this.#markDirty(k);
      this.#updateInvalidGauge();
      return;
    }
    let compiled: CompiledSchedule;
    try {
      compiled = compileSchedule(parsed.schedule.spec);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#schedules.set(k, { ok: false, key: k, obj, message, createdAt });
      this.#p.event(scheduleRef(obj), "Warning", "Invalid", message);
      this.#markDirty(k);
      this.#updateInvalidGauge();
      return;
    }
    const prior = obj.status?.gpuHoursReclaimed;
    // GPU-hours survive restarts and failovers through the status they were last written to.
    if (!this.#reclaim.has(k)) this.#reclaim.set(k, { gpus: 0, hours: typeof prior === "number" ? prior : 0, since: this.#p.clock.now() });
    const warnings = parsed.warnings.map((w) => `${w.path}: ${w.message}`);
    this.#schedules.set(k, { ok: true, key: k, obj, spec: parsed.schedule.spec, compiled, createdAt, warnings });
    this.#armScheduleTimer(k);
    this.#markDirty(k);
    this.#updateInvalidGauge();
  }

  #updateInvalidGauge(): void {
    let invalid = 0;
    for (const s of this.#schedules.values()) if (!s.ok) invalid++;
    this.#p.metrics.setSchedulesInvalid(invalid);
  }

  #armScheduleTimer(k: string): void {
    const entry = this.#schedules.get(k);
    if (!entry?.ok || this.#stopped) return;
    const next = nextTransition(entry.compiled, this.#p.clock.now());
    if (!next) return;
    const cancel = this.#p.clock.at(next.at, () => {
      this.#scheduleTimers.delete(k);
      const e = this.#schedules.get(k);
      if (!e?.ok) return;
      this.#p.log.info("schedule transition", { schedule: k, at: new Date(next.at).toISOString(), state: next.state, reason: next.reason });
      this.#evaluateNamespace(e.obj.metadata.namespace, next.at);
      this.#armScheduleTimer(k);
    });
    this.#scheduleTimers.set(k, cancel);
  }

  /** What the schedule says now; cached for the whole period, as nothing but the reason can change within it. */
  #moment(entry: Extract<CompiledEntry, { ok: true }>, now: number): ScheduleMoment {
    if (entry.moment && entry.momentFrom !== undefined && now >= entry.momentFrom && now < (entry.momentValidUntil ?? Infinity)) {
      return { ...entry.moment, now: stateAt(entry.compiled, now) };
    }
    const moment = scheduleMoment(entry.key, entry.spec, entry.compiled, now, entry.createdAt, entry.obj.metadata.generation);
    const { periodStart, next } = moment;
    entry.moment = moment;
    entry.momentFrom = Number.isFinite(periodStart) ? periodStart : Number.NEGATIVE_INFINITY;
    entry.momentValidUntil = next?.at ?? Number.POSITIVE_INFINITY;
    return moment;
  }

  // ---- services ----

  #evaluateAll(boundary: number | undefined): void {
    for (const s of this.#p.services.list()) this.#enqueue(key(s.metadata.namespace, s.metadata.name), boundary);
  }

  #evaluateNamespace(namespace: string, boundary: number | undefined): void {
    for (const s of this.#p.services.list()) {
      if (s.metadata.namespace === namespace) this.#enqueue(key(namespace, s.metadata.name), boundary);
    }
  }

  #enqueue(k: string, boundary: number | undefined): void {
    if (this.#stopped) return;
    this.#queue.run(k, () => this.#reconcile(k, boundary)).catch((err: unknown) => this.#reconcileFailed(k, err));
  }

  #governing(isvc: IsvcObject): { entry: Extract<CompiledEntry, { ok: true }> | undefined; overruled: string[] } {
    const ns = isvc.metadata.namespace;
    const candidates: {
      namespace: string;
      name: string;
      createdAt: number;
      selector: ServingScheduleSpec["selector"];
      entry: Extract<CompiledEntry, { ok: true }>;
    }[] = [];
    for (const entry of this.#schedules.values()) {
      if (!entry.ok || entry.obj.metadata.namespace !== ns) continue;
      candidates.push({ namespace: ns, name: entry.obj.metadata.name, createdAt: entry.createdAt, selector: entry.spec.selector, entry });
    }
    const { governing, overruled } = chooseGoverning(candidates, isvc.metadata.labels);
    return { entry: governing?.entry, overruled: overruled.map((o) => key(o.namespace, o.name)) };
  }

  #facts(isvc: IsvcObject): ServiceFacts {
    return serviceFacts(isvc, { deploymentMode: this.#p.modeOf(isvc), gpus: this.#p.gpusOf(isvc) });
  }

  async #reconcile(k: string, boundary: number | undefined): Promise<void> {
    const [ns, name] = splitKey(k);
    const isvc = this.#p.services.get(ns, name);
    if (!isvc) return;
    const now = this.#p.clock.now();
    const facts = this.#facts(isvc);
    this.#checkConfirmation(k, isvc, facts, now);
    const { entry, overruled } = this.#governing(isvc);
    this.#reportConflict(k, isvc, entry?.key, overruled);
    const moment = entry ? this.#moment(entry, now) : undefined;
    const traffic = entry?.spec.idle
      ? (this.#traffic.get(k) ?? { kind: "unknown" as const, why: this.#p.readTraffic ? "no reading yet" : "no Prometheus configured" })
      : undefined;
    const decision = decide({ now, service: facts, schedule: moment, traffic, globalDryRun: this.#o.dryRun });
    if (entry) this.#reportInputProblems(k, isvc);
    else this.#inputProblems.delete(k);

    const previous = this.#decisions.get(k);
    const since = sinceOf(isvc);
    const current = { decision, schedule: entry?.key, gpus: facts.gpus, since };
    this.#account(previous, current, now);
    this.#decisions.set(k, current);
    if (previous?.schedule && previous.schedule !== entry?.key) this.#markDirty(previous.schedule);
    if (entry) this.#markDirty(entry.key);
    this.#armServiceTimer(k, decision.recheckAt, moment?.next?.at);
    this.#reportSkip(k, isvc, decision);
    this.#failures.delete(k);

    if (decision.action === "none") return;
    const annotations: Record<string, string | null> = {};
    if (decision.action === "stop") annotations[STOP] = "true";
    if (decision.action === "start") annotations[STOP] = "false";
    if (decision.record) annotations[STATE] = JSON.stringify(decision.record);
    const outcome = await this.#p.patchAnnotations(ns, name, annotations, isvc.metadata.resourceVersion);
    switch (outcome.kind) {
      case "conflict":
        // Someone changed it since we decided: the informer will deliver the change and we decide again.
        this.#p.log.info("conflict; re-deciding on fresh data", { service: k });
        return;
      case "notFound":
        return;
      case "error":
        this.#p.log.error("patch failed", { service: k, action: decision.action, message: outcome.message });
        this.#p.event(isvcRef(isvc), "Warning", "PatchFailed", `could not ${decision.action}: ${outcome.message}`);
        // Try again soon; a failed write must not wait for the next transition.
        this.#armServiceTimer(k, now + 5_000, undefined);
        return;
      case "ok":
        break;
    }
    const done = this.#p.clock.now();
    if (decision.action === "record") {
      this.#p.event(isvcRef(isvc), "Normal", "ManualStart", decision.message);
      return;
    }
    const verb = decision.action === "stop" ? "Stopped" : "Started";
    this.#p.log.info(`${decision.action} applied`, {
      service: k,
      reason: decision.reason,
      schedule: entry?.key,
      gpus: facts.gpus,
      lagMs: boundary !== undefined ? done - boundary : undefined,
    });
    this.#p.metrics.transition(decision.action, decision.reason);
    if (boundary !== undefined) this.#p.metrics.observeDecisionLag((done - boundary) / 1000);
    const message = `${decision.message} (schedule ${entry?.key ?? "-"}, ${facts.gpus} GPU${facts.gpus === 1 ? "" : "s"})`;
    this.#p.event(isvcRef(isvc), "Normal", verb, message);
    if (entry) this.#p.event(scheduleRef(entry.obj), "Normal", verb, `${k}: ${message}`);
    this.#awaitConfirmation(k, decision.action, done);
  }

  #armServiceTimer(k: string, at: number | undefined, scheduleNext: number | undefined): void {
    const existing = this.#serviceTimers.get(k);
    // The schedule's own timer covers its transitions; per-service timers are for hold and keep-running expiry and retries.
    if (at === undefined || at === scheduleNext) {
      if (existing) {
        existing.cancel();
        this.#serviceTimers.delete(k);
      }
      return;
    }
    if (existing?.at === at) return;
    existing?.cancel();
    const cancel = this.#p.clock.at(at, () => {
      this.#serviceTimers.delete(k);
      this.#enqueue(k, undefined);
    });
    this.#serviceTimers.set(k, { at, cancel });
  }

  // ---- confirmation ----

  #awaitConfirmation(k: string, action: "stop" | "start", since: number): void {
    this.#pending.get(k)?.cancel();
    this.#notConfirmed.delete(k);
    const timeout = action === "stop" ? this.#o.confirmStopTimeoutMs : this.#o.confirmStartTimeoutMs;
    const deadline = since + timeout;
    const cancel = this.#p.clock.at(deadline, () => {
      const p = this.#pending.get(k);
      if (!p || p.deadline !== deadline) return;
      this.#pending.delete(k);
      this.#notConfirmed.add(k);
      const [ns, name] = splitKey(k);
      const isvc = this.#p.services.get(ns, name);
      const what = action === "stop" ? "set Stopped=True" : "reported Ready=True";
      const message = `KServe has not ${what} within ${Math.round(timeout / 1000)}s of the ${action} (ModelMesh mode, a KServe older than v0.15 (Knative) / v0.16 (Standard), or the model cannot start)`;
      this.#p.log.warn("not confirmed", { service: k, action });
      this.#p.metrics.unconfirmed(action);
      if (isvc) this.#p.event(isvcRef(isvc), "Warning", "NotConfirmed", message);
      const d = this.#decisions.get(k);
      if (d?.schedule) this.#markDirty(d.schedule);
    });
    this.#pending.set(k, { action, deadline, cancel, since });
  }

  #checkConfirmation(k: string, isvc: IsvcObject, facts: ServiceFacts, now: number): void {
    const stopSet = isStopSet(facts.annotations);
    const p = this.#pending.get(k);
    const confirmedStop = stopSet && facts.stoppedByKServe;
    const confirmedStart = !stopSet && !facts.stoppedByKServe && facts.ready?.status === "True";
    if (p && ((p.action === "stop" && confirmedStop) || (p.action === "start" && confirmedStart))) {
      p.cancel();
      this.#pending.delete(k);
      this.#p.log.info(`${p.action} confirmed by KServe`, { service: k, afterMs: now - p.since });
      this.#p.event(
        isvcRef(isvc),
        "Normal",
        p.action === "stop" ? "StopConfirmed" : "StartConfirmed",
        `KServe ${p.action === "stop" ? "set Stopped=True" : "reports Ready=True"} after ${((now - p.since) / 1000).toFixed(1)}s`,
      );
    }
    if (this.#notConfirmed.has(k) && (confirmedStop || confirmedStart)) this.#notConfirmed.delete(k);
  }

  // ---- reports ----

  /**
   * Inputs the daemon ignores (a GPU request that is no whole GPU count, a keep-running-until that is
   * not RFC 3339, an unreadable record) are decided as if absent; each is reported once per service
   * and value, not on every reconcile.
   */
  #reportInputProblems(k: string, isvc: IsvcObject): void {
    const annotations = isvc.metadata.annotations;
    const keep = readKeepRunningUntil(annotations);
    const state = readState(annotations);
    const gpuProblems = this.#p.gpuProblemsOf?.(isvc) ?? [];
    const current = new Map<string, string>();
    if (gpuProblems.length > 0)
      current.set(
        "InvalidGpuRequest",
        `GPUs not counted: ${gpuProblems.slice(0, 5).join("; ")}${gpuProblems.length > 5 ? `; and ${gpuProblems.length - 5} more` : ""}`,
      );
    if (keep.kind === "invalid") current.set("InvalidKeepRunningUntil", keep.why);
    if (state.kind === "invalid") current.set("InvalidStateRecord", `${state.why}; treated as no record`);
    const reported = this.#inputProblems.get(k) ?? new Map<string, string>();
    for (const [reason, message] of current) {
      if (reported.get(reason) === message) continue;
      this.#p.log.warn("ignored input", { service: k, reason, message });
      this.#p.event(isvcRef(isvc), "Warning", reason, message);
    }
    if (current.size > 0) this.#inputProblems.set(k, current);
    else this.#inputProblems.delete(k);
  }

  #reportSkip(k: string, isvc: IsvcObject, decision: Decision): void {
    const skip = decision.skip;
    if (!skip || skip === "NotSelected") {
      this.#lastSkipEvent.delete(k);
      return;
    }
    const signature = `${skip}:${decision.wouldDo ?? ""}`;
    if (this.#lastSkipEvent.get(k) === signature) return;
    this.#lastSkipEvent.set(k, signature);
    const type = skip === "Unsupported" ? "Warning" : "Normal";
    this.#p.event(isvcRef(isvc), type, skip === "Unsupported" ? "Unsupported" : "Skipped", `${skip}: ${decision.message}`);
  }

  #reportConflict(k: string, isvc: IsvcObject, governing: string | undefined, overruled: string[]): void {
    if (overruled.length === 0 || governing === undefined) {
      this.#conflictReported.delete(k);
      return;
    }
    const signature = `${governing}|${overruled.join(",")}`;
    if (this.#conflictReported.get(k) === signature) return;
    this.#conflictReported.set(k, signature);
    const message = `selected by ${[governing, ...overruled].join(", ")}; ${governing} governs (the oldest), the others are ignored for this service`;
    this.#p.log.warn("schedules conflict", { service: k, governing, overruled });
    this.#p.event(isvcRef(isvc), "Warning", "ScheduleConflict", message);
    for (const o of overruled) {
      const e = this.#schedules.get(o);
      if (e) this.#p.event(scheduleRef(e.obj), "Warning", "ScheduleConflict", `${k}: ${message}`);
    }
  }

  #markDirty(scheduleKey: string): void {
    this.#dirtyStatus.add(scheduleKey);
    if (this.#statusTimer || this.#stopped) return;
    this.#statusTimer = this.#p.clock.at(this.#p.clock.now() + this.#o.statusDebounceMs, () => {
      this.#statusTimer = undefined;
      this.flushStatus().catch((err: unknown) => this.#failed("status", "status flush failed", err));
    });
  }

  /** Bring a schedule's GPU-hours up to `now` at its current number of reclaimed GPUs. */
  #settle(scheduleKey: string, now: number): { gpus: number; hours: number; since: number } | undefined {
    const acc = this.#reclaim.get(scheduleKey);
    if (!acc) return undefined;
    if (now > acc.since) {
      const hours = (acc.gpus * (now - acc.since)) / 3_600_000;
      acc.hours += hours;
      this.#p.metrics.addGpuHoursReclaimed(hours);
      acc.since = now;
    }
    return acc;
  }

  /** Keep the per-schedule reclaimed GPUs and the services-by-state gauge in step with one service's decision. */
  #account(
    before: { decision: Decision; schedule: string | undefined; gpus: number } | undefined,
    after: { decision: Decision; schedule: string | undefined; gpus: number } | undefined,
    now: number,
  ): void {
    for (const [entry, sign] of [
      [before, -1],
      [after, 1],
    ] as const) {
      if (!entry?.schedule) continue;
      this.#byState[entry.decision.observed] += sign;
      if (!reclaimedBy(entry.decision)) continue;
      const acc = this.#settle(entry.schedule, now);
      if (!acc) continue;
      acc.gpus += sign * entry.gpus;
      const [ns, name] = splitKey(entry.schedule);
      this.#p.metrics.setScheduleGpusReclaimed(ns, name, acc.gpus);
    }
    this.#p.metrics.setServices(this.#byState);
  }

  async flushStatus(): Promise<void> {
    const now = this.#p.clock.now();
    const dirty = [...this.#dirtyStatus];
    this.#dirtyStatus.clear();
    const reports = new Map<string, ServiceReport[]>();
    for (const [k, d] of this.#decisions) {
      if (!d.schedule || !dirty.includes(d.schedule)) continue;
      const list = reports.get(d.schedule) ?? [];
      list.push({
        name: splitKey(k)[1],
        decision: d.decision,
        gpus: d.gpus,
        since: d.since,
        nextTransition: d.decision.recheckAt,
        notConfirmed: this.#notConfirmed.has(k),
      });
      reports.set(d.schedule, list);
    }
    // One schedule's failure (building or writing its status) is reported, and the others are written.
    await Promise.all(
      dirty.map((s) => this.#flushOne(s, now, reports).catch((err: unknown) => this.#failed("status", `status of ${s} failed`, err))),
    );
  }

  async #flushOne(s: string, now: number, reports: Map<string, ServiceReport[]>): Promise<void> {
    const entry = this.#schedules.get(s);
    if (!entry) return;
    const [ns, name] = splitKey(s);
    const next = entry.ok ? nextTransition(entry.compiled, now) : undefined;
    const status = capStatus(
      buildStatus({
        generation: entry.obj.metadata.generation,
        valid: entry.ok ? { ok: true, warnings: entry.warnings ?? [] } : { ok: false, message: entry.message },
        metrics: entry.ok && entry.spec.idle ? (this.#metricsOk.get(s) ?? { ok: true }) : undefined,
        services: reports.get(s) ?? [],
        next,
        gpuHoursReclaimed: this.#settle(s, now)?.hours ?? 0,
        previous: entry.obj.status,
        now,
      }),
    );
    // GPU-hours grow every second while GPUs are reclaimed. Writing them on every tick would
    // make a status write per schedule per tick at rest; they are carried along with the
    // next real change instead, and /metrics has the live figure.
    const before = entry.obj.status;
    if (before !== undefined && canonicalJson({ ...status, gpuHoursReclaimed: before.gpuHoursReclaimed }) === canonicalJson(before)) return;
    await this.#p.writeStatus(ns, name, status);
  }

  // ---- idle ----

  /** One batched query per (preset, window) for all services, then re-decide services under idle policies. */
  async idleTick(): Promise<void> {
    if (this.#stopped) return;
    const requests: TrafficRequest[] = [];
    const governed: { k: string; entry: Extract<CompiledEntry, { ok: true }> }[] = [];
    for (const isvc of this.#p.services.list()) {
      const { entry } = this.#governing(isvc);
      if (!entry?.spec.idle) continue;
      const k = key(isvc.metadata.namespace, isvc.metadata.name);
      governed.push({ k, entry });
      requests.push(trafficRequest(k, entry.spec.idle));
    }
    const idleSchedules = [...this.#schedules.values()].filter(
      (e): e is Extract<CompiledEntry, { ok: true }> => e.ok && e.spec.idle !== undefined,
    );
    if (idleSchedules.length === 0) return;
    let reading: TrafficReading | undefined;
    try {
      reading = this.#p.readTraffic && requests.length > 0 ? await this.#p.readTraffic(requests) : undefined;
    } catch (err) {
      // A reader that throws instead of answering "unknown": every rate is unknown this tick.
      this.#failed("idle", "reading request rates failed", err);
    }
    for (const q of reading?.queries ?? []) {
      this.#p.metrics.prometheusQuery(q.preset, q.latencySeconds, q.ok);
      this.#p.metrics.setMetricsSourceAvailable(q.preset, q.ok);
    }
    for (const { k } of governed) {
      const result = reading?.byService.get(k) ?? {
        kind: "unknown" as const,
        why: this.#p.readTraffic ? "no reading" : "no Prometheus configured (--prometheus-url)",
      };
      this.#traffic.set(k, result);
    }
    for (const e of idleSchedules) {
      const idle = e.spec.idle!;
      // The query's window is in PromQL form ("1800s") and the policy's as written ("30m"): compare durations, not text.
      const window = parseDuration(idle.after);
      // A custom query's error can quote its namespace's series: only that namespace may see it.
      const ns = e.obj.metadata.namespace;
      const outcome = reading?.queries.find(
        (q) => q.preset === idle.metric && parseDuration(q.window) === window && (q.namespace === undefined || q.namespace === ns),
      );
      const status: { ok: true } | { ok: false; message: string } = !this.#p.readTraffic
        ? { ok: false, message: "no Prometheus configured (--prometheus-url)" }
        : outcome === undefined || outcome.ok
          ? { ok: true }
          : { ok: false, message: outcome.error ?? "query failed" };
      const before = this.#metricsOk.get(e.key);
      this.#metricsOk.set(e.key, status);
      if (!before || before.ok !== status.ok) {
        this.#markDirty(e.key);
        if (!status.ok)
          this.#p.event(
            scheduleRef(e.obj),
            "Warning",
            "MetricsUnavailable",
            `${status.message}; idle stops follow whenMetricsUnavailable (${idle.whenMetricsUnavailable})`,
          );
      }
    }
    for (const { k } of governed) this.#enqueue(k, undefined);
  }
}

function trafficRequest(service: string, idle: NonNullable<ServingScheduleSpec["idle"]>): TrafficRequest {
  return { service, preset: idle.metric, window: idle.after, custom: idle.custom };
}

/** A failing service is retried after 5 s, then 10 s, ..., at most every 5 minutes. */
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 5 * 60_000;

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

function isvcRef(isvc: IsvcObject): ObjectRef {
  return {
    kind: "InferenceService",
    apiVersion: ISVC_API,
    namespace: isvc.metadata.namespace,
    name: isvc.metadata.name,
    ...(isvc.metadata.uid ? { uid: isvc.metadata.uid } : {}),
  };
}

function scheduleRef(obj: ScheduleObject): ObjectRef {
  return {
    kind: "ServingSchedule",
    apiVersion: SCHEDULE_API,
    namespace: obj.metadata.namespace,
    name: obj.metadata.name,
    ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
  };
}
