// The daemon's caches of the cluster: InferenceServices and LLMInferenceServices, ServingSchedules
// (and, cluster-wide, ClusterServingSchedules and Namespaces), and each kind's GPU pods. Built,
// started and reported on together, so /healthz, /readyz and the start-up log see every one of them.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../report/log.ts";
import { resourceServed } from "../sources/kube/discovery.ts";
import { ISVC_KIND, ISVC_RESOURCE } from "../sources/kube/inferenceService.ts";
import { Informer } from "../sources/kube/informer.ts";
import { LLMISVC_KIND, LLMISVC_RESOURCE } from "../sources/kube/llmInferenceService.ts";
import { NAMESPACE_RESOURCE, parseNamespaceObject } from "../sources/kube/namespace.ts";
import { PodsByService, predictorPodInformer } from "../sources/kube/pods.ts";
import type { DeploymentMode } from "../sources/kube/inferenceService.ts";
import { parseServiceKey, type Service, toLlmService, toService } from "../sources/kube/service.ts";
import {
  CLUSTER_SCOPE,
  CLUSTER_SERVING_SCHEDULE_RESOURCE,
  SERVING_SCHEDULE_RESOURCE,
  parseClusterScheduleObject,
  parseScheduleObject,
  type ScheduleObject,
} from "../sources/kube/servingSchedule.ts";

/** An informer silent for longer than this is reported by /healthz (a healthy idle watch is reopened every 150 s). */
const STALE_AFTER_MS = 5 * 60_000;

export type ClusterCaches = Awaited<ReturnType<typeof openCaches>>;

/** Builds the caches (not started). `namespaces` undefined: the whole cluster. */
export async function openCaches(o: {
  kubeConfig: KubeConfig;
  namespaces: string[] | undefined;
  clusterDefault: DeploymentMode;
  log: Logger;
}) {
  const { kubeConfig, namespaces, log: logger } = o;
  const inferenceServices = new Informer({
    resource: ISVC_RESOURCE,
    namespaces,
    name: "inferenceservices",
    kubeConfig,
    logger,
    transform: (raw) => toService(raw, o.clusterDefault),
  });
  // LLMInferenceServices are watched as the apiserver serves them: v1alpha2 (KServe v0.17+, which
  // honours the stop annotation on them), else v1alpha1 (v0.16, which does not: each is reported
  // Unsupported and never patched), else not at all (no llmisvc CRD: nothing to govern).
  const llmVersion = await llmServedVersion(kubeConfig);
  if (llmVersion === undefined)
    logger.info("the LLMInferenceService CRD is not installed: only InferenceServices are governed until it is and the daemon restarts", {
      crd: "llminferenceservices.serving.kserve.io",
    });
  else if (llmVersion !== LLMISVC_RESOURCE.version)
    logger.warn(
      "this KServe serves LLMInferenceService as v1alpha1 only (before v0.17.0): it ignores serving.kserve.io/stop on them; they are reported Unsupported",
      {
        version: llmVersion,
      },
    );
  const llmServices =
    llmVersion === undefined
      ? undefined
      : new Informer({
          resource: { ...LLMISVC_RESOURCE, version: llmVersion },
          namespaces,
          name: "llminferenceservices",
          kubeConfig,
          logger,
          transform: (raw) => toLlmService(raw, llmVersion),
        });
  const serviceInformers = llmServices ? [inferenceServices, llmServices] : [inferenceServices];
  const schedules = new Informer({
    resource: SERVING_SCHEDULE_RESOURCE,
    namespaces,
    name: "servingschedules",
    kubeConfig,
    logger,
    transform: parseScheduleObject,
  });
  // ClusterServingSchedules reach across namespaces; a namespaced install has no cluster rights to
  // read them or Namespaces, and its tenants did not agree to a platform-wide policy: it ignores them.
  let clusterWide = namespaces === undefined;
  if (clusterWide && (await resourceServed(kubeConfig, CLUSTER_SERVING_SCHEDULE_RESOURCE)) === "absent") {
    logger.warn(
      "the ClusterServingSchedule CRD is not installed: cluster-wide schedules are ignored until it is applied and the daemon restarts",
      { crd: "clusterservingschedules.reclaimer.dev" },
    );
    clusterWide = false;
  }
  const clusterSchedules = clusterWide
    ? new Informer({
        resource: CLUSTER_SERVING_SCHEDULE_RESOURCE,
        name: "clusterservingschedules",
        kubeConfig,
        logger,
        transform: parseClusterScheduleObject,
      })
    : undefined;
  const namespaceObjects = clusterWide
    ? new Informer({ resource: NAMESPACE_RESOURCE, name: "namespaces", kubeConfig, logger, transform: parseNamespaceObject })
    : undefined;
  // GPUs are free when the predictor pods are gone, not when KServe reports Stopped=True
  const podKinds = [
    { informer: predictorPodInformer({ kubeConfig, namespaces, logger, kind: ISVC_KIND }), book: new PodsByService() },
    ...(llmServices
      ? [{ informer: predictorPodInformer({ kubeConfig, namespaces, logger, kind: LLMISVC_KIND }), book: new PodsByService() }]
      : []),
  ];
  const bookOf = (key: string) => (parseServiceKey(key).kind === ISVC_KIND ? podKinds[0]?.book : podKinds[1]?.book);
  const informers = [
    ...serviceInformers,
    schedules,
    ...podKinds.map((p) => p.informer),
    ...(clusterSchedules ? [clusterSchedules] : []),
    ...(namespaceObjects ? [namespaceObjects] : []),
  ];

  return {
    /** Both kinds as one, by service key. */
    services: {
      list: (): Service[] => serviceInformers.flatMap((inf) => inf.list()),
      get: (key: string): Service | undefined => {
        const { kind, namespace, name } = parseServiceKey(key);
        return (kind === ISVC_KIND ? inferenceServices : llmServices)?.get(namespace, name);
      },
    },
    serviceInformers,
    inferenceServices,
    schedules,
    clusterSchedules,
    namespaceObjects,
    /** Each kind's GPU pods, and what they hold per service. */
    podKinds,
    podsByService: {
      holding: (key: string): number => bookOf(key)?.holding(key) ?? 0,
      gpus: (key: string): number => bookOf(key)?.gpus(key) ?? 0,
    },
    informers,
    /** Both kinds of schedule as one; cluster-wide ones under the namespace CLUSTER_SCOPE. */
    allSchedules: {
      list: (): ScheduleObject[] => [...schedules.list(), ...(clusterSchedules?.list() ?? [])],
      get: (ns: string, name: string): ScheduleObject | undefined =>
        ns === CLUSTER_SCOPE ? clusterSchedules?.get(undefined, name) : schedules.get(ns, name),
    },
    /** A namespace's labels for cluster-wide selectors; undefined when cluster-wide schedules are ignored. */
    namespaceLabels: namespaceObjects
      ? (ns: string) => {
          const known = namespaceObjects.get(undefined, ns);
          return known ? (known.metadata.labels ?? {}) : undefined;
        }
      : undefined,
    async startAndSync(): Promise<void> {
      for (const inf of informers) inf.start();
      await Promise.all(informers.map((inf) => inf.waitForSync()));
      logger.info("caches synced", {
        inferenceservices: inferenceServices.size,
        llminferenceservices: llmServices?.size ?? "not served",
        servingschedules: schedules.size,
        clusterservingschedules:
          clusterSchedules?.size ?? (namespaces === undefined ? "ignored (CRD not installed)" : "ignored (namespaced install)"),
        namespaces: namespaceObjects?.size,
        predictorPods: podKinds.reduce((a, p) => a + p.informer.size, 0),
      });
    },
    /** /healthz: a synced cache whose watch went silent. */
    staleness(): string[] {
      const problems: string[] = [];
      for (const inf of informers) {
        const st = inf.status();
        if (st.synced && st.stalenessMs > STALE_AFTER_MS)
          problems.push(`${st.name}: no watch activity for ${Math.round(st.stalenessMs / 1000)}s`);
      }
      return problems;
    },
    /** /readyz: caches not synced yet. */
    unsynced(): string[] {
      return informers.filter((inf) => !inf.hasSynced).map((inf) => `${inf.status().name}: cache not synced`);
    },
    async stop(): Promise<void> {
      await Promise.all(informers.map((inf) => inf.stop()));
    },
  };
}

/** The version the apiserver serves LLMInferenceService as: v1alpha2 when it can (an unreachable apiserver counts as v1alpha2: the informer retries), v1alpha1, or undefined. */
async function llmServedVersion(kubeConfig: KubeConfig): Promise<string | undefined> {
  if ((await resourceServed(kubeConfig, LLMISVC_RESOURCE)) !== "absent") return LLMISVC_RESOURCE.version;
  return (await resourceServed(kubeConfig, { ...LLMISVC_RESOURCE, version: "v1alpha1" })) === "served" ? "v1alpha1" : undefined;
}
