// One serial queue per object key: work for one InferenceService never runs concurrently with
// itself (two decisions racing on one object would patch twice), while different objects proceed
// in parallel. A key's queue is dropped as soon as it is empty, so memory follows live work only.
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly onError: (key: string, err: unknown) => void;

  constructor(onError: (key: string, err: unknown) => void) {
    this.onError = onError;
  }

  run(key: string, work: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(work).catch((err: unknown) => {
      // A failing error handler must not turn this key's chain into an unhandled rejection.
      try {
        this.onError(key, err);
      } catch {
        // nothing left to report it to
      }
    });
    this.tails.set(key, next);
    next.then(
      () => {
        if (this.tails.get(key) === next) this.tails.delete(key);
      },
      () => undefined,
    );
    return next;
  }

  get size(): number {
    return this.tails.size;
  }

  async drain(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
