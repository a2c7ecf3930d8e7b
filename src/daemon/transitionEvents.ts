// One Event per schedule per transition instead of one per service. At a boundary a schedule stops
// or starts every service it governs; an Event on each of them (and another on the schedule) would
// cost two apiserver writes per service on top of the patch. The services a schedule stopped or
// started for one transition are collected while the boundary's reconcile burst lasts (until no new
// one came for `quietMs`, at most `maxMs` after the first) and reported in one Event on the
// schedule: "stopped 100 services (400 GPUs) at 20:00 Europe/Berlin: ns/a, ns/b, … and 97 more".
// KServe's confirmations of those transitions are batched the same way. Why each service is down
// stays on the service itself: the reclaimer.dev/state annotation written with the stop names the
// reason and the schedule (`kubectl describe isvc`). Per-service Events remain for what one person
// must see (src/daemon/reports.ts): failures, idle stops, a person's own actions, problems.
import type { EventReason, EventType, InvolvedObject } from "../act/events.ts";
import type { Cancel, Clock } from "./clock.ts";

/** What the batcher needs of the reconciler's ports (a subset, so ports.ts can name these types). */
export type BatchPorts = {
  readonly clock: Clock;
  event(ref: InvolvedObject, type: EventType, reason: EventReason, message: string): void;
};

/** The reasons a batch is reported under. */
export type BatchReason = Extract<EventReason, "Stopped" | "Started" | "StopConfirmed" | "StartConfirmed">;

export type BatchTimings = {
  /** The batch is written once no service joined it for this long (the burst drained). */
  quietMs: number;
  /** ... and at the latest this long after its first service. */
  maxMs: number;
};

export const DEFAULT_BATCH_TIMINGS: BatchTimings = { quietMs: 2_000, maxMs: 60_000 };

/** Services named in the message, and the characters their names may take (an Event's message is cut at 1024); the rest are counted. */
const NAMED = 10;
const NAMED_CHARS = 600;

/** What a transition's batch needs to know of it, kept with the service until KServe confirms it. */
export type BatchTarget = Omit<BatchItem, "reason" | "afterMs">;

export type BatchItem = {
  /** The schedule's Event target and its key. */
  ref: InvolvedObject;
  schedule: string;
  reason: BatchReason;
  /** The schedule transition acted for (epoch ms); undefined for what no transition did (idle stops, keep-running-until). */
  at: number | undefined;
  timeZone: string;
  /** Why: "outside all uptime windows" at a transition, else the decision's reason word; part of the batch's identity. */
  why: string;
  service: string;
  gpus: number;
  /** For confirmations: how long KServe took. */
  afterMs?: number;
};

type Batch = {
  first: BatchItem;
  services: string[];
  gpus: number;
  slowestMs: number;
  opened: number;
  last: number;
  cancel: Cancel | undefined;
};

export class TransitionEvents {
  readonly #p: BatchPorts;
  readonly #t: BatchTimings;
  readonly #batches = new Map<string, Batch>();

  constructor(ports: BatchPorts, timings: BatchTimings = DEFAULT_BATCH_TIMINGS) {
    this.#p = ports;
    this.#t = timings;
  }

  /** How many batches wait to be written (tests, shutdown). */
  get pending(): number {
    return this.#batches.size;
  }

  add(item: BatchItem): void {
    const now = this.#p.clock.now();
    const key = [item.schedule, item.reason, item.at ?? "", item.why].join("\u0000");
    let batch = this.#batches.get(key);
    if (!batch) {
      batch = { first: item, services: [], gpus: 0, slowestMs: 0, opened: now, last: now, cancel: undefined };
      this.#batches.set(key, batch);
      this.#arm(key, batch, now + this.#t.quietMs);
    }
    batch.services.push(item.service);
    batch.gpus += item.gpus;
    batch.slowestMs = Math.max(batch.slowestMs, item.afterMs ?? 0);
    batch.last = now;
  }

  /** Writes every pending batch now (shutdown, losing the lease). */
  flush(): void {
    for (const [key, batch] of [...this.#batches]) this.#write(key, batch);
  }

  /**
   * One timer per batch, not one per service: when it fires it looks at when the last service
   * joined and waits again if that was less than quietMs ago.
   */
  #arm(key: string, batch: Batch, at: number): void {
    batch.cancel = this.#p.clock.at(Math.min(at, batch.opened + this.#t.maxMs), () => {
      batch.cancel = undefined;
      if (this.#batches.get(key) !== batch) return;
      const now = this.#p.clock.now();
      const quietAt = batch.last + this.#t.quietMs;
      if (quietAt > now && now < batch.opened + this.#t.maxMs) this.#arm(key, batch, quietAt);
      else this.#write(key, batch);
    });
  }

  #write(key: string, batch: Batch): void {
    batch.cancel?.();
    this.#batches.delete(key);
    const { first } = batch;
    this.#p.event(first.ref, "Normal", first.reason, batchMessage(batch, this.#p.clock.now()));
  }
}

function batchMessage(batch: Batch, now: number): string {
  const { first } = batch;
  const n = batch.services.length;
  const services = `${n} service${n === 1 ? "" : "s"} (${batch.gpus} GPU${batch.gpus === 1 ? "" : "s"})`;
  const named: string[] = [];
  let chars = 0;
  for (const s of [...batch.services].sort()) {
    if (named.length === NAMED || chars + s.length > NAMED_CHARS) break;
    named.push(s);
    chars += s.length + 2;
  }
  const list = `${named.join(", ")}${n > named.length ? `, … and ${n - named.length} more` : ""}`;
  const when = first.at === undefined ? `, reason ${first.why}` : ` at ${localTime(first.at, now, first.timeZone)}, ${first.why}`;
  const slowest = `the last after ${(batch.slowestMs / 1000).toFixed(1)}s`;
  switch (first.reason) {
    case "Stopped":
      return `stopped ${services}${when}: ${list}`;
    case "Started":
      return `started ${services}${when}: ${list}`;
    case "StopConfirmed":
      return `KServe set Stopped=True on ${services} stopped${when}; ${slowest}: ${list}`;
    case "StartConfirmed":
      return `KServe reports Ready=True on ${services} started${when}; ${slowest}: ${list}`;
  }
}

/** "20:00 Europe/Berlin", with the date when it is not today's there. */
export function localTime(at: number, now: number, timeZone: string): string {
  const fmt = (ms: number, options: Intl.DateTimeFormatOptions) => {
    try {
      return new Intl.DateTimeFormat("en-CA", { timeZone, ...options }).format(ms);
    } catch {
      return new Intl.DateTimeFormat("en-CA", { timeZone: "UTC", ...options }).format(ms);
    }
  };
  const day = { year: "numeric", month: "2-digit", day: "2-digit" } as const;
  const time = fmt(at, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const date = fmt(at, day);
  return `${date === fmt(now, day) ? "" : `${date} `}${time} ${timeZone}`;
}
