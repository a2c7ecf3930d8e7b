// Shutdown's writes: what is still batched or queued goes out within one budget, so a stop (SIGTERM,
// lost leadership) loses no Event or patch it can still make.
import type { Logger } from "../report/log.ts";

/**
 * At shutdown, Events still batched (repeats waiting for their interval) are written first, then
 * every queued write drains, all within one budget. Closing the limiter first would drop them.
 */
export async function drainWrites(
  parts: { events: { flush(): Promise<void> }; limiter: { drain(timeoutMs?: number): Promise<void> }; log: Pick<Logger, "warn"> },
  budgetMs: number,
  now: () => number = Date.now,
): Promise<void> {
  const deadline = now() + budgetMs;
  const flushed = await settlesWithin(parts.events.flush(), budgetMs);
  if (!flushed) parts.log.warn("Events still pending at shutdown", { budgetMs });
  try {
    await parts.limiter.drain(Math.max(0, deadline - now()));
  } catch (err) {
    parts.log.warn("writes still pending at shutdown", { err: err instanceof Error ? err.message : String(err) });
  }
}

/** True when `p` settled within `ms`; never rejects. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
