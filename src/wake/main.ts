// `kserve-reclaimer waker`: wires the configuration, the daemon client, the waker's server and its
// /metrics server, and stops cleanly on SIGTERM (held requests answered 503 so clients retry
// another replica, forwards in progress given time to finish). An exception nothing handled is
// logged, counted and survived, as in the daemon: the waker holds every tenant's requests, and one
// bad answer ending the process would cut them all.
import { createLogger, type Logger } from "../report/log.ts";
import { surviveUnexpected } from "../report/unexpected.ts";
import { ListenError, startReportServer } from "../report/http.ts";
import { loadWakerConfig, trustedProxyList } from "./config.ts";
import { DaemonClient } from "./daemonClient.ts";
import { WakerMetrics } from "./metrics.ts";
import { startWaker } from "./server.ts";

/** How long forwards in progress may go on after SIGTERM; Kubernetes' default grace period is 30 s. */
const SHUTDOWN_GRACE_MS = 20_000;

export async function runWaker(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadWakerConfig(args, env);
  const log = createLogger(config.logLevel);
  const metrics = new WakerMetrics();
  const removeHandlers = surviveUnexpected(log, () => (kind) => metrics.internalError(kind));
  try {
    return await serve(config, log, metrics);
  } finally {
    removeHandlers();
  }
}

async function serve(config: ReturnType<typeof loadWakerConfig>, log: Logger, metrics: WakerMetrics): Promise<number> {
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
        bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
        bodyTimeoutMs: config.bodyTimeoutMs,
        trustedProxies: trustedProxyList(config.trustedProxies),
        checkCredentialOnStart: true,
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
      ready: () => waker.ready(),
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
    bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    trustedProxies: config.trustedProxies,
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
