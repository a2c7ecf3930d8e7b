// The work queue, in the shape of controller-runtime's: work is per key ("namespace/name"), and
// - one key never runs concurrently with itself (two decisions racing on one object would patch
//   twice), while different keys run in parallel;
// - repeats of a key while it waits merge into one run, so a burst of watch events is one decision;
// - a key can be asked for at an instant (`work` returns when it wants to run again: recheckAt);
// - a run that throws is retried with capped exponential backoff and reported through `failed`;
// - at most `maxRunning` keys run at once; the others wait their turn in order. A boundary over
//   10,000 services would otherwise start 10,000 decisions at once, each holding its service, its
//   decision and its patch while the write limiter lets 32 out at a time: memory grew with N.
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
  /** In #ready, waiting for a free turn. */
  queued: boolean;
};

/** Twice the write limiter's 32 in flight: the writes never wait for a decision, and no more is held. */
export const DEFAULT_MAX_RUNNING = 64;

export class WorkQueue {
  readonly #slots = new Map<string, Slot>();
  readonly #clock: Clock;
  readonly #work: Work;
  readonly #failed: Failed;
  readonly #maxRunning: number;
  /** Keys waiting for a turn, in order; a key may be stale here (forgotten, or already run): checked when taken. */
  #ready: string[] = [];
  #readyHead = 0;
  #running = 0;
  #stopped = false;

  constructor(clock: Clock, work: Work, failed: Failed, maxRunning = DEFAULT_MAX_RUNNING) {
    this.#clock = clock;
    this.#work = work;
    this.#failed = failed;
    // NaN or a fraction below 1 would let nothing run, ever
    this.#maxRunning = maxRunning >= 1 ? Math.floor(maxRunning) : DEFAULT_MAX_RUNNING;
  }

  /** Run the key as soon as it is not running; merges with a run already waiting. */
  add(key: string, boundary?: number): void {
    if (this.#stopped) return;
    const slot = this.#slot(key);
    slot.boundary = boundary ?? slot.boundary;
    if (slot.waiting) return;
    slot.waiting = true;
    if (!slot.running) this.#start(key, slot);
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
      slot = { running: undefined, waiting: false, boundary: undefined, timer: undefined, failures: 0, queued: false };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  /** Puts the key in line (once) and gives out the free turns: it runs now if nothing waits before it. */
  #start(key: string, slot: Slot): void {
    if (!slot.queued) {
      slot.queued = true;
      this.#ready.push(key);
    }
    this.#pump();
  }

  /** Gives free turns to the keys waiting for one, in order. */
  #pump(): void {
    while (this.#running < this.#maxRunning && this.#readyHead < this.#ready.length && !this.#stopped) {
      const key = this.#ready[this.#readyHead++] as string;
      const slot = this.#slots.get(key);
      if (slot?.queued) {
        slot.queued = false;
        if (slot.waiting && !slot.running) this.#run(key, slot);
      }
    }
    if (this.#readyHead === this.#ready.length) {
      this.#ready = [];
      this.#readyHead = 0;
    }
  }

  #run(key: string, slot: Slot): void {
    this.#running++;
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
    this.#running--;
    if (this.#slots.get(key) === slot) {
      this.addAt(key, again);
      // A key asked for again while it ran goes to the back of the line like any other.
      if (slot.waiting && !this.#stopped) this.#start(key, slot);
      else this.#dropIfIdle(key, slot);
    }
    this.#pump();
  }

  #dropIfIdle(key: string, slot: Slot): void {
    if (!slot.running && !slot.waiting && !slot.queued && !slot.timer && slot.failures === 0 && this.#slots.get(key) === slot)
      this.#slots.delete(key);
  }
}
