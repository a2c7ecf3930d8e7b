// What escaped every handler: a bug. The daemon and the waker both log it with its stack, count it and
// go on: exiting would only restart into the same state, and a crash loop would stop every namespace's
// schedules (the daemon) or cut every tenant's held requests (the waker).
import type { Logger } from "./log.ts";

export type UnexpectedKind = "unhandledRejection" | "uncaughtException";

export function reportUnexpected(
  log: Logger,
  count: ((kind: UnexpectedKind) => void) | undefined,
  kind: UnexpectedKind,
  err: unknown,
): void {
  try {
    log.error(kind === "unhandledRejection" ? "unhandled promise rejection; continuing" : "uncaught exception; continuing", {
      err: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    count?.(kind);
  } catch {
    // the logger itself failed: nothing left to report to
  }
}

/** Installs process-level handlers that report and survive; the returned function removes them. */
export function surviveUnexpected(log: Logger, count: () => ((kind: UnexpectedKind) => void) | undefined): () => void {
  const onRejection = (err: unknown) => reportUnexpected(log, count(), "unhandledRejection", err);
  const onException = (err: unknown) => reportUnexpected(log, count(), "uncaughtException", err);
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return () => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  };
}
