// The reconciler: the thin shell around the pure decision, in the reconcile shape of
// controller-runtime. Watch events put a service's key on the work queue; reconcile(key) reads the
// informer caches, asks src/decide/ what the service should be, patches through the port, and
// returns when it wants to be called again. One record per service holds all it remembers (see
// ServiceRecord); schedules, the GPU-hours ledger, confirmations, status writes and the idle tick
// are the small modules next to this file.
import { isStopSet, readState, STATE, STOP } from "../api/annotations.ts";
import type { WakePolicy } from "../api/servingSchedule.ts";
import type { WakeState } from "../api/wake.ts";
import { type Decision, decide, type Traffic } from "../decide/decide.ts";
import { serviceFacts, sinceOf } from "../decide/facts.ts";
import type { ValidSchedule } from "../decide/schedules.ts";
import type { Service } from "../sources/kube/service.ts";
import { CLUSTER_SCOPE, type ScheduleObject } from "../sources/kube/servingSchedule.ts";
import { Confirmations } from "./confirmations.ts";
import { IdleTick } from "./idle.ts";
import { GpuLedger } from "./ledger.ts";
import {
  errorText,
  keyOf,
  newRecord,
  type ReconcilerOptions,
  type ReconcilerPorts,
  type ServiceRecord,
  serviceId,
  serviceRef,
} from "./ports.ts";
import { WorkQueue } from "./queue.ts";
import { wakeRouteWanted } from "./wake.ts";
import { isReleased, nextRelease, type Release, releaseDeadline, releaseSeconds } from "./release.ts";
import { PatchFailed, Reports } from "./reports.ts";
import { ScheduleBook } from "./schedules.ts";
import { StatusFlush } from "./statusFlush.ts";
import { DEFAULT_BATCH_TIMINGS, TransitionEvents } from "./transitionEvents.ts";

export type { ReconcilerOptions, ReconcilerPorts } from "./ports.ts";

/** What the wake API answers for one service (docs: the wake contract). */
export type WakeOutcome = { state: WakeState; message: string; policy: WakePolicy | undefined };

/** After a 409 the cache is read again this soon, in case the watch event that explains it is late. */
const CONFLICT_RECHECK_MS = 1_000;
/** How old a wake route must be before a start: two whole seconds apart from the routes KServe recreates. */
export const WAKE_ROUTE_MIN_AGE_MS = 2_000;

export class Reconciler {
  readonly #p: ReconcilerPorts;
  readonly #o: ReconcilerOptions;
  readonly #services = new Map<string, ServiceRecord>();
  readonly #queue: WorkQueue;
  readonly #ledger: GpuLedger;
  readonly #book: ScheduleBook;
  readonly #confirmations: Confirmations;
  readonly #status: StatusFlush;
  readonly #idle: IdleTick;
  readonly #reports: Reports;
  readonly #transitions: TransitionEvents;
  #armed = false;
  #stopped = false;

  constructor(ports: ReconcilerPorts, options: ReconcilerOptions) {
    this.#p = ports;
    this.#o = options;
    const failed = (what: string, err: unknown, kind: "status" | "idle") => {
      ports.log.error(what, { err: errorText(err), stack: err instanceof Error ? err.stack : undefined });
      ports.metrics.error(kind);
    };
    const retrying = (k: string, err: unknown, attempt: number, retryAt: number) =>
      this.#reports.failed(k, ports.services.get(k), this.#services.get(k), err, attempt, retryAt - ports.clock.now());
    this.#queue = new WorkQueue(ports.clock, (k, boundary) => this.reconcile(k, boundary), retrying);
    this.#ledger = new GpuLedger(ports.metrics);
    const changed = (schedule: string) => this.#status.mark(schedule);
    this.#book = new ScheduleBook({
      ports,
      ledger: this.#ledger,
      changed,
      transition: (ns, at) => this.#decideNamespace(ns, at),
      warm: ports.warmWrites ? (ns) => this.#warm(ns) : undefined,
    });
    this.#transitions = new TransitionEvents(ports, options.transitionBatch ?? DEFAULT_BATCH_TIMINGS);
    const timeouts = { stopMs: options.confirmStopTimeoutMs, startMs: options.confirmStartTimeoutMs };
    this.#confirmations = new Confirmations(
      ports,
      timeouts,
      (r) => {
        if (r.last?.schedule) changed(r.last.schedule);
      },
      this.#transitions,
    );
    this.#status = new StatusFlush({
      ports,
      debounceMs: options.statusDebounceMs,
      book: this.#book,
      ledger: this.#ledger,
      services: () => this.#services.entries(),
      failed: (what, err) => failed(what, err, "status"),
    });
    this.#idle = new IdleTick({
      ports,
      book: this.#book,
      record: (k) => this.#record(k),
      changed,
      decideAgain: (k) => this.#queue.add(k),
      failed: (what, err) => failed(what, err, "idle"),
    });
    this.#reports = new Reports(ports, this.#transitions);
  }

  /** Caches are synced: take in every schedule, decide every service, start the idle tick. */
  start(): void {
    for (const s of this.#p.schedules.list()) this.#book.upsert(s);
    for (const s of this.#p.services.list()) this.#queue.add(keyOf(s));
    this.#idle.start(this.#o.idleIntervalMs);
    this.#armed = true;
  }

  get ready(): boolean {
    return this.#armed && !this.#stopped;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#idle.stop();
    this.#status.stop();
    this.#book.stop();
    for (const r of this.#services.values()) {
      r.awaiting?.cancel();
      r.releaseDeadline?.cancel();
    }
    await this.#queue.stop();
    // batched transition Events go to the recorder now; main.ts's drainWrites writes them
    this.#transitions.flush();
    await this.flushStatus();
  }

  flushStatus(): Promise<void> {
    return this.#status.flush();
  }

  idleTick(): Promise<void> {
    return this.#idle.tick();
  }

  /** What the reconciler holds, for tests and debugging: keys of service records, schedules, and queued or timed work. */
  tracked(): { services: string[]; schedules: string[]; queued: string[] } {
    return { services: [...this.#services.keys()], schedules: [...this.#book.records()].map(([k]) => k), queued: this.#queue.keys() };
  }

  // ---- watch events ----

  onScheduleChanged(obj: ScheduleObject): void {
    if (this.#book.upsert(obj)) this.#decideNamespace(obj.metadata.namespace, undefined);
  }

  onScheduleDeleted(obj: ScheduleObject): void {
    this.#forgetSchedule(keyOf(obj));
  }

  /** A namespace's labels may have changed: which ClusterServingSchedule reaches its services may too. */
  onNamespaceChanged(name: string): void {
    if (this.#book.hasClusterSchedules()) this.#decideNamespace(name, undefined);
  }

  onServiceChanged(obj: Service): void {
    if (!this.#stopped) this.#queue.add(keyOf(obj));
  }

  onServiceDeleted(obj: Service): void {
    this.#forgetService(keyOf(obj));
  }

  /**
   * The number of predictor pods of service `k` ("namespace/name") changed. Only a stopped
   * service's count matters (its GPUs are free when it reaches 0), so a running service's pod
   * churn costs nothing here.
   */
  onPodsChanged(k: string): void {
    if (this.#stopped) return;
    if (this.#services.get(k)?.last?.decision.observed === "Stopped") this.#queue.add(k);
  }

  /** After a watch restart: its cache may hold changes it never announced, deletions included. */
  resync(): void {
    const schedules = this.#p.schedules.list();
    const liveSchedules = new Set(schedules.map(keyOf));
    for (const [k] of [...this.#book.records()]) if (!liveSchedules.has(k)) this.#forgetSchedule(k);
    for (const s of schedules) this.onScheduleChanged(s);
    const services = this.#p.services.list();
    const liveServices = new Set(services.map(keyOf));
    for (const k of new Set([...this.#services.keys(), ...this.#queue.keys()])) if (!liveServices.has(k)) this.#forgetService(k);
    for (const s of services) this.onServiceChanged(s);
  }

  #forgetSchedule(k: string): void {
    const record = this.#book.remove(k);
    if (!record) return;
    const { namespace, name } = record.entry.obj.metadata;
    this.#p.metrics.deleteSchedule(namespace, name);
    this.#p.forgetStatus(namespace, name);
    this.#decideNamespace(namespace, undefined);
  }

  #forgetService(k: string): void {
    const record = this.#services.get(k);
    this.#services.delete(k);
    this.#queue.forget(k);
    if (!record) return;
    record.awaiting?.cancel();
    record.releaseDeadline?.cancel();
    this.#ledger.move(record.last, undefined, this.#p.clock.now());
    if (record.last?.schedule) this.#status.mark(record.last.schedule);
  }

  #decideNamespace(namespace: string, boundary: number | undefined): void {
    if (this.#stopped) return;
    for (const s of this.#servicesOf(namespace)) this.#queue.add(keyOf(s), boundary);
  }

  /** A transition of the namespace is near: its services may all be written to at once. */
  #warm(namespace: string): void {
    if (this.#stopped) return;
    const count = this.#servicesOf(namespace).length;
    if (count > 0) this.#p.warmWrites?.(count);
  }

  /** The services a schedule of the namespace can reach: all of them for CLUSTER_SCOPE. */
  #servicesOf(namespace: string): Service[] {
    const all = this.#p.services.list();
    return namespace === CLUSTER_SCOPE ? all : all.filter((s) => s.metadata.namespace === namespace);
  }

  #record(k: string): ServiceRecord {
    let record = this.#services.get(k);
    if (!record) this.#services.set(k, (record = newRecord()));
    return record;
  }

  /** A wake route appeared or went away: decide the service again (it re-creates or drops its own). */
  poke(k: string): void {
    if (!this.#stopped && this.#p.services.get(k)) this.#queue.add(k);
  }

  /**
   * A client asked for the service through the waker: records the wake request when it would
   * start the service (idempotent: many requests are one start) and says what the waker should do.
   * Undefined when no such service is known.
   */
  wake(k: string): WakeOutcome | undefined {
    const service = this.#p.services.get(k);
    if (!service || this.#stopped) return undefined;
    const now = this.#p.clock.now();
    const { facts, governing, moment, traffic } = this.#gather(service, this.#services.get(k)?.traffic, now);
    const policy = governing?.spec.wake;
    if (policy?.onRequest !== true)
      return { state: "Refused", message: `${k} is not woken on request (its schedule has no wake.onRequest)`, policy };
    if (!isStopSet(facts.annotations)) {
      if (!facts.stoppedByKServe && facts.ready?.status === "True") return { state: "Ready", message: `${k} is Ready`, policy };
      return { state: "Starting", message: `${k} is starting`, policy };
    }
    const record = this.#record(k);
    const decision = decide({ now, service: facts, schedule: moment, traffic, globalDryRun: this.#o.dryRun, wakeRequestedAt: now });
    const wouldStart = decision.action === "start" && decision.reason === "Request";
    if (!wouldStart) {
      if (decision.action === "start") return { state: "Starting", message: `${k} is starting (${decision.reason})`, policy };
      return { state: "Refused", message: `${k} will not be started: ${decision.message}`, policy };
    }
    // the first request after the stop counts: later ones do not move it, so the record stays "woken at"
    const stopAt = readState(facts.annotations);
    const stoppedAt = stopAt.kind === "ok" ? Date.parse(stopAt.state.at) : Number.NaN;
    if (record.wakeRequestedAt === undefined || !(record.wakeRequestedAt >= stoppedAt)) record.wakeRequestedAt = now;
    this.#queue.add(k);
    return { state: "Starting", message: `${k} is starting: woken by this request`, policy };
  }

  // ---- one service ----

  /** Decides one service and applies the decision; returns when it must be decided again even if nothing changes. */
  async reconcile(k: string, boundary?: number): Promise<number | undefined> {
    const service = this.#p.services.get(k);
    if (!service) return undefined;
    const record = this.#record(k);
    const now = this.#p.clock.now();
    // 1. gather what the decision reads; 2. note what KServe did since the last patch
    const { facts, governing, overruled, overridden, moment, traffic } = this.#gather(service, record.traffic, now);
    this.#confirmations.observe(k, record, service, facts, now);
    this.#reports.conflict(service, record, this.#book, governing?.key, overruled);
    this.#reports.override(service, record, this.#book, governing?.key, overridden);
    // 3. decide (pure: src/decide/decide.ts)
    const decision = decide({
      now,
      service: facts,
      schedule: moment,
      traffic,
      globalDryRun: this.#o.dryRun,
      wakeRequestedAt: record.wakeRequestedAt,
    });
    this.#reports.inputProblems(service, record, governing !== undefined);
    // 4. account: GPUs released, GPU-hours, the schedules' status
    const release = this.#release(k, service, record, decision, now);
    this.#account(
      record,
      {
        decision,
        schedule: governing?.key,
        gpus: facts.gpus,
        since: sinceOf(service),
        overridden,
        released: release === undefined ? undefined : isReleased(release),
        releasedAt: release?.kind === "released" ? release.at : undefined,
      },
      now,
    );
    this.#reports.skip(service, record, decision);
    record.reported.delete("failure");
    // 5. act: the wake route, then the patch
    // The schedule's own timer covers its transitions; a service's own recheck is for hold and keep-running expiry.
    const recheckAt = decision.recheckAt === moment?.next?.at ? undefined : decision.recheckAt;
    await this.#wakeRoute(k, service, record, decision, governing, now);
    if (decision.action === "none") return recheckAt;
    // Gateway API breaks a tie between routes of the same creation second by name, and "llama"
    // sorts before "llama-wake": a start in the same second as the wake route's creation would let
    // the HTTPRoutes KServe recreates win while the model loads. Timestamps have 1 s resolution.
    const routeAt = record.wakeRouteCreatedAt;
    if (decision.action === "start" && routeAt !== undefined && now < routeAt + WAKE_ROUTE_MIN_AGE_MS)
      return routeAt + WAKE_ROUTE_MIN_AGE_MS;
    const applied = await this.#apply(k, service, record, decision, governing, boundary);
    return applied ? recheckAt : now + CONFLICT_RECHECK_MS;
  }

  /** What one decision about a service reads: its facts, the schedule governing it and that schedule's moment, the traffic. */
  #gather(service: Service, reading: Traffic | undefined, now: number) {
    const facts = serviceFacts(service, { deploymentMode: service.mode, gpus: service.gpus });
    const { governing, overruled, overridden } = this.#book.governing(service);
    const moment = governing ? this.#book.moment(governing, now) : undefined;
    const unknown: Traffic = { kind: "unknown", why: this.#p.readTraffic ? "no reading yet" : "no Prometheus configured" };
    const traffic = governing?.spec.idle ? (reading ?? unknown) : undefined;
    return { facts, governing, overruled, overridden, moment, traffic };
  }

  /** The GPU-hours ledger and the status of every schedule whose count this outcome changes. */
  #account(record: ServiceRecord, outcome: NonNullable<ServiceRecord["last"]>, now: number): void {
    this.#ledger.move(record.last, outcome, now);
    const before = record.last;
    if (before?.schedule && before.schedule !== outcome.schedule) this.#status.mark(before.schedule);
    if (outcome.schedule) this.#status.mark(outcome.schedule);
    // a cluster schedule's status counts the services it gave way on: it changes when that set does
    const overriddenBefore = before?.overridden ?? [];
    const overridden = outcome.overridden ?? [];
    if (overriddenBefore.join() !== overridden.join()) for (const o of new Set([...overriddenBefore, ...overridden])) this.#status.mark(o);
    record.last = outcome;
  }

  /**
   * Follows a stopped service to the instant its last predictor pod is gone: that instant is its
   * release (status, ledger, histogram); pods still there at the stop timeout are a Warning.
   */
  #release(k: string, service: Service, record: ServiceRecord, decision: Decision, now: number): Release | undefined {
    const holding = this.#p.pods?.holding(k) ?? 0;
    const state = readState(service.metadata.annotations);
    const at = state.kind === "ok" && state.state.action === "stop" ? Date.parse(state.state.at) : Number.NaN;
    const previous = record.release;
    const release = nextRelease(previous, decision.observed === "Stopped", holding, Number.isFinite(at) ? at : undefined, now);
    record.release = release;
    const seconds = releaseSeconds(previous, release, record.awaiting?.action === "stop");
    if (seconds !== undefined) {
      this.#p.metrics.gpuRelease(service.mode, seconds);
      this.#p.log.info("GPUs released: the last predictor pod is gone", { service: k, afterStopSeconds: seconds });
    }
    const deadline = releaseDeadline(release, this.#o.confirmStopTimeoutMs);
    if (record.releaseDeadline?.at !== deadline) {
      record.releaseDeadline?.cancel();
      record.releaseDeadline =
        deadline === undefined
          ? undefined
          : { at: deadline, cancel: this.#p.clock.at(deadline, () => this.#notReleased(k, record, deadline)) };
    }
    return release;
  }

  #notReleased(k: string, record: ServiceRecord, deadline: number): void {
    const release = record.release;
    if (record.releaseDeadline?.at !== deadline || release?.kind !== "releasing") return;
    // kept (not cleared) so the same deadline is not armed again by the next reconcile
    record.releaseDeadline = { at: deadline, cancel: () => undefined };
    const after = Math.round((this.#p.clock.now() - release.stoppedAt) / 1000);
    this.#reports.notReleased(k, this.#p.services.get(k), release.pods, after);
  }

  /**
   * The wake route follows the service: there (created before the stop patch) while the daemon has
   * it stopped and its schedule wakes on request; kept while it starts again, so requests reach the
   * waker until KServe's own route serves a Ready predictor; gone otherwise. Dry runs and suspended
   * schedules change nothing here either.
   */
  async #wakeRoute(
    k: string,
    service: Service,
    record: ServiceRecord,
    decision: Decision,
    governing: ValidSchedule | undefined,
    now: number,
  ): Promise<void> {
    const routes = this.#p.wakeRoutes;
    if (!routes || this.#o.dryRun || governing?.spec.dryRun || governing?.spec.suspend) return;
    const want = wakeRouteWanted(decision, service.metadata.annotations ?? {}, governing?.spec.wake?.onRequest === true);
    const has = routes.has(k);
    const { namespace, name } = service.metadata;
    // undefined (not listed yet): a missing route is created at once; removal waits for the listing
    if (want === "there" && has !== true) {
      await routes.ensure(service);
      record.wakeRouteCreatedAt = now;
    } else if (want === "gone" && has === true) await routes.remove(namespace, name);
  }

  /** Patches the decision; false on a conflict (the object changed since it was read). */
  async #apply(
    k: string,
    service: Service,
    record: ServiceRecord,
    decision: Decision,
    governing: ValidSchedule | undefined,
    boundary: number | undefined,
  ): Promise<boolean> {
    const annotations: Record<string, string | null> = {};
    if (decision.action === "stop") annotations[STOP] = "true";
    if (decision.action === "start") annotations[STOP] = "false";
    if (decision.record) annotations[STATE] = JSON.stringify(decision.record);
    const result = await this.#p.patchAnnotations(serviceId(service), annotations, service.metadata.resourceVersion);
    if (result.kind === "conflict") {
      this.#p.log.info("conflict; re-deciding on fresh data", { service: k });
      return false;
    }
    if (result.kind === "notFound") return true;
    if (result.kind === "error") throw new PatchFailed(`could not ${decision.action}: ${result.message}`);
    if (decision.action === "record") {
      this.#p.event(serviceRef(service), "Normal", "ManualStart", decision.message);
      return true;
    }
    const done = this.#p.clock.now();
    const action = decision.action === "stop" ? "stop" : "start";
    if (action === "start") {
      record.wakeRequestedAt = undefined;
      if (decision.reason === "Request") this.#p.metrics.wake(service.metadata.namespace);
    }
    const batch = this.#reports.applied(service, decision, action, governing, boundary !== undefined ? done - boundary : undefined, done);
    this.#confirmations.expect(k, record, action, done, batch);
    return true;
  }
}
