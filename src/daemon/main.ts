// The one place that wires the daemon together: configuration, adapters in (caches, Prometheus, the
// lease), the reconciler, adapters out (patcher, Events, status, wake routes, /metrics). Construction
// and the order of start and stop only; the decisions live in src/decide/, event routing in
// routing.ts, who acts in leadership.ts.
import { exposedCredentials, wakerOf, type DaemonConfig } from "./config.ts";
import { certificateSource, prometheusOptions } from "./options.ts";
import { HostIndex, KServeIngressSettings, predictorUnschedulable, WakeRouteBook } from "./wake.ts";
import { TokenReviewer, tokenReview, wakeApiHandler, wakeLookup } from "./wakeApi.ts";
import { kubeRequest, WakeRouteWriter } from "../act/wakeRoutes.ts";
import { systemClock } from "./clock.ts";
import { openCaches } from "./caches.ts";
import { Leadership } from "./leadership.ts";
import { Reconciler } from "./reconciler.ts";
import { routeEvents } from "./routing.ts";
import { drainWrites } from "./shutdown.ts";
import type { Logger } from "../report/log.ts";
import { ReclaimerMetrics } from "../report/metrics.ts";
import { startReportServer } from "../report/http.ts";
import { reportUnexpected } from "../report/unexpected.ts";
import { parseListenAddress, type ListenAddress } from "../config/listen.ts";
import { loadKubeConfig } from "../sources/kube/client.ts";
import { deploymentModeNamed, SERVICE_KINDS, type ServiceKind } from "../sources/kube/service.ts";
import { CLUSTER_SCOPE } from "../sources/kube/servingSchedule.ts";
import { defaultIdentity } from "../sources/kube/lease.ts";
import { createPrometheusClient } from "../sources/prometheus/client.ts";
import { readTraffic } from "../sources/prometheus/traffic.ts";
import type { CustomQueryPolicy } from "../sources/prometheus/presets.ts";
import { WriteLimiter } from "../act/writeLimiter.ts";
import { AnnotationPatcher } from "../act/patcher.ts";
import { EventRecorder } from "../act/events.ts";
import { ScheduleStatusWriter } from "../act/scheduleStatus.ts";
import { startAdmissionWebhook, type AdmissionWebhook } from "../admission/webhook.ts";
import { systemTimers } from "../sources/kube/runtime.ts";

/** How long shutdown may spend writing what is still queued (Events, patches); Kubernetes' default grace period is 30 s. */
const SHUTDOWN_WRITE_BUDGET_MS = 10_000;

export type Daemon = { stop(reason: string): Promise<void>; done: Promise<void>; metrics: ReclaimerMetrics };

export async function startDaemon(config: DaemonConfig, log: Logger): Promise<Daemon> {
  const { kubeConfig, source } = loadKubeConfig({ kubeconfig: config.kubeconfig, context: config.context });
  const identity = config.identity ?? defaultIdentity();
  const namespaces = config.namespaces.length > 0 ? config.namespaces : undefined;
  log.info("starting", {
    kubeconfig: source,
    server: kubeConfig.getCurrentCluster()?.server,
    namespaces: namespaces ?? "all",
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

  // Out: writes share one rate limit.
  const metrics = new ReclaimerMetrics();
  const limiter = new WriteLimiter({ qps: config.kubeQps, burst: config.kubeBurst });
  const patchers: Record<ServiceKind, AnnotationPatcher> = {
    InferenceService: new AnnotationPatcher({ kubeConfig, limiter, logger: log }),
    LLMInferenceService: new AnnotationPatcher({ kubeConfig, limiter, logger: log, resource: SERVICE_KINDS.LLMInferenceService.resource }),
  };
  const events = new EventRecorder({ kubeConfig, limiter, reportingInstance: identity, logger: log });
  const statusWriter = new ScheduleStatusWriter({ kubeConfig, limiter, logger: log });
  // In: the caches and Prometheus.
  const caches = await openCaches({ kubeConfig, namespaces, clusterDefault: deploymentModeNamed(config.defaultDeploymentMode), log });
  const prometheus =
    config.prometheusUrl === undefined ? undefined : createPrometheusClient(prometheusOptions(config, config.prometheusUrl));
  // Wake on request: KServe's hosts, the routes to the waker, the predictor pods' scheduling.
  const request = kubeRequest(kubeConfig);
  const waker = wakerOf(config);
  const kserveIngress = new KServeIngressSettings(request, config.kserveNamespace, log);
  const routeWriter = new WakeRouteWriter({ request, limiter, backend: { ...waker.service, clusterDomain: config.clusterDomain } });
  // wake on request routes InferenceServices' hosts (an LLMInferenceService's route is its own Gateway's)
  const hostIndex = new HostIndex(kserveIngress, () => caches.inferenceServices.list());
  const wakeRoutes = new WakeRouteBook({ writer: routeWriter, settings: kserveIngress, hosts: (s) => hostIndex.hostsOf(s), namespaces });

  const reconciler = new Reconciler(
    {
      clock: systemClock,
      log,
      metrics,
      services: caches.services,
      schedules: caches.allSchedules,
      namespaceLabels: caches.namespaceLabels,
      patchAnnotations: async (target, annotations, resourceVersion) => {
        const r = await patchers[target.kind].patchAnnotations(target.namespace, target.name, annotations, { resourceVersion });
        const resource = SERVICE_KINDS[target.kind].resource.plural;
        if (r.kind === "error") metrics.kubernetesApiError("patch", resource, r.code ?? "unknown");
        if (r.kind === "conflict") metrics.kubernetesApiError("patch", resource, 409);
        return r;
      },
      warmWrites: (count) => patchers.InferenceService.warm(count),
      event: (ref, type, reason, message) => events.record(ref, type, reason, message),
      writeStatus: async (ns, name, status) => {
        const r = await statusWriter.write(ns, name, status, caches.allSchedules.get(ns, name));
        const resource = ns === CLUSTER_SCOPE ? "clusterservingschedules/status" : "servingschedules/status";
        if (r.kind === "error") metrics.kubernetesApiError("patch", resource, r.code ?? "unknown");
      },
      forgetStatus: (ns, name) => statusWriter.forget(ns, name),
      readTraffic: prometheus ? (requests) => readTraffic(prometheus, requests, customQueries) : undefined,
      wakeRoutes,
      unschedulable: (service) => predictorUnschedulable(request, service),
      pods: caches.podsByService,
    },
    {
      dryRun: config.dryRun,
      idleIntervalMs: config.idleInterval,
      confirmStopTimeoutMs: config.confirmStopTimeout,
      confirmStartTimeoutMs: config.confirmStartTimeout,
      statusDebounceMs: 1000,
    },
  );
  const leadership = new Leadership({
    lease: config.leaderElect ? { kubeConfig, namespace: config.leaderElectionNamespace, name: config.leaderElectionId } : undefined,
    identity,
    log,
    metrics,
    kserveIngress,
    wakeRoutes,
    startReconciling: () => reconciler.start(),
    poke: (k) => reconciler.poke(k),
    lost: () => {
      stop("lost leadership").catch((err: unknown) => reportUnexpected(log, (k) => metrics.error(k), "uncaughtException", err));
    },
  });
  routeEvents(caches, hostIndex, reconciler, () => leadership.leading);

  const wakeApi = wakeApiHandler({
    reviewer: new TokenReviewer({ now: () => systemClock.now(), review: tokenReview(kubeConfig, config.wakeTokenAudience) }),
    wakerUser: waker.user,
    isLeader: () => leadership.leading && reconciler.ready,
    count: (result) => metrics.wakeApiRequest(result),
    lookup: wakeLookup(hostIndex, reconciler),
  });
  const server = await startReportServer({
    metrics,
    ...listenOn(config.metricsAddr),
    handlers: [wakeApi],
    health: () => {
      const problems = caches.staleness();
      return { ok: problems.length === 0, problems };
    },
    ready: () => {
      const problems = caches.unsynced();
      if (leadership.leading && !reconciler.ready) problems.push("reconciler: timers not armed");
      return { ok: problems.length === 0, problems };
    },
  });
  log.info("serving /metrics /healthz /readyz", { address: server.address, port: server.port });
  let webhook: AdmissionWebhook | undefined;
  if (config.webhookAddr !== undefined) {
    try {
      const source = certificateSource(config);
      webhook = await startAdmissionWebhook({ ...listenOn(config.webhookAddr), source, kubeConfig, log, metrics, timers: systemTimers });
    } catch (err) {
      await server.close();
      throw err;
    }
  }

  await caches.startAndSync();
  leadership.start();

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;
  async function stop(reason: string): Promise<void> {
    stopping ??= (async () => {
      log.info("stopping", { reason });
      leadership.resign();
      await reconciler.stop();
      await drainWrites({ events, limiter, log }, SHUTDOWN_WRITE_BUDGET_MS);
      await leadership.release();
      await caches.stop();
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

/** A listen address the configuration has already checked. */
function listenOn(text: string): ListenAddress {
  const address = parseListenAddress(text);
  if (typeof address === "string") throw new Error(`listen address: ${address}`);
  return address;
}
