// `kserve-reclaimer waker`: wires the configuration, the daemon client, the waker's server and its
// /metrics server, and stops cleanly on SIGTERM (held requests answered 503 so clients retry
// another replica, forwards in progress given time to finish).
import { createLogger } from "../report/log.ts";
import { ListenError, startReportServer } from "../report/http.ts";
import { loadWakerConfig } from "./config.ts";
import { DaemonClient } from "./daemonClient.ts";
import { WakerMetrics } from "./metrics.ts";
import { startWaker } from "./server.ts";

/** How long forwards in progress may go on after SIGTERM; Kubernetes' default grace period is 30 s. */
const SHUTDOWN_GRACE_MS = 20_000;

export async function runWaker(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadWakerConfig(args, env);
  const log = createLogger(config.logLevel);
  const metrics = new WakerMetrics();
  const daemon = new DaemonClient({
    daemonUrl: config.daemonUrl,
    tokenFile: config.tokenFile,
    now: Date.now,
    onCall: () => metrics.wakeRequest(),
  });
  const where = (a: { host: string; port: number }) => `${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
  let waker: Awaited<ReturnType<typeof startWaker>>;
  try {
    waker = await startWaker(
      {
        daemon,
        upstreamTemplate: config.upstreamTemplate,
        metrics,
        log,
        now: Date.now,
        maxHeldRequests: config.maxHeldRequests,
        maxHeldBytes: config.maxHeldBytes,
        maxBodyBytes: config.maxBodyBytes,
        holdTimeoutMs: config.holdTimeoutMs,
      },
      config.listen,
    );
  } catch (e) {
    throw new ListenError(where(config.listen), e, "--listen");
  }
  let report: Awaited<ReturnType<typeof startReportServer>>;
  try {
    report = await startReportServer({
      metrics,
      health: () => ({ ok: true, problems: [] }),
      ready: () => ({ ok: true, problems: [] }),
      host: config.metricsAddr.host,
      port: config.metricsAddr.port,
    });
  } catch (e) {
    await waker.close(0);
    throw e;
  }
  log.info("waker listening", {
    port: waker.port,
    metricsPort: report.port,
    daemonUrl: config.daemonUrl,
    upstreamTemplate: config.upstreamTemplate,
    maxHeldRequests: config.maxHeldRequests,
    maxHeldBytes: config.maxHeldBytes,
    maxBodyBytes: config.maxBodyBytes,
  });
  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const signal = await stopped;
  log.info("stopping", { signal, held: waker.held });
  await waker.close(SHUTDOWN_GRACE_MS);
  await report.close();
  log.info("stopped");
  // a keep-alive socket of fetch's must not hold the exit
  setTimeout(() => process.exit(0), 200).unref();
  return 0;
}
