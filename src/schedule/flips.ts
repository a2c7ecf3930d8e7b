// Schedules that change state so often that they would thrash GPUs: every start reloads a model,
// which takes minutes, so a service flipping every few minutes spends its time loading. Such a
// schedule is valid (it may be what someone wants), so this only finds it for a warning. Pure: the
// caller says which stretch of time to look at.
import { DAY_MS } from "./civil.ts";
import { transitionsBetween, type CompiledSchedule, type Transition } from "./engine.ts";

/** Transitions closer than this are "flipping". */
export const MIN_FLIP_GAP_MS = 10 * 60_000;

// A month at a time, so that a schedule flipping from its first day is found after one month's
// transitions, not a year's (a per-minute cron has half a million of those).
const CHUNK_MS = 31 * DAY_MS;

/** The first two consecutive transitions in (from, until] less than gapMs apart, or undefined. */
export function firstQuickFlip(
  s: CompiledSchedule,
  from: number,
  until: number,
  gapMs: number = MIN_FLIP_GAP_MS,
): [Transition, Transition] | undefined {
  let previous: Transition | undefined;
  for (let lo = from; lo < until; lo += CHUNK_MS) {
    for (const t of transitionsBetween(s, lo, Math.min(lo + CHUNK_MS, until))) {
      if (previous && t.at - previous.at < gapMs) return [previous, t];
      previous = t;
    }
  }
  return undefined;
}
