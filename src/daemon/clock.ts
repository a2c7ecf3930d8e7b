// The only place the daemon reads the wall clock or arms timers. Everything else is handed `now`.
export type Cancel = () => void;

export type Clock = {
  now(): number;
  /** Run fn at the instant (epoch ms), or at once if it has passed. Long waits are chained, since setTimeout caps at ~24.8 days. */
  at(instant: number, fn: () => void): Cancel;
  every(ms: number, fn: () => void): Cancel;
};

const MAX_DELAY = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  at(instant, fn) {
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = () => {
      if (cancelled) return;
      const delay = instant - Date.now();
      if (delay <= 0) {
        fn();
        return;
      }
      timer = setTimeout(arm, Math.min(delay, MAX_DELAY));
      timer.unref?.();
    };
    // Timers are armed on the next turn, so a callback that re-arms from inside a firing never recurses.
    timer = setTimeout(arm, 0);
    timer.unref?.();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  },
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref?.();
    return () => clearInterval(timer);
  },
};
