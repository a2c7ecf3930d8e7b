// The predictor pods of InferenceServices, as far as "are its GPUs free yet" needs them. KServe's
// Stopped=True comes when it has deleted the Deployment (or Knative Service), while the pods may
// terminate for minutes more (a long grace period, a model server that drains): the GPUs are only
// free when the last pod is gone. One watch (per namespace served, else cluster-wide) of the pods
// labelled serving.kserve.io/inferenceservice, through the resilient Informer; each pod is kept as a
// handful of fields, never whole, because a cluster can run tens of thousands of them.
import { CoreV1Api, type KubeConfig, Watch } from "@kubernetes/client-node";
import { Informer, type InformerTransport, type ListPage } from "./informer.ts";
import type { Logger } from "./runtime.ts";

/** KServe puts it on every predictor (and transformer, explainer) pod, in both Standard and Knative modes. */
export const SERVICE_LABEL = "serving.kserve.io/inferenceservice";

/** One pod, reduced: ~10 short strings and two flags. */
export type PredictorPod = {
  metadata: { name: string; namespace: string; resourceVersion?: string | undefined };
  /** The InferenceService's name, from SERVICE_LABEL. */
  service: string;
  phase: string;
  /** deletionTimestamp is set: the kubelet is terminating it. */
  deleting: boolean;
  /** Succeeded or Failed, or every container terminated: it holds no GPU any more. */
  terminated: boolean;
};

const text = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

/**
 * Reads what PredictorPod keeps from a raw pod; throws on one that cannot be a predictor pod
 * (the Informer drops it with a warning).
 */
export function toPredictorPod(raw: unknown): PredictorPod {
  if (typeof raw !== "object" || raw === null) throw new Error("a pod must be an object");
  const o = raw as { metadata?: unknown; status?: unknown };
  const meta = (typeof o.metadata === "object" && o.metadata !== null ? o.metadata : {}) as Record<string, unknown>;
  const name = text(meta.name);
  const namespace = text(meta.namespace);
  if (name === undefined || namespace === undefined) throw new Error("a pod needs metadata.name and metadata.namespace");
  const labels = (typeof meta.labels === "object" && meta.labels !== null ? meta.labels : {}) as Record<string, unknown>;
  const service = text(labels[SERVICE_LABEL]);
  if (service === undefined) throw new Error(`the pod has no ${SERVICE_LABEL} label`);
  const status = (typeof o.status === "object" && o.status !== null ? o.status : {}) as Record<string, unknown>;
  const phase = text(status.phase) ?? "Pending";
  const statuses = Array.isArray(status.containerStatuses) ? (status.containerStatuses as unknown[]) : [];
  const allTerminated =
    statuses.length > 0 &&
    statuses.every((c) => {
      const state = (c as { state?: { terminated?: unknown } } | null)?.state;
      return typeof state?.terminated === "object" && state.terminated !== null;
    });
  return {
    metadata: { name, namespace, resourceVersion: text(meta.resourceVersion) },
    service,
    phase,
    deleting: text(meta.deletionTimestamp) !== undefined,
    terminated: phase === "Succeeded" || phase === "Failed" || allTerminated,
  };
}

/** LIST and WATCH of pods by label (the Informer's own transport reads custom resources and Namespaces only). */
function podTransport(kubeConfig: KubeConfig, inactivityTimeoutMs: number): InformerTransport {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const watcher = new Watch(kubeConfig);
  (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = inactivityTimeoutMs;
  return {
    async list(namespace, opts) {
      const common = { labelSelector: opts.labelSelector, limit: opts.limit, _continue: opts.continue };
      const page: unknown =
        namespace === undefined ? await api.listPodForAllNamespaces(common) : await api.listNamespacedPod({ ...common, namespace });
      return page as ListPage;
    },
    async watch(namespace, params, onEvent, onDone) {
      const path = namespace === undefined ? "/api/v1/pods" : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
      return watcher.watch(path, params, (type, obj) => onEvent(type, obj), onDone);
    },
  };
}

const INACTIVITY_MS = 150_000;

/** The predictor pods' Informer: the namespaces served (undefined: the whole cluster), pods with SERVICE_LABEL only. */
export function predictorPodInformer(opts: {
  kubeConfig?: KubeConfig;
  transport?: InformerTransport;
  namespaces: readonly string[] | undefined;
  logger: Logger;
}): Informer<PredictorPod> {
  const transport = opts.transport ?? (opts.kubeConfig ? podTransport(opts.kubeConfig, INACTIVITY_MS) : undefined);
  if (!transport) throw new Error("predictor pods: kubeConfig or transport is required");
  return new Informer<PredictorPod>({
    resource: { group: "", version: "v1", plural: "pods" },
    namespaces: opts.namespaces,
    labelSelector: SERVICE_LABEL,
    name: "pods",
    transport,
    logger: opts.logger,
    inactivityTimeoutMs: INACTIVITY_MS,
    transform: toPredictorPod,
  });
}

/**
 * Pods per InferenceService ("namespace/name"), kept from the Informer's events so that "how many
 * pods still hold its GPUs" is a lookup, not a scan of every pod.
 */
export class PodsByService {
  readonly #holding = new Map<string, Set<string>>();

  /** The pod was added or changed; returns the service's key. */
  put(pod: PredictorPod): string {
    const k = `${pod.metadata.namespace}/${pod.service}`;
    let names = this.#holding.get(k);
    if (pod.terminated) {
      names?.delete(pod.metadata.name);
      if (names?.size === 0) this.#holding.delete(k);
    } else {
      if (!names) this.#holding.set(k, (names = new Set()));
      names.add(pod.metadata.name);
    }
    return k;
  }

  /** The pod is gone; returns the service's key. */
  remove(pod: PredictorPod): string {
    const k = `${pod.metadata.namespace}/${pod.service}`;
    const names = this.#holding.get(k);
    names?.delete(pod.metadata.name);
    if (names?.size === 0) this.#holding.delete(k);
    return k;
  }

  /** Starts over from a complete list (after a relist or restart); returns every key whose count may have changed. */
  reset(pods: Iterable<PredictorPod>): Set<string> {
    const touched = new Set(this.#holding.keys());
    this.#holding.clear();
    for (const pod of pods) touched.add(this.put(pod));
    return touched;
  }

  /** The services with pods that still hold GPUs. */
  keys(): string[] {
    return [...this.#holding.keys()];
  }

  /** Pods of the service that still hold its GPUs (not yet terminated, deleting or not). */
  holding(namespace: string, name: string): number {
    return this.#holding.get(`${namespace}/${name}`)?.size ?? 0;
  }

  /** A pod that moved to another service's label (never by KServe, but labels are mutable). */
  move(pod: PredictorPod, old: PredictorPod): string[] {
    if (old.service === pod.service) return [this.put(pod)];
    return [this.remove(old), this.put(pod)];
  }
}
