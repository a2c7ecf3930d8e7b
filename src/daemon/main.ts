// The one place that wires the daemon together: configuration, adapters in (informers, Prometheus,
// the lease), the reconciler, adapters out (patcher, events, status, /metrics). Everything here is
// construction and lifecycle; the decisions live in src/decide/.
import { AuthenticationV1Api } from "@kubernetes/client-node";
import { exposedCredentials, loadDaemonConfig, wakerOf, type DaemonConfig } from "./config.ts";
import { HostIndex, KServeIngressSettings, predictorUnschedulable, WakeRouteBook } from "./wake.ts";
import { TokenReviewer, wakeApiHandler } from "./wakeApi.ts";
import { kubeRequest, WakeRouteWriter } from "../act/wakeRoutes.ts";
import { systemClock } from "./clock.ts";
import { Reconciler } from "./reconciler.ts";
import { createLogger, type Logger } from "../report/log.ts";
import { ReclaimerMetrics } from "../report/metrics.ts";
import { startReportServer, type ReportServer } from "../report/http.ts";
import { loadKubeConfig } from "../sources/kube/client.ts";
import { resourceServed } from "../sources/kube/discovery.ts";
import { Informer } from "../sources/kube/informer.ts";
import { PodsByService, predictorPodInformer } from "../sources/kube/pods.ts";
import { ISVC_RESOURCE } from "../sources/kube/inferenceService.ts";
import { deploymentModeNamed, toService } from "../sources/kube/service.ts";
import {
  CLUSTER_SCOPE,
  CLUSTER_SERVING_SCHEDULE_RESOURCE,
  SERVING_SCHEDULE_RESOURCE,
  parseClusterScheduleObject,
  parseScheduleObject,
  type ScheduleObject,
} from "../sources/kube/servingSchedule.ts";
import { NAMESPACE_RESOURCE, parseNamespaceObject } from "../sources/kube/namespace.ts";
import { LeaderElector, defaultIdentity } from "../sources/kube/lease.ts";
import { createPrometheusClient, type PrometheusClient } from "../sources/prometheus/client.ts";
import { readTraffic } from "../sources/prometheus/traffic.ts";
import type { CustomQueryPolicy } from "../sources/prometheus/presets.ts";
import { WriteLimiter } from "../act/writeLimiter.ts";
import { AnnotationPatcher } from "../act/patcher.ts";
import { EventRecorder } from "../act/events.ts";
import { ScheduleStatusWriter } from "../act/scheduleStatus.ts";
import { startAdmissionWebhook, type AdmissionWebhook, type CertificateSource } from "../admission/webhook.ts";
import { systemTimers } from "../sources/kube/runtime.ts";

/** How long shutdown may spend writing what is still queued (Events, patches); Kubernetes' default grace period is 30 s. */
const SHUTDOWN_WRITE_BUDGET_MS = 10_000;

/** How often KServe's ingress settings are read and the wake routes listed (a deleted route comes back within this). */
const WAKE_REFRESH_MS = 60_000;

/** An informer silent for longer than this is reported by /healthz (a healthy idle watch is reopened every 150 s). */
const STALE_AFTER_MS = 5 * 60_000;

export type Daemon = { stop(reason: string): Promise<void>; done: Promise<void>; metrics: ReclaimerMetrics };

export async function startDaemon(config: DaemonConfig, log: Logger): Promise<Daemon> {
  const clusterDefault = deploymentModeNamed(config.defaultDeploymentMode);
  const { kubeConfig, source } = loadKubeConfig({ kubeconfig: config.kubeconfig, context: config.context });
  const identity = config.identity ?? defaultIdentity();
  log.info("starting", {
    kubeconfig: source,
    server: kubeConfig.getCurrentCluster()?.server,
    namespaces: config.namespaces.length ? config.namespaces : "all",
    identity,
    dryRun: config.dryRun,
    leaderElect: config.leaderElect,
  });
  const exposed = exposedCredentials(config);
  if (exposed !== undefined)
    log.warn("insecure Prometheus credentials allowed (--prometheus-allow-insecure-credentials)", { problem: exposed });
  const customQueries: CustomQueryPolicy = config.allowCustomQueries
    ? { allowed: true, namespaceLabel: config.customQueryNamespaceLabel }
    : { allowed: false };
  if (customQueries.allowed)
    log.info("custom idle queries allowed, each confined to its schedule's namespace", { label: customQueries.namespaceLabel });

  const metrics = new ReclaimerMetrics();
  const limiter = new WriteLimiter({ qps: config.kubeQps, burst: config.kubeBurst });
  const patcher = new AnnotationPatcher({ kubeConfig, limiter, logger: log });
  const events = new EventRecorder({ kubeConfig, limiter, reportingInstance: identity, logger: log });
  const statusWriter = new ScheduleStatusWriter({ kubeConfig, limiter, logger: log });
  const prometheus: PrometheusClient | undefined =
    config.prometheusUrl === undefined ? undefined : createPrometheusClient(prometheusOptions(config, config.prometheusUrl));

  const namespaces = config.namespaces.length > 0 ? config.namespaces : undefined;
  // Wake on request: KServe's hosts, the routes to the waker, the predictor pods' scheduling.
  const request = kubeRequest(kubeConfig);
  const waker = wakerOf(config);
  const kserveIngress = new KServeIngressSettings(request, config.kserveNamespace, log);
  const routeWriter = new WakeRouteWriter({ request, limiter, backend: { ...waker.service, clusterDomain: config.clusterDomain } });
  const services = new Informer({
    resource: ISVC_RESOURCE,
    namespaces,
    name: "inferenceservices",
    kubeConfig,
    logger: log,
    transform: (raw) => toService(raw, clusterDefault),
  });
  const schedules = new Informer({
    resource: SERVING_SCHEDULE_RESOURCE,
    namespaces,
    name: "servingschedules",
    kubeConfig,
    logger: log,
    transform: parseScheduleObject,
  });
  // ClusterServingSchedules reach across namespaces; a namespaced install has no cluster rights to
  // read them or Namespaces, and its tenants did not agree to a platform-wide policy: it ignores them.
  let clusterWide = namespaces === undefined;
  if (clusterWide && (await resourceServed(kubeConfig, CLUSTER_SERVING_SCHEDULE_RESOURCE)) === "absent") {
    log.warn(
      "the ClusterServingSchedule CRD is not installed: cluster-wide schedules are ignored until it is applied and the daemon restarts",
      {
        crd: "clusterservingschedules.reclaimer.dev",
      },
    );
    clusterWide = false;
  }
  const clusterSchedules = clusterWide
    ? new Informer({
        resource: CLUSTER_SERVING_SCHEDULE_RESOURCE,
        name: "clusterservingschedules",
        kubeConfig,
        logger: log,
        transform: parseClusterScheduleObject,
      })
    : undefined;
  const namespaceInformer = clusterWide
    ? new Informer({ resource: NAMESPACE_RESOURCE, name: "namespaces", kubeConfig, logger: log, transform: parseNamespaceObject })
    : undefined;
  const allSchedules = {
    list: (): ScheduleObject[] => [...schedules.list(), ...(clusterSchedules?.list() ?? [])],
    get: (ns: string, name: string): ScheduleObject | undefined =>
      ns === CLUSTER_SCOPE ? clusterSchedules?.get(undefined, name) : schedules.get(ns, name),
  };
  // GPUs are free when the predictor pods are gone, not when KServe reports Stopped=True
  const pods = predictorPodInformer({ kubeConfig, namespaces, logger: log });
  const podsByService = new PodsByService();
  const informers = [
    services,
    schedules,
    pods,
    ...(clusterSchedules ? [clusterSchedules] : []),
    ...(namespaceInformer ? [namespaceInformer] : []),
  ];

  const hostIndex = new HostIndex(kserveIngress, () => services.list());
  const wakeRoutes = new WakeRouteBook({ writer: routeWriter, settings: kserveIngress, hosts: (s) => hostIndex.hostsOf(s), namespaces });
  const reconciler = new Reconciler(
    {
      clock: systemClock,
      log,
      metrics,
      services,
      schedules: allSchedules,
      namespaceLabels: namespaceInformer
        ? (ns) => {
            const known = namespaceInformer.get(undefined, ns);
            return known ? (known.metadata.labels ?? {}) : undefined;
          }
        : undefined,
      patchAnnotations: async (ns, name, annotations, resourceVersion) => {
        const r = await patcher.patchAnnotations(ns, name, annotations, { resourceVersion });
        if (r.kind === "error") metrics.kubernetesApiError("patch", "inferenceservices", r.code ?? "unknown");
        if (r.kind === "conflict") metrics.kubernetesApiError("patch", "inferenceservices", 409);
        return r;
      },
      warmWrites: (count) => patcher.warm(count),
      event: (ref, type, reason, message) => events.record(ref, type, reason, message),
      writeStatus: async (ns, name, status) => {
        const r = await statusWriter.write(ns, name, status, allSchedules.get(ns, name));
        const resource = ns === CLUSTER_SCOPE ? "clusterservingschedules/status" : "servingschedules/status";
        if (r.kind === "error") metrics.kubernetesApiError("patch", resource, r.code ?? "unknown");
      },
      forgetStatus: (ns, name) => statusWriter.forget(ns, name),
      readTraffic: prometheus ? (requests) => readTraffic(prometheus, requests, customQueries) : undefined,
      wakeRoutes,
      unschedulable: (ns, name) => predictorUnschedulable(request, ns, name),
      pods: podsByService,
    },
    {
      dryRun: config.dryRun,
      idleIntervalMs: config.idleInterval,
      confirmStopTimeoutMs: config.confirmStopTimeout,
      confirmStartTimeoutMs: config.confirmStartTimeout,
      statusDebounceMs: 1000,
    },
  );

  let leading = false;
  services.on("add", (o) => {
    hostIndex.changed("add");
    if (leading) reconciler.onServiceChanged(o);
  });
  services.on("update", (o) => {
    hostIndex.changed("update");
    if (leading) reconciler.onServiceChanged(o);
  });
  services.on("delete", (o) => {
    hostIndex.changed("delete");
    if (leading) reconciler.onServiceDeleted(o);
  });
  for (const inf of clusterSchedules ? [schedules, clusterSchedules] : [schedules]) {
    inf.on("add", (o) => {
      if (leading) reconciler.onScheduleChanged(o);
    });
    inf.on("update", (o) => {
      if (leading) reconciler.onScheduleChanged(o);
    });
    inf.on("delete", (o) => {
      if (leading) reconciler.onScheduleDeleted(o);
    });
  }
  // The index follows every event, leading or not, so a new leader starts from a complete count;
  // the reconciler hears only of services whose count changed.
  const holding = (k: string) => podsByService.holding(k.slice(0, k.indexOf("/")), k.slice(k.indexOf("/") + 1));
  const serviceKey = (p: { metadata: { namespace: string }; service: string }) => `${p.metadata.namespace}/${p.service}`;
  const podsChanged = (before: Map<string, number>, keys: Iterable<string>) => {
    if (!leading) return;
    for (const k of keys) if (holding(k) !== before.get(k)) reconciler.onPodsChanged(k);
  };
  const countsOf = (keys: Iterable<string>) => new Map([...keys].map((k) => [k, holding(k)]));
  pods.on("add", (p) => podsChanged(countsOf([serviceKey(p)]), [podsByService.put(p)]));
  pods.on("update", (p, old) => podsChanged(countsOf([serviceKey(old), serviceKey(p)]), podsByService.move(p, old)));
  pods.on("delete", (p) => podsChanged(countsOf([serviceKey(p)]), [podsByService.remove(p)]));
  pods.on("synced", () => podsChanged(countsOf(podsByService.keys()), podsByService.reset(pods.list())));
  namespaceInformer?.on("add", (o) => {
    if (leading) reconciler.onNamespaceChanged(o.metadata.name);
  });
  namespaceInformer?.on("update", (o, old) => {
    if (leading && JSON.stringify(o.metadata.labels ?? {}) !== JSON.stringify(old.metadata.labels ?? {}))
      reconciler.onNamespaceChanged(o.metadata.name);
  });
  for (const inf of informers) {
    inf.on("synced", ({ reason }) => {
      if (leading && reason !== "initial") reconciler.resync();
    });
    // the informer logs each failure itself, with its cause; logging it here too doubled every line
    inf.on("error", () => undefined);
  }

  const authentication = kubeConfig.makeApiClient(AuthenticationV1Api);
  const reviewer = new TokenReviewer({
    now: () => systemClock.now(),
    review: async (token) => {
      const review = await authentication.createTokenReview({
        body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: [config.wakeTokenAudience] } },
      });
      // a token for another audience (the pod's API token, say) is not the waker's call
      const audienceOk = review.status?.audiences?.includes(config.wakeTokenAudience) === true;
      return { authenticated: review.status?.authenticated === true && audienceOk, username: review.status?.user?.username };
    },
  });
  const wakeApi = wakeApiHandler({
    reviewer,
    wakerUser: waker.user,
    isLeader: () => leading && reconciler.ready,
    count: (result) => metrics.wakeApiRequest(result),
    lookup: (wakeHost) => {
      const k = hostIndex.lookup(wakeHost);
      if (k === undefined) return undefined;
      const i = k.indexOf("/");
      const [namespace, name] = [k.slice(0, i), k.slice(i + 1)];
      const outcome = reconciler.wake(namespace, name);
      return outcome && { namespace, name, ...outcome };
    },
  });

  const [host, port] = splitAddr(config.metricsAddr);
  const server: ReportServer = await startReportServer({
    metrics,
    host,
    port,
    handlers: [wakeApi],
    health: () => {
      const problems: string[] = [];
      for (const inf of informers) {
        const st = inf.status();
        if (st.synced && st.stalenessMs > STALE_AFTER_MS)
          problems.push(`${st.name}: no watch activity for ${Math.round(st.stalenessMs / 1000)}s`);
      }
      return { ok: problems.length === 0, problems };
    },
    ready: () => {
      const problems: string[] = [];
      for (const inf of informers) if (!inf.hasSynced) problems.push(`${inf.status().name}: cache not synced`);
      if (leading && !reconciler.ready) problems.push("reconciler: timers not armed");
      return { ok: problems.length === 0, problems };
    },
  });
  log.info("serving /metrics /healthz /readyz", { address: server.address, port: server.port });
  let webhook: AdmissionWebhook | undefined;
  if (config.webhookAddr !== undefined) {
    const [webhookHost, webhookPort] = splitAddr(config.webhookAddr);
    try {
      webhook = await startAdmissionWebhook({
        host: webhookHost,
        port: webhookPort,
        source: certificateSource(config),
        kubeConfig,
        log,
        metrics,
        timers: systemTimers,
      });
    } catch (err) {
      await server.close();
      throw err;
    }
  }

  for (const inf of informers) inf.start();
  await Promise.all(informers.map((inf) => inf.waitForSync()));
  log.info("caches synced", {
    inferenceservices: services.size,
    servingschedules: schedules.size,
    clusterservingschedules:
      clusterSchedules?.size ?? (namespaces === undefined ? "ignored (CRD not installed)" : "ignored (namespaced install)"),
    namespaces: namespaceInformer?.size,
    predictorPods: pods.size,
  });

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;

  let wakeTimer: NodeJS.Timeout | undefined;
  let lastWakeProblem = "";
  const refreshWake = async () => {
    await kserveIngress.refresh();
    try {
      const changed = await wakeRoutes.refresh();
      metrics.setWakeRoutes(wakeRoutes.count);
      for (const k of changed) reconciler.poke(k);
      lastWakeProblem = "";
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      metrics.error("wake");
      if (message !== lastWakeProblem) log.warn("could not list the wake routes; retrying every minute", { err: message });
      lastWakeProblem = message;
    }
  };
  const lead = () => {
    leading = true;
    metrics.setLeader(true);
    // hosts come from KServe's settings: read them before any wake route is written (refresh never rejects)
    const refreshed = kserveIngress.refresh().then(() => {
      if (!leading) return;
      reconciler.start();
      log.info("leading: reconciling", { identity });
      const tick = () => {
        refreshWake().catch((err: unknown) => reportUnexpected(log, metrics, "unhandledRejection", err));
      };
      tick();
      wakeTimer = setInterval(tick, WAKE_REFRESH_MS);
      wakeTimer.unref();
    });
    refreshed.catch((err: unknown) => reportUnexpected(log, metrics, "unhandledRejection", err));
  };

  let elector: LeaderElector | undefined;
  if (config.leaderElect) {
    elector = new LeaderElector({
      kubeConfig,
      namespace: config.leaderElectionNamespace,
      name: config.leaderElectionId,
      identity,
      logger: log,
      onStartedLeading: () => lead(),
      onStoppedLeading: () => {
        if (!leading) return;
        // Lost the lease while running: another replica may act now. Stop at once, never act twice.
        log.warn("lost leadership; stopping", { identity });
        stop("lost leadership").catch((err: unknown) => reportUnexpected(log, metrics, "uncaughtException", err));
      },
      onNewLeader: (leader) => log.info("leader", { leader }),
    });
    elector.start();
  } else {
    lead();
  }

  async function stop(reason: string): Promise<void> {
    stopping ??= (async () => {
      log.info("stopping", { reason });
      leading = false;
      clearInterval(wakeTimer);
      await reconciler.stop();
      await drainWrites({ events, limiter, log }, SHUTDOWN_WRITE_BUDGET_MS);
      await elector?.stop();
      metrics.setLeader(false);
      await Promise.all(informers.map((inf) => inf.stop()));
      await server.close();
      await webhook?.close();
      prometheus?.close();
      log.info("stopped");
      resolveDone();
    })();
    return stopping;
  }

  return { stop, done, metrics };
}

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

/**
 * Something escaped every handler: a bug. Per-service work already catches its own failures, so
 * what lands here is logged with its stack and counted, and the daemon goes on; exiting would
 * only restart into the same state, and a crash loop would stop every namespace's schedules.
 */
function reportUnexpected(
  log: Logger,
  metrics: ReclaimerMetrics | undefined,
  kind: "unhandledRejection" | "uncaughtException",
  err: unknown,
): void {
  try {
    log.error(kind === "unhandledRejection" ? "unhandled promise rejection; continuing" : "uncaught exception; continuing", {
      err: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    metrics?.error(kind);
  } catch {
    // the logger itself failed: nothing left to report to
  }
}

/** `run`: start, then stop cleanly on SIGTERM/SIGINT (drain patches, release the lease). */
export async function runDaemon(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadDaemonConfig(args, env);
  const log = createLogger(config.logLevel);
  let metrics: ReclaimerMetrics | undefined;
  const onRejection = (err: unknown) => reportUnexpected(log, metrics, "unhandledRejection", err);
  const onException = (err: unknown) => reportUnexpected(log, metrics, "uncaughtException", err);
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  try {
    const daemon = await startDaemon(config, log);
    metrics = daemon.metrics;
    const onSignal = (sig: string) => daemon.stop(sig).catch((err: unknown) => onException(err));
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));
    await daemon.done;
  } finally {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  }
  // Everything is drained and released; a socket kept alive by a library must not hold the exit.
  setTimeout(() => process.exit(0), 200).unref();
  return 0;
}

function prometheusOptions(config: DaemonConfig, baseUrl: string): Parameters<typeof createPrometheusClient>[0] {
  const headers: Record<string, string> = {};
  for (const h of config.prometheusHeader) {
    const i = h.indexOf(":");
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const user = config.prometheusBasicAuthUser;
  const passwordFile = config.prometheusBasicAuthPasswordFile;
  return {
    baseUrl,
    bearerTokenFile: config.prometheusBearerTokenFile,
    basicAuth: user !== undefined && passwordFile !== undefined ? { username: user, passwordFile } : undefined,
    caFile: config.prometheusCaFile,
    certFile: config.prometheusCertFile,
    keyFile: config.prometheusKeyFile,
    insecureSkipVerify: config.prometheusInsecureSkipVerify,
    headers,
    timeoutMs: config.prometheusTimeout,
  };
}

function certificateSource(config: DaemonConfig): CertificateSource {
  if (config.webhookCertDir !== undefined) return { kind: "files", dir: config.webhookCertDir };
  const namespace = config.webhookNamespace ?? config.leaderElectionNamespace;
  const service = config.webhookService;
  return {
    kind: "selfManaged",
    namespace,
    secretName: config.webhookSecret,
    configurationName: config.webhookConfiguration,
    // The names the apiserver dials for a service reference, then any the user added (an IP for a url: clientConfig).
    hosts: [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, ...config.webhookCertHosts],
  };
}

function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i);
  return [host === "" ? "0.0.0.0" : host, Number(addr.slice(i + 1))];
}
