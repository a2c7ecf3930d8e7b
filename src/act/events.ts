// Kubernetes Events on InferenceServices and ServingSchedules, so `kubectl describe` shows what
// the daemon did and why. core/v1 Events with involvedObject (what `kubectl describe` and
// `kubectl get events` read on every version), reportingController reclaimer.dev/kserve-reclaimer.
//
// Storm control, after client-go's EventCorrelator:
// - Identical repeats (same object, type, reason, message) update one Event's count and
//   lastTimestamp instead of creating new ones, and at most once per repeatIntervalMs: repeats in
//   between are counted locally and flushed by a timer.
// - A per-object token bucket (burst 25, one token per 5 minutes) drops the rest.
// - Writes go through the shared WriteLimiter at low priority: patches of services come first.
// record() is fire-and-forget and never throws; recordAsync() resolves with what happened.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from "@kubernetes/client-node";
import { errorMessage, noopLogger, systemTimers, type Logger, type TimerHandle, type Timers } from "../sources/kube/runtime.ts";
import { apiFailure } from "./apiError.ts";
import type { WriteLimiter } from "./writeLimiter.ts";

export const REPORTING_CONTROLLER = "reclaimer.dev/kserve-reclaimer";
export const EVENT_SOURCE_COMPONENT = "kserve-reclaimer";

export type EventType = "Normal" | "Warning";
/** Every reason the daemon emits (src/daemon/), and no other. */
export type EventReason =
  // what it did, and KServe's answer
  | "Stopped"
  | "Started"
  | "WokenByRequest"
  | "ManualStart"
  | "StopConfirmed"
  | "StartConfirmed"
  | "NotConfirmed"
  | "GPUsNotReleased"
  | "Unschedulable"
  // what it held back from, and why
  | "Skipped"
  | "Unsupported"
  | "ScheduleConflict"
  | "ScheduleOverridden"
  // what it could not read or write
  | "Invalid"
  | "InvalidGpuRequest"
  | "InvalidKeepRunningUntil"
  | "InvalidStateRecord"
  | "MetricsUnavailable"
  | "PatchFailed"
  | "ReconcileFailed";

export type InvolvedObject = {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
};

export type RecordResult =
  | { kind: "created"; name: string }
  | { kind: "updated"; name: string; count: number }
  | { kind: "deferred" }
  | { kind: "dropped" }
  | { kind: "error"; code: number | undefined; message: string };

export type EventRecorderOptions = {
  kubeConfig: KubeConfig;
  limiter: WriteLimiter;
  /** This replica's identity (pod name): reportingInstance and source.host. */
  reportingInstance: string;
  reportingController?: string;
  logger?: Logger;
  timers?: Timers;
  /** Identical repeats are written at most this often. Default 60 000. */
  repeatIntervalMs?: number;
  /** Per-object spam filter. Defaults: burst 25, one token per 300 000 ms. */
  spamBurst?: number;
  spamRefillMs?: number;
  /** Bounded memory: entries kept for aggregation. Default 4096. */
  maxEntries?: number;
};

type Entry = {
  namespace: string;
  eventName: string | undefined;
  involved: InvolvedObject;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  writtenCount: number;
  firstTimestamp: number;
  lastTimestamp: number;
  lastWriteAt: number;
  timer: TimerHandle | undefined;
  chain: Promise<unknown>;
};

type Bucket = { tokens: number; last: number };

const MAX_MESSAGE = 1024;

export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly opts: EventRecorderOptions;
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly entries = new Map<string, Entry>();
  private readonly buckets = new Map<string, Bucket>();
  private seq = 0;

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
    this.api = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.logger = opts.logger ?? noopLogger;
    this.timers = opts.timers ?? systemTimers;
  }

  /** Fire-and-forget: failures are logged here, never left to reject. */
  record(obj: InvolvedObject, type: EventType, reason: EventReason, message: string): void {
    this.recordAsync(obj, type, reason, message).catch((err: unknown) =>
      this.logger.warn("events: record failed", { reason, error: errorMessage(err) }),
    );
  }

  /** Records an Event; resolves with what was written (never rejects). */
  async recordAsync(obj: InvolvedObject, type: EventType, reason: EventReason, message: string): Promise<RecordResult> {
    try {
      const now = this.timers.now();
      const msg = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
      const key = [obj.namespace, obj.kind, obj.name, obj.uid ?? "", type, reason, msg].join("\u0000");
      const existing = this.entries.get(key);
      if (existing) {
        existing.count++;
        existing.lastTimestamp = now;
        this.touchEntry(key, existing);
        if (existing.timer === undefined && now - existing.lastWriteAt < (this.opts.repeatIntervalMs ?? 60_000)) {
          this.scheduleFlush(key, existing);
          return { kind: "deferred" };
        }
        if (existing.timer !== undefined) return { kind: "deferred" };
        return await this.enqueueWrite(existing);
      }
      if (!this.allow(obj, now)) {
        this.logger.debug("events: dropped by spam filter", { namespace: obj.namespace, name: obj.name, reason });
        return { kind: "dropped" };
      }
      const entry: Entry = {
        // A cluster-scoped object's Events live in "default", where kubectl describe looks for them.
        namespace: obj.namespace === "" ? "default" : obj.namespace,
        eventName: undefined,
        involved: obj,
        type,
        reason,
        message: msg,
        count: 1,
        writtenCount: 0,
        firstTimestamp: now,
        lastTimestamp: now,
        lastWriteAt: now,
        timer: undefined,
        chain: Promise.resolve(),
      };
      this.touchEntry(key, entry);
      return await this.enqueueWrite(entry);
    } catch (err) {
      return { kind: "error", code: undefined, message: errorMessage(err) };
    }
  }

  /** Writes every locally counted repeat now (shutdown). */
  async flush(): Promise<void> {
    const pending: Promise<unknown>[] = [];
    for (const entry of this.entries.values()) {
      if (entry.timer !== undefined) {
        this.timers.clearTimeout(entry.timer);
        entry.timer = undefined;
        pending.push(this.enqueueWrite(entry));
      } else {
        pending.push(entry.chain);
      }
    }
    await Promise.allSettled(pending);
  }

  private touchEntry(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    const max = this.opts.maxEntries ?? 4096;
    while (this.entries.size > max) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      const e = this.entries.get(oldest.value);
      if (e?.timer !== undefined) this.timers.clearTimeout(e.timer);
      this.entries.delete(oldest.value);
    }
  }

  private allow(obj: InvolvedObject, now: number): boolean {
    const burst = this.opts.spamBurst ?? 25;
    const refill = this.opts.spamRefillMs ?? 300_000;
    const key = `${obj.namespace}/${obj.kind}/${obj.name}/${obj.uid ?? ""}`;
    const b = this.buckets.get(key) ?? { tokens: burst, last: now };
    b.tokens = Math.min(burst, b.tokens + (now - b.last) / refill);
    b.last = now;
    this.buckets.delete(key);
    this.buckets.set(key, b);
    if (this.buckets.size > (this.opts.maxEntries ?? 4096)) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private scheduleFlush(key: string, entry: Entry): void {
    const wait = entry.lastWriteAt + (this.opts.repeatIntervalMs ?? 60_000) - this.timers.now();
    entry.timer = this.timers.setTimeout(
      () => {
        entry.timer = undefined;
        if (this.entries.get(key) !== entry) return;
        this.enqueueWrite(entry).catch((err: unknown) =>
          this.logger.warn("events: deferred write failed", { reason: entry.reason, error: errorMessage(err) }),
        );
      },
      Math.max(1, wait),
    );
  }

  /** Writes of one entry are serialized. */
  private enqueueWrite(entry: Entry): Promise<RecordResult> {
    const next = entry.chain.then(() => this.write(entry));
    entry.chain = next.catch(() => undefined);
    return next;
  }

  private async write(entry: Entry): Promise<RecordResult> {
    if (entry.eventName !== undefined && entry.writtenCount === entry.count) {
      return { kind: "updated", name: entry.eventName, count: entry.count };
    }
    entry.lastWriteAt = this.timers.now();
    const count = entry.count;
    if (entry.eventName !== undefined) {
      const name = entry.eventName;
      try {
        await this.opts.limiter.run(
          () =>
            this.api.patchNamespacedEvent(
              { name, namespace: entry.namespace, body: { count, lastTimestamp: new Date(entry.lastTimestamp).toISOString() } },
              setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
            ),
          "low",
        );
        entry.writtenCount = count;
        return { kind: "updated", name, count };
      } catch (err) {
        const f = apiFailure(err);
        // Expired (event TTL, 1 h by default) or deleted: start a new Event.
        if (f.code !== 404) return this.failed(entry, f.code, f.message);
        entry.eventName = undefined;
        entry.firstTimestamp = entry.lastTimestamp;
      }
    }
    const name = this.eventName(entry.involved.name);
    const body: CoreV1Event = {
      metadata: { name, namespace: entry.namespace },
      involvedObject: {
        apiVersion: entry.involved.apiVersion,
        kind: entry.involved.kind,
        namespace: entry.involved.namespace,
        name: entry.involved.name,
        uid: entry.involved.uid,
        resourceVersion: entry.involved.resourceVersion,
      },
      type: entry.type,
      reason: entry.reason,
      message: entry.message,
      count,
      firstTimestamp: new Date(entry.firstTimestamp),
      lastTimestamp: new Date(entry.lastTimestamp),
      source: { component: EVENT_SOURCE_COMPONENT, host: this.opts.reportingInstance },
      reportingComponent: this.opts.reportingController ?? REPORTING_CONTROLLER,
      reportingInstance: this.opts.reportingInstance,
    };
    try {
      await this.opts.limiter.run(() => this.api.createNamespacedEvent({ namespace: entry.namespace, body }), "low");
      entry.eventName = name;
      entry.writtenCount = count;
      return { kind: "created", name };
    } catch (err) {
      const f = apiFailure(err);
      return this.failed(entry, f.code, f.message);
    }
  }

  private failed(entry: Entry, code: number | undefined, message: string): RecordResult {
    this.logger.warn("events: write failed", {
      namespace: entry.namespace,
      name: entry.involved.name,
      reason: entry.reason,
      code,
      error: message,
    });
    return { kind: "error", code, message };
  }

  /** `<object>.<hex>` as client-go names Events; unique per recorder. */
  private eventName(objectName: string): string {
    const suffix = `${this.timers.now().toString(16)}${(this.seq++ & 0xffff).toString(16).padStart(4, "0")}`;
    return `${objectName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
  }
}
