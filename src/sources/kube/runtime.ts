// What the Kubernetes adapters need from their surroundings, injected so tests and the daemon
// decide: a logger, the clock, timers and randomness. Nothing here reads the wall clock by itself
// except the defaults, which the daemon may override.

/** Structured logger: a message and fields. Any JSON logger can be adapted to it. */
export type Logger = {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
};

export const noopLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

export type TimerHandle = unknown;

/** Clock and timers. `now` is epoch milliseconds. */
export type Timers = {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
};

/** setTimeout's own ceiling (2^31-1 ms): a longer delay would fire after 1 ms. */
const MAX_DELAY = 2 ** 31 - 1;

/** A timer that may wait longer than setTimeout can: re-armed in steps of at most MAX_DELAY. */
class LongTimer {
  #timer: ReturnType<typeof setTimeout> | undefined;
  constructor(fn: () => void, ms: number) {
    // NaN waits no time rather than becoming a 1 ms timer by accident; Infinity never fires.
    const due = Date.now() + (Number.isNaN(ms) ? 0 : Math.max(0, ms));
    const arm = () => {
      const left = due - Date.now();
      if (left === Number.POSITIVE_INFINITY) return;
      if (left > MAX_DELAY) this.#set(arm, MAX_DELAY);
      else this.#set(fn, left);
    };
    arm();
  }
  #set(fn: () => void, ms: number): void {
    this.#timer = setTimeout(fn, Math.max(0, ms));
    // Timers of the adapters never keep the process alive on their own.
    this.#timer.unref();
  }
  clear(): void {
    clearTimeout(this.#timer);
  }
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => new LongTimer(fn, ms),
  clearTimeout: (handle) => (handle as LongTimer | undefined)?.clear(),
};

/** Resolves after `ms` on the given timers (rejects with the signal's reason when aborted). */
export function sleepOn(timers: Timers, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      timers.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = timers.setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Message of anything thrown, with its causes: undici says only "fetch failed", the reason
 * (connect ECONNREFUSED 10.0.0.1:6443, a certificate error) is in err.cause.
 */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const parts = [err.message];
  let cause: unknown = err.cause;
  for (let depth = 0; depth < 5 && cause !== undefined && cause !== null; depth++) {
    const text = cause instanceof Error ? cause.message : String(cause);
    const code = (cause as { code?: unknown }).code;
    if (text !== "" && !parts.includes(text)) parts.push(typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text);
    cause = (cause as { cause?: unknown }).cause;
  }
  return parts.join(": ");
}

/**
 * Capped exponential backoff with full jitter in [base/2, base] (as client-go's jittered backoff
 * avoids synchronized retries from many replicas, kubernetes-client/javascript#1933).
 */
export function backoffDelay(attempt: number, opts: { initialMs: number; maxMs: number; random: () => number }): number {
  const base = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.max(0, attempt));
  return Math.round(base / 2 + (base / 2) * opts.random());
}
