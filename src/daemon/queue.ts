// The work queue, in the shape of controller-runtime's: work is per key ("namespace/name"), and
// - one key never runs concurrently with itself (two decisions racing on one object would patch
//   twice), while different keys run in parallel;
// - repeats of a key while it waits merge into one run, so a burst of watch events is one decision;
// - a key can be asked for at an instant (`work` returns when it wants to run again: recheckAt);
// - a run that throws is retried with capped exponential backoff and reported through `failed`.
// A key's state is dropped once it has nothing running, waiting or timed, so memory follows live work.
import type { Cancel, Clock } from "./clock.ts";

/** A failing key is retried after 5 s, then 10 s, ..., at most every 5 minutes. */
const RETRY_FIRST_MS = 5_000;
export const RETRY_MAX_MS = 5 * 60_000;

export function retryDelay(attempt: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(attempt - 1, 16));
}

/** One run of a key: returns when it wants to run again, if at all. `boundary` is the schedule transition that asked for it. */
export type Work = (key: string, boundary: number | undefined) => Promise<number | undefined>;
export type Failed = (key: string, err: unknown, attempt: number, retryAt: number) => void;

type Slot = {
  running: Promise<void> | undefined;
  waiting: boolean;
  boundary: number | undefined;
  timer: { at: number; cancel: Cancel } | undefined;
  failures: number;
};

export class WorkQueue {
  readonly #slots = new Map<string, Slot>();
  readonly #clock: Clock;
  readonly #work: Work;
  readonly #failed: Failed;
  #stopped = false;

  constructor(clock: Clock, work: Work, failed: Failed) {
    this.#clock = clock;
    this.#work = work;
    this.#failed = failed;
  }

  /** Run the key as soon as it is not running; merges with a run already waiting. */
  add(key: string, boundary?: number): void {
    if (this.#stopped) return;
    const slot = this.#slot(key);
    slot.boundary = boundary ?? slot.boundary;
    if (slot.waiting) return;
    slot.waiting = true;
    if (!slot.running) this.#run(key, slot);
  }

  /** Run the key at the instant (replacing an earlier request for a time); undefined cancels it. */
  addAt(key: string, at: number | undefined): void {
    const slot = this.#slots.get(key) ?? (at === undefined ? undefined : this.#slot(key));
    if (!slot || this.#stopped || slot.timer?.at === at) return;
    slot.timer?.cancel();
    slot.timer = undefined;
    if (at !== undefined)
      slot.timer = {
        at,
        cancel: this.#clock.at(at, () => {
          slot.timer = undefined;
          if (this.#slots.get(key) === slot) this.add(key);
        }),
      };
    this.#dropIfIdle(key, slot);
  }

  /** The object is gone: no retry, no timer. A run in progress finishes and arms nothing. */
  forget(key: string): void {
    const slot = this.#slots.get(key);
    if (!slot) return;
    slot.timer?.cancel();
    this.#slots.delete(key);
  }

  keys(): string[] {
    return [...this.#slots.keys()];
  }

  /** Keys with a timed run pending. */
  timed(): string[] {
    return [...this.#slots].filter(([, s]) => s.timer !== undefined).map(([k]) => k);
  }

  /** No new work; timers cancelled; resolves when every run in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const slot of this.#slots.values()) {
      slot.timer?.cancel();
      slot.timer = undefined;
      slot.waiting = false;
    }
    await this.drain();
  }

  async drain(): Promise<void> {
    for (;;) {
      const running = [...this.#slots.values()].flatMap((s) => (s.running ? [s.running] : []));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  #slot(key: string): Slot {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { running: undefined, waiting: false, boundary: undefined, timer: undefined, failures: 0 };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  #run(key: string, slot: Slot): void {
    slot.waiting = false;
    const boundary = slot.boundary;
    slot.boundary = undefined;
    slot.running = this.#once(key, slot, boundary);
  }

  async #once(key: string, slot: Slot, boundary: number | undefined): Promise<void> {
    let again: number | undefined;
    try {
      again = await this.#work(key, boundary);
      slot.failures = 0;
    } catch (err) {
      slot.failures++;
      again = this.#clock.now() + retryDelay(slot.failures);
      try {
        this.#failed(key, err, slot.failures, again);
      } catch {
        // a failing reporter must not stop the retry
      }
    }
    slot.running = undefined;
    if (this.#slots.get(key) !== slot) return;
    this.addAt(key, again);
    if (slot.waiting && !this.#stopped) this.#run(key, slot);
    else this.#dropIfIdle(key, slot);
  }

  #dropIfIdle(key: string, slot: Slot): void {
    if (!slot.running && !slot.waiting && !slot.timer && slot.failures === 0 && this.#slots.get(key) === slot) this.#slots.delete(key);
  }
}
