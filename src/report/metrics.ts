// The daemon's own metrics, in their own prom-client Registry (never the global one), behind typed
// methods so callers cannot invent label sets. Per-schedule series are deleted when the schedule
// goes away, so label cardinality stays bounded by what exists.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type TransitionAction = "stop" | "start";

/** Seconds from a schedule boundary to the decision being applied. */
/** Stop to last predictor pod gone: a grace period of 30 s is KServe's default, minutes are a model server draining. */
export const GPU_RELEASE_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800];
export const DECISION_LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
export const QUERY_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type MetricsOptions = {
  /** Process metrics (CPU, memory, event loop lag, handles) with the usual process_/nodejs_ names. Default true. */
  defaultMetrics?: boolean;
};

export class ReclaimerMetrics {
  readonly registry: Registry;
  readonly #transitions: Counter<"action" | "reason">;
  readonly #decisionLag: Histogram<string>;
  readonly #queryLatency: Histogram<"preset">;
  readonly #queryErrors: Counter<"preset">;
  readonly #apiErrors: Counter<"verb" | "resource" | "code">;
  readonly #services: Gauge<"state">;
  readonly #gpusReclaimed: Gauge<string>;
  readonly #scheduleGpusReclaimed: Gauge<"namespace" | "schedule">;
  readonly #gpuHours: Counter<string>;
  readonly #unconfirmed: Counter<"action">;
  readonly #gpuRelease: Histogram<"mode">;
  readonly #notReleased: Counter<string>;
  readonly #schedulesInvalid: Gauge<string>;
  readonly #leader: Gauge<string>;
  readonly #sourceAvailable: Gauge<"preset">;
  readonly #errors: Counter<"kind">;
  readonly #admissionReviews: Counter<"kind" | "result">;
  readonly #webhookCertExpiry: Gauge<string>;
  readonly #wakes: Counter<"namespace">;
  readonly #wakeApi: Counter<"result">;
  readonly #wakeRoutes: Gauge<string>;
  readonly #gpusBySchedule = new Map<string, number>();

  constructor(options: MetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];
    this.#transitions = new Counter({
      name: "kserve_reclaimer_transitions_total",
      help: "Stops and starts applied to InferenceServices, by action and reason.",
      labelNames: ["action", "reason"],
      registers,
    });
    this.#decisionLag = new Histogram({
      name: "kserve_reclaimer_decision_lag_seconds",
      help: "Time from a schedule boundary to its annotation patch being applied.",
      buckets: DECISION_LAG_BUCKETS,
      registers,
    });
    this.#queryLatency = new Histogram({
      name: "kserve_reclaimer_prometheus_query_duration_seconds",
      help: "Latency of request-rate queries to Prometheus, by metric preset (failed queries included).",
      labelNames: ["preset"],
      buckets: QUERY_LATENCY_BUCKETS,
      registers,
    });
    this.#queryErrors = new Counter({
      name: "kserve_reclaimer_prometheus_query_errors_total",
      help: "Request-rate queries to Prometheus that failed, by metric preset.",
      labelNames: ["preset"],
      registers,
    });
    this.#apiErrors = new Counter({
      name: "kserve_reclaimer_kubernetes_api_errors_total",
      help: "Failed Kubernetes API requests, by verb, resource and HTTP status code (or error kind).",
      labelNames: ["verb", "resource", "code"],
      registers,
    });
    this.#services = new Gauge({
      name: "kserve_reclaimer_services",
      help: "InferenceServices managed by the daemon, by state.",
      labelNames: ["state"],
      registers,
    });
    this.#gpusReclaimed = new Gauge({
      name: "kserve_reclaimer_gpus_reclaimed",
      help: "GPUs not in use right now because the daemon stopped their InferenceServices.",
      registers,
    });
    this.#scheduleGpusReclaimed = new Gauge({
      name: "kserve_reclaimer_schedule_gpus_reclaimed",
      help: "GPUs not in use right now because of a ServingSchedule.",
      labelNames: ["namespace", "schedule"],
      registers,
    });
    this.#gpuHours = new Counter({
      name: "kserve_reclaimer_gpu_hours_reclaimed_total",
      help: "GPU-hours reclaimed: GPUs times hours their InferenceServices were stopped by the daemon.",
      registers,
    });
    this.#unconfirmed = new Counter({
      name: "kserve_reclaimer_unconfirmed_transitions_total",
      help: "Stops or starts KServe did not confirm within the timeout (Stopped=True / Ready=True).",
      labelNames: ["action"],
      registers,
    });
    this.#gpuRelease = new Histogram({
      name: "kserve_reclaimer_gpu_release_seconds",
      help: "Time from the daemon's stop to the last predictor pod of the InferenceService being gone (its GPUs free), by deployment mode.",
      labelNames: ["mode"],
      buckets: GPU_RELEASE_BUCKETS,
      registers,
    });
    this.#notReleased = new Counter({
      name: "kserve_reclaimer_gpus_not_released_total",
      help: "Stopped InferenceServices whose predictor pods were still there at the stop confirmation timeout.",
      registers,
    });
    this.#schedulesInvalid = new Gauge({
      name: "kserve_reclaimer_schedules_invalid",
      help: "ServingSchedules that are invalid and therefore not acted on.",
      registers,
    });
    this.#leader = new Gauge({
      name: "kserve_reclaimer_leader",
      help: "1 when this replica holds the leader Lease and acts, 0 otherwise.",
      registers,
    });
    this.#sourceAvailable = new Gauge({
      name: "kserve_reclaimer_metrics_source_available",
      help: "1 when the last request-rate query of a metric preset succeeded, 0 when it failed.",
      labelNames: ["preset"],
      registers,
    });
    this.#errors = new Counter({
      name: "kserve_reclaimer_errors_total",
      help: "Failures the daemon survived and reported, by kind: reconcile (one service's handling failed; retried), status, idle, event, unhandledRejection, uncaughtException.",
      labelNames: ["kind"],
      registers,
    });
    this.#admissionReviews = new Counter({
      name: "kserve_reclaimer_admission_reviews_total",
      help: "Admission reviews answered by the validating webhook, by kind and result (allowed, denied, malformed)",
      labelNames: ["kind", "result"],
      registers,
    });
    this.#webhookCertExpiry = new Gauge({
      name: "kserve_reclaimer_webhook_certificate_expiry_timestamp_seconds",
      help: "When the certificate the admission webhook serves expires (Unix seconds); absent until it has one",
      registers,
    });
    this.#wakes = new Counter({
      name: "kserve_reclaimer_wakes_total",
      help: "InferenceServices started because a request arrived for them (wake on request), by namespace.",
      labelNames: ["namespace"],
      registers,
    });
    this.#wakeApi = new Counter({
      name: "kserve_reclaimer_wake_api_requests_total",
      help: "Calls of the wake API (POST /wake/v1/requests), by result: Ready, Starting, Refused, NotFound, Unauthorized, Forbidden, NotLeader, Invalid, Unavailable.",
      labelNames: ["result"],
      registers,
    });
    this.#wakeRoutes = new Gauge({
      name: "kserve_reclaimer_wake_routes",
      help: "Wake routes (<isvc>-wake Ingresses or HTTPRoutes) found at the last listing.",
      registers,
    });
    this.#leader.set(0);
    this.#schedulesInvalid.set(0);
    this.#gpusReclaimed.set(0);
    this.setServices({});
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  }

  wake(namespace: string): void {
    this.#wakes.inc({ namespace });
  }

  wakeApiRequest(result: string): void {
    this.#wakeApi.inc({ result });
  }

  setWakeRoutes(count: number): void {
    this.#wakeRoutes.set(count);
  }

  admissionReview(kind: string, result: "allowed" | "denied" | "malformed"): void {
    this.#admissionReviews.inc({ kind, result });
  }

  webhookCertificateExpires(epochMs: number): void {
    if (Number.isFinite(epochMs)) this.#webhookCertExpiry.set(Math.floor(epochMs / 1000));
  }

  /** A stop or start was applied (not in dry-run). */
  transition(action: TransitionAction, reason: string): void {
    this.#transitions.inc({ action, reason });
  }

  observeDecisionLag(seconds: number): void {
    this.#decisionLag.observe(Math.max(0, seconds));
  }

  /** One request-rate query: its latency and whether it failed. Also sets the source's availability. */
  prometheusQuery(preset: string, latencySeconds: number, ok: boolean): void {
    this.#queryLatency.observe({ preset }, Math.max(0, latencySeconds));
    if (!ok) this.#queryErrors.inc({ preset });
    this.#sourceAvailable.set({ preset }, ok ? 1 : 0);
  }

  kubernetesApiError(verb: string, resource: string, code: number | string): void {
    this.#apiErrors.inc({ verb, resource, code: String(code) });
  }

  /** Counts of managed services by state; states absent from `counts` are 0 (Running and Stopped always present). */
  setServices(counts: Readonly<Record<string, number>>): void {
    this.#services.reset();
    this.#services.set({ state: "Running" }, 0);
    this.#services.set({ state: "Stopped" }, 0);
    for (const [state, n] of Object.entries(counts)) this.#services.set({ state }, n);
  }

  /** GPUs a schedule currently keeps reclaimed; the unlabelled total follows. */
  setScheduleGpusReclaimed(namespace: string, schedule: string, gpus: number): void {
    if (!Number.isFinite(gpus)) return;
    this.#gpusBySchedule.set(JSON.stringify([namespace, schedule]), gpus);
    this.#scheduleGpusReclaimed.set({ namespace, schedule }, gpus);
    this.#updateGpuTotal();
  }

  /** The schedule is gone: its series are deleted, not left at their last value. */
  deleteSchedule(namespace: string, schedule: string): void {
    if (this.#gpusBySchedule.delete(JSON.stringify([namespace, schedule]))) {
      this.#scheduleGpusReclaimed.remove({ namespace, schedule });
      this.#updateGpuTotal();
    }
  }

  addGpuHoursReclaimed(hours: number): void {
    // prom-client throws on a non-finite increment; a bad figure must not take the daemon down.
    if (Number.isFinite(hours) && hours > 0) this.#gpuHours.inc(hours);
  }

  /** A failure that was caught, logged and survived (see the help text for the kinds). */
  error(kind: "reconcile" | "status" | "idle" | "event" | "wake" | "unhandledRejection" | "uncaughtException"): void {
    this.#errors.inc({ kind });
  }

  /** `mode`: Standard, Knative or ModelMesh (bounded). */
  gpuRelease(mode: string, seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.#gpuRelease.observe({ mode }, seconds);
  }

  gpusNotReleased(): void {
    this.#notReleased.inc();
  }

  unconfirmed(action: TransitionAction): void {
    this.#unconfirmed.inc({ action });
  }

  setSchedulesInvalid(count: number): void {
    this.#schedulesInvalid.set(count);
  }

  setLeader(isLeader: boolean): void {
    this.#leader.set(isLeader ? 1 : 0);
  }

  setMetricsSourceAvailable(preset: string, available: boolean): void {
    this.#sourceAvailable.set({ preset }, available ? 1 : 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for /metrics. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }

  #updateGpuTotal(): void {
    let total = 0;
    for (const n of this.#gpusBySchedule.values()) total += n;
    this.#gpusReclaimed.set(total);
  }
}
