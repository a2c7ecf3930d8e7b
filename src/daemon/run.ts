// `kserve-reclaimer run`: the daemon as a process. Whatever escapes every handler is logged, counted
// and survived (src/report/unexpected.ts); SIGTERM and SIGINT stop it cleanly.
import { loadDaemonConfig } from "./config.ts";
import { startDaemon } from "./main.ts";
import { createLogger } from "../report/log.ts";
import type { ReclaimerMetrics } from "../report/metrics.ts";
import { reportUnexpected, surviveUnexpected, type UnexpectedKind } from "../report/unexpected.ts";

/** `run`: start, then stop cleanly on SIGTERM/SIGINT (drain patches, release the lease). */
export async function runDaemon(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadDaemonConfig(args, env);
  const log = createLogger(config.logLevel);
  let metrics: ReclaimerMetrics | undefined;
  const count = (kind: UnexpectedKind) => metrics?.error(kind);
  const removeHandlers = surviveUnexpected(log, () => count);
  try {
    const daemon = await startDaemon(config, log);
    metrics = daemon.metrics;
    const onSignal = (sig: string) => daemon.stop(sig).catch((err: unknown) => reportUnexpected(log, count, "uncaughtException", err));
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));
    await daemon.done;
  } finally {
    removeHandlers();
  }
  // Everything is drained and released; a socket kept alive by a library must not hold the exit.
  setTimeout(() => process.exit(0), 200).unref();
  return 0;
}
