// How often the waker tries to connect to a service that is Ready but does not accept connections
// yet (endpoints not programmed, a name that does not resolve yet). One attempt loop per service,
// not per held request: a hundred held requests used to make some 3,300 DNS queries a second.
// Pure: the clock and the random number are arguments.

export type RetryPolicy = {
  /** The first wait after a failed attempt. */
  baseMs: number;
  /** The longest wait between two attempts for one service. */
  maxMs: number;
  /** Attempts per second across all services (a token bucket of this size, refilled at this rate). */
  attemptsPerSecond: number;
};

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 250, maxMs: 5_000, attemptsPerSecond: 20 };

/** The wait after the `failures`-th failed attempt in a row (1, 2, ...): doubling, capped, with ±25 % jitter. */
export function backoffMs(policy: RetryPolicy, failures: number, random: number): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(exp * (0.75 + 0.5 * Math.min(1, Math.max(0, random))));
}

/** A token bucket: take() says whether an attempt may go now, else how long until one may. */
export class AttemptBudget {
  readonly #rate: number;
  #tokens: number;
  #at: number;

  constructor(attemptsPerSecond: number, now: number) {
    this.#rate = Math.max(1, attemptsPerSecond);
    this.#tokens = this.#rate;
    this.#at = now;
  }

  /** 0: go now (a token is spent); otherwise the milliseconds to wait before asking again. */
  take(now: number): number {
    const elapsed = Math.max(0, now - this.#at);
    this.#tokens = Math.min(this.#rate, this.#tokens + (elapsed * this.#rate) / 1000);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) * 1000) / this.#rate);
  }
}
