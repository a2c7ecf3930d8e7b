// Events a person reads on `kubectl describe`, each sent once per service and value rather than on
// every reconcile: inputs the daemon ignores, a decision held back (skip), two schedules selecting
// one service. What was last sent lives in the service's record, under one key per kind.
import { readKeepRunningUntil, readState } from "../api/annotations.ts";
import type { Decision } from "../decide/decide.ts";
import type { ValidSchedule } from "../decide/schedules.ts";
import type { Service } from "../sources/kube/service.ts";
import { errorText, keyOf, type ReconcilerPorts, type ServiceRecord, scheduleLabel, scheduleRef, serviceRef } from "./ports.ts";
import type { ScheduleBook } from "./schedules.ts";
import type { BatchTarget, TransitionEvents } from "./transitionEvents.ts";

/** The patch was refused or failed after the patcher's own retries: the queue retries it with backoff. */
export class PatchFailed extends Error {}

const PROBLEM = "problem:";
/** What a schedule's own timeline does (src/schedule/engine.ts Reason): reported per schedule, not per service. */
const SCHEDULED = new Set(["Schedule", "Warmup", "Exception"]);
const INPUT_PROBLEMS = ["InvalidGpuRequest", "InvalidKeepRunningUntil", "InvalidStateRecord"] as const;
type InputProblem = (typeof INPUT_PROBLEMS)[number];

export class Reports {
  readonly #p: Pick<ReconcilerPorts, "log" | "event" | "metrics">;
  readonly #transitions: TransitionEvents;

  constructor(ports: Pick<ReconcilerPorts, "log" | "event" | "metrics">, transitions: TransitionEvents) {
    this.#p = ports;
    this.#transitions = transitions;
  }

  /**
   * Inputs the daemon ignores (a GPU request that is no whole GPU count, a keep-running-until that
   * is not RFC 3339, an unreadable record) are decided as if absent, and reported while governed.
   */
  inputProblems(service: Service, record: ServiceRecord, governed: boolean): void {
    const current = new Map<InputProblem, string>();
    const annotations = service.metadata.annotations;
    const keep = readKeepRunningUntil(annotations);
    const state = readState(annotations);
    const gpu = service.gpuProblems;
    if (governed && gpu.length > 0)
      current.set(
        "InvalidGpuRequest",
        `GPUs not counted: ${gpu.slice(0, 5).join("; ")}${gpu.length > 5 ? `; and ${gpu.length - 5} more` : ""}`,
      );
    if (governed && keep.kind === "invalid") current.set("InvalidKeepRunningUntil", keep.why);
    if (governed && state.kind === "invalid") current.set("InvalidStateRecord", `${state.why}; treated as no record`);
    for (const reason of INPUT_PROBLEMS) if (!current.has(reason)) record.reported.delete(PROBLEM + reason);
    for (const [reason, message] of current) {
      if (record.reported.get(PROBLEM + reason) === message) continue;
      record.reported.set(PROBLEM + reason, message);
      this.#p.log.warn("ignored input", { service: keyOf(service), reason, message });
      this.#p.event(serviceRef(service), "Warning", reason, message);
    }
  }

  skip(service: Service, record: ServiceRecord, decision: Decision): void {
    const skip = decision.skip;
    if (!skip || skip === "NotSelected") {
      record.reported.delete("skip");
      return;
    }
    const signature = `${skip}:${decision.wouldDo ?? ""}`;
    if (record.reported.get("skip") === signature) return;
    record.reported.set("skip", signature);
    const unsupported = skip === "Unsupported";
    this.#p.event(
      serviceRef(service),
      unsupported ? "Warning" : "Normal",
      unsupported ? "Unsupported" : "Skipped",
      `${skip}: ${decision.message}`,
    );
  }

  conflict(service: Service, record: ServiceRecord, book: ScheduleBook, governing: string | undefined, overruled: string[]): void {
    if (overruled.length === 0 || governing === undefined) {
      record.reported.delete("conflict");
      return;
    }
    const signature = `${governing}|${overruled.join(",")}`;
    if (record.reported.get("conflict") === signature) return;
    record.reported.set("conflict", signature);
    const k = keyOf(service);
    const message = `selected by ${[governing, ...overruled].map(scheduleLabel).join(", ")}; ${scheduleLabel(governing)} governs (the oldest), the others are ignored for this service`;
    this.#p.log.warn("schedules conflict", { service: k, governing, overruled });
    this.#p.event(serviceRef(service), "Warning", "ScheduleConflict", message);
    for (const o of overruled) {
      const other = book.get(o);
      if (other) this.#p.event(scheduleRef(other.entry.obj), "Warning", "ScheduleConflict", `${k}: ${message}`);
    }
  }

  /**
   * A namespace's own ServingSchedule governs a service that ClusterServingSchedules select too: by
   * design, not a conflict, so Normal Events, on the service and on each cluster schedule, once per change.
   */
  override(service: Service, record: ServiceRecord, book: ScheduleBook, governing: string | undefined, overridden: string[]): void {
    if (overridden.length === 0 || governing === undefined) {
      record.reported.delete("override");
      return;
    }
    const signature = `${governing}|${overridden.join(",")}`;
    if (record.reported.get("override") === signature) return;
    record.reported.set("override", signature);
    const k = keyOf(service);
    const message = `ServingSchedule ${governing} governs (a namespace's own schedule comes first); it overrides ${overridden.map(scheduleLabel).join(", ")} for this service`;
    this.#p.log.info("cluster schedule overridden", { service: k, governing, overridden });
    this.#p.event(serviceRef(service), "Normal", "ScheduleOverridden", message);
    for (const o of overridden) {
      const other = book.get(o);
      if (other) this.#p.event(scheduleRef(other.entry.obj), "Normal", "ScheduleOverridden", `${k}: ${message}`);
    }
  }

  /**
   * A stop or start went through: logged and counted per service. What the schedule's timeline did
   * (a transition: Schedule, Warmup, Exception) is one Event on the schedule per transition, naming
   * the services (TransitionEvents), and none on each service: its reclaimer.dev/state annotation,
   * written with the stop, says why and which schedule. Anything else (idle, metrics unavailable,
   * keep-running-until) happens to one service at a time and someone asks why: an Event on the
   * service, and the schedule's batched Event names it too. Returns the batch a scheduled
   * transition joined, so KServe's confirmation of it is batched alike.
   */
  applied(
    service: Service,
    decision: Decision,
    action: "stop" | "start",
    governing: ValidSchedule | undefined,
    lagMs: number | undefined,
    now: number,
  ): BatchTarget | undefined {
    const k = keyOf(service);
    const { gpus } = service;
    this.#p.log.info(`${action} applied`, { service: k, reason: decision.reason, schedule: governing?.key, gpus, lagMs });
    this.#p.metrics.transition(action, decision.reason);
    if (lagMs !== undefined) this.#p.metrics.observeDecisionLag(lagMs / 1000);
    const verb = action === "stop" ? "Stopped" : "Started";
    const scheduled = governing !== undefined && SCHEDULED.has(decision.reason);
    if (!scheduled) {
      const message = `${decision.message} (schedule ${governing ? scheduleLabel(governing.key) : "-"}, ${gpus} GPU${gpus === 1 ? "" : "s"})`;
      // the one start nobody scheduled or asked for by name: a client's request did it
      const reason = action === "start" && decision.reason === "Request" ? "WokenByRequest" : verb;
      this.#p.event(serviceRef(service), "Normal", reason, message);
    }
    if (!governing) return undefined;
    const transition = decision.record?.transition === undefined ? undefined : Date.parse(decision.record.transition);
    const target: BatchTarget = {
      ref: scheduleRef(governing.obj),
      schedule: governing.key,
      at: scheduled ? (transition ?? now) : undefined,
      timeZone: governing.spec.timeZone,
      why: scheduled ? decision.message.replace(/^(Stopped|Running): /, "") : decision.reason,
      service: k,
      gpus,
    };
    this.#transitions.add({ ...target, reason: verb });
    return scheduled ? target : undefined;
  }

  /**
   * One service's handling failed: a refused patch, a bug, or an input nobody foresaw. It is that
   * service's problem, not the daemon's: logged, shown on the service as an Event (a bug once per
   * message), and retried with backoff by the queue; every other service goes on.
   */
  failed(
    k: string,
    service: Service | undefined,
    record: ServiceRecord | undefined,
    err: unknown,
    attempt: number,
    retryInMs: number,
  ): void {
    const message = errorText(err);
    if (err instanceof PatchFailed) {
      this.#p.log.error("patch failed; retrying", { service: k, attempt, retryInMs, err: message });
      if (service) this.#p.event(serviceRef(service), "Warning", "PatchFailed", message);
      return;
    }
    const stack = err instanceof Error ? err.stack : undefined;
    this.#p.log.error("reconcile failed; retrying", { service: k, attempt, retryInMs, err: message, stack });
    this.#p.metrics.error("reconcile");
    if (!service || record?.reported.get("failure") === message) return;
    record?.reported.set("failure", message);
    this.#p.event(serviceRef(service), "Warning", "ReconcileFailed", `could not decide or act on this service: ${message}; retrying`);
  }

  /** Predictor pods still there at the stop timeout: their GPUs are not free yet. */
  notReleased(k: string, service: Service | undefined, pods: number, afterStopSeconds: number): void {
    this.#p.log.warn("GPUs not released: predictor pods still terminating", { service: k, pods, afterStopSeconds });
    this.#p.metrics.gpusNotReleased();
    if (service)
      this.#p.event(
        serviceRef(service),
        "Warning",
        "GPUsNotReleased",
        `${pods} predictor pod(s) still terminating ${afterStopSeconds}s after the stop: its GPUs are not free yet (a long terminationGracePeriodSeconds, a finalizer, or an unreachable node)`,
      );
  }
}
