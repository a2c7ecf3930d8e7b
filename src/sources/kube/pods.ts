// The GPU pods of the services (InferenceServices' predictors, LLMInferenceServices' workloads), as
// far as "are its GPUs free yet" needs them. KServe's
// Stopped=True comes when it has deleted the Deployment (or Knative Service), while the pods may
// terminate for minutes more (a long grace period, a model server that drains): the GPUs are only
// free when the last pod is gone. One watch per kind (per namespace served, else cluster-wide) of the
// pods labelled as that kind's, through the resilient Informer; each pod is kept as a handful of
// fields, never whole, because a cluster can run tens of thousands of them.
import { z } from "zod";
import { CoreV1Api, type KubeConfig, Watch } from "@kubernetes/client-node";
import { Informer, type InformerTransport, type ListPage } from "./informer.ts";
import type { Logger } from "./runtime.ts";
import { containerGpus, ISVC_KIND, ResourceRequirements } from "./inferenceService.ts";
import { LLMISVC_NAME_LABEL, LLMISVC_PART_OF, LLMISVC_SCHEDULER_COMPONENT } from "./llmInferenceService.ts";
import { type ServiceKind, serviceKey } from "./service.ts";

/** KServe puts it on every predictor (and transformer, explainer) pod, in both Standard and Knative modes. */
export const SERVICE_LABEL = "serving.kserve.io/inferenceservice";

/**
 * Per kind: which pods are its GPU pods, and which label names their service. An LLMInferenceService's
 * pods carry part-of=llminferenceservice and name=<service> (KServe v0.17 constants.go); its router's
 * scheduler pod holds no GPU and is left out, so "all gone" means the workloads are gone.
 */
export const POD_SELECTION: Record<ServiceKind, { labelSelector: string; nameLabel: string }> = {
  InferenceService: { labelSelector: SERVICE_LABEL, nameLabel: SERVICE_LABEL },
  LLMInferenceService: {
    labelSelector: `app.kubernetes.io/part-of=${LLMISVC_PART_OF},${LLMISVC_NAME_LABEL},app.kubernetes.io/component!=${LLMISVC_SCHEDULER_COMPONENT}`,
    nameLabel: LLMISVC_NAME_LABEL,
  },
};

/** One pod, reduced: ~10 short strings and two flags. */
export type PredictorPod = {
  metadata: { name: string; namespace: string; resourceVersion?: string | undefined };
  /** The service's name, from its kind's label (POD_SELECTION). */
  service: string;
  /** The service's key (serviceKey). */
  key: string;
  /** Whole GPUs its containers ask for (limit, else request); what a service holds is the sum over its pods. */
  gpus: number;
  phase: string;
  /** deletionTimestamp is set: the kubelet is terminating it. */
  deleting: boolean;
  /** Succeeded or Failed, or every container terminated: it holds no GPU any more. */
  terminated: boolean;
};

const ResourcesOf = z.object({ resources: ResourceRequirements });

const text = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

/**
 * Reads what PredictorPod keeps from a raw pod; throws on one that cannot be a predictor pod
 * (the Informer drops it with a warning).
 */
export function toPredictorPod(raw: unknown, kind: ServiceKind = ISVC_KIND): PredictorPod {
  if (typeof raw !== "object" || raw === null) throw new Error("a pod must be an object");
  const o = raw as { metadata?: unknown; status?: unknown; spec?: unknown };
  const meta = (typeof o.metadata === "object" && o.metadata !== null ? o.metadata : {}) as Record<string, unknown>;
  const name = text(meta.name);
  const namespace = text(meta.namespace);
  if (name === undefined || namespace === undefined) throw new Error("a pod needs metadata.name and metadata.namespace");
  const labels = (typeof meta.labels === "object" && meta.labels !== null ? meta.labels : {}) as Record<string, unknown>;
  const label = POD_SELECTION[kind].nameLabel;
  const service = text(labels[label]);
  if (service === undefined) throw new Error(`the pod has no ${label} label`);
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
    key: serviceKey(kind, namespace, service),
    gpus: podGpus(o),
    phase,
    deleting: text(meta.deletionTimestamp) !== undefined,
    terminated: phase === "Succeeded" || phase === "Failed" || allTerminated,
  };
}

/** GPUs of the pod's containers; a value that is not a whole GPU count counts 0 (the spec's count reports it). */
function podGpus(o: { spec?: unknown }): number {
  const spec = typeof o.spec === "object" && o.spec !== null ? (o.spec as { containers?: unknown }) : {};
  if (!Array.isArray(spec.containers)) return 0;
  let total = 0;
  for (const c of spec.containers.slice(0, 64)) {
    const parsed = ResourcesOf.safeParse(c);
    if (parsed.success) total += containerGpus(parsed.data.resources);
  }
  return total;
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

/** One kind's GPU pods' Informer: the namespaces served (undefined: the whole cluster), the pods POD_SELECTION selects. */
export function predictorPodInformer(opts: {
  kubeConfig?: KubeConfig;
  transport?: InformerTransport;
  namespaces: readonly string[] | undefined;
  logger: Logger;
  kind?: ServiceKind;
}): Informer<PredictorPod> {
  const kind = opts.kind ?? ISVC_KIND;
  const transport = opts.transport ?? (opts.kubeConfig ? podTransport(opts.kubeConfig, INACTIVITY_MS) : undefined);
  if (!transport) throw new Error("predictor pods: kubeConfig or transport is required");
  return new Informer<PredictorPod>({
    resource: { group: "", version: "v1", plural: "pods" },
    namespaces: opts.namespaces,
    labelSelector: POD_SELECTION[kind].labelSelector,
    name: kind === ISVC_KIND ? "pods" : "llminferenceservice pods",
    transport,
    logger: opts.logger,
    inactivityTimeoutMs: INACTIVITY_MS,
    transform: (raw) => toPredictorPod(raw, kind),
  });
}

/**
 * Pods per service (by key), kept from the Informer's events so that "how many
 * pods still hold its GPUs" is a lookup, not a scan of every pod.
 */
export class PodsByService {
  readonly #holding = new Map<string, Map<string, number>>();

  /** The pod was added or changed; returns the service's key. */
  put(pod: PredictorPod): string {
    const k = pod.key;
    let names = this.#holding.get(k);
    if (pod.terminated) {
      names?.delete(pod.metadata.name);
      if (names?.size === 0) this.#holding.delete(k);
    } else {
      if (!names) this.#holding.set(k, (names = new Map()));
      names.set(pod.metadata.name, pod.gpus);
    }
    return k;
  }

  /** The pod is gone; returns the service's key. */
  remove(pod: PredictorPod): string {
    const k = pod.key;
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
  holding(key: string): number {
    return this.#holding.get(key)?.size ?? 0;
  }

  /** GPUs the service's pods that still hold them ask for: what it really holds now, whatever its spec or base configs say. */
  gpus(key: string): number {
    let total = 0;
    for (const g of this.#holding.get(key)?.values() ?? []) total += g;
    return total;
  }

  /** A pod that moved to another service's label (never by KServe, but labels are mutable). */
  move(pod: PredictorPod, old: PredictorPod): string[] {
    if (old.key === pod.key) return [this.put(pod)];
    return [this.remove(old), this.put(pod)];
  }
}
