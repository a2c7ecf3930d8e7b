// The waker's own metrics, in their own prom-client Registry (never the global one). Labels are
// fixed small sets (causes, stages): hosts come from clients and never become label values.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Why a request was answered by the waker itself instead of the model. */
export type RejectCause =
  | "queue_full"
  | "body_too_large"
  | "timeout"
  | "refused"
  | "unknown_host"
  | "invalid_request"
  | "upstream_unreachable"
  | "body_timeout"
  | "waker_unauthorized";

const CAUSES: RejectCause[] = [
  "queue_full",
  "body_too_large",
  "timeout",
  "refused",
  "unknown_host",
  "invalid_request",
  "upstream_unreachable",
  "body_timeout",
  "waker_unauthorized",
];

/** Where a forwarded request broke: before the upstream answered, or while its answer streamed. */
export type UpstreamStage = "before_response" | "during_response";

/** Seconds from a held request's arrival to its first response byte: a cold start takes minutes. */
export const FIRST_BYTE_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600, 1200, 1800];

export class WakerMetrics {
  readonly registry: Registry;
  readonly #wakeRequests: Counter<string>;
  readonly #held: Gauge<string>;
  readonly #firstByte: Histogram<string>;
  readonly #rejected: Counter<"cause">;
  readonly #forwarded: Counter<string>;
  readonly #upstreamErrors: Counter<"stage">;
  readonly #daemonErrors: Counter<string>;
  readonly #credentialRefused: Gauge<string>;
  readonly #internalErrors: Counter<"kind">;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];
    this.#wakeRequests = new Counter({
      name: "kserve_reclaimer_waker_wake_requests_total",
      help: "Calls to the daemon's wake API (POST /wake/v1/requests), polls included.",
      registers,
    });
    this.#held = new Gauge({
      name: "kserve_reclaimer_waker_held_requests",
      help: "Client requests held now, waiting for their InferenceService to be Ready.",
      registers,
    });
    this.#firstByte = new Histogram({
      name: "kserve_reclaimer_waker_first_byte_seconds",
      help: "For held requests: time from arrival to the first response byte sent to the client.",
      buckets: FIRST_BYTE_BUCKETS,
      registers,
    });
    this.#rejected = new Counter({
      name: "kserve_reclaimer_waker_rejected_requests_total",
      help: "Client requests the waker answered itself (503, 413, 408, 404, 400, 502), by cause.",
      labelNames: ["cause"],
      registers,
    });
    this.#forwarded = new Counter({
      name: "kserve_reclaimer_waker_forwarded_requests_total",
      help: "Client requests forwarded to their InferenceService.",
      registers,
    });
    this.#upstreamErrors = new Counter({
      name: "kserve_reclaimer_waker_upstream_errors_total",
      help: "Forwarded requests whose upstream connection failed, by stage (before or during the response).",
      labelNames: ["stage"],
      registers,
    });
    this.#daemonErrors = new Counter({
      name: "kserve_reclaimer_waker_daemon_errors_total",
      help: "Calls to the daemon's wake API that gave no usable answer (unreachable, not the leader, 401/403, bad reply).",
      registers,
    });
    this.#credentialRefused = new Gauge({
      name: "kserve_reclaimer_waker_credential_refused",
      help: "1 while the daemon refuses the waker's credential (401/403, or no usable token file): every request is answered 503 and /readyz fails.",
      registers,
    });
    this.#internalErrors = new Counter({
      name: "kserve_reclaimer_waker_internal_errors_total",
      help: "Exceptions and rejections nothing else handled (the waker logs them and goes on serving), by kind.",
      labelNames: ["kind"],
      registers,
    });
    for (const cause of CAUSES) this.#rejected.inc({ cause }, 0);
    for (const kind of ["uncaughtException", "unhandledRejection"]) this.#internalErrors.inc({ kind }, 0);
    for (const stage of ["before_response", "during_response"]) this.#upstreamErrors.inc({ stage }, 0);
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  }

  wakeRequest(): void {
    this.#wakeRequests.inc();
  }
  held(count: number): void {
    this.#held.set(count);
  }
  firstByte(seconds: number): void {
    this.#firstByte.observe(seconds);
  }
  rejected(cause: RejectCause): void {
    this.#rejected.inc({ cause });
  }
  forwarded(): void {
    this.#forwarded.inc();
  }
  upstreamError(stage: UpstreamStage): void {
    this.#upstreamErrors.inc({ stage });
  }
  daemonError(): void {
    this.#daemonErrors.inc();
  }
  credentialRefused(refused: boolean): void {
    this.#credentialRefused.set(refused ? 1 : 0);
  }
  internalError(kind: "uncaughtException" | "unhandledRejection"): void {
    this.#internalErrors.inc({ kind });
  }

  get contentType(): string {
    return this.registry.contentType;
  }
  render(): Promise<string> {
    return this.registry.metrics();
  }
  /** One series' current value, for tests and the benchmark. */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = (await this.registry.getMetricsAsJSON()).find((m) => m.name === name);
    const values = (metric?.values ?? []) as { value: number; labels: Record<string, unknown>; metricName?: string }[];
    const match = values.filter(
      (v) =>
        (v.metricName === undefined || v.metricName === name || v.metricName === `${name}_count`) &&
        Object.entries(labels).every(([k, x]) => v.labels[k] === x),
    );
    if (String(metric?.type) === "histogram") return match.find((v) => v.metricName === `${name}_count`)?.value ?? 0;
    return match.reduce((sum, v) => sum + v.value, 0);
  }
}
