// The idle tick: every interval, one batched query per (metric preset, window) for every service
// under an idle policy, then those services are decided again with their request rates. Whether a
// schedule's query succeeded becomes its MetricsAvailable condition, and a Warning when it fails.
import { parseDuration } from "../schedule/index.ts";
import type { TrafficReading, TrafficRequest } from "../sources/prometheus/traffic.ts";
import type { Cancel } from "./clock.ts";
import { keyOf, type ReconcilerPorts, type ServiceRecord, scheduleRef } from "./ports.ts";
import type { MetricsState, ScheduleBook } from "./schedules.ts";

type Deps = {
  ports: Pick<ReconcilerPorts, "clock" | "metrics" | "event" | "services" | "readTraffic">;
  book: ScheduleBook;
  record: (k: string) => ServiceRecord;
  changed: (schedule: string) => void;
  decideAgain: (k: string) => void;
  failed: (what: string, err: unknown) => void;
};

const NO_PROMETHEUS = "no Prometheus configured (--prometheus-url)";

export class IdleTick {
  readonly #d: Deps;
  #timer: Cancel | undefined;
  #stopped = false;

  constructor(deps: Deps) {
    this.#d = deps;
  }

  /** Ticks now and every `intervalMs`. */
  start(intervalMs: number): void {
    this.#timer = this.#d.ports.clock.every(intervalMs, () => this.#run());
    this.#run();
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.();
  }

  #run(): void {
    this.tick().catch((err: unknown) => this.#d.failed("idle tick failed", err));
  }

  async tick(): Promise<void> {
    if (this.#stopped) return;
    const { ports, book } = this.#d;
    const requests: TrafficRequest[] = [];
    for (const service of ports.services.list()) {
      const idle = book.governing(service).governing?.spec.idle;
      if (idle) requests.push({ service: keyOf(service), preset: idle.metric, window: idle.after, custom: idle.custom });
    }
    const idleSchedules = [...book.records()].filter(([, r]) => r.entry.ok && r.entry.spec.idle !== undefined);
    if (idleSchedules.length === 0) return;
    let reading: TrafficReading | undefined;
    try {
      reading = ports.readTraffic && requests.length > 0 ? await ports.readTraffic(requests) : undefined;
    } catch (err) {
      // A reader that throws instead of answering "unknown": every rate is unknown this tick.
      this.#d.failed("reading request rates failed", err);
    }
    for (const q of reading?.queries ?? []) {
      ports.metrics.prometheusQuery(q.preset, q.latencySeconds, q.ok);
      ports.metrics.setMetricsSourceAvailable(q.preset, q.ok);
    }
    for (const { service } of requests)
      this.#d.record(service).traffic = reading?.byService.get(service) ?? {
        kind: "unknown",
        why: ports.readTraffic ? "no reading" : NO_PROMETHEUS,
      };
    for (const [k, record] of idleSchedules) {
      if (!record.entry.ok || !record.entry.spec.idle) continue;
      const idle = record.entry.spec.idle;
      // The query's window is in PromQL form ("1800s") and the policy's as written ("30m"): compare durations, not text.
      const window = parseDuration(idle.after);
      // A custom query's error can quote its namespace's series: only that namespace may see it.
      const ns = record.entry.obj.metadata.namespace;
      const outcome = reading?.queries.find(
        (q) => q.preset === idle.metric && parseDuration(q.window) === window && (q.namespace === undefined || q.namespace === ns),
      );
      const state: MetricsState = !ports.readTraffic
        ? { ok: false, message: NO_PROMETHEUS }
        : outcome === undefined || outcome.ok
          ? { ok: true }
          : { ok: false, message: outcome.error ?? "query failed" };
      const before = record.metrics;
      record.metrics = state;
      if (before?.ok === state.ok) continue;
      this.#d.changed(k);
      if (!state.ok)
        ports.event(
          scheduleRef(record.entry.obj),
          "Warning",
          "MetricsUnavailable",
          `${state.message}; idle stops follow whenMetricsUnavailable (${idle.whenMetricsUnavailable})`,
        );
    }
    for (const { service } of requests) this.#d.decideAgain(service);
  }
}
