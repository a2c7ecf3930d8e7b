// GPU-hours reclaimed, per schedule: the GPUs of the services a schedule keeps stopped, integrated
// over time from the instant each one's last predictor pod was gone (src/daemon/release.ts). Each account carries on from the figure its schedule's status last recorded, so the
// total survives restarts and failovers. Also keeps the services-by-state gauge, since both move
// with the same decisions.
import { reclaimedBy } from "../decide/status.ts";
import type { ReclaimerMetrics } from "../report/metrics.ts";
import { type Outcome, splitKey } from "./ports.ts";

/**
 * GPUs are reclaimed from the instant the daemon's stop has freed them: its predictor pods are
 * gone, not when the annotation was written nor when KServe said Stopped=True.
 */
export function countsAsReclaimed(outcome: Outcome): boolean {
  return reclaimedBy(outcome.decision) && outcome.released !== false;
}

type Account = { gpus: number; hours: number; since: number };

export class GpuLedger {
  readonly #accounts = new Map<string, Account>();
  readonly #byState = { Running: 0, Stopped: 0 };
  readonly #metrics: ReclaimerMetrics;

  constructor(metrics: ReclaimerMetrics) {
    this.#metrics = metrics;
  }

  /** Opens a schedule's account, carrying `priorHours` from its status; an open account is kept as it is. */
  open(schedule: string, priorHours: number, now: number): void {
    if (!this.#accounts.has(schedule)) this.#accounts.set(schedule, { gpus: 0, hours: priorHours, since: now });
  }

  close(schedule: string): void {
    this.#accounts.delete(schedule);
  }

  /** The schedule's GPU-hours up to `now`; undefined without an account. */
  hours(schedule: string, now: number): number | undefined {
    return this.#settle(schedule, now)?.hours;
  }

  /** One service's decision changed from `before` to `after` (either absent when it had or has none). */
  move(before: Outcome | undefined, after: Outcome | undefined, now: number): void {
    for (const [outcome, sign] of [
      [before, -1],
      [after, 1],
    ] as const) {
      if (!outcome?.schedule) continue;
      this.#byState[outcome.decision.observed] += sign;
      if (!countsAsReclaimed(outcome)) continue;
      const account = this.#settle(outcome.schedule, now);
      if (!account) continue;
      account.gpus += sign * outcome.gpus;
      const [namespace, name] = splitKey(outcome.schedule);
      this.#metrics.setScheduleGpusReclaimed(namespace, name, account.gpus);
    }
    this.#metrics.setServices(this.#byState);
  }

  /** Brings an account up to `now` at its current number of reclaimed GPUs. */
  #settle(schedule: string, now: number): Account | undefined {
    const account = this.#accounts.get(schedule);
    if (!account || now <= account.since) return account;
    const hours = (account.gpus * (now - account.since)) / 3_600_000;
    account.hours += hours;
    account.since = now;
    this.#metrics.addGpuHoursReclaimed(hours);
    return account;
  }
}
