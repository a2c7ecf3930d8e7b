// The only place the daemon reads the wall clock or arms timers. Everything else is handed `now`.
import { MAX_TIMER_DELAY_MS } from "../schedule/index.ts";

export type Cancel = () => void;

export type Clock = {
  now(): number;
  /** Run fn at the instant (epoch ms), or at once if it has passed; never for NaN or +Infinity. Long waits are chained, since setTimeout caps at ~24.8 days. */
  at(instant: number, fn: () => void): Cancel;
  every(ms: number, fn: () => void): Cancel;
};

export const systemClock: Clock = {
  now: () => Date.now(),
  at(instant, fn) {
    // No instant is "never"; a NaN delay would otherwise become a 1 ms timer that re-arms forever.
    if (Number.isNaN(instant) || instant === Number.POSITIVE_INFINITY) return () => {};
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = () => {
      if (cancelled) return;
      const delay = instant - Date.now();
      if (delay <= 0) {
        fn();
        return;
      }
      timer = setTimeout(arm, Math.min(delay, MAX_TIMER_DELAY_MS));
      timer.unref?.();
    };
    // Never run fn synchronously (a callback that re-arms from inside a firing would recurse): an
    // instant already passed still waits for the next turn.
    timer = setTimeout(arm, Math.max(0, Math.min(instant - Date.now(), MAX_TIMER_DELAY_MS)));
    timer.unref?.();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  },
  every(ms, fn) {
    // setInterval past 2^31-1 ms would tick every millisecond: longer periods are chained instead.
    if (ms <= MAX_TIMER_DELAY_MS) {
      const timer = setInterval(fn, Math.max(1, ms));
      timer.unref?.();
      return () => clearInterval(timer);
    }
    let cancel: Cancel = () => {};
    const next = () => {
      cancel = systemClock.at(Date.now() + ms, () => {
        next();
        fn();
      });
    };
    next();
    return () => cancel();
  },
};
