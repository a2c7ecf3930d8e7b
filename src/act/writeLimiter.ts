// One gate for every write the daemon sends to the apiserver (annotation patches, Events, schedule
// status): a token bucket (QPS and burst, like client-go's flowcontrol), bounded concurrency, two
// priorities (patches before Events, so an Event storm never delays a stop), and drain() for
// SIGTERM. The daemon builds one and passes it to the patcher, the event recorder and the status
// writer, from its --kube-qps / --kube-burst / --kube-concurrency flags.
import { systemTimers, type TimerHandle, type Timers } from "../sources/kube/runtime.ts";

/**
 * Defaults: a schedule boundary flips many services at once (08:00 Monday), and the product
 * promise is the last annotation within 1 s of the boundary for 1,000 services and within 5 s for
 * 5,000. The limiter alone needs max(0, N - burst) / qps seconds: a burst of 1,000 lets the first
 * 1,000 writes go at once, and 1,000 QPS sustained brings 5,000 to 4 s (500 QPS would be 8 s).
 * The concurrency of 32 in flight is what bounds the load: the apiserver sees a steady pipeline
 * of at most 32 requests, never 1,000 sockets, and its API Priority and Fairness still protects
 * it from this client. Measured in docs/performance.md (npm run bench:boundary).
 */
export const DEFAULT_WRITE_QPS = 1000;
export const DEFAULT_WRITE_BURST = 1000;
export const DEFAULT_WRITE_CONCURRENCY = 32;

export type WritePriority = "high" | "low";

export type WriteLimiterOptions = {
  qps?: number;
  burst?: number;
  concurrency?: number;
  timers?: Timers;
};

export type WriteLimiterStats = {
  inFlight: number;
  queued: number;
  started: number;
  completed: number;
  /** Tokens available now. */
  tokens: number;
};

export class DrainTimeoutError extends Error {
  constructor(pending: number) {
    super(`drain timed out with ${pending} writes pending`);
    this.name = "DrainTimeoutError";
  }
}

/** run() after drain(): the daemon is shutting down and takes no new writes. */
export class LimiterClosedError extends Error {
  constructor() {
    super("write limiter closed: shutting down");
    this.name = "LimiterClosedError";
  }
}

type Waiter = { start: () => void };

export class WriteLimiter {
  readonly qps: number;
  readonly burst: number;
  readonly concurrency: number;
  private readonly timers: Timers;
  private tokens: number;
  private lastRefill: number;
  private inFlight = 0;
  private started = 0;
  private completed = 0;
  private readonly high: Waiter[] = [];
  private readonly low: Waiter[] = [];
  private wakeTimer: TimerHandle | undefined;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(opts: WriteLimiterOptions = {}) {
    this.qps = opts.qps ?? DEFAULT_WRITE_QPS;
    this.burst = Math.max(1, opts.burst ?? DEFAULT_WRITE_BURST);
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_WRITE_CONCURRENCY);
    if (!(this.qps > 0)) throw new RangeError(`qps must be > 0, got ${this.qps}`);
    this.timers = opts.timers ?? systemTimers;
    this.tokens = this.burst;
    this.lastRefill = this.timers.now();
  }

  /**
   * Runs `fn` once a token and a concurrency slot are free. Rejects without running when the
   * limiter was closed for shutdown. Whatever `fn` returns or throws is passed through.
   */
  run<T>(fn: () => Promise<T>, priority: WritePriority = "high"): Promise<T> {
    if (this.closed) return Promise.reject(new LimiterClosedError());
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          this.inFlight++;
          this.started++;
          let p: Promise<T>;
          try {
            p = fn();
          } catch (err) {
            p = Promise.reject(err);
          }
          p.then(resolve, reject).finally(() => {
            this.inFlight--;
            this.completed++;
            this.pump();
            this.notifyIdle();
          });
        },
      };
      (priority === "high" ? this.high : this.low).push(waiter);
      this.pump();
    });
  }

  stats(): WriteLimiterStats {
    this.refill();
    return {
      inFlight: this.inFlight,
      queued: this.high.length + this.low.length,
      started: this.started,
      completed: this.completed,
      tokens: this.tokens,
    };
  }

  /**
   * Stops accepting new writes (run() rejects) and resolves when everything queued or in flight
   * has finished. With a timeout, rejects with DrainTimeoutError when it passes first.
   */
  drain(timeoutMs?: number): Promise<void> {
    this.closed = true;
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const done = () => {
        if (timer !== undefined) this.timers.clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(done);
      if (timeoutMs !== undefined) {
        timer = this.timers.setTimeout(() => {
          this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
          reject(new DrainTimeoutError(this.inFlight + this.high.length + this.low.length));
        }, timeoutMs);
      }
    });
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.high.length === 0 && this.low.length === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private refill(): void {
    const now = this.timers.now();
    const elapsed = Math.max(0, now - this.lastRefill);
    this.lastRefill = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.qps) / 1000);
  }

  private pump(): void {
    this.refill();
    while (this.inFlight < this.concurrency && (this.high.length > 0 || this.low.length > 0)) {
      if (this.tokens < 1) {
        this.scheduleWake();
        return;
      }
      this.tokens -= 1;
      const next = this.high.shift() ?? this.low.shift();
      next?.start();
    }
  }

  private scheduleWake(): void {
    if (this.wakeTimer !== undefined) return;
    const waitMs = Math.ceil(((1 - this.tokens) * 1000) / this.qps);
    this.wakeTimer = this.timers.setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.pump();
      },
      Math.max(1, waitMs),
    );
  }
}
